//! The store's key hierarchy and PIN policy, as pure logic without SQLite: PIN and recovery-code
//! handling, PBKDF2/HKDF derivation of key-encryption keys, wrapping of the data key, and the
//! back-off and lock-out rules for wrong PINs.
//!
//! ```text
//! PIN ──PBKDF2-HMAC-SHA256(salt, iterations)──► HKDF-SHA256(salt = device secret) ──► PIN KEK
//! recovery code (160 random bits) ────────────► HKDF-SHA256(salt = device secret) ──► recovery KEK
//! each KEK ──AES-256-GCM(AAD = store id, kind, salt, iterations)──► WrappedKey(data key)
//! ```

use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf, pbkdf2};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::store::crypto::{Aad, CryptoError, DataKey, FieldCipher, KEY_LEN};

/// Lowest PBKDF2 iteration count accepted outside tests.
pub const MIN_ITERATIONS: u32 = 100_000;
/// Highest PBKDF2 iteration count accepted; guards unlock against a tampered count.
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Time one PIN derivation should take on this device: the default target of
/// [`KdfParams::calibrate`].
pub const DEFAULT_KDF_TARGET: Duration = Duration::from_millis(250);
/// Length of the random PBKDF2 salt.
pub const SALT_LEN: usize = 16;
/// Shortest device secret accepted for key derivation.
pub const MIN_DEVICE_SECRET_LEN: usize = 16;

const PIN_MIN_CHARS: usize = 4;
const PIN_MAX_CHARS: usize = 64;
const KEK_PIN_INFO: &[u8] = b"ipc-kit/kek/pin/v1";
const KEK_RECOVERY_INFO: &[u8] = b"ipc-kit/kek/recovery/v1";
const WRAP_DOMAIN: &str = "ipc-kit/wrap/v1";
const RECOVERY_CHECK_DOMAIN: &[u8] = b"ipc-kit/recovery-check/v1";
/// Probes timed by [`KdfParams::calibrate`].
const CALIBRATION_RUNS: usize = 5;
/// Iterations of the calibration probe (a `const` `NonZeroU32` of 20 000).
const CALIBRATION_PROBE: NonZeroU32 = NonZeroU32::MIN.saturating_add(19_999);

/// Errors of the key hierarchy. None contains a PIN, code or key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The PIN breaks a rule; `rule` says which.
    #[error("PIN rejected: {rule}")]
    InvalidPin {
        /// The rule that failed.
        rule: &'static str,
    },
    /// The PIN did not unwrap the key. Also the outcome of a wrong device secret, a wrapped key
    /// from another store, or tampering: these are indistinguishable by design.
    #[error("wrong PIN")]
    WrongPin,
    /// The recovery code did not unwrap the key (or the device secret or store differ).
    #[error("wrong recovery code")]
    WrongRecoveryCode,
    /// The text is not a well-formed recovery code (length, characters or checksum).
    #[error("not a valid recovery code: check for typos")]
    InvalidRecoveryCode,
    /// Too many recent wrong PINs: wait before the next attempt.
    #[error("too many wrong PINs: try again in {retry_after_ms} ms")]
    TooSoon {
        /// Milliseconds until the next attempt is allowed.
        retry_after_ms: u64,
    },
    /// The attempt limit is reached; only the recovery code can unlock.
    #[error("locked after too many wrong PINs: use the recovery code")]
    LockedOut,
    /// The PBKDF2 iteration count is below the minimum.
    #[error("key derivation too weak: at least {MIN_ITERATIONS} iterations required")]
    KdfTooWeak,
    /// A cryptographic primitive failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Stored key material or parameters are inconsistent; the text names what.
    #[error("malformed key data: {0}")]
    Malformed(&'static str),
}

/// Result type of this module.
pub type Result<T> = std::result::Result<T, KeyError>;

// ---------------------------------------------------------------------------------------------
// KDF parameters

/// Cost parameters of the PIN derivation (PBKDF2-HMAC-SHA256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// PBKDF2 iteration count.
    pub iterations: u32,
}

impl KdfParams {
    /// Measures PBKDF2 on this device and picks the iteration count that takes about `target`
    /// (use [`DEFAULT_KDF_TARGET`], 250 ms), clamped to `[MIN_ITERATIONS, MAX_ITERATIONS]`.
    /// Times a probe of 20 000 iterations five times and scales the fastest linearly.
    pub fn calibrate(target: Duration) -> KdfParams {
        // The fastest of a few probes: a busy CPU makes single probes slow, which would pick
        // too few iterations for good.
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        let mut fastest = u128::MAX;
        for _ in 0..CALIBRATION_RUNS {
            let start = Instant::now();
            pbkdf2::derive(
                pbkdf2::PBKDF2_HMAC_SHA256,
                CALIBRATION_PROBE,
                b"ipc-kit/calibration-salt",
                b"0000",
                out.as_mut(),
            );
            fastest = fastest.min(start.elapsed().as_nanos().max(1));
        }
        let scaled = u128::from(CALIBRATION_PROBE.get()) * target.as_nanos() / fastest;
        let clamped = scaled.clamp(u128::from(MIN_ITERATIONS), u128::from(MAX_ITERATIONS));
        KdfParams {
            iterations: u32::try_from(clamped).unwrap_or(MAX_ITERATIONS),
        }
    }

