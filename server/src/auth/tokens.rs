//! Access tokens (short-lived JWT, HS256 pinned, `kid` for rotation) and opaque refresh
//! tokens (random, stored only as a hash).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::UserId;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

struct VerifyKey {
    kid: String,
    key: DecodingKey,
}

pub struct TokenService {
    kid: String,
    encoding: EncodingKey,
    verify: Vec<VerifyKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: u64,
}

/// A key id derived from the secret: rotation needs no extra setting, and the id reveals
/// nothing usable about the key.
pub fn kid_of(secret: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"huigong-jwt-kid:")
        .chain_update(secret)
        .finalize();
    format!("k{}", &hex::encode(digest)[..12])
}

impl TokenService {
    pub fn new(
        secret: &[u8],
        previous: Option<&[u8]>,
        issuer: &str,
        audience: &str,
        ttl_secs: u64,
    ) -> Self {
        let mut verify = vec![VerifyKey {
            kid: kid_of(secret),
            key: DecodingKey::from_secret(secret),
        }];
        if let Some(prev) = previous.filter(|p| !p.is_empty()) {
            verify.push(VerifyKey {
                kid: kid_of(prev),
                key: DecodingKey::from_secret(prev),
            });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        Self {
            kid: kid_of(secret),
            encoding: EncodingKey::from_secret(secret),
            verify,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Signs an access token for `user`; returns it with its lifetime in seconds.
    pub fn issue(&self, user: UserId) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let claims = Claims {
            sub: user.0.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + self.ttl_secs,
            nbf: now,
            iat: now,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    pub fn verify(&self, token: &str) -> Result<UserId, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let key = self
            .verify
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(TokenError::Invalid)?;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            },
        )?;
        data.claims
            .sub
            .parse::<i64>()
            .map(UserId)
            .map_err(|_| TokenError::Invalid)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new opaque refresh token and the hash that is stored in its place.
pub fn new_refresh_token() -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random id grouping every refresh token descended from one login.
pub fn new_family() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> TokenService {
        TokenService::new(
            b"0123456789abcdef0123456789abcdef",
            None,
            "huigong",
            "huigong-app",
            900,
        )
    }

    #[test]
    fn issued_tokens_verify_and_rotation_keeps_old_keys() {
        let svc = service();
        let token = svc.issue(UserId(7)).unwrap();
        assert_eq!(svc.verify(&token), Ok(UserId(7)));

        let rotated = TokenService::new(
            b"another-secret-another-secret-xx",
            Some(b"0123456789abcdef0123456789abcdef"),
            "huigong",
            "huigong-app",
            900,
        );
        assert_eq!(rotated.verify(&token), Ok(UserId(7)));
        let unrelated = TokenService::new(
            b"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            None,
            "huigong",
            "huigong-app",
            900,
        );
        assert_eq!(unrelated.verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), ha);
        assert_ne!(a, ha);
    }
}
