//! Snapshot tests of the sync wire format (insta): any change to how a request, a reply, an
//! operation or an error serialises breaks a test, so a wire change is always deliberate
//! (bump `PROTOCOL_VERSION`, update `docs/protocol.md`, accept the new snapshots).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use ipc_core::model::{ClientId, DeviceId, OpId, Role, WorkerId};
use ipc_core::sync::hlc::Hlc;
use ipc_core::sync::op::{Change, EntityKind, Operation};
use ipc_core::sync::wire::*;
use serde_json::json;
use uuid::Uuid;

fn id(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn op() -> Operation {
    let device = DeviceId::from_uuid(id(2));
    let mut fields = BTreeMap::new();
    fields.insert("display_name".to_string(), json!("Synthetic Client"));
    fields.insert("birth_year".to_string(), json!(1990));
    fields.insert("registered_on".to_string(), json!("2026-01-05"));
    Operation {
        op_id: OpId::from_uuid(id(1)),
        hlc: Hlc {
            wall_ms: 1_767_600_000_000,
            counter: 3,
            node: device,
        },
        device_id: device,
        author: WorkerId::from_uuid(id(3)),
        scope: ClientId::from_uuid(id(4)),
        entity: EntityKind::Client,
        entity_id: id(4),
        change: Change::Create { fields },
    }
}

#[test]
fn operation() {
    insta::assert_json_snapshot!(op());
    let mut update = op();
    update.change = Change::Update {
        fields: BTreeMap::from([("village".to_string(), json!("Kibera"))]),
    };
    insta::assert_json_snapshot!("operation_update", update);
    let mut delete = op();
    delete.change = Change::Delete;
    insta::assert_json_snapshot!("operation_delete", delete);
}

#[test]
fn sync_request() {
    let r = SyncRequest {
        version: PROTOCOL_VERSION,
        cursor: 41,
        ops: vec![op()],
        pull_limit: 1000,
        device_time_ms: 1_767_600_000_500,
        pull_format: PullFormat::Rows,
    };
    insta::assert_json_snapshot!(r);
    assert_eq!(decode::<SyncRequest>(&encode(&r)).unwrap(), r);
}

#[test]
fn sync_response() {
    let r = SyncResponse {
        version: PROTOCOL_VERSION,
        acked: vec![OpId::from_uuid(id(1))],
        rejected: vec![Rejected {
            op_id: OpId::from_uuid(id(5)),
            code: RejectCode::ClientReassigned,
            reason: "the client was reassigned to another worker; this change was not applied"
                .into(),
        }],
        ops: vec![op()],
        removed: vec![ClientId::from_uuid(id(6))],
        cursor: 57,
        more: false,
        server_time_ms: 1_767_600_000_900,
        wipe: false,
        op_columns: None,
    };
    insta::assert_json_snapshot!(r);
    assert_eq!(decode::<SyncResponse>(&encode(&r)).unwrap(), r);
}

/// A small synthetic page: a client created and edited (one edit sets a field to null), a
/// course created on another device and deleted.
fn page() -> Vec<Operation> {
    let first = op();
    let mut edit = op();
    edit.op_id = OpId::from_uuid(id(7));
    edit.hlc.wall_ms += 40;
    edit.hlc.counter = 0;
    edit.change = Change::Update {
        fields: BTreeMap::from([
            ("village".to_string(), json!("Kibera")),
            ("phone".to_string(), json!(null)),
        ]),
    };
    let other = DeviceId::from_uuid(id(8));
    let mut course = op();
    course.op_id = OpId::from_uuid(id(9));
    course.hlc = Hlc {
        wall_ms: first.hlc.wall_ms + 25,
        counter: 0,
        node: other,
    };
    course.device_id = other;
    course.entity = EntityKind::Course;
    course.entity_id = id(10);
    course.change = Change::Create {
        fields: BTreeMap::from([
            ("status".to_string(), json!("enrolled")),
            ("planned_sessions".to_string(), json!(6)),
        ]),
    };
    let mut delete = course.clone();
    delete.op_id = OpId::from_uuid(id(11));
    delete.hlc.wall_ms += 60_000;
    delete.change = Change::Delete;
    vec![first, course, edit, delete]
}

#[test]
fn sync_response_columns() {
    let r = SyncResponse {
        version: PROTOCOL_VERSION,
        acked: vec![],
        rejected: vec![],
        ops: vec![],
        removed: vec![],
        cursor: 61,
        more: false,
        server_time_ms: 1_767_600_000_900,
        wipe: false,
        op_columns: Some(ipc_core::sync::columns::to_columns(&page())),
    };
    insta::assert_json_snapshot!(r);
    let mut back = decode::<SyncResponse>(&encode(&r)).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.take_ops().unwrap(), page());
}

