//! The traits the shells implement — the platform keystore ([`SecretStore`]), the platform
//! HTTP stack ([`HttpTransport`]) and the observers ([`CaseloadObserver`], [`SyncObserver`]) —
//! and their adapters to the core's own traits. Subscribing to an observer returns a
//! [`Subscription`] that cancels on `cancel()` or when it is dropped.
//!
//! Every callback returns a result: an exception of another type thrown by the shell arrives
//! as [`IpcError::Internal`] (through `From<UnexpectedUniFFICallbackError>`), never as a panic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use ipc_core::store::secret::{self as core_secret, SecretStoreError};
use ipc_core::sync::engine::{self as core_sync, TransportError};

use crate::error::{secret_error, transport_error, IpcError, Result};
use crate::records::{CaseloadItem, SyncProgress};

/// Named secrets kept in the platform keystore (Android Keystore-backed storage, iOS Keychain
/// with a this-device-only accessibility class). The store keeps its device secret here; it is
/// mixed into the key that the PIN unlocks, so a copied database is useless without it.
///
/// Contract: `get` returns `null`/`nil` when nothing is stored; `put` stores a new secret,
/// succeeds if the same bytes are already stored, and throws `Conflict` (leaving the old
/// secret intact) if different bytes are; `delete` succeeds when there is nothing to delete.
/// Throw `Storage { code = "keystore_unavailable" }` while the keystore is locked.
#[uniffi::export(foreign)]
pub trait SecretStore: Send + Sync {
    /// The secret stored under `name`, if any.
    fn get(&self, name: String) -> Result<Option<Vec<u8>>>;
    /// Store `secret` under `name`, never replacing a different one.
    fn put(&self, name: String, secret: Vec<u8>) -> Result<()>;
    /// Remove the secret stored under `name`.
    fn delete(&self, name: String) -> Result<()>;
}

/// The shell's keystore seen as the core's secret store.
pub(crate) struct ForeignSecrets(pub(crate) Arc<dyn SecretStore>);

impl core_secret::SecretStore for ForeignSecrets {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecretStoreError> {
        self.0.get(name.to_string()).map_err(secret_error)
    }
    fn put(&self, name: &str, secret: &[u8]) -> Result<(), SecretStoreError> {
        self.0
            .put(name.to_string(), secret.to_vec())
            .map_err(secret_error)
    }
    fn delete(&self, name: &str) -> Result<(), SecretStoreError> {
        self.0.delete(name.to_string()).map_err(secret_error)
    }
}

/// One HTTP header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpHeader {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A request the library wants sent to the sync server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// `POST` or `GET`.
    pub method: String,
    /// The full URL (the enrolled server's base URL and the endpoint's path).
    pub url: String,
    /// Headers to send as given (`Authorization`, `Content-Type`, `Content-Encoding: gzip`,
    /// `Accept-Encoding: gzip`, or `br, gzip` when [`HttpTransport::decodes_brotli`]).
    pub headers: Vec<HttpHeader>,
    /// The body (already gzip-compressed).
    pub body: Vec<u8>,
}

/// The server's answer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpResponse {
    /// HTTP status code (any status, including 4xx and 5xx, is an answer, not an error).
    pub status: u16,
    /// The body as received (gzip, or already decompressed — gzip or brotli: all are
    /// accepted).
    pub body: Vec<u8>,
}

/// The platform's HTTP stack (OkHttp on Android, URLSession on iOS), so requests use the
/// platform's TLS, certificate store and proxies. Called on a background thread; may block.
///
/// Throw `Network` when no answer came (offline, DNS, refused, timeout). Any other exception
/// is treated the same way. The request is retried with back-off, and resending is harmless.
#[uniffi::export(foreign)]
pub trait HttpTransport: Send + Sync {
    /// Send one request and return the server's answer.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse>;

    /// Whether this stack decodes brotli replies itself (`Content-Encoding: br`) and hands
    /// over the plain body. URLSession does: return true there, and replies come about 15 %
    /// smaller (the request then says `Accept-Encoding: br, gzip`). OkHttp decodes brotli
    /// only with its interceptor and only when it chose the header itself: return false
    /// unless the transport decodes brotli. gzip is always understood (the core decodes it).
    fn decodes_brotli(&self) -> Result<bool>;
}