    /// Parameters with an arbitrary (e.g. tiny) iteration count, to keep tests fast.
    #[cfg(any(test, feature = "testing"))]
    pub fn insecure_for_tests(iterations: u32) -> KdfParams {
        KdfParams { iterations }
    }

    /// Checks the iteration count: at least [`MIN_ITERATIONS`] (at least 1 in test builds, i.e.
    /// `cfg(test)` or the `testing` feature) and at most [`MAX_ITERATIONS`].
    pub fn validate(&self) -> Result<()> {
        let min = if cfg!(any(test, feature = "testing")) {
            1
        } else {
            MIN_ITERATIONS
        };
        if self.iterations < min {
            return Err(KeyError::KdfTooWeak);
        }
        if self.iterations > MAX_ITERATIONS {
            return Err(KeyError::Malformed("KDF iteration count above maximum"));
        }
        Ok(())
    }

    fn checked_iterations(&self) -> Result<NonZeroU32> {
        self.validate()?;
        NonZeroU32::new(self.iterations).ok_or(KeyError::KdfTooWeak)
    }
}

// ---------------------------------------------------------------------------------------------
// PIN and key-encryption keys

/// A worker's PIN: 4 to 64 characters, no control characters. Zeroized on drop; `Debug` prints
/// `Pin(****)`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Pin(String);

impl Pin {
    /// Checks and copies a PIN. The error names the rule that failed, never the PIN.
    pub fn new(pin: &str) -> Result<Pin> {
        let chars = pin.chars().count();
        if chars < PIN_MIN_CHARS {
            return Err(KeyError::InvalidPin {
                rule: "at least 4 characters",
            });
        }
        if chars > PIN_MAX_CHARS {
            return Err(KeyError::InvalidPin {
                rule: "at most 64 characters",
            });
        }
        if pin.chars().any(char::is_control) {
            return Err(KeyError::InvalidPin {
                rule: "no control characters",
            });
        }
        Ok(Pin(pin.to_owned()))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(****)")
    }
}

/// A key-encryption key: wraps and unwraps the data key. Zeroized on drop.
pub struct Kek(DataKey);

impl Kek {
    fn cipher(&self) -> Result<FieldCipher> {
        Ok(FieldCipher::new(&self.0)?)
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(..)")
    }
}

/// Derives the PIN key-encryption key:
/// `HKDF-SHA256(ikm = PBKDF2-HMAC-SHA256(pin, salt, iterations), salt = device_secret,
/// info = "ipc-kit/kek/pin/v1")`. Fails if `params` do not validate or the device secret is
/// shorter than [`MIN_DEVICE_SECRET_LEN`].
pub fn derive_kek(
    pin: &Pin,
    salt: &[u8; SALT_LEN],
    params: &KdfParams,
    device_secret: &[u8],
) -> Result<Kek> {
    let iterations = params.checked_iterations()?;
    check_device_secret(device_secret)?;
    let mut stretched = Zeroizing::new([0u8; KEY_LEN]);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        pin.0.as_bytes(),
        stretched.as_mut(),
    );
    hkdf_kek(stretched.as_ref(), device_secret, KEK_PIN_INFO)
}

fn derive_recovery_kek(code: &RecoveryCode, device_secret: &[u8]) -> Result<Kek> {
    check_device_secret(device_secret)?;
    hkdf_kek(&code.0, device_secret, KEK_RECOVERY_INFO)
}

fn check_device_secret(device_secret: &[u8]) -> Result<()> {
    if device_secret.len() < MIN_DEVICE_SECRET_LEN {
        return Err(KeyError::Malformed("device secret shorter than 16 bytes"));
    }
    Ok(())
}

fn hkdf_kek(ikm: &[u8], device_secret: &[u8], info: &[u8]) -> Result<Kek> {
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, device_secret)
        .extract(ikm)
        .expand(&[info], &ring::aead::AES_256_GCM)
        .and_then(|okm_source| okm_source.fill(okm.as_mut()))
        .map_err(|_| KeyError::Malformed("HKDF output length"))?;
    Ok(Kek(DataKey::from_bytes(okm.as_ref())?))
}

// ---------------------------------------------------------------------------------------------
// Wrapped data key

/// Which secret a [`WrappedKey`] is wrapped under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WrapKind {
    /// The worker's PIN (with PBKDF2 salt and iterations).
    Pin,
    /// The recovery code (no PBKDF2: salt is all zeros and iterations 0).
    Recovery,
}

impl WrapKind {
    fn label(self) -> &'static [u8] {
        match self {
            WrapKind::Pin => b"pin",
            WrapKind::Recovery => b"recovery",
        }
    }
}

