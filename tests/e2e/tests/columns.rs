//! The columnar pull page end to end: the engine asks for it by default and applies what
//! it carries exactly like rows; a malformed page is a typed error, and nothing of it is
//! applied.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use chrono::Utc;
use ipc_core::clock::SystemClock;
use ipc_core::model::{Client, ClientId, Role, WorkerId};
use ipc_core::sync::engine::{
    HttpRequest, HttpResponse, SyncConfig, SyncEngine, SyncError, Transport, TransportError,
};
use ipc_core::sync::wire::{decode, encode, PullFormat, SyncRequest, SyncResponse, WireError};
use ipc_e2e::{Device, Direct, InProcessServer};
use ipc_server::ServerConfig;

/// Forwards to the server; records the pull format asked for and whether a columnar page
/// came back, and (when `corrupt`) breaks every columnar page on the way.
struct Watch<'a> {
    server: &'a InProcessServer,
    corrupt: bool,
    asked: Mutex<Vec<PullFormat>>,
    pages: Mutex<usize>,
}

impl Transport for Watch<'_> {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let asked: SyncRequest = decode(&request.body).unwrap();
        self.asked.lock().unwrap().push(asked.pull_format);
        let mut response = Direct(self.server).send(request)?;
        if response.status == 200 {
            let mut reply: SyncResponse = decode(&response.body).unwrap();
            if let Some(page) = reply.op_columns.as_mut() {
                *self.pages.lock().unwrap() += 1;
                if self.corrupt {
                    // One row too many in the first field group.
                    let group = &mut page.groups[0];
                    group.n += 1;
                    for col in &mut group.cols {
                        col.push(serde_json::Value::Null);
                    }
                    response.body = encode(&reply);
                }
            }
        }
        Ok(response)
    }
}

fn watch(server: &InProcessServer, corrupt: bool) -> Watch<'_> {
    Watch {
        server,
        corrupt,
        asked: Mutex::new(Vec::new()),
        pages: Mutex::new(0),
    }
}

fn client(worker: WorkerId, n: u32) -> Client {
    Client {
        id: ClientId::new(),
        display_name: format!("Synthetic Client {n}"),
        sex: None,
        birth_year: (n % 2 == 0).then_some(1980 + n as i32),
        phone: None,
        village: Some(format!("Village {n}")),
        address: None,
        consent: None,
        assigned_worker: worker,
        registered_on: Utc::now().date_naive(),
    }
}

fn device(dir: &std::path::Path, server: &InProcessServer, name: &str, w: WorkerId) -> Device {
    let d = Device::create(dir, name, Arc::new(SystemClock), Role::Worker, "north");
    server.enrol(d.store(), w);
    d
}

fn config(pull_format: PullFormat) -> SyncConfig {
    SyncConfig {
        pull_limit: 2,
        max_attempts: 2,
        pull_format,
        ..SyncConfig::default()
    }
}

#[test]
fn columnar_pages_apply_like_rows_and_a_malformed_one_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcessServer::start(
        dir.path(),
        ServerConfig {
            rate_per_minute: 0,
            ..ServerConfig::default()
        },
    );
    let w1 = server.add_worker("Synthetic W1", "north", Role::Worker);
    let owner = device(dir.path(), &server, "owner", w1);
    let clients: Vec<Client> = (0..5).map(|n| client(w1, n)).collect();
    for c in &clients {
        owner.store().add(c).unwrap();
    }
    assert_eq!(SyncConfig::default().pull_format, PullFormat::Columns);
    let r = SyncEngine::new(owner.store(), &Direct(&server), SyncConfig::default())
        .sync(&mut |_| {})
        .unwrap();
    assert!(r.complete && r.acknowledged == 5, "{r:?}");

    // A malformed columnar page: a typed error after the retries, nothing applied.
    let reader = device(dir.path(), &server, "reader", w1);
    let bad = watch(&server, true);
    let err = SyncEngine::new(reader.store(), &bad, config(PullFormat::Columns))
        .with_sleep(|_| {})
        .sync(&mut |_| {})
        .unwrap_err();
    match &err {
        SyncError::BadReply {
            source: WireError::Columns(_),
            done,
        } => assert_eq!((done.pulled, done.complete), (0, false)),
        other => panic!("expected a malformed columnar page, got {other:?}"),
    }
    assert_eq!(*bad.pages.lock().unwrap(), 2, "tried twice");
    assert_eq!(reader.store().sync_cursor().unwrap(), 0);
    for c in &clients {
        assert_eq!(reader.store().get::<Client>(c.id.as_uuid()).unwrap(), None);
    }

    // The same device with the page intact: everything arrives, as columns.
    let good = watch(&server, false);
    let r = SyncEngine::new(reader.store(), &good, config(PullFormat::Columns))
        .sync(&mut |_| {})
        .unwrap();
    assert!(r.complete && r.pulled == 5, "{r:?}");
    assert!(good
        .asked
        .lock()
        .unwrap()
        .iter()
        .all(|f| *f == PullFormat::Columns));
    assert_eq!(*good.pages.lock().unwrap(), 3, "5 operations in pages of 2");

    // A device asking for rows gets the same records, and no columnar page.
    let rows_device = device(dir.path(), &server, "rows", w1);
    let plain = watch(&server, false);
    let r = SyncEngine::new(rows_device.store(), &plain, config(PullFormat::Rows))
        .sync(&mut |_| {})
        .unwrap();
    assert!(r.complete && r.pulled == 5, "{r:?}");
    assert_eq!(*plain.pages.lock().unwrap(), 0);
    for c in &clients {
        let id = c.id.as_uuid();
        let want = owner.store().get::<Client>(id).unwrap().unwrap();
        assert_eq!(
            reader.store().get::<Client>(id).unwrap().as_ref(),
            Some(&want)
        );
        assert_eq!(rows_device.store().get::<Client>(id).unwrap(), Some(want));
    }
}
