//! Personal data at rest: AES-256-GCM with a key version for ID numbers, keyed hashes
//! (HMAC-SHA256) for lookups and uniqueness without the plaintext, and signed tokens
//! (member-card QR payloads).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The data key of this process and the keys derived from it for each purpose, so that
/// one secret never serves two uses.
#[derive(Clone)]
pub struct DataKeys {
    version: i32,
    cipher: Aes256Gcm,
    blind_index: [u8; 32],
    lookup: [u8; 32],
    signing: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption failed")]
    Encrypt,
    #[error("ciphertext is damaged or was made with another key")]
    Decrypt,
    #[error("ciphertext was made with key version {0}, which this server does not have")]
    UnknownVersion(i32),
}

fn derive(key: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"huigong:");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn hmac_hex(key: &[u8; 32], parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in parts {
        mac.update(part);
        mac.update(b"\x1f");
    }
    hex::encode(mac.finalize().into_bytes())
}

impl DataKeys {
    pub fn new(key: &[u8; 32], version: i32) -> Self {
        Self {
            version,
            cipher: Aes256Gcm::new(&derive(key, b"aes-256-gcm").into()),
            blind_index: derive(key, b"blind-index"),
            lookup: derive(key, b"lookup"),
            signing: derive(key, b"signing"),
        }
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    /// Encrypts `plaintext`; `context` binds the ciphertext to its use (a ciphertext moved
    /// to another column does not decrypt). Returns base64 of nonce || ciphertext.
    pub fn encrypt(&self, plaintext: &str, context: &str) -> Result<String, CryptoError> {
        let nonce_bytes: [u8; 12] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    pub fn decrypt(
        &self,
        sealed: &str,
        version: i32,
        context: &str,
    ) -> Result<String, CryptoError> {
        if version != self.version {
            return Err(CryptoError::UnknownVersion(version));
        }
        let bytes = STANDARD.decode(sealed).map_err(|_| CryptoError::Decrypt)?;
        if bytes.len() < 12 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }

    /// A deterministic keyed hash for uniqueness (the same person gives the same index).
    pub fn blind_index(&self, kind: &str, value: &str) -> String {
        hmac_hex(&self.blind_index, &[kind.as_bytes(), value.as_bytes()])
    }

    /// A keyed hash for lookups of short-lived records (phone numbers, codes, addresses).
    pub fn lookup_hash(&self, kind: &str, value: &str) -> String {
        hmac_hex(&self.lookup, &[kind.as_bytes(), value.as_bytes()])
    }

    /// `payload.signature`, both base64url: a token anyone can read but only we can make.
    pub fn sign(&self, kind: &str, payload: &[u8]) -> String {
        let body = URL_SAFE_NO_PAD.encode(payload);
        let sig = self.signature(kind, body.as_bytes());
        format!("{body}.{sig}")
    }

    /// The payload of a token made by [`DataKeys::sign`] for `kind`, or None if forged.
    pub fn verify(&self, kind: &str, token: &str) -> Option<Vec<u8>> {
        let (body, sig) = token.rsplit_once('.')?;
        let expected = self.signature(kind, body.as_bytes());
        if expected.len() != sig.len()
            || expected
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                != 0
        {
            return None;
        }
        URL_SAFE_NO_PAD.decode(body).ok()
    }

    fn signature(&self, kind: &str, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.signing)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(kind.as_bytes());
        mac.update(b"\x1f");
        mac.update(body);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trips_and_binds_context() {
        let keys = DataKeys::new(&[1; 32], 1);
        let sealed = keys
            .encrypt("11010519491231002X", "enrollment.id_number")
            .unwrap();
        assert!(!sealed.contains("11010519491231002X"));
        assert_ne!(
            sealed,
            keys.encrypt("11010519491231002X", "enrollment.id_number")
                .unwrap(),
            "random nonce"
        );
        assert_eq!(
            keys.decrypt(&sealed, 1, "enrollment.id_number").unwrap(),
            "11010519491231002X"
        );
        assert!(keys.decrypt(&sealed, 1, "other").is_err());
        assert!(keys.decrypt(&sealed, 2, "enrollment.id_number").is_err());
        assert!(
            DataKeys::new(&[2; 32], 1)
                .decrypt(&sealed, 1, "enrollment.id_number")
                .is_err()
        );
    }

    #[test]
    fn hashes_are_keyed_and_signatures_detect_tampering() {
        let a = DataKeys::new(&[1; 32], 1);
        let b = DataKeys::new(&[2; 32], 1);
        assert_eq!(a.blind_index("id", "x"), a.blind_index("id", "x"));
        assert_ne!(a.blind_index("id", "x"), b.blind_index("id", "x"));
        assert_ne!(a.blind_index("id", "x"), a.lookup_hash("id", "x"));
        let token = a.sign("card", b"{\"m\":1}");
        assert_eq!(a.verify("card", &token).unwrap(), b"{\"m\":1}");
        assert!(a.verify("other", &token).is_none());
        assert!(b.verify("card", &token).is_none());
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(b"{\"m\":2}"),
            token.split('.').nth(1).unwrap()
        );
        assert!(a.verify("card", &forged).is_none());
    }
}