/// The data key sealed under a key-encryption key, as stored in the database's meta table.
/// Serializes with `salt` and `sealed` as lowercase hex strings. Not secret, but only as strong
/// as the PIN once the device secret is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// The secret it is wrapped under.
    pub kind: WrapKind,
    /// PBKDF2 salt (zeros for [`WrapKind::Recovery`]).
    #[serde(with = "hex_serde")]
    pub salt: [u8; SALT_LEN],
    /// PBKDF2 iterations (0 for [`WrapKind::Recovery`]).
    pub iterations: u32,
    /// The data key sealed with AES-256-GCM (format of `FieldCipher::seal`).
    #[serde(with = "hex_serde")]
    pub sealed: Vec<u8>,
}

fn wrap_aad(store_id: &[u8; 16], kind: WrapKind, salt: &[u8; SALT_LEN], iterations: u32) -> Aad {
    Aad::new_raw(
        WRAP_DOMAIN,
        &[store_id, kind.label(), salt, &iterations.to_be_bytes()],
    )
}

fn seal_key(
    kek: &Kek,
    data_key: &DataKey,
    store_id: &[u8; 16],
    kind: WrapKind,
    salt: [u8; SALT_LEN],
    iterations: u32,
) -> Result<WrappedKey> {
    let aad = wrap_aad(store_id, kind, &salt, iterations);
    let sealed = kek.cipher()?.seal(&aad, data_key.expose_bytes())?;
    Ok(WrappedKey {
        kind,
        salt,
        iterations,
        sealed,
    })
}

/// Opens `w`; a failed tag becomes `wrong`.
fn open_key(kek: &Kek, w: &WrappedKey, store_id: &[u8; 16], wrong: KeyError) -> Result<DataKey> {
    let aad = wrap_aad(store_id, w.kind, &w.salt, w.iterations);
    let plain = Zeroizing::new(kek.cipher()?.open(&aad, &w.sealed).map_err(|e| match e {
        CryptoError::Decrypt => wrong,
        other => KeyError::Crypto(other),
    })?);
    DataKey::from_bytes(&plain).map_err(|_| KeyError::Malformed("wrapped key has wrong length"))
}

/// Wraps `data_key` under a KEK derived from `pin` with a fresh random salt. The AAD binds the
/// result to `store_id`, the kind, the salt and the iteration count.
pub fn wrap_with_pin(
    data_key: &DataKey,
    pin: &Pin,
    device_secret: &[u8],
    params: &KdfParams,
    store_id: &[u8; 16],
) -> Result<WrappedKey> {
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| CryptoError::Rng)?;
    let kek = derive_kek(pin, &salt, params, device_secret)?;
    seal_key(
        &kek,
        data_key,
        store_id,
        WrapKind::Pin,
        salt,
        params.iterations,
    )
}

/// Unwraps a PIN-wrapped key. [`KeyError::WrongPin`] if the PIN, device secret or store differ
/// or the record was tampered with. Takes as long as one PBKDF2 run.
pub fn unwrap_with_pin(
    w: &WrappedKey,
    pin: &Pin,
    device_secret: &[u8],
    store_id: &[u8; 16],
) -> Result<DataKey> {
    if w.kind != WrapKind::Pin {
        return Err(KeyError::Malformed("not a PIN-wrapped key"));
    }
    let params = KdfParams {
        iterations: w.iterations,
    };
    let kek = derive_kek(pin, &w.salt, &params, device_secret)?;
    open_key(&kek, w, store_id, KeyError::WrongPin)
}

/// Wraps `data_key` under the recovery KEK:
/// `HKDF-SHA256(ikm = code, salt = device_secret, info = "ipc-kit/kek/recovery/v1")`.
pub fn wrap_with_recovery(
    data_key: &DataKey,
    code: &RecoveryCode,
    device_secret: &[u8],
    store_id: &[u8; 16],
) -> Result<WrappedKey> {
    let kek = derive_recovery_kek(code, device_secret)?;
    seal_key(
        &kek,
        data_key,
        store_id,
        WrapKind::Recovery,
        [0; SALT_LEN],
        0,
    )
}

/// Unwraps a recovery-wrapped key; [`KeyError::WrongRecoveryCode`] on failure.
pub fn unwrap_with_recovery(
    w: &WrappedKey,
    code: &RecoveryCode,
    device_secret: &[u8],
    store_id: &[u8; 16],
) -> Result<DataKey> {
    if w.kind != WrapKind::Recovery {
        return Err(KeyError::Malformed("not a recovery-wrapped key"));
    }
    let kek = derive_recovery_kek(code, device_secret)?;
    open_key(&kek, w, store_id, KeyError::WrongRecoveryCode)
}

// ---------------------------------------------------------------------------------------------
// Recovery code

/// Random bytes in a recovery code (160 bits).
pub const RECOVERY_CODE_BYTES: usize = 20;
const RECOVERY_CHECK_BYTES: usize = 5;
const RECOVERY_TOTAL_BYTES: usize = RECOVERY_CODE_BYTES + RECOVERY_CHECK_BYTES;
/// Base32 digits in a recovery code: 25 bytes (code and checksum) = 200 bits = 40 digits.
const RECOVERY_DIGITS: usize = RECOVERY_TOTAL_BYTES * 8 / 5;
const RECOVERY_GROUP: usize = 5;
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A recovery code: 160 random bits plus a 40-bit checksum, shown as 8 groups of 5 Crockford
/// base32 characters (`XXXXX-XXXXX-…`). Parsing ignores case, spaces and dashes and reads
/// I/L as 1 and O as 0; the checksum (SHA-256 of a domain label and the 160 bits, first 40 bits)
/// catches typos. Zeroized on drop; `Debug` prints `RecoveryCode(..)`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode([u8; RECOVERY_CODE_BYTES]);

