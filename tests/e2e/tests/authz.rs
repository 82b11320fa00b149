//! Authorisation matrix: every kind of caller against every endpoint. A worker sees and
//! writes only their clients; another worker, another team, an admin, a revoked device, a
//! forged or missing token see nothing of them; supervisors see their team's clients and
//! may only add supervisor notes; enrolment codes are one-time and expire. Zero leaks: no
//! reply to a caller outside the scope contains the client's id or any of its text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use chrono::Utc;
use ipc_core::clock::SystemClock;
use ipc_core::model::{
    Client, ClientId, DeviceId, OpId, Role, SupervisorNote, SupervisorNoteId, WorkerId,
};
use ipc_core::sync::engine::{HttpRequest, SyncConfig, SyncEngine};
use ipc_core::sync::hlc::Hlc;
use ipc_core::sync::op::{Change, EntityKind, Operation};
use ipc_core::sync::wire::*;
use ipc_e2e::{Device, Direct, InProcessServer};
use ipc_server::ServerConfig;
use serde_json::json;

const SECRET_NAME: &str = "ZQXLEAKNAME";
const SECRET_VILLAGE: &str = "ZQXLEAKVILLAGE";

fn post(
    server: &InProcessServer,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if let Some(t) = token {
        headers.push(("Authorization".into(), format!("Bearer {t}")));
    }
    let r = server.call(&HttpRequest {
        method: "POST".into(),
        path: path.into(),
        headers,
        body,
    });
    (r.status, r.body)
}

