//! The one public error of the FFI, [`IpcError`], and every conversion into it from the core's
//! errors, in this one place. Each variant is something a screen can act on (ask for the PIN
//! again, show a countdown, highlight a field, open the risk assessment, retry later, …).
//!
//! Messages come from the core's `Display` texts, which name fields, rules, codes and counts
//! but never personal data; text thrown by the shells' own callbacks is dropped rather than
//! passed on, since this layer cannot know what it contains.

use ipc_core::instruments::InstrumentError;
use ipc_core::model::ModelError;
use ipc_core::protocol::agenda::AgendaError;
use ipc_core::protocol::ProtocolError;
use ipc_core::store::keys::KeyError;
use ipc_core::store::secret::SecretStoreError;
use ipc_core::store::StoreError;
use ipc_core::sync::engine::{SyncError, TransportError};

/// Every failure the library reports. Kotlin sees it as `IpcException` (one subclass per
/// variant), Swift as `IpcError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum IpcError {
    /// The PIN was wrong. Ask again; after the attempts left run out the store locks out.
    #[error("wrong PIN ({attempts_left} attempts left before lock-out)")]
    WrongPin {
        /// Wrong PINs still allowed before lock-out.
        attempts_left: u32,
    },
    /// Too many wrong PINs recently: wait before the next attempt (show a countdown).
    #[error("too many wrong PINs; try again in {retry_after_ms} ms")]
    TooSoon {
        /// Milliseconds until the next attempt is accepted.
        retry_after_ms: u64,
    },
    /// Locked out after too many wrong PINs: only the recovery code held by the supervisor
    /// unlocks the store now (`IpcStore.recover`).
    #[error("locked out after too many wrong PINs; use the recovery code")]
    LockedOut,
    /// The store is locked: show the PIN screen and call `IpcStore.unlock`.
    #[error("the store is locked; unlock it with the PIN first")]
    Locked,
    /// An input was refused. `field` names it (e.g. `display_name`, `pin`, `answers`,
    /// `held_at`); `reason` says which rule failed. Neither contains the value.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field (dotted for nested values, e.g. `consent.date`).
        field: String,
        /// The rule that failed.
        reason: String,
    },
    /// A risk event is open without an assessment (PHQ-9 item 9 above 0, or a worker's
    /// concern): record the risk assessment (`IpcStore.assessRisk`) before continuing.
    #[error("a risk assessment must be recorded before this can continue")]
    RiskAssessmentRequired {
        /// The risk event waiting for its assessment.
        risk_event_id: String,
    },
    /// The IPC protocol or the server refused the step. `code` is stable and
    /// machine-readable (e.g. `missing_steps`, `not_eligible`, `extension_required`,
    /// `not_found`, `course_ended`, `not_enrolled`); `detail` explains in plain words
    /// (ids, counts and rule names only).
    #[error("refused ({code}): {detail}")]
    Refused {
        /// Stable code of the rule.
        code: String,
        /// Plain-words explanation.
        detail: String,
    },
    /// The server could not be reached or its reply was unreadable. Nothing was lost:
    /// unsent work stays in the outbox; retry later.
    #[error("network: {detail}")]
    Network {
        /// What failed.
        detail: String,
    },
    /// The server refused this device's credentials or enrolment code (`code`:
    /// `unauthorized`, `device_revoked`, `enrol_code_invalid`, `enrol_code_expired`,
    /// `enrol_code_used`). Enrol again with a new code from the supervisor.
    #[error("unauthorized ({code}): {detail}")]
    Unauthorized {
        /// Stable code.
        code: String,
        /// The server's explanation.
        detail: String,
    },
    /// Something already exists or is already running (a store at that path, a different
    /// device secret under that name, a sync in progress).
    #[error("conflict: {detail}")]
    Conflict {
        /// What conflicts.
        detail: String,
    },
    /// The device's storage failed (`code`: `not_found`, `corrupt`, `not_a_database`,
    /// `foreign_database`, `newer_schema`, `device_secret_missing`, `keystore_unavailable`,
    /// `keystore`, `keys`, `crypto`, `io`, `database`). The store file is never deleted: keep
    /// it for support.
    #[error("storage ({code}): {detail}")]
    Storage {
        /// Stable code.
        code: String,
        /// What failed.
        detail: String,
    },
    /// A bug or an unexpected failure (including an exception thrown by a shell callback
    /// that is not an `IpcException`/`IpcError`). Report it; the data is safe.
    #[error("internal error: {detail}")]
    Internal {
        /// What failed, without personal data.
        detail: String,
    },
}

/// Result of every fallible FFI call.
pub type Result<T, E = IpcError> = std::result::Result<T, E>;

