//! Staff passwords: argon2id hashes in PHC format.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verifies against a throwaway hash, so an unknown username costs as much time as a wrong
/// password and does not reveal which usernames exist.
pub fn burn_time(password: &str) {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash_password("not-a-real-password").unwrap_or_default());
    let _ = verify_password(password, &DUMMY);
}

/// Minimum rules for a staff password set through the CLI.
pub fn check_strength(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 10 {
        return Err("a staff password needs at least 10 characters");
    }
    if password.chars().count() > 128 {
        return Err("a staff password has at most 128 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(check_strength("short").is_err());
        assert!(check_strength("long enough pw").is_ok());
    }
}
