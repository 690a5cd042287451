//! The verifiable raffle (公开抽签), exactly as README.md "Verifiable raffles" writes it out:
//!
//! 1. pool = the sorted list of distinct user ids; digest = SHA-256 of their decimal forms
//!    joined by `\n` (no trailing newline).
//! 2. commitment = SHA-256 of the 32 secret seed bytes, published before the draw.
//! 3. key = SHA-256(seed bytes || digest bytes); a ChaCha20 keystream under that key with
//!    nonce 0 and block counter 0 (RFC 8439), read as little-endian u64 words.
//! 4. Fisher-Yates: for i from n-1 down to 1, j = uniform(i + 1), swap pool[i] and pool[j];
//!    uniform(b): take the next word x; with r = 2^64 mod b, draw again while r != 0 and
//!    x >= 2^64 - r; j = x mod b.
//! 5. winners = the first `winners` entries of the shuffled pool.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// The text written into every raffle's public page.
pub const ALGORITHM: &str = "pool: ascending user ids; digest = SHA-256(ids in decimal joined by \"\\n\"); \
commitment = SHA-256(seed); key = SHA-256(seed || digest); ChaCha20 (RFC 8439, nonce 0, counter 0) \
keystream read as little-endian u64; Fisher-Yates from the last index down, j = x mod (i+1) with \
rejection of x >= 2^64 - (2^64 mod (i+1)); winners = the first N of the shuffled pool";

pub fn commitment(seed: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(seed))
}

/// The pool as published: ascending, without duplicates.
pub fn normalize_pool(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

pub fn pool_digest(pool: &[i64]) -> [u8; 32] {
    let text = pool
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    Sha256::digest(text.as_bytes()).into()
}

/// Uniform in `0..bound` from the keystream, without modulo bias.
fn uniform(rng: &mut ChaCha20Rng, bound: u64) -> u64 {
    let r = (u64::MAX % bound + 1) % bound; // 2^64 mod bound
    loop {
        let x = rng.next_u64();
        if r == 0 || x < 0u64.wrapping_sub(r) {
            return x % bound;
        }
    }
}

/// The winners of a raffle over `pool` (ascending ids), in drawing order.
pub fn winners(seed: &[u8; 32], pool: &[i64], count: usize) -> Vec<i64> {
    let digest = pool_digest(pool);
    let mut hasher = Sha256::new();
    hasher.update(seed);
    hasher.update(digest);
    let mut rng = ChaCha20Rng::from_seed(hasher.finalize().into());
    let mut order = pool.to_vec();
    for i in (1..order.len()).rev() {
        let j = uniform(&mut rng, i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order.truncate(count);
    order
}

/// A seed from hex (the revealed form).
pub fn parse_seed(hex_seed: &str) -> Option<[u8; 32]> {
    hex::decode(hex_seed.trim()).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator is plain ChaCha20: with a zero key its first keystream bytes are RFC
    /// 8439's test vector (A.1 #1), `76 b8 e0 ad a0 f1 3d 90 ...`, read little-endian.
    #[test]
    fn the_keystream_is_rfc_8439_chacha20() {
        let mut rng = ChaCha20Rng::from_seed([0; 32]);
        assert_eq!(
            rng.next_u64(),
            u64::from_le_bytes([0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90])
        );
        assert_eq!(
            rng.next_u64(),
            u64::from_le_bytes([0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd, 0x28])
        );
    }

    #[test]
    fn digests_and_commitments_are_plain_sha256() {
        // sha256("1\n2\n3")
        assert_eq!(
            hex::encode(pool_digest(&[1, 2, 3])),
            hex::encode(Sha256::digest(b"1\n2\n3"))
        );
        assert_eq!(
            commitment(&[0; 32]),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }

    #[test]
    fn winners_are_a_reproducible_sample_of_the_pool() {
        let seed = [7u8; 32];
        let pool: Vec<i64> = (1..=500).collect();
        let a = winners(&seed, &pool, 10);
        assert_eq!(a, winners(&seed, &pool, 10));
        assert_eq!(a.len(), 10);
        let mut unique = a.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert!(a.iter().all(|w| pool.contains(w)));
        // A different seed or a different pool gives a different draw.
        assert_ne!(a, winners(&[8u8; 32], &pool, 10));
        assert_ne!(a, winners(&seed, &pool[1..], 10));
        // More winners than entrants: everyone, shuffled.
        assert_eq!(winners(&seed, &[5, 9], 10).len(), 2);
        assert!(winners(&seed, &[], 3).is_empty());
    }

    /// Every position is equally likely: over many seeds each of 5 entrants wins the
    /// single place about a fifth of the time.
    #[test]
    fn the_shuffle_is_fair() {
        let pool = [10, 20, 30, 40, 50];
        let mut counts = [0u32; 5];
        for s in 0..10_000u32 {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&s.to_le_bytes());
            let w = winners(&seed, &pool, 1)[0];
            counts[pool.iter().position(|&p| p == w).unwrap_or(0)] += 1;
        }
        // chi-square, 4 degrees of freedom, p = 0.001
        let chi2: f64 = counts
            .iter()
            .map(|&c| (f64::from(c) - 2000.0).powi(2) / 2000.0)
            .sum();
        assert!(chi2 < 18.47, "{counts:?}");
    }
}
