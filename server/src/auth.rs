//! Device credentials: one-time enrolment codes and bearer tokens.
//!
//! A code is 12 random Crockford base-32 characters shown as `XXXX-XXXX-XXXX` (60 bits),
//! valid for a limited time and usable once. Redeeming it gives the device a token of 32
//! random bytes (base64url). The server keeps only SHA-256 hashes of both; a token is looked
//! up by its hash and the stored hash is compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ipc_core::model::DeviceId;
use ipc_core::sync::wire::ErrorCode;
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Result, ServerError};
use crate::storage::{DeviceAuth, Redeemed, SecretHash, Storage};

/// Crockford's base-32 alphabet (no I, L, O, U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code.
pub const CODE_LEN: usize = 12;
/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;
/// Characters of a token in base64url without padding.
const TOKEN_CHARS: usize = 43;

fn sha256(bytes: &[u8]) -> SecretHash {
    let d = digest(&SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Equality of two hashes in time independent of where they differ.
pub fn constant_time_eq(a: &SecretHash, b: &SecretHash) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| ServerError::Random)?;
    Ok(out)
}

/// A new code, formatted `XXXX-XXXX-XXXX`, and the hash to store.
pub fn new_code() -> Result<(String, SecretHash)> {
    let bytes = random::<CODE_LEN>()?;
    let plain: String = bytes
        .iter()
        .map(|b| char::from(CROCKFORD[usize::from(b & 31)]))
        .collect();
    let hash = sha256(plain.as_bytes());
    let shown = format!("{}-{}-{}", &plain[0..4], &plain[4..8], &plain[8..12]);
    Ok((shown, hash))
}

/// The hash of a code as typed: case, dashes and spaces ignored; `O` read as 0 and `I`/`L`
/// as 1. `None` if it cannot be a code.
pub fn code_hash(typed: &str) -> Option<SecretHash> {
    let mut plain = String::with_capacity(CODE_LEN);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) || plain.len() >= CODE_LEN {
            return None;
        }
        plain.push(c);
    }
    (plain.len() == CODE_LEN).then(|| sha256(plain.as_bytes()))
}

/// A new token and the hash to store.
pub fn new_token() -> Result<(String, SecretHash)> {
    let token = URL_SAFE_NO_PAD.encode(random::<TOKEN_BYTES>()?);
    let hash = sha256(token.as_bytes());
    Ok((token, hash))
}

/// The token of an `Authorization: Bearer …` header value, if well formed.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(token)
}

/// The device a token belongs to, if any (revoked devices included: the caller decides).
pub async fn authenticate<S: Storage>(storage: &S, token: &str) -> Result<Option<DeviceAuth>> {
    let hash = sha256(token.as_bytes());
    Ok(storage
        .device_by_token(&hash)
        .await?
        .filter(|d| constant_time_eq(&d.token_hash, &hash)))
}

/// Why an enrolment was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrolRefusal {
    /// Unknown code (or not a code at all).
    Invalid,
    /// The code expired.
    Expired,
    /// The code was used.
    Used,
    /// The device is enrolled for another worker.
    DeviceTaken,
}

impl EnrolRefusal {
    /// The wire error code.
    pub fn code(self) -> ErrorCode {
        match self {
            EnrolRefusal::Invalid => ErrorCode::EnrolCodeInvalid,
            EnrolRefusal::Expired => ErrorCode::EnrolCodeExpired,
            EnrolRefusal::Used => ErrorCode::EnrolCodeUsed,
            EnrolRefusal::DeviceTaken => ErrorCode::Unauthorized,
        }
    }

    /// What to tell the user.
    pub fn message(self) -> &'static str {
        match self {
            EnrolRefusal::Invalid => {
                "the enrolment code is not valid; check it, or ask your supervisor for a new one"
            }
            EnrolRefusal::Expired => {
                "the enrolment code has expired; ask your supervisor for a new one"
            }
            EnrolRefusal::Used => {
                "the enrolment code was already used; ask your supervisor for a new one"
            }
            EnrolRefusal::DeviceTaken => {
                "this device is enrolled for another worker; reset the app on it before enrolling it for someone else"
            }
        }
    }
}

/// A device enrolled: its credentials (the token is shown once).
#[derive(Clone, Debug)]
pub struct Enrolled {
    /// The device and its worker.
    pub device: DeviceAuth,
    /// The bearer token.
    pub token: String,
}

/// Redeem a code typed on `device`.
pub async fn enrol<S: Storage>(
    storage: &S,
    code: &str,
    device: DeviceId,
    now_ms: i64,
) -> Result<std::result::Result<Enrolled, EnrolRefusal>> {
    let Some(code_hash) = code_hash(code) else {
        return Ok(Err(EnrolRefusal::Invalid));
    };
    let (token, token_hash) = new_token()?;
    Ok(
        match storage
            .redeem_code(&code_hash, device, &token_hash, now_ms)
            .await?
        {
            Redeemed::Enrolled(device) => Ok(Enrolled { device, token }),
            Redeemed::Invalid => Err(EnrolRefusal::Invalid),
            Redeemed::Expired => Err(EnrolRefusal::Expired),
            Redeemed::Used => Err(EnrolRefusal::Used),
            Redeemed::DeviceTaken => Err(EnrolRefusal::DeviceTaken),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_formatted_and_read_back_forgivingly() {
        let (shown, hash) = new_code().unwrap();
        assert_eq!(shown.len(), 14);
        assert_eq!(shown.matches('-').count(), 2);
        assert_eq!(code_hash(&shown), Some(hash));
        assert_eq!(
            code_hash(&shown.to_lowercase().replace('-', " ")),
            Some(hash)
        );
        let (a, _) = new_code().unwrap();
        assert_ne!(a, shown, "codes are random");
        assert_eq!(code_hash("0000-1111-2222"), code_hash("oooo-iiii-2222"));
        assert_eq!(code_hash("0000-1111-222"), None);
        assert_eq!(code_hash("0000-1111-22222"), None);
        assert_eq!(code_hash("0000-1111-222U"), None);
        assert_eq!(code_hash("0000-1111-222é"), None);
    }

    #[test]
    fn tokens_are_long_random_and_parsed_from_the_header() {
        let (t, h) = new_token().unwrap();
        assert_eq!(t.len(), TOKEN_CHARS);
        assert_eq!(sha256(t.as_bytes()), h);
        assert_ne!(new_token().unwrap().0, t);
        assert_eq!(bearer(&format!("Bearer {t}")), Some(t.as_str()));
        assert_eq!(bearer(&format!("bearer  {t} ")), Some(t.as_str()));
        assert_eq!(bearer(&format!("Basic {t}")), None);
        assert_eq!(bearer("Bearer short"), None);
        assert_eq!(bearer(&format!("Bearer {}", &t[..42])), None);
    }

    #[test]
    fn constant_time_equality() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
    }
}