impl RecoveryCode {
    /// A fresh random code.
    pub fn generate() -> Result<RecoveryCode> {
        let mut code = RecoveryCode([0; RECOVERY_CODE_BYTES]);
        SystemRandom::new()
            .fill(&mut code.0)
            .map_err(|_| CryptoError::Rng)?;
        Ok(code)
    }

    /// Parses a code as typed by a person; [`KeyError::InvalidRecoveryCode`] if the length,
    /// a character or the checksum is wrong.
    pub fn parse(input: &str) -> Result<RecoveryCode> {
        let mut digits = Zeroizing::new([0u8; RECOVERY_DIGITS]);
        let mut count = 0;
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let digit = crockford_value(c).ok_or(KeyError::InvalidRecoveryCode)?;
            *digits.get_mut(count).ok_or(KeyError::InvalidRecoveryCode)? = digit;
            count += 1;
        }
        if count != RECOVERY_DIGITS {
            return Err(KeyError::InvalidRecoveryCode);
        }

        let mut bytes = Zeroizing::new([0u8; RECOVERY_TOTAL_BYTES]);
        let (mut acc, mut bits, mut out) = (0u32, 0u32, bytes.iter_mut());
        for &d in digits.iter() {
            acc = (acc << 5) | u32::from(d);
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                if let Some(byte) = out.next() {
                    *byte = (acc >> bits) as u8;
                }
                acc &= (1 << bits) - 1;
            }
        }
        acc.zeroize();

        let (code, check) = bytes.split_at(RECOVERY_CODE_BYTES);
        let code = RecoveryCode(code.try_into().map_err(|_| KeyError::InvalidRecoveryCode)?);
        if code.checksum() != check {
            return Err(KeyError::InvalidRecoveryCode);
        }
        Ok(code)
    }

    /// The code for display, e.g. `7Q2M4-…` (47 characters). Show it once, never store it.
    pub fn expose_formatted(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0u8; RECOVERY_TOTAL_BYTES]);
        let (code, check) = bytes.split_at_mut(RECOVERY_CODE_BYTES);
        code.copy_from_slice(&self.0);
        check.copy_from_slice(&self.checksum());

        let groups = RECOVERY_DIGITS / RECOVERY_GROUP;
        let mut text = Zeroizing::new(String::with_capacity(RECOVERY_DIGITS + groups - 1));
        let (mut acc, mut bits, mut written) = (0u32, 0u32, 0usize);
        for &b in bytes.iter() {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                if written > 0 && written % RECOVERY_GROUP == 0 {
                    text.push('-');
                }
                text.push(char::from(CROCKFORD[((acc >> bits) & 31) as usize]));
                written += 1;
            }
            acc &= (1 << bits) - 1;
        }
        acc.zeroize();
        text
    }

    fn checksum(&self) -> [u8; RECOVERY_CHECK_BYTES] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(RECOVERY_CHECK_DOMAIN);
        ctx.update(&self.0);
        let digest = ctx.finish();
        let mut check = [0u8; RECOVERY_CHECK_BYTES];
        check
            .iter_mut()
            .zip(digest.as_ref())
            .for_each(|(c, d)| *c = *d);
        check
    }
}

fn crockford_value(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    let pos = CROCKFORD.iter().position(|&a| char::from(a) == c)?;
    u8::try_from(pos).ok()
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

// ---------------------------------------------------------------------------------------------
// PIN attempt policy

/// Rules for wrong PINs: a few free attempts, then exponential back-off, then lock-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPolicy {
    /// Failures after which the store locks until the recovery code is used (default 10).
    pub max_attempts: u32,
    /// Failures allowed without any wait (default 3).
    pub free_attempts: u32,
    /// Wait after the first failure beyond the free ones; doubles with each further failure
    /// (default 1 s).
    pub base_delay: Duration,
    /// Longest wait (default 5 min).
    pub max_delay: Duration,
}

impl Default for PinPolicy {
    fn default() -> Self {
        PinPolicy {
            max_attempts: 10,
            free_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
        }
    }
}

impl PinPolicy {
    /// Wait required after `failures` consecutive failures: zero up to `free_attempts`, then
    /// `base_delay * 2^(failures - free_attempts - 1)`, capped at `max_delay`.
    pub fn delay_for(&self, failures: u32) -> Duration {
        if failures <= self.free_attempts {
            return Duration::ZERO;
        }
        let exponent = failures - self.free_attempts - 1;
        1u32.checked_shl(exponent)
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }
}

