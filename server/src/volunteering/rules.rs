//! Pure rules of volunteering: the rotating check-in code, credited minutes and the 60%
//! attendance rule.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A code lives for one 60-second window; the previous one is still accepted for the first
/// 30 seconds of the next (someone read it just before it changed).
pub const WINDOW_SECS: i64 = 60;
pub const GRACE_SECS: i64 = 30;

pub fn window_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(WINDOW_SECS)
}

/// The six-digit code of a window.
pub fn code_for(secret: &str, window: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(&window.to_be_bytes());
    let bytes = mac.finalize().into_bytes();
    let n = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) % 1_000_000;
    format!("{n:06}")
}

pub fn code_accepted(secret: &str, code: &str, now: DateTime<Utc>) -> bool {
    let window = window_of(now);
    let into_window = now.timestamp().rem_euclid(WINDOW_SECS);
    code == code_for(secret, window)
        || (into_window < GRACE_SECS && code == code_for(secret, window - 1))
}

/// Minutes of `[checkin, checkout]` inside `[starts, ends]`.
pub fn credited_minutes(
    checkin: DateTime<Utc>,
    checkout: DateTime<Utc>,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
) -> i64 {
    let from = checkin.max(starts);
    let to = checkout.min(ends);
    if to <= from {
        0
    } else {
        (to - from).num_minutes()
    }
}

/// Attendance under 60% of the activity credits nothing until an organizer confirms.
pub fn meets_attendance(credited: i64, length_minutes: i64) -> bool {
    length_minutes > 0 && credited * 10 >= length_minutes * 6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn codes_rotate_with_a_short_grace() {
        let secret = "s3cret";
        let now = t("2026-11-23T08:00:10Z");
        let code = code_for(secret, window_of(now));
        assert_eq!(code.len(), 6);
        assert!(code_accepted(secret, &code, now));
        assert!(
            code_accepted(secret, &code, t("2026-11-23T08:01:20Z")),
            "previous code within 30 s"
        );
        assert!(
            !code_accepted(secret, &code, t("2026-11-23T08:01:40Z")),
            "previous code after 30 s"
        );
        assert!(!code_accepted("other", &code, now));
        assert_ne!(code_for(secret, 1), code_for(secret, 2));
    }

    #[test]
    fn credit_is_clipped_and_needs_sixty_percent() {
        let (s, e) = (t("2026-11-23T08:00:00Z"), t("2026-11-23T10:00:00Z"));
        assert_eq!(
            credited_minutes(t("2026-11-23T07:30:00Z"), t("2026-11-23T10:30:00Z"), s, e),
            120
        );
        assert_eq!(
            credited_minutes(t("2026-11-23T08:30:00Z"), t("2026-11-23T09:30:00Z"), s, e),
            60
        );
        assert_eq!(
            credited_minutes(t("2026-11-23T10:30:00Z"), t("2026-11-23T11:00:00Z"), s, e),
            0
        );
        assert!(meets_attendance(72, 120));
        assert!(!meets_attendance(71, 120));
        assert!(!meets_attendance(0, 0));
    }
}