#[test]
fn sync_request_columns() {
    let r = SyncRequest {
        version: PROTOCOL_VERSION,
        cursor: 41,
        ops: vec![],
        pull_limit: 1000,
        device_time_ms: 1_767_600_000_500,
        pull_format: PullFormat::Columns,
    };
    insta::assert_json_snapshot!(r);
    assert_eq!(decode::<SyncRequest>(&encode(&r)).unwrap(), r);
}

/// A request written before the columnar extension (the text of the `sync_request`
/// snapshot, which this extension left unchanged) still decodes, asks for rows, and
/// serialises to the same JSON: no `pull_format` key appears.
#[test]
fn a_request_without_pull_format_is_unchanged() {
    let snap = include_str!("snapshots/wire__sync_request.snap");
    let body = snap.splitn(3, "---").nth(2).unwrap().trim();
    assert!(!body.contains("pull_format"));
    let r: SyncRequest = decode(body.as_bytes()).unwrap();
    assert_eq!(r.pull_format, PullFormat::Rows);
    let old: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap(), old);
    assert_eq!(
        serde_json::to_string_pretty(&r).unwrap(),
        body,
        "byte for byte"
    );
}

#[test]
fn enrolment_and_errors() {
    let req = EnrolRequest {
        version: PROTOCOL_VERSION,
        code: "K7QD-2M9X-4RTA".into(),
        device_id: DeviceId::from_uuid(id(2)),
    };
    insta::assert_json_snapshot!("enrol_request", req);
    let resp = EnrolResponse {
        version: PROTOCOL_VERSION,
        device_id: DeviceId::from_uuid(id(2)),
        token: "dG9rZW4tZXhhbXBsZS1ub3QtcmVhbA".into(),
        worker_id: WorkerId::from_uuid(id(3)),
        role: Role::Worker,
        team: "team-north".into(),
    };
    insta::assert_json_snapshot!("enrol_response", resp);
    let err = ErrorBody {
        version: PROTOCOL_VERSION,
        code: ErrorCode::RateLimited,
        message: "too many requests from this device".into(),
        retry_after_ms: Some(1500),
    };
    insta::assert_json_snapshot!("error_body", err);
}

proptest::proptest! {
    /// The decoder never panics: arbitrary bytes, raw or gzip-wrapped, decode or give a
    /// typed error (the cargo-fuzz target `fuzz/fuzz_targets/wire_decode.rs` goes further).
    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        for body in [bytes.clone(), gzip_raw(&bytes)] {
            let _ = decode::<SyncRequest>(&body);
            if let Ok(mut reply) = decode::<SyncResponse>(&body) {
                let _ = reply.take_ops();
            }
            let _ = decode::<EnrolRequest>(&body);
        }
    }

    /// Mutating one byte of a valid body never panics and never yields a different request
    /// silently with a wrong version.
    #[test]
    fn mutated_bodies_fail_cleanly(pos in 0usize..400, byte in proptest::num::u8::ANY) {
        let r = SyncRequest { version: PROTOCOL_VERSION, cursor: 41, ops: vec![op()], pull_limit: 1000, device_time_ms: 5, pull_format: PullFormat::Rows };
        let mut json = serde_json::to_vec(&r).unwrap();
        let i = pos % json.len();
        json[i] = byte;
        if let Ok(decoded) = decode::<SyncRequest>(&gzip_raw(&json)) {
            proptest::prop_assert_eq!(decoded.version, PROTOCOL_VERSION);
        }
    }
}