/// Persisted record of consecutive wrong PINs.
///
/// Intended use by the store, so that killing the app during a check still burns the attempt:
/// 1. load the state; [`clamp_to_clock`](Self::clamp_to_clock) and persist if it changed;
/// 2. [`check`](Self::check) — refuse if locked out or too soon;
/// 3. [`record_failure`](Self::record_failure) and persist, BEFORE deriving the key;
/// 4. try the PIN; on success [`record_success`](Self::record_success) and persist.
///
/// Wall-clock delays only slow down guessing (a clock set forward skips them); the lock-out
/// after `max_attempts` is the hard limit. Unlocking with the recovery code resets the state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptState {
    /// Consecutive failures (attempts started and not completed successfully).
    pub failures: u32,
    /// Wall-clock time of the last failure, in Unix milliseconds.
    pub last_failure_unix_ms: Option<i64>,
    /// Set once `failures` reaches the policy's `max_attempts`.
    pub locked_out: bool,
}

impl AttemptState {
    /// Whether an attempt may start at `now_unix_ms`. If the clock is earlier than the last
    /// failure, the full delay is required (a clock change never shortens the wait, and the wait
    /// reported never exceeds `max_delay`).
    pub fn check(&self, policy: &PinPolicy, now_unix_ms: i64) -> Result<()> {
        if self.locked_out || self.failures >= policy.max_attempts {
            return Err(KeyError::LockedOut);
        }
        let Some(last) = self.last_failure_unix_ms else {
            return Ok(());
        };
        let delay_ms =
            u64::try_from(policy.delay_for(self.failures).as_millis()).unwrap_or(u64::MAX);
        let elapsed_ms =
            u64::try_from((i128::from(now_unix_ms) - i128::from(last)).max(0)).unwrap_or(u64::MAX);
        match delay_ms.saturating_sub(elapsed_ms) {
            0 => Ok(()),
            retry_after_ms => Err(KeyError::TooSoon { retry_after_ms }),
        }
    }

    /// If the clock went back before the last failure, restarts the wait from `now_unix_ms`,
    /// so the total wait stays bounded by `max_delay`. Returns whether the state changed (and
    /// must be persisted).
    pub fn clamp_to_clock(&mut self, now_unix_ms: i64) -> bool {
        match self.last_failure_unix_ms {
            Some(last) if now_unix_ms < last => {
                self.last_failure_unix_ms = Some(now_unix_ms);
                true
            }
            _ => false,
        }
    }

