//! The Rust side of the FFI call-cost comparison: the hot paths of the facade (the caseload,
//! recording a questionnaire, scoring, a trivial call) timed when called directly from Rust.
//! `tests/kotlin/Bench.kt` times the same calls on the same data through the generated
//! Kotlin; the difference is the cost of crossing the FFI. Run by `scripts/kotlin-test --bench`.
//!
//!     call-cost DIR    (DIR must not exist; synthetic data only)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ipc_bindings::foreign::SecretStore;
use ipc_bindings::records::{ClientInput, WorkerInput};
use ipc_bindings::types::Role;
use ipc_bindings::{create_store, IpcError, IpcStore};

const CLIENTS: usize = 200;
const PHQ9: [u32; 9] = [2, 2, 2, 1, 1, 1, 1, 1, 0];

#[derive(Default)]
struct Keystore(Mutex<HashMap<String, Vec<u8>>>);

impl SecretStore for Keystore {
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, IpcError> {
        Ok(self.0.lock().unwrap().get(&name).cloned())
    }
    fn put(&self, name: String, secret: Vec<u8>) -> Result<(), IpcError> {
        self.0.lock().unwrap().insert(name, secret);
        Ok(())
    }
    fn delete(&self, name: String) -> Result<(), IpcError> {
        self.0.lock().unwrap().remove(&name);
        Ok(())
    }
}

/// Time `f` `n` times after `warmup` untimed calls; print the median and mean in µs.
fn time(label: &str, warmup: usize, n: usize, mut f: impl FnMut()) {
    for _ in 0..warmup {
        f();
    }
    let mut samples: Vec<f64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    let mean = samples.iter().sum::<f64>() / n as f64;
    println!(
        "rust   {label:<28} median {:>9.2} µs   mean {mean:>9.2} µs   (n={n})",
        samples[n / 2]
    );
}

/// The same data as Bench.kt: CLIENTS clients, one in a course with a session to record into.
pub fn setup(dir: &str) -> (Arc<IpcStore>, String) {
    std::fs::create_dir_all(dir).unwrap();
    let store = create_store(
        format!("{dir}/bench.db"),
        Arc::new(Keystore::default()),
        "2468".into(),
        WorkerInput {
            display_name: "Synthetic CHW".into(),
            role: Role::Worker,
            team: "team-a".into(),
            worker_id: None,
        },
    )
    .unwrap()
    .store;
    let mut first = String::new();
    for i in 0..CLIENTS {
        let id = store
            .add_client(ClientInput {
                display_name: format!("Synthetic Client {i}"),
                sex: None,
                birth_year: Some(1980 + (i % 30) as i32),
                phone: None,
                village: Some(format!("Village {}", i % 12)),
                address: None,
                consent: None,
            })
            .unwrap();
        if i == 0 {
            first = id;
        }
    }
    store
        .screen(first.clone(), "phq9".into(), PHQ9.to_vec(), vec![], None)
        .unwrap();
    let course = store.start_course(first, Some(6), None).unwrap();
    let session = store.next_session(course, None).unwrap().session_id;
    (store, session)
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: call-cost DIR");
    let (store, session) = setup(&dir);
    println!("rust   release, {CLIENTS} clients");
    time("is_unlocked()", 10_000, 100_000, || {
        assert!(store.is_unlocked());
    });
    time("score(phq9)", 2_000, 20_000, || {
        store.score("phq9".into(), PHQ9.to_vec()).unwrap();
    });
    time(&format!("caseload() [{CLIENTS} rows]"), 50, 500, || {
        assert_eq!(store.caseload().unwrap().len(), CLIENTS);
    });
    time("record_response(phq9)", 50, 500, || {
        store
            .record_response(session.clone(), "phq9".into(), PHQ9.to_vec(), None)
            .unwrap();
    });
}