/// The shell's HTTP stack seen as the core's sync transport, for one server.
pub(crate) struct ForeignTransport {
    base_url: String,
    inner: Arc<dyn HttpTransport>,
    accept: &'static str,
}

impl ForeignTransport {
    /// The shell's transport to `base_url`; asks it once what it decodes (a failure to say
    /// means gzip only).
    pub(crate) fn new(base_url: String, inner: Arc<dyn HttpTransport>) -> ForeignTransport {
        let accept = match inner.decodes_brotli() {
            Ok(true) => "br, gzip",
            _ => "gzip",
        };
        ForeignTransport {
            base_url,
            inner,
            accept,
        }
    }
}

impl core_sync::Transport for ForeignTransport {
    fn accept_encoding(&self) -> &'static str {
        self.accept
    }

    fn send(
        &self,
        request: core_sync::HttpRequest,
    ) -> Result<core_sync::HttpResponse, TransportError> {
        let request = HttpRequest {
            method: request.method,
            url: format!("{}{}", self.base_url.trim_end_matches('/'), request.path),
            headers: request
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            body: request.body,
        };
        let response = self.inner.send(request).map_err(transport_error)?;
        Ok(core_sync::HttpResponse {
            status: response.status,
            body: response.body,
        })
    }
}

/// Told whenever the caseload changes (a change made here, or one received by sync). The
/// current caseload is sent first, on subscribing.
#[uniffi::export(foreign)]
pub trait CaseloadObserver: Send + Sync {
    /// The caseload now.
    fn on_caseload_changed(&self, caseload: Vec<CaseloadItem>) -> Result<()>;
}

/// Told about the progress of every sync of this store, after each round trip.
#[uniffi::export(foreign)]
pub trait SyncObserver: Send + Sync {
    /// Progress so far.
    fn on_sync_progress(&self, progress: SyncProgress) -> Result<()>;
}

/// The observers of one kind registered on a store.
pub(crate) struct Observers<T: ?Sized> {
    next: AtomicU64,
    list: Mutex<Vec<(u64, Arc<T>)>>,
}

impl<T: ?Sized + Send + Sync + 'static> Observers<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Observers {
            next: AtomicU64::new(1),
            list: Mutex::new(Vec::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<T>)>> {
        // The list is only pushed to and filtered: a panic elsewhere cannot leave it torn.
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register `observer`; the subscription removes it again.
    pub(crate) fn add(self: &Arc<Self>, observer: Arc<T>) -> Arc<Subscription> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, observer));
        let registry: Weak<Self> = Arc::downgrade(self);
        Arc::new(Subscription {
            cancel: Mutex::new(Some(Box::new(move || {
                if let Some(r) = registry.upgrade() {
                    r.lock().retain(|(i, _)| *i != id);
                }
            }))),
        })
    }

    /// A snapshot of the observers (so none is called with the list locked).
    pub(crate) fn all(&self) -> Vec<Arc<T>> {
        self.lock().iter().map(|(_, o)| Arc::clone(o)).collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// An observer's registration. `cancel()` stops the notifications; dropping the subscription
/// (Kotlin: `close()`/`destroy()`, Swift: releasing it) cancels too, so keep it for as long as
/// the screen observes.
#[derive(uniffi::Object)]
pub struct Subscription {
    cancel: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

#[uniffi::export]
impl Subscription {
    /// Stop the notifications (idempotent).
    pub fn cancel(&self) {
        let cancel = self.cancel.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(cancel) = cancel {
            cancel();
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Report a failing observer without its text (it came from the shell).
pub(crate) fn observer_failed(kind: &str, _e: IpcError) {
    tracing::debug!(observer = kind, "an observer failed; ignored");
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(Mutex<u32>);
    impl SyncObserver for Count {
        fn on_sync_progress(&self, _: SyncProgress) -> Result<()> {
            *self.0.lock().unwrap() += 1;
            Ok(())
        }
    }

    #[test]
    fn subscriptions_cancel_explicitly_and_on_drop() {
        let observers: Arc<Observers<dyn SyncObserver>> = Observers::new();
        let a = observers.add(Arc::new(Count(Mutex::new(0))));
        let b = observers.add(Arc::new(Count(Mutex::new(0))));
        assert_eq!(observers.all().len(), 2);
        a.cancel();
        a.cancel();
        assert_eq!(observers.all().len(), 1);
        drop(b);
        assert!(observers.is_empty());
    }
}