    /// Counts a failure at `now_unix_ms`; locks out on reaching `max_attempts`.
    pub fn record_failure(&mut self, policy: &PinPolicy, now_unix_ms: i64) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure_unix_ms = Some(now_unix_ms);
        self.locked_out = self.locked_out || self.failures >= policy.max_attempts;
    }

    /// Clears the record after a successful unlock.
    pub fn record_success(&mut self) {
        *self = AttemptState::default();
    }

    /// Attempts remaining before lock-out.
    pub fn attempts_left(&self, policy: &PinPolicy) -> u32 {
        if self.locked_out {
            0
        } else {
            policy.max_attempts.saturating_sub(self.failures)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hex for serde

mod hex_serde {
    use serde::{de, Deserialize, Deserializer, Serializer};

    const DIGITS: &[u8; 16] = b"0123456789abcdef";

    pub(super) fn serialize<S: Serializer>(
        bytes: impl AsRef<[u8]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let text: String = bytes
            .as_ref()
            .iter()
            .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
            .map(char::from)
            .collect();
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<Vec<u8>>,
    {
        let text = String::deserialize(d)?;
        let bytes = decode(&text).ok_or_else(|| de::Error::custom("invalid hex string"))?;
        T::try_from(bytes).map_err(|_| de::Error::custom("hex string has wrong length"))
    }

    fn decode(text: &str) -> Option<Vec<u8>> {
        let nibble = |c: u8| {
            char::from(c)
                .to_digit(16)
                .and_then(|v| u8::try_from(v).ok())
        };
        let pairs = text.as_bytes().chunks(2);
        pairs
            .map(|pair| match pair {
                [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STORE: [u8; 16] = [0x11; 16];
    const DEVICE: [u8; 32] = [0x22; 32];

    fn params() -> KdfParams {
        KdfParams::insecure_for_tests(1000)
    }

    fn pin(s: &str) -> Pin {
        Pin::new(s).unwrap()
    }

    fn pin_wrapped(key: &DataKey) -> WrappedKey {
        wrap_with_pin(key, &pin("2468"), &DEVICE, &params(), &STORE).unwrap()
    }

    #[test]
    fn pin_wrap_round_trip() {
        let key = DataKey::generate().unwrap();
        let w = pin_wrapped(&key);
        assert_eq!(w.kind, WrapKind::Pin);
        assert_eq!(w.iterations, 1000);
        let back = unwrap_with_pin(&w, &pin("2468"), &DEVICE, &STORE).unwrap();
        assert_eq!(back.expose_bytes(), key.expose_bytes());
        // A fresh salt each time.
        assert_ne!(pin_wrapped(&key).salt, w.salt);
    }

    #[test]
    fn wrong_pin_device_secret_or_store_fail() {
        let w = pin_wrapped(&DataKey::generate().unwrap());
        let try_unwrap =
            |p: &str, dev: &[u8], store: &[u8; 16]| unwrap_with_pin(&w, &pin(p), dev, store);
        assert_eq!(
            try_unwrap("2469", &DEVICE, &STORE).unwrap_err(),
            KeyError::WrongPin
        );
        assert_eq!(
            try_unwrap("2468", &[0x23; 32], &STORE).unwrap_err(),
            KeyError::WrongPin
        );
        assert_eq!(
            try_unwrap("2468", &DEVICE, &[0x12; 16]).unwrap_err(),
            KeyError::WrongPin
        );
        assert_eq!(
            try_unwrap("2468", &[0x22; 8], &STORE).unwrap_err(),
            KeyError::Malformed("device secret shorter than 16 bytes")
        );
    }

    #[test]
    fn tampered_wrapped_key_fails() {
        let w = pin_wrapped(&DataKey::generate().unwrap());
        let check = |t: WrappedKey| unwrap_with_pin(&t, &pin("2468"), &DEVICE, &STORE).unwrap_err();

        let mut t = w.clone();
        t.sealed[20] ^= 1;
        assert_eq!(check(t), KeyError::WrongPin);
        let mut t = w.clone();
        t.salt[0] ^= 1;
        assert_eq!(check(t), KeyError::WrongPin);
        let mut t = w.clone();
        t.iterations += 1;
        assert_eq!(check(t), KeyError::WrongPin);
        let mut t = w.clone();
        t.sealed.truncate(10);
        assert_eq!(check(t), KeyError::Crypto(CryptoError::Truncated));
        let mut t = w.clone();
        t.kind = WrapKind::Recovery;
        assert_eq!(check(t), KeyError::Malformed("not a PIN-wrapped key"));
        let mut t = w;
        t.iterations = MAX_ITERATIONS + 1;
        assert_eq!(
            check(t),
            KeyError::Malformed("KDF iteration count above maximum")
        );
    }

    #[test]
    fn wrapped_key_serializes_as_hex() {
        let w = pin_wrapped(&DataKey::generate().unwrap());
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(json["kind"], "pin");
        assert_eq!(json["salt"].as_str().unwrap().len(), 32);
        assert_eq!(json["sealed"].as_str().unwrap().len(), 2 * w.sealed.len());
        let back: WrappedKey = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, w);

        let mut bad = json.clone();
        bad["salt"] = "00ff".into();
        assert!(serde_json::from_value::<WrappedKey>(bad).is_err());
        let mut bad = json;
        bad["sealed"] = "0g".into();
        assert!(serde_json::from_value::<WrappedKey>(bad).is_err());
    }

    #[test]
    fn hex_decoding_accepts_case_and_rejects_odd_lengths() {
        assert_eq!(hex_serde_decode("00fFa0"), Some(vec![0x00, 0xff, 0xa0]));
        assert_eq!(hex_serde_decode(""), Some(vec![]));
        assert_eq!(hex_serde_decode("abc"), None);
        assert_eq!(hex_serde_decode("+1"), None);
    }

    fn hex_serde_decode(s: &str) -> Option<Vec<u8>> {
        let json = serde_json::Value::String(s.into());
        #[derive(Deserialize)]
        struct W(#[serde(with = "hex_serde")] Vec<u8>);
        serde_json::from_value::<W>(json).ok().map(|w| w.0)
    }

    #[test]
    fn kdf_validation() {
        assert_eq!(
            KdfParams { iterations: 0 }.validate(),
            Err(KeyError::KdfTooWeak)
        );
        assert!(params().validate().is_ok());
        assert!(KdfParams {
            iterations: MIN_ITERATIONS
        }
        .validate()
        .is_ok());
        assert!(KdfParams {
            iterations: MAX_ITERATIONS + 1
        }
        .validate()
        .is_err());
    }

    #[test]
    fn calibration_stays_in_bounds() {
        let p = KdfParams::calibrate(DEFAULT_KDF_TARGET);
        assert!(
            (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&p.iterations),
            "{p:?}"
        );
        assert_eq!(
            KdfParams::calibrate(Duration::ZERO).iterations,
            MIN_ITERATIONS
        );
        assert_eq!(
            KdfParams::calibrate(Duration::from_secs(100_000)).iterations,
            MAX_ITERATIONS
        );
    }

    #[test]
    fn derive_kek_depends_on_every_input() {
        let salt = [5; SALT_LEN];
        let base = derive_kek(&pin("1357"), &salt, &params(), &DEVICE).unwrap();
        let variants = [
            derive_kek(&pin("1358"), &salt, &params(), &DEVICE).unwrap(),
            derive_kek(&pin("1357"), &[6; SALT_LEN], &params(), &DEVICE).unwrap(),
            derive_kek(
                &pin("1357"),
                &salt,
                &KdfParams::insecure_for_tests(1001),
                &DEVICE,
            )
            .unwrap(),
            derive_kek(&pin("1357"), &salt, &params(), &[0x33; 32]).unwrap(),
        ];
        let again = derive_kek(&pin("1357"), &salt, &params(), &DEVICE).unwrap();
        assert_eq!(base.0.expose_bytes(), again.0.expose_bytes());
        for v in &variants {
            assert_ne!(base.0.expose_bytes(), v.0.expose_bytes());
        }
        assert_eq!(format!("{base:?}"), "Kek(..)");
    }

    #[test]
    fn pin_rules() {
        let rule = |s: &str| match Pin::new(s) {
            Err(KeyError::InvalidPin { rule }) => rule,
            other => panic!("expected InvalidPin, got {other:?}"),
        };
        assert_eq!(rule("123"), "at least 4 characters");
        assert_eq!(rule(&"9".repeat(65)), "at most 64 characters");
        assert_eq!(rule("12\n34"), "no control characters");
        assert!(Pin::new("1234").is_ok());
        assert!(Pin::new(&"é".repeat(64)).is_ok()); // counts characters, not bytes
        let p = pin("8642");
        assert_eq!(format!("{p:?}"), "Pin(****)");
        let err = Pin::new("86\u{7}42").unwrap_err().to_string();
        assert!(!err.contains("86"), "{err}");
    }

    #[test]
    fn recovery_wrap_round_trip_and_wrong_code() {
        let key = DataKey::generate().unwrap();
        let code = RecoveryCode::generate().unwrap();
        let w = wrap_with_recovery(&key, &code, &DEVICE, &STORE).unwrap();
        assert_eq!(
            (w.kind, w.iterations, w.salt),
            (WrapKind::Recovery, 0, [0; SALT_LEN])
        );

        let typed = RecoveryCode::parse(&code.expose_formatted().to_lowercase()).unwrap();
        let back = unwrap_with_recovery(&w, &typed, &DEVICE, &STORE).unwrap();
        assert_eq!(back.expose_bytes(), key.expose_bytes());

        let other = RecoveryCode::generate().unwrap();
        assert_eq!(
            unwrap_with_recovery(&w, &other, &DEVICE, &STORE).unwrap_err(),
            KeyError::WrongRecoveryCode
        );
        assert_eq!(
            unwrap_with_recovery(&w, &code, &[0x23; 32], &STORE).unwrap_err(),
            KeyError::WrongRecoveryCode
        );
        assert_eq!(
            unwrap_with_recovery(&w, &code, &DEVICE, &[0; 16]).unwrap_err(),
            KeyError::WrongRecoveryCode
        );
        let pw = pin_wrapped(&key);
        assert_eq!(
            unwrap_with_recovery(&pw, &code, &DEVICE, &STORE).unwrap_err(),
            KeyError::Malformed("not a recovery-wrapped key")
        );
    }

    #[test]
    fn recovery_code_format() {
        let code = RecoveryCode([0xA5; RECOVERY_CODE_BYTES]);
        let text = code.expose_formatted();
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(groups.len(), 8);
        assert!(groups.iter().all(|g| g.len() == 5));
        assert!(text
            .chars()
            .all(|c| c == '-' || CROCKFORD.contains(&(c as u8))));
        assert_eq!(format!("{code:?}"), "RecoveryCode(..)");
        // 160 bits of 0xA5 = 10100101… in base32 start 10100 10110 10010 …
        assert!(text.starts_with("MPJ"), "{}", &*text);
    }

    #[test]
    fn recovery_code_parse_is_lenient_about_presentation() {
        let code = RecoveryCode::generate().unwrap();
        let text = code.expose_formatted();
        let compact: String = text.chars().filter(|&c| c != '-').collect();
        let spaced = text.replace('-', " ");
        let aliased = text.replace('1', "l").replace('0', "O");
        for variant in [
            text.to_string(),
            text.to_lowercase(),
            compact,
            spaced,
            aliased,
        ] {
            assert_eq!(
                RecoveryCode::parse(&variant).unwrap().0,
                code.0,
                "{variant}"
            );
        }
    }

    #[test]
    fn recovery_code_catches_typos() {
        let code = RecoveryCode([0x3C; RECOVERY_CODE_BYTES]);
        let digits: Vec<u8> = code
            .expose_formatted()
            .bytes()
            .filter(|&b| b != b'-')
            .collect();
        assert_eq!(digits.len(), RECOVERY_DIGITS);
        for i in 0..digits.len() {
            for &sub in CROCKFORD.iter().filter(|&&c| c != digits[i]) {
                let mut typo = digits.clone();
                typo[i] = sub;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(
                    RecoveryCode::parse(&typo).unwrap_err(),
                    KeyError::InvalidRecoveryCode
                );
            }
            if i + 1 < digits.len() && digits[i] != digits[i + 1] {
                let mut swapped = digits.clone();
                swapped.swap(i, i + 1);
                let swapped = String::from_utf8(swapped).unwrap();
                assert_eq!(
                    RecoveryCode::parse(&swapped).unwrap_err(),
                    KeyError::InvalidRecoveryCode
                );
            }
        }
        let text = String::from_utf8(digits).unwrap();
        let bad_inputs = [
            text[1..].to_string(),
            format!("{text}0"),
            format!("U{}", &text[1..]),
            String::new(),
        ];
        for bad in &bad_inputs {
            assert_eq!(
                RecoveryCode::parse(bad).unwrap_err(),
                KeyError::InvalidRecoveryCode
            );
        }
        assert_eq!(RecoveryCode::parse(&text).unwrap().0, code.0);
    }

    #[test]
    fn policy_delays_follow_schedule() {
        let p = PinPolicy::default();
        let secs = |f| p.delay_for(f).as_secs();
        assert_eq!(
            [secs(0), secs(3), secs(4), secs(5), secs(6), secs(9)],
            [0, 0, 1, 2, 4, 32]
        );
        assert_eq!(p.delay_for(12), Duration::from_secs(256));
        assert_eq!(p.delay_for(13), p.max_delay);
        assert_eq!(p.delay_for(u32::MAX), p.max_delay);
    }

    #[test]
    fn attempts_back_off_then_lock() {
        let p = PinPolicy::default();
        let mut s = AttemptState::default();
        let t0 = 1_700_000_000_000;
        for i in 0..3 {
            assert_eq!(s.check(&p, t0 + i), Ok(()));
            s.record_failure(&p, t0 + i);
        }
        // Fourth failure: one second wait.
        s.record_failure(&p, t0);
        assert_eq!(
            s.check(&p, t0 + 400),
            Err(KeyError::TooSoon {
                retry_after_ms: 600
            })
        );
        assert_eq!(s.check(&p, t0 + 1000), Ok(()));
        assert_eq!(s.attempts_left(&p), 6);

        // Clock set back: the full delay, not more, and clamping restarts it from the new time.
        assert_eq!(
            s.check(&p, t0 - 60_000),
            Err(KeyError::TooSoon {
                retry_after_ms: 1000
            })
        );
        assert!(s.clamp_to_clock(t0 - 60_000));
        assert!(!s.clamp_to_clock(t0 - 60_000));
        assert_eq!(s.check(&p, t0 - 59_000), Ok(()));

        for _ in 4..10 {
            s.record_failure(&p, t0);
        }
        assert!(s.locked_out);
        assert_eq!(s.attempts_left(&p), 0);
        assert_eq!(s.check(&p, t0 + 86_400_000), Err(KeyError::LockedOut));

        s.record_success();
        assert_eq!(s, AttemptState::default());
        assert_eq!(s.check(&p, t0), Ok(()));
    }

    #[test]
    fn attempt_state_serializes() {
        let mut s = AttemptState::default();
        s.record_failure(&PinPolicy::default(), 42);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"failures":1,"last_failure_unix_ms":42,"locked_out":false}"#
        );
        assert_eq!(serde_json::from_str::<AttemptState>(&json).unwrap(), s);
    }

    fn policy_strategy() -> impl Strategy<Value = PinPolicy> {
        (1u32..50, 0u32..10, 1u64..10_000, 1u64..1_000_000).prop_map(|(max, free, base, cap)| {
            PinPolicy {
                max_attempts: max,
                free_attempts: free,
                base_delay: Duration::from_millis(base),
                max_delay: Duration::from_millis(cap),
            }
        })
    }

    proptest! {
        #[test]
        fn delay_is_monotonic_and_capped(p in policy_strategy(), failures in 0u32..200) {
            let d = p.delay_for(failures);
            prop_assert!(d <= p.delay_for(failures + 1));
            prop_assert!(d <= p.max_delay);
            prop_assert_eq!(d.is_zero(), failures <= p.free_attempts);
        }

        #[test]
        fn locked_out_iff_max_attempts_reached(
            p in policy_strategy(),
            n in 0u32..60,
            now in -1_000_000_000_000i64..4_000_000_000_000,
            later in 0i64..10_000_000,
        ) {
            let mut s = AttemptState::default();
            for _ in 0..n {
                s.record_failure(&p, now);
            }
            prop_assert_eq!(s.locked_out, n >= p.max_attempts);
            prop_assert_eq!(s.attempts_left(&p), p.max_attempts.saturating_sub(n));
            match s.check(&p, now + later) {
                Err(KeyError::LockedOut) => prop_assert!(n >= p.max_attempts),
                Err(KeyError::TooSoon { retry_after_ms }) => {
                    prop_assert!(n < p.max_attempts);
                    prop_assert!(u128::from(retry_after_ms) <= p.max_delay.as_millis());
                }
                Ok(()) => prop_assert!(n < p.max_attempts),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }

        #[test]
        fn clock_change_never_shortens_wait(
            p in policy_strategy(),
            n in 1u32..60,
            last in 0i64..4_000_000_000_000,
            back in 0i64..1_000_000_000,
        ) {
            let mut s = AttemptState::default();
            for _ in 0..n {
                s.record_failure(&p, last);
            }
            prop_assume!(!s.locked_out);
            let full = u64::try_from(p.delay_for(n).as_millis()).unwrap();
            let expected = if full == 0 { Ok(()) } else { Err(KeyError::TooSoon { retry_after_ms: full }) };
            prop_assert_eq!(s.check(&p, last - back), expected);
        }
    }
}