impl IpcError {
    /// A [`IpcError::Validation`] for `field`.
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> IpcError {
        IpcError::Validation {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// A [`IpcError::Refused`] with a stable code.
    pub(crate) fn refused(code: &str, detail: impl Into<String>) -> IpcError {
        IpcError::Refused {
            code: code.to_string(),
            detail: detail.into(),
        }
    }

    fn storage(code: &str, e: &dyn std::fmt::Display) -> IpcError {
        IpcError::Storage {
            code: code.to_string(),
            detail: e.to_string(),
        }
    }

    fn internal(e: &dyn std::fmt::Display) -> IpcError {
        IpcError::Internal {
            detail: e.to_string(),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for IpcError {
    // The reason carries the foreign exception's own text, which may hold anything: drop it.
    fn from(_: uniffi::UnexpectedUniFFICallbackError) -> IpcError {
        IpcError::Internal {
            detail: "a platform callback failed unexpectedly".into(),
        }
    }
}

impl From<ModelError> for IpcError {
    fn from(e: ModelError) -> IpcError {
        match e {
            ModelError::Validation { field, reason } => {
                IpcError::invalid(field, reason.to_string())
            }
            ModelError::InvalidId { kind } => IpcError::invalid(kind, "not a valid id"),
            ModelError::UnknownVariant { kind } => IpcError::invalid(kind, "unknown value"),
        }
    }
}

impl From<KeyError> for IpcError {
    fn from(e: KeyError) -> IpcError {
        match e {
            KeyError::InvalidPin { rule } => IpcError::invalid("pin", rule),
            KeyError::WrongPin => IpcError::WrongPin { attempts_left: 0 },
            KeyError::WrongRecoveryCode => {
                IpcError::invalid("recovery_code", "wrong recovery code")
            }
            KeyError::InvalidRecoveryCode => IpcError::invalid(
                "recovery_code",
                "not a valid recovery code: check for typos",
            ),
            KeyError::TooSoon { retry_after_ms } => IpcError::TooSoon { retry_after_ms },
            KeyError::LockedOut => IpcError::LockedOut,
            e @ (KeyError::KdfTooWeak | KeyError::Crypto(_) | KeyError::Malformed(_)) => {
                IpcError::storage("keys", &e)
            }
        }
    }
}

impl From<SecretStoreError> for IpcError {
    fn from(e: SecretStoreError) -> IpcError {
        match e {
            SecretStoreError::NotAvailable => IpcError::storage("keystore_unavailable", &e),
            SecretStoreError::AlreadyExists => IpcError::Conflict {
                detail: e.to_string(),
            },
            other => IpcError::storage("keystore", &other),
        }
    }
}

/// What the core's secret store sees when the shell's keystore fails: the shell signals
/// "already stored" with `Conflict` and "keystore locked" with `Storage { code:
/// "keystore_unavailable" }`; anything else becomes a generic failure (without the shell's text).
pub(crate) fn secret_error(e: IpcError) -> SecretStoreError {
    match e {
        IpcError::Conflict { .. } => SecretStoreError::AlreadyExists,
        IpcError::Storage { code, .. } if code == "keystore_unavailable" => {
            SecretStoreError::NotAvailable
        }
        _ => SecretStoreError::Other("the platform keystore failed".into()),
    }
}

/// What the core's sync engine sees when the shell's HTTP transport fails: `Network` means
/// the server was not reached; anything else (including an unexpected exception) means the
/// request may or may not have arrived. Both are retried, and resending is harmless.
pub(crate) fn transport_error(e: IpcError) -> TransportError {
    match e {
        IpcError::Network { detail } => TransportError::Unreachable(detail),
        _ => TransportError::Io("the platform HTTP transport failed".into()),
    }
}

impl From<StoreError> for IpcError {
    fn from(e: StoreError) -> IpcError {
        match e {
            StoreError::WrongPin { attempts_left } => IpcError::WrongPin { attempts_left },
            StoreError::TooSoon { retry_after_ms } => IpcError::TooSoon { retry_after_ms },
            StoreError::LockedOut => IpcError::LockedOut,
            StoreError::Locked => IpcError::Locked,
            StoreError::Validation(e) => e.into(),
            StoreError::Key(e) => e.into(),
            StoreError::Secret(e) => e.into(),
            StoreError::AlreadyExists => IpcError::Conflict {
                detail: e.to_string(),
            },
            StoreError::NoSuchRecord { .. } => IpcError::refused("not_found", e.to_string()),
            StoreError::NotFound => IpcError::storage("not_found", &e),
            StoreError::NotADatabase => IpcError::storage("not_a_database", &e),
            StoreError::ForeignDatabase => IpcError::storage("foreign_database", &e),
            StoreError::Corrupt => IpcError::storage("corrupt", &e),
            StoreError::NewerSchema { .. } => IpcError::storage("newer_schema", &e),
            StoreError::DeviceSecretMissing => IpcError::storage("device_secret_missing", &e),
            StoreError::Crypto(_) => IpcError::storage("crypto", &e),
            StoreError::Io(_) => IpcError::storage("io", &e),
            StoreError::Sqlite(_) => IpcError::storage("database", &e),
            StoreError::AppendOnly { .. }
            | StoreError::InvalidOperation(_)
            | StoreError::UnknownField { .. }
            | StoreError::Decode(_) => IpcError::internal(&e),
        }
    }
}

impl From<InstrumentError> for IpcError {
    fn from(e: InstrumentError) -> IpcError {
        use InstrumentError as I;
        let field = match &e {
            I::UnknownInstrument { .. } | I::UnknownVersion { .. } => "instrument",
            I::MissingItems { .. }
            | I::InvalidAnswer { .. }
            | I::UnknownItem { .. }
            | I::DuplicateAnswer { .. }
            | I::WrongAnswerCount { .. }
            | I::NoBandForTotal => "answers",
            // Everything else is about a definition or a translation pack's content.
            _ => "translation",
        };
        IpcError::invalid(field, e.to_string())
    }
}

impl From<AgendaError> for IpcError {
    fn from(e: AgendaError) -> IpcError {
        IpcError::invalid("agenda_translation", e.to_string())
    }
}

impl From<ProtocolError> for IpcError {
    fn from(e: ProtocolError) -> IpcError {
        match e {
            ProtocolError::RiskAssessmentRequired { risk_event } => {
                IpcError::RiskAssessmentRequired {
                    risk_event_id: risk_event.to_string(),
                }
            }
            ProtocolError::Model(e) => e.into(),
            ProtocolError::Store(e) => e.into(),
            ProtocolError::Instrument(e) => e.into(),
            ProtocolError::Agenda(_) | ProtocolError::Config(_) => IpcError::internal(&e),
            // An unknown questionnaire id is a bad argument, as in `IpcStore.instrument`.
            ProtocolError::NotFound { what: "instrument" } => {
                IpcError::invalid("instrument", "unknown instrument")
            }
            other => IpcError::refused(other.code(), other.to_string()),
        }
    }
}

impl From<SyncError> for IpcError {
    fn from(e: SyncError) -> IpcError {
        match e {
            SyncError::NotEnrolled => IpcError::refused("not_enrolled", e.to_string()),
            SyncError::Network { .. } | SyncError::BadReply { .. } => IpcError::Network {
                detail: e.to_string(),
            },
            SyncError::Unauthorized { code, message, .. } => IpcError::Unauthorized {
                code: code.to_string(),
                detail: message,
            },
            SyncError::Refused { code, message, .. } => IpcError::refused(code, message),
            SyncError::Store(e) => e.into(),
        }
    }
}

impl From<ipc_core::Error> for IpcError {
    fn from(e: ipc_core::Error) -> IpcError {
        match e {
            ipc_core::Error::Store(e) => e.into(),
            ipc_core::Error::Model(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc_core::model::Reason;

    #[test]
    fn store_errors_map_to_actionable_variants() {
        assert_eq!(
            IpcError::from(StoreError::WrongPin { attempts_left: 4 }),
            IpcError::WrongPin { attempts_left: 4 }
        );
        assert_eq!(IpcError::from(StoreError::LockedOut), IpcError::LockedOut);
        assert_eq!(IpcError::from(StoreError::Locked), IpcError::Locked);
        assert!(matches!(
            IpcError::from(StoreError::Corrupt),
            IpcError::Storage { code, .. } if code == "corrupt"
        ));
        assert!(matches!(
            IpcError::from(StoreError::AlreadyExists),
            IpcError::Conflict { .. }
        ));
    }

    #[test]
    fn validation_keeps_field_and_rule_but_no_value() {
        let e = IpcError::from(ModelError::invalid(
            "display_name",
            Reason::TooLong { max: 80 },
        ));
        assert_eq!(
            e,
            IpcError::Validation {
                field: "display_name".into(),
                reason: "too long (max 80 characters)".into()
            }
        );
    }

    #[test]
    fn protocol_refusals_keep_their_code() {
        let e = IpcError::from(ProtocolError::MissingSteps {
            steps: vec!["review_task".into()],
        });
        assert!(
            matches!(&e, IpcError::Refused { code, detail } if code == "missing_steps" && detail.contains("review_task")),
            "{e:?}"
        );
        let risk = ipc_core::model::RiskEventId::new();
        assert_eq!(
            IpcError::from(ProtocolError::RiskAssessmentRequired { risk_event: risk }),
            IpcError::RiskAssessmentRequired {
                risk_event_id: risk.to_string()
            }
        );
    }

    #[test]
    fn callback_failures_drop_the_foreign_text() {
        let e = IpcError::from(uniffi::UnexpectedUniFFICallbackError::new(
            "java.io.IOException: ZQX secret text",
        ));
        assert!(!e.to_string().contains("ZQX"), "{e}");
        assert!(matches!(e, IpcError::Internal { .. }));
    }

    #[test]
    fn shell_failures_map_to_core_errors() {
        assert_eq!(
            secret_error(IpcError::Conflict { detail: "x".into() }),
            SecretStoreError::AlreadyExists
        );
        assert_eq!(
            secret_error(IpcError::Storage {
                code: "keystore_unavailable".into(),
                detail: "x".into()
            }),
            SecretStoreError::NotAvailable
        );
        assert!(matches!(
            transport_error(IpcError::Network {
                detail: "offline".into()
            }),
            TransportError::Unreachable(d) if d == "offline"
        ));
        assert!(matches!(
            transport_error(IpcError::Internal {
                detail: "boom".into()
            }),
            TransportError::Io(_)
        ));
    }
}
