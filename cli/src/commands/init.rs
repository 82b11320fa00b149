//! `ipc init`: create a new encrypted store, protected by a new PIN and the device secret
//! beside it, and show the recovery code once.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use ipc_core::model::{clean_text, Role, WorkerId, NAME_MAX, TEAM_MAX};
use ipc_core::store::keys::{KdfParams, DEFAULT_KDF_TARGET};
use ipc_core::store::secret::DEVICE_SECRET_NAME;
use ipc_core::store::{NewWorker, Store, StoreConfig};

use crate::args::InitArgs;
use crate::commands::emit;
use crate::error::CliError;
use crate::output::thousands;
use crate::pin::{self, Purpose};
use crate::store_access::secrets_for;

fn flag_of(field: &str) -> &'static str {
    match field {
        "team" => "--team",
        _ => "--worker-name",
    }
}

/// Refuse a path that exists (even as a dangling link) or whose folder does not.
pub fn check_new_file(path: &Path, role: &'static str) -> Result<(), CliError> {
    if path.symlink_metadata().is_ok() {
        return Err(CliError::Exists(role));
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(CliError::NoFolder(role));
    }
    Ok(())
}

/// Run `ipc init`.
pub fn run(args: &InitArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let db = &args.db;
    check_new_file(db, "--db")?;
    let secrets = secrets_for(db)?;
    let secret_path = secrets.path_for(DEVICE_SECRET_NAME)?;
    if secret_path.symlink_metadata().is_ok() {
        return Err(CliError::Exists("a device-secret file for --db"));
    }
    let display_name = clean_text("display_name", &args.worker_name, NAME_MAX)
        .map_err(|e| CliError::invalid(e, flag_of))?;
    let team =
        clean_text("team", &args.team, TEAM_MAX).map_err(|e| CliError::invalid(e, flag_of))?;
    let id = match &args.worker_id {
        Some(text) => WorkerId::parse(text).map_err(|_| CliError::Invalid {
            field: "worker_id",
            flag: "--worker-id",
            reason: "not a hyphenated UUID".to_owned(),
        })?,
        None => WorkerId::new(),
    };
    let worker = NewWorker {
        id,
        display_name,
        role: Role::Worker,
        team,
    };
    let pin = pin::read(Purpose::New)?;
    let kdf = KdfParams::calibrate(DEFAULT_KDF_TARGET);
    let (store, recovery) = Store::create(
        db,
        Arc::new(secrets),
        &pin,
        &worker,
        &kdf,
        StoreConfig::default(),
    )?;
    drop(store);
    drop(pin);
    let text = format!(
        "Created an encrypted store.\n\
         \x20 store          {}\n\
         \x20 device secret  {}  (keep it on this device; back it up apart from the store)\n\
         \x20 worker         {} (team {}), id {}\n\
         \x20 unlock cost    {} PBKDF2 iterations, about {} ms on this machine\n\
         \n\
         Recovery code (shown only now):\n\
         \n\
         \x20   {}\n\
         \n\
         Write it down and give it to your supervisor. With it a supervisor can unlock this\n\
         store if the PIN is forgotten or locked out. It is not stored anywhere in readable\n\
         form and cannot be shown again.\n",
        db.display(),
        secret_path.display(),
        worker.display_name,
        worker.team,
        worker.id,
        thousands(u64::from(kdf.iterations)),
        DEFAULT_KDF_TARGET.as_millis(),
        recovery.expose_formatted().as_str(),
    );
    let text = zeroize::Zeroizing::new(text);
    emit(out, &text)
}
