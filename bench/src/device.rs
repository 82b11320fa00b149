//! A device store as a phone would have it: created with a PIN and a device secret in a
//! file beside the database, enrolled with a one-time code over HTTP, reopened and unlocked
//! by a later process.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ipc_core::model::{DeviceId, Role, WorkerId};
use ipc_core::store::keys::{KdfParams, MIN_ITERATIONS};
use ipc_core::store::secret::FileSecretStore;
use ipc_core::store::{Enrolment, NewWorker, Store, StoreConfig};
use ipc_core::sync::engine::{HttpRequest, Transport};
use ipc_core::sync::http::UreqTransport;
use ipc_core::sync::wire::{
    decode, encode, EnrolRequest, EnrolResponse, ErrorBody, ENROL_PATH, PROTOCOL_VERSION,
};

use crate::error::{BenchError, Result};

/// The PIN of every bench store (synthetic).
pub const PIN: &str = "482913";

/// Create a new store at `path` for `worker` (unlocked). The key derivation uses the
/// smallest production cost, so that opening is quick and identical for every run.
pub fn create_store(path: &Path, worker: WorkerId, role: Role, team: &str) -> Result<Store> {
    let secrets =
        Arc::new(FileSecretStore::beside(path).map_err(ipc_core::store::StoreError::from)?);
    let (store, _recovery) = Store::create(
        path,
        secrets,
        PIN,
        &NewWorker {
            id: worker,
            display_name: "Bench Worker".into(),
            role,
            team: team.into(),
        },
        &KdfParams {
            iterations: MIN_ITERATIONS,
        },
        StoreConfig::default(),
    )?;
    Ok(store)
}

/// Open and unlock the store at `path`.
pub fn open_store(path: &Path) -> Result<Store> {
    let secrets =
        Arc::new(FileSecretStore::beside(path).map_err(ipc_core::store::StoreError::from)?);
    let store = Store::open(path, secrets, StoreConfig::default())?;
    store.unlock(PIN)?;
    Ok(store)
}

/// Exchange a one-time code for credentials (`POST /v1/enrol`) at `server` (base URL).
pub fn request_enrolment(server: &str, code: &str, device: DeviceId) -> Result<EnrolResponse> {
    let transport = UreqTransport::new(server, Duration::from_secs(30));
    let body = encode(&EnrolRequest {
        version: PROTOCOL_VERSION,
        code: code.to_string(),
        device_id: device,
    });
    let response = transport
        .send(HttpRequest {
            method: "POST".into(),
            path: ENROL_PATH.into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Content-Encoding".into(), "gzip".into()),
                ("Accept-Encoding".into(), "gzip".into()),
            ],
            body,
        })
        .map_err(|e| BenchError::Http(format!("enrol: {e}")))?;
    if response.status != 200 {
        let code = decode::<ErrorBody>(&response.body)
            .map(|e| e.code.as_str().to_string())
            .unwrap_or_default();
        return Err(BenchError::Http(format!(
            "enrol: HTTP {} {code}",
            response.status
        )));
    }
    decode::<EnrolResponse>(&response.body).map_err(|e| BenchError::Http(format!("enrol: {e}")))
}

/// Enrol `store` with the server at `server` using `code`; saves the credentials.
pub fn enrol(store: &Store, server: &str, code: &str) -> Result<EnrolResponse> {
    let reply = request_enrolment(server, code, store.identity().device_id)?;
    store.set_enrolment(
        &Enrolment {
            server: server.to_string(),
            worker_id: reply.worker_id,
            role: reply.role,
            team: reply.team.clone(),
        },
        &reply.token,
    )?;
    Ok(reply)
}

/// Copy a store (database, WAL if any, secret and attempt files) to `to`, a path in another
/// directory with the same file name. Used to give every rep the same prepared device.
pub fn copy_store(from: &Path, to: &Path) -> Result<()> {
    let (Some(src_dir), Some(name), Some(dst_dir)) = (from.parent(), from.file_name(), to.parent())
    else {
        return Err(BenchError::Verify(
            "store paths need a directory and a file name".into(),
        ));
    };
    if to.file_name() != Some(name) {
        return Err(BenchError::Verify(
            "a copied store keeps its file name".into(),
        ));
    }
    std::fs::create_dir_all(dst_dir).map_err(|e| BenchError::io("creating the store copy", e))?;
    let prefix = name.to_string_lossy().to_string();
    let entries =
        std::fs::read_dir(src_dir).map_err(|e| BenchError::io("listing the store directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| BenchError::io("listing the store directory", e))?;
        let file = entry.file_name().to_string_lossy().to_string();
        if file.starts_with(&prefix) {
            std::fs::copy(entry.path(), dst_dir.join(&file))
                .map_err(|e| BenchError::io("copying a store file", e))?;
        }
    }
    Ok(())
}
