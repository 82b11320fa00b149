//! Opening the store for a command: the file-backed device secret beside the database, the
//! system clock, and unlocking with the PIN. The store is opened (and damaged, foreign or
//! missing files refused, untouched) before the PIN is asked for.

use std::path::Path;
use std::sync::Arc;

use ipc_core::store::secret::FileSecretStore;
use ipc_core::store::{Store, StoreConfig};

use crate::error::CliError;
use crate::pin::{self, Purpose};

/// The device-secret store of the database at `db`.
pub fn secrets_for(db: &Path) -> Result<FileSecretStore, CliError> {
    FileSecretStore::beside(db)
        .map_err(|_| CliError::Usage("--db must name a file, not a folder".to_owned()))
}

/// Open the store at `db`, locked.
pub fn open(db: &Path) -> Result<Store, CliError> {
    let secrets = Arc::new(secrets_for(db)?);
    Ok(Store::open(db, secrets, StoreConfig::default())?)
}

/// Unlock `store` with the PIN from `IPC_PIN` or the terminal.
pub fn unlock(store: &Store) -> Result<(), CliError> {
    let pin = pin::read(Purpose::Unlock)?;
    store.unlock(&pin)?;
    Ok(())
}

/// Open and unlock the store at `db`.
pub fn open_unlocked(db: &Path) -> Result<Store, CliError> {
    let store = open(db)?;
    unlock(&store)?;
    Ok(store)
}
