//! A sync server process for the kill tests: `e2e-server DB_PATH` serves on a free loopback
//! port and prints `listening PORT` once ready.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let db = std::env::args().nth(1).expect("usage: e2e-server DB_PATH");
    let storage = ipc_server::open_storage(&format!("sqlite:{db}"))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    println!("listening {port}");
    std::io::stdout().flush().unwrap();
    let config = ipc_server::ServerConfig {
        rate_per_minute: 0,
        ..ipc_server::ServerConfig::default()
    };
    ipc_server::serve(storage, listener, config).await.unwrap();
}