fn plain(body: &[u8]) -> String {
    let mut out = Vec::new();
    if body.starts_with(&[0x1f, 0x8b]) {
        flate2_read(body, &mut out);
    } else {
        out.extend_from_slice(body);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Gunzip a body to search its text for leaks.
fn flate2_read(body: &[u8], out: &mut Vec<u8>) {
    flate2::read::GzDecoder::new(body).read_to_end(out).unwrap();
}

/// Enrol a raw device (no store) for `worker`; returns (device id, token).
fn raw_device(server: &InProcessServer, worker: WorkerId) -> (DeviceId, String) {
    let s = server.storage();
    let code = server
        .block_on(ipc_server::admin::enrol_code(
            &s,
            worker,
            std::time::Duration::from_secs(600),
        ))
        .unwrap();
    let device = DeviceId::new();
    let (status, body) = post(
        server,
        ENROL_PATH,
        None,
        encode(&EnrolRequest {
            version: PROTOCOL_VERSION,
            code,
            device_id: device,
        }),
    );
    assert_eq!(status, 200);
    let e: EnrolResponse = decode(&body).unwrap();
    (device, e.token)
}

fn sync_req(ops: Vec<Operation>) -> Vec<u8> {
    encode(&SyncRequest {
        version: PROTOCOL_VERSION,
        cursor: 0,
        ops,
        pull_limit: 1000,
        device_time_ms: 0,
        pull_format: PullFormat::Rows,
    })
}

fn village_update(device: DeviceId, author: WorkerId, client: ClientId) -> Operation {
    Operation {
        op_id: OpId::new(),
        hlc: Hlc {
            wall_ms: u64::try_from(Utc::now().timestamp_millis()).unwrap(),
            counter: 0,
            node: device,
        },
        device_id: device,
        author,
        scope: client,
        entity: EntityKind::Client,
        entity_id: client.as_uuid(),
        change: Change::Update {
            fields: BTreeMap::from([("village".to_string(), json!("Elsewhere"))]),
        },
    }
}

fn note(device: DeviceId, author: WorkerId, client: ClientId) -> Operation {
    let n = SupervisorNote {
        id: SupervisorNoteId::new(),
        client_id: client,
        author,
        written_at: Utc::now(),
        text: "Reviewed".into(),
        risk_event: None,
    };
    let mut fields: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(serde_json::to_value(&n).unwrap()).unwrap();
    fields.remove("id");
    fields.remove("client_id");
    Operation {
        op_id: OpId::new(),
        hlc: Hlc {
            wall_ms: u64::try_from(Utc::now().timestamp_millis()).unwrap(),
            counter: 0,
            node: device,
        },
        device_id: device,
        author,
        scope: client,
        entity: EntityKind::SupervisorNote,
        entity_id: n.id.as_uuid(),
        change: Change::Create { fields },
    }
}

#[test]
fn authorisation_matrix_has_no_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcessServer::start(
        dir.path(),
        ServerConfig {
            rate_per_minute: 0,
            ..ServerConfig::default()
        },
    );
    let w1 = server.add_worker("Synthetic W1", "north", Role::Worker);
    let w2 = server.add_worker("Synthetic W2", "north", Role::Worker);
    let sup = server.add_worker("Synthetic S", "north", Role::Supervisor);
    let w3 = server.add_worker("Synthetic W3", "south", Role::Worker);
    let sup2 = server.add_worker("Synthetic S2", "south", Role::Supervisor);
    let admin = server.add_worker("Synthetic Admin", "office", Role::Admin);

    // W1 registers a client offline and syncs.
    let owner = Device::create(
        dir.path(),
        "w1",
        Arc::new(SystemClock),
        Role::Worker,
        "north",
    );
    server.enrol(owner.store(), w1);
    let today = Utc::now().date_naive();
    let client = Client {
        id: ClientId::new(),
        display_name: SECRET_NAME.into(),
        sex: None,
        birth_year: Some(1990),
        phone: None,
        village: Some(SECRET_VILLAGE.into()),
        address: None,
        consent: None,
        assigned_worker: w1,
        registered_on: today,
    };
    owner.store().add(&client).unwrap();
    let r = SyncEngine::new(owner.store(), &Direct(&server), SyncConfig::default())
        .sync(&mut |_| {})
        .unwrap();
    assert!(r.complete && r.acknowledged == 1);
    let cid = client.id.to_string();
    let leaks = |text: &str| {
        text.contains(&cid) || text.contains(SECRET_NAME) || text.contains(SECRET_VILLAGE)
    };

    let (w1b, w1b_token) = raw_device(&server, w1);
    let (w2d, w2_token) = raw_device(&server, w2);
    let (sd, s_token) = raw_device(&server, sup);
    let (w3d, w3_token) = raw_device(&server, w3);
    let (s2d, s2_token) = raw_device(&server, sup2);
    let (ad, a_token) = raw_device(&server, admin);
    let (rd, r_token) = raw_device(&server, w1);
    server
        .block_on(ipc_server::admin::revoke(&server.storage(), rd))
        .unwrap();

    // ---- pull: who sees the client
    let pull = |token: &str| -> (u16, String, Option<SyncResponse>) {
        let (status, body) = post(&server, SYNC_PATH, Some(token), sync_req(vec![]));
        (
            status,
            plain(&body),
            if status == 200 {
                decode(&body).ok()
            } else {
                None
            },
        )
    };
    for (who, token, sees) in [
        ("same worker, second phone", &w1b_token, true),
        ("supervisor of the team", &s_token, true),
        ("other worker, same team", &w2_token, false),
        ("worker of another team", &w3_token, false),
        ("supervisor of another team", &s2_token, false),
        ("admin", &a_token, false),
    ] {
        let (status, text, reply) = pull(token);
        assert_eq!(status, 200, "{who}");
        assert_eq!(leaks(&text), sees, "{who}: visibility of the client");
        if sees {
            assert!(
                reply.unwrap().ops.iter().any(|o| o.scope == client.id),
                "{who}"
            );
        }
    }
    // Revoked, forged, missing tokens: refused, nothing leaks.
    for (who, token, expect) in [
        ("revoked device", Some(r_token.as_str()), 403),
        (
            "forged token",
            Some("dGhpcyBpcyBub3QgYSByZWFsIHRva2VuIGF0IGFsbA"),
            401,
        ),
        ("missing token", None, 401),
    ] {
        let (status, body) = post(&server, SYNC_PATH, token, sync_req(vec![]));
        assert_eq!(status, expect, "{who}");
        assert!(!leaks(&plain(&body)), "{who}");
        let err: ErrorBody = decode(&body).unwrap();
        assert!(
            matches!(err.code, ErrorCode::Unauthorized | ErrorCode::DeviceRevoked),
            "{who}"
        );
    }

    // ---- push: who may change the client
    let push = |token: &str, op: Operation| -> SyncResponse {
        let (status, body) = post(&server, SYNC_PATH, Some(token), sync_req(vec![op]));
        assert_eq!(status, 200);
        decode(&body).unwrap()
    };
    let accepted = |r: &SyncResponse| r.acked.len() == 1 && r.rejected.is_empty();
    let refused = |r: &SyncResponse, code: RejectCode| {
        r.acked.is_empty() && r.rejected.len() == 1 && r.rejected[0].code == code
    };
    assert!(
        accepted(&push(&w1b_token, village_update(w1b, w1, client.id))),
        "owner's second phone"
    );
    assert!(
        refused(
            &push(&w2_token, village_update(w2d, w2, client.id)),
            RejectCode::OutOfScope
        ),
        "other worker"
    );
    assert!(
        refused(
            &push(&w3_token, village_update(w3d, w3, client.id)),
            RejectCode::OutOfScope
        ),
        "other team"
    );
    assert!(
        refused(
            &push(&s_token, village_update(sd, sup, client.id)),
            RejectCode::Forbidden
        ),
        "supervisor edits a client"
    );
    assert!(
        accepted(&push(&s_token, note(sd, sup, client.id))),
        "supervisor adds a note"
    );
    assert!(
        !accepted(&push(&s2_token, note(s2d, sup2, client.id))),
        "other team's supervisor adds a note"
    );
    assert!(
        refused(
            &push(&w1b_token, note(w1b, w1, client.id)),
            RejectCode::Forbidden
        ),
        "worker writes a supervisor note"
    );
    assert!(
        !accepted(&push(&a_token, village_update(ad, admin, client.id))),
        "admin edits a client"
    );
    // An operation signed as another device is refused.
    assert!(
        refused(
            &push(&w1b_token, village_update(w2d, w1, client.id)),
            RejectCode::Invalid
        ),
        "spoofed device"
    );
    // A revoked device's last push is kept and it is told to wipe; it gets nothing back.
    let (status, body) = post(
        &server,
        SYNC_PATH,
        Some(&r_token),
        sync_req(vec![village_update(rd, w1, client.id)]),
    );
    assert_eq!(status, 200);
    let last: SyncResponse = decode(&body).unwrap();
    assert!(last.wipe && last.ops.is_empty() && last.acked.len() == 1);

    // ---- enrolment codes: one-time, expiring, unguessable
    let s = server.storage();
    let code = server
        .block_on(ipc_server::admin::enrol_code(
            &s,
            w2,
            std::time::Duration::from_secs(600),
        ))
        .unwrap();
    let enrol = |code: &str| {
        post(
            &server,
            ENROL_PATH,
            None,
            encode(&EnrolRequest {
                version: PROTOCOL_VERSION,
                code: code.into(),
                device_id: DeviceId::new(),
            }),
        )
    };
    assert_eq!(enrol(&code).0, 200);
    let (status, body) = enrol(&code);
    assert_eq!(
        (status, decode::<ErrorBody>(&body).unwrap().code),
        (400, ErrorCode::EnrolCodeUsed)
    );
    let short = server
        .block_on(ipc_server::admin::enrol_code(
            &s,
            w2,
            std::time::Duration::from_millis(1),
        ))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (status, body) = enrol(&short);
    assert_eq!(
        (status, decode::<ErrorBody>(&body).unwrap().code),
        (400, ErrorCode::EnrolCodeExpired)
    );
    let (status, body) = enrol("AAAA-BBBB-CCCC");
    assert_eq!(
        (status, decode::<ErrorBody>(&body).unwrap().code),
        (400, ErrorCode::EnrolCodeInvalid)
    );

    // ---- health is public and says nothing about data
    let h = server.call(&HttpRequest {
        method: "GET".into(),
        path: HEALTH_PATH.into(),
        headers: vec![],
        body: vec![],
    });
    assert_eq!(h.status, 200);
    assert!(!leaks(&plain(&h.body)));

    // The owner's store ends with the second phone's edit, the supervisor's note, and
    // nothing from anyone else.
    let r = SyncEngine::new(owner.store(), &Direct(&server), SyncConfig::default())
        .sync(&mut |_| {})
        .unwrap();
    assert!(r.complete);
    let c: Client = owner.store().get(client.id.as_uuid()).unwrap().unwrap();
    assert_eq!(c.village.as_deref(), Some("Elsewhere"));
    let notes: Vec<SupervisorNote> = owner
        .store()
        .list(ipc_core::store::Filter::Client(client.id))
        .unwrap();
    assert_eq!(notes.len(), 1);
}
