//! Field encryption for the on-device store: the 256-bit data key, AES-256-GCM sealing of single
//! values, and the associated data that binds each ciphertext to the place it is stored.
//!
//! Sealed format (version 1): `version (1 byte = 1) || nonce (12 random bytes) || ciphertext ||
//! tag (16 bytes)`. Nonces are random, so one key must not seal more than about 2^32 values
//! (the NIST SP 800-38D bound for random nonces); a counsellor's device stays far below it.

use std::fmt;

use ring::aead::{self, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length in bytes of a [`DataKey`].
pub const KEY_LEN: usize = 32;
/// Format version written as the first byte of every sealed value.
pub const SEALED_VERSION: u8 = 1;
/// Length of the authentication tag at the end of a sealed value.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed value adds to its plaintext (version, nonce and tag).
pub const SEAL_OVERHEAD: usize = HEADER_LEN + TAG_LEN;

const HEADER_LEN: usize = 1 + NONCE_LEN;
const FIELD_DOMAIN: &str = "ipc-kit/field/v1";

/// Errors from the field-encryption primitives. None carries plaintext or key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// A key was built from a slice of the wrong length.
    #[error("key must be {expected} bytes, got {actual}")]
    InvalidKeyLength {
        /// Required length.
        expected: usize,
        /// Length supplied.
        actual: usize,
    },
    /// The operating system's random number generator failed.
    #[error("system random number generator failed")]
    Rng,
    /// Encryption failed (the plaintext exceeds AES-GCM's length limit).
    #[error("encryption failed")]
    Encrypt,
    /// The sealed value starts with a format version this build does not know.
    #[error("unsupported sealed-value version {version}")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The sealed value is shorter than version, nonce and tag together.
    #[error("sealed value is truncated")]
    Truncated,
    /// Authentication failed: wrong key, wrong associated data, or tampered ciphertext.
    #[error("decryption failed: wrong key, wrong location or tampered data")]
    Decrypt,
}

/// Result type of this module.
pub type Result<T> = std::result::Result<T, CryptoError>;

/// A 256-bit AES-GCM key: the store's random data key, or a key-encryption key derived from it
/// by `store::keys`. Zeroized on drop; `Debug` never shows the bytes; deliberately not `Clone`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; KEY_LEN]);

impl DataKey {
    /// Generates a fresh random key from the operating system's generator.
    pub fn generate() -> Result<DataKey> {
        let mut key = DataKey([0; KEY_LEN]);
        SystemRandom::new()
            .fill(&mut key.0)
            .map_err(|_| CryptoError::Rng)?;
        Ok(key)
    }

    /// Copies a key from `bytes`, which must be exactly [`KEY_LEN`] long.
    /// The caller remains responsible for zeroizing its own copy.
    pub fn from_bytes(bytes: &[u8]) -> Result<DataKey> {
        let array: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| CryptoError::InvalidKeyLength {
                expected: KEY_LEN,
                actual: bytes.len(),
            })?;
        Ok(DataKey(array))
    }

    /// The raw key bytes, for wrapping under a key-encryption key. Never log or persist them.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// Associated data: authenticated but not encrypted context that a sealed value is bound to.
/// Opening with different associated data fails, so a ciphertext copied to another table, row,
/// column or purpose is rejected.
///
/// Encoding: the domain and then each part, every one prefixed by its length as a big-endian
/// `u64`. The encoding is injective: distinct (domain, parts) never produce the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aad(Vec<u8>);

impl Aad {
    /// Associated data for a column value of a row: binds table, row id and column.
    pub fn field(table: &str, row: &[u8; 16], column: &str) -> Aad {
        Aad::new_raw(FIELD_DOMAIN, &[table.as_bytes(), row, column.as_bytes()])
    }

