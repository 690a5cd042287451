//! Fixed-window rate limits on hot-store counters, answering 429 with `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Duration as TimeDelta, FixedOffset, Utc};

use crate::error::{ApiError, Text};
use crate::hot::HotStore;

/// Counts one hit against `key`; refuses when the window already had `limit` hits.
pub async fn hit(
    hot: &dyn HotStore,
    key: &str,
    limit: u64,
    window: Duration,
    detail: Text,
) -> Result<(), ApiError> {
    let count = hot.incr(key, 1, Some(window)).await?;
    if u64::try_from(count).unwrap_or(0) <= limit {
        return Ok(());
    }
    let ttl = hot.ttl(key).await?.unwrap_or(window);
    Err(ApiError::RateLimited {
        code: "rate_limited",
        detail,
        retry_after_secs: ttl.as_secs().max(1) + u64::from(ttl.subsec_nanos() > 0),
        limit: Some(limit),
    })
}

/// China Standard Time, the calendar of platform-wide daily limits (no DST).
pub const fn china_time() -> FixedOffset {
    match FixedOffset::east_opt(8 * 3600) {
        Some(offset) => offset,
        None => panic!("+08:00 is a valid offset"),
    }
}

/// The local date (for a daily key) and the time left until local midnight.
pub fn day_window(now: DateTime<Utc>) -> (String, Duration) {
    let local = now.with_timezone(&china_time());
    let date = local.date_naive();
    let next_midnight = (date + TimeDelta::days(1))
        .and_hms_opt(0, 0, 0)
        .and_then(|m| m.and_local_timezone(china_time()).single())
        .map(|m| m.with_timezone(&Utc));
    let left = next_midnight
        .and_then(|m| (m - now).to_std().ok())
        .unwrap_or(Duration::from_secs(86_400));
    (
        date.format("%Y-%m-%d").to_string(),
        left.max(Duration::from_secs(1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_window_ends_at_beijing_midnight() {
        let now: DateTime<Utc> = "2026-11-23T15:30:00Z".parse().unwrap(); // 23:30 in Beijing
        let (date, left) = day_window(now);
        assert_eq!(date, "2026-11-23");
        assert_eq!(left, Duration::from_secs(30 * 60));
        let now: DateTime<Utc> = "2026-11-23T16:00:00Z".parse().unwrap(); // 00:00 next day
        assert_eq!(day_window(now).0, "2026-11-24");
    }
}