    /// Associated data for any other use. `domain` names the purpose and its version
    /// (e.g. `"ipc-kit/wrap/v1"`) and must differ from every other purpose's domain.
    pub fn new_raw(domain: &str, parts: &[&[u8]]) -> Aad {
        let len = 8 + domain.len() + parts.iter().map(|p| 8 + p.len()).sum::<usize>();
        let mut bytes = Vec::with_capacity(len);
        for item in std::iter::once(domain.as_bytes()).chain(parts.iter().copied()) {
            bytes.extend_from_slice(&(item.len() as u64).to_be_bytes());
            bytes.extend_from_slice(item);
        }
        Aad(bytes)
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Seals and opens single values with AES-256-GCM under one key. Cheap to share (`Send + Sync`);
/// build it once per unlocked store and reuse it.
pub struct FieldCipher {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl FieldCipher {
    /// Builds a cipher for `key`. Cannot fail for a `DataKey` in practice (it is always 32 bytes);
    /// the error exists because `ring` reports key rejection as a `Result`.
    pub fn new(key: &DataKey) -> Result<FieldCipher> {
        let unbound = UnboundKey::new(&AES_256_GCM, key.expose_bytes()).map_err(|_| {
            CryptoError::InvalidKeyLength {
                expected: KEY_LEN,
                actual: key.expose_bytes().len(),
            }
        })?;
        Ok(FieldCipher {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// Encrypts `plaintext` bound to `aad` with a fresh random nonce. The only allocation is the
    /// returned vector, sized exactly.
    pub fn seal(&self, aad: &Aad, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Rng)?;

        let mut out = Vec::with_capacity(SEAL_OVERHEAD + plaintext.len());
        out.push(SEALED_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad.as_bytes()),
                &mut out[HEADER_LEN..],
            )
            .map_err(|_| CryptoError::Encrypt)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts a value produced by [`FieldCipher::seal`] with the same key and `aad`.
    pub fn open(&self, aad: &Aad, sealed: &[u8]) -> Result<Vec<u8>> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Truncated)?;
        if version != SEALED_VERSION {
            return Err(CryptoError::UnsupportedVersion { version });
        }
        let (nonce, body) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(CryptoError::Truncated)?;
        if body.len() < TAG_LEN {
            return Err(CryptoError::Truncated);
        }

        let mut out = body.to_vec();
        let plaintext_len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                aead::Aad::from(aad.as_bytes()),
                &mut out,
            )
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        out.truncate(plaintext_len);
        Ok(out)
    }
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FieldCipher(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW_A: [u8; 16] = [1; 16];
    const ROW_B: [u8; 16] = [2; 16];

    fn cipher() -> FieldCipher {
        FieldCipher::new(&DataKey::generate().unwrap()).unwrap()
    }

    #[test]
    fn round_trip() {
        let c = cipher();
        let aad = Aad::field("client", &ROW_A, "phone");
        let sealed = c.seal(&aad, b"+000 555 0100").unwrap();
        assert_eq!(sealed.len(), SEAL_OVERHEAD + 13);
        assert_eq!(sealed.capacity(), sealed.len());
        assert_eq!(sealed[0], SEALED_VERSION);
        assert_eq!(c.open(&aad, &sealed).unwrap(), b"+000 555 0100");
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let c = cipher();
        let aad = Aad::field("session", &ROW_A, "notes");
        let sealed = c.seal(&aad, b"").unwrap();
        assert_eq!(sealed.len(), SEAL_OVERHEAD);
        assert_eq!(c.open(&aad, &sealed).unwrap(), b"");
    }

    #[test]
    fn moved_ciphertext_fails_to_open() {
        let c = cipher();
        let sealed = c
            .seal(&Aad::field("client", &ROW_A, "name"), b"Test Person")
            .unwrap();
        for wrong in [
            Aad::field("client", &ROW_B, "name"),
            Aad::field("client", &ROW_A, "phone"),
            Aad::field("contact", &ROW_A, "name"),
            Aad::new_raw("ipc-kit/op/v1", &[b"client", &ROW_A, b"name"]),
        ] {
            assert_eq!(c.open(&wrong, &sealed), Err(CryptoError::Decrypt));
        }
    }

    #[test]
    fn aad_encoding_is_unambiguous() {
        // Shifting bytes between components must change the encoding.
        assert_ne!(
            Aad::field("ab", &ROW_A, "c").as_bytes(),
            Aad::field("a", &ROW_A, "bc").as_bytes()
        );
        assert_ne!(
            Aad::new_raw("d", &[b"ab", b""]).as_bytes(),
            Aad::new_raw("d", &[b"a", b"b"]).as_bytes()
        );
        assert_ne!(
            Aad::new_raw("d", &[]).as_bytes(),
            Aad::new_raw("d", &[b""]).as_bytes()
        );
        assert_ne!(
            Aad::new_raw("da", &[b"x"]).as_bytes(),
            Aad::new_raw("d", &[b"ax"]).as_bytes()
        );
    }

    #[test]
    fn wrong_key_fails() {
        let aad = Aad::field("client", &ROW_A, "name");
        let sealed = cipher().seal(&aad, b"x").unwrap();
        assert_eq!(cipher().open(&aad, &sealed), Err(CryptoError::Decrypt));
    }

    #[test]
    fn every_bit_flip_fails() {
        let c = cipher();
        let aad = Aad::field("client", &ROW_A, "name");
        let sealed = c.seal(&aad, b"abc").unwrap();
        for i in 1..sealed.len() {
            for bit in 0..8 {
                let mut tampered = sealed.clone();
                tampered[i] ^= 1 << bit;
                assert_eq!(
                    c.open(&aad, &tampered),
                    Err(CryptoError::Decrypt),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn unknown_version_is_reported() {
        let c = cipher();
        let aad = Aad::field("client", &ROW_A, "name");
        let mut sealed = c.seal(&aad, b"abc").unwrap();
        sealed[0] = 2;
        assert_eq!(
            c.open(&aad, &sealed),
            Err(CryptoError::UnsupportedVersion { version: 2 })
        );
    }

    #[test]
    fn truncated_fails() {
        let c = cipher();
        let aad = Aad::field("client", &ROW_A, "name");
        let sealed = c.seal(&aad, b"abc").unwrap();
        for len in 0..SEAL_OVERHEAD {
            assert_eq!(c.open(&aad, &sealed[..len]), Err(CryptoError::Truncated));
        }
        // Long enough to parse but missing plaintext bytes: the tag no longer matches.
        for len in SEAL_OVERHEAD..sealed.len() {
            assert_eq!(c.open(&aad, &sealed[..len]), Err(CryptoError::Decrypt));
        }
    }

    #[test]
    fn seals_of_same_plaintext_differ() {
        let c = cipher();
        let aad = Aad::field("client", &ROW_A, "name");
        let a = c.seal(&aad, b"same").unwrap();
        let b = c.seal(&aad, b"same").unwrap();
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn data_key_checks_length_and_hides_bytes() {
        assert_eq!(
            DataKey::from_bytes(&[7; 31]).unwrap_err(),
            CryptoError::InvalidKeyLength {
                expected: 32,
                actual: 31
            }
        );
        let key = DataKey::from_bytes(&[7; 32]).unwrap();
        assert_eq!(key.expose_bytes(), &[7; 32]);
        assert_eq!(format!("{key:?}"), "DataKey(..)");
        let a = DataKey::generate().unwrap();
        let b = DataKey::generate().unwrap();
        assert_ne!(a.expose_bytes(), b.expose_bytes());
    }

    #[test]
    fn cipher_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FieldCipher>();
    }
}
