//! Pure rules of reading check-ins: streaks over calendar days in the campaign's zone.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// A participant's standing on `today` (a local calendar day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Consecutive checked days ending today, or yesterday when today is not checked yet
    /// (an unchecked today does not break a streak). After the campaign, ending on its
    /// last day.
    pub current_streak: i32,
    pub longest_streak: i32,
    pub total_days: i32,
    pub completed: bool,
}

/// Streaks from the checked days. `today` is clipped to the campaign's last day so a
/// finished campaign keeps the streak it ended with.
pub fn progress(
    days: &BTreeSet<NaiveDate>,
    today: NaiveDate,
    last_day: NaiveDate,
    target_days: i32,
) -> Progress {
    let total_days = i32::try_from(days.len()).unwrap_or(i32::MAX);
    let mut longest = 0;
    let mut run = 0;
    let mut previous: Option<NaiveDate> = None;
    for day in days {
        run = match previous {
            Some(p) if p.succ_opt() == Some(*day) => run + 1,
            _ => 1,
        };
        longest = longest.max(run);
        previous = Some(*day);
    }
    let anchor = today.min(last_day);
    let start = if days.contains(&anchor) {
        Some(anchor)
    } else {
        anchor.pred_opt().filter(|d| days.contains(d))
    };
    let mut current = 0;
    let mut cursor = start;
    while let Some(day) = cursor.filter(|d| days.contains(d)) {
        current += 1;
        cursor = day.pred_opt();
    }
    Progress {
        current_streak: current,
        longest_streak: longest,
        total_days,
        completed: total_days >= target_days,
    }
}

/// The calendar day of an instant in a zone: 23:59 and 00:01 local are different days
/// whatever the offset, including across daylight-saving changes.
pub fn local_date(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// Why a makeup for `day` is refused, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MakeupRefusal {
    OutsideCampaign,
    NotPast,
}

pub fn check_makeup_day(
    day: NaiveDate,
    today: NaiveDate,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<(), MakeupRefusal> {
    if day < first || day > last {
        return Err(MakeupRefusal::OutsideCampaign);
    }
    if day >= today {
        return Err(MakeupRefusal::NotPast);
    }
    Ok(())
}

/// Leaderboard value: total days first, then the current streak (both below 2^20).
pub fn rank_value(p: &Progress) -> f64 {
    f64::from(p.total_days) * 1_048_576.0 + f64::from(p.current_streak)
}

pub fn from_rank_value(value: f64) -> (i32, i32) {
    let v = value as i64;
    ((v >> 20) as i32, (v & 0xFFFFF) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn days(list: &[&str]) -> BTreeSet<NaiveDate> {
        list.iter().map(|s| d(s)).collect()
    }

    const LAST: &str = "2026-12-31";

    #[test]
    fn streaks_build_break_and_mend() {
        let p = progress(
            &days(&["2026-11-20", "2026-11-21", "2026-11-22"]),
            d("2026-11-22"),
            d(LAST),
            21,
        );
        assert_eq!(
            (p.current_streak, p.longest_streak, p.total_days),
            (3, 3, 3)
        );
        // Today not checked yet: the streak stands.
        let p = progress(
            &days(&["2026-11-20", "2026-11-21", "2026-11-22"]),
            d("2026-11-23"),
            d(LAST),
            21,
        );
        assert_eq!(p.current_streak, 3);
        // A whole day missed: broken.
        let p = progress(
            &days(&["2026-11-20", "2026-11-21", "2026-11-22"]),
            d("2026-11-24"),
            d(LAST),
            21,
        );
        assert_eq!((p.current_streak, p.longest_streak), (0, 3));
        // A gap, then mended by a makeup.
        let gap = days(&["2026-11-19", "2026-11-20", "2026-11-22", "2026-11-23"]);
        assert_eq!(
            progress(&gap, d("2026-11-23"), d(LAST), 21).current_streak,
            2
        );
        let mended = days(&[
            "2026-11-19",
            "2026-11-20",
            "2026-11-21",
            "2026-11-22",
            "2026-11-23",
        ]);
        assert_eq!(
            progress(&mended, d("2026-11-23"), d(LAST), 21).current_streak,
            5
        );
        // Completion.
        assert!(progress(&mended, d("2026-11-23"), d(LAST), 5).completed);
        assert!(!progress(&mended, d("2026-11-23"), d(LAST), 6).completed);
        // After the campaign the streak it ended with stays.
        let ended = progress(
            &days(&["2026-12-30", "2026-12-31"]),
            d("2027-01-15"),
            d(LAST),
            2,
        );
        assert_eq!(ended.current_streak, 2);
    }

    /// Properties over random day sets: longest >= current, total >= longest, and the
    /// longest run really exists.
    #[test]
    fn streak_properties_hold_for_random_calendars() {
        let first = d("2026-01-01");
        for _ in 0..2000 {
            let set: BTreeSet<NaiveDate> = (0..rand::random_range(0..40))
                .map(|_| first + chrono::Days::new(rand::random_range(0..60)))
                .collect();
            let today = first + chrono::Days::new(rand::random_range(0..70));
            let p = progress(&set, today, d(LAST), 21);
            assert!(p.longest_streak >= p.current_streak, "{set:?} {today}");
            assert!(p.total_days >= p.longest_streak);
            assert_eq!(p.total_days as usize, set.len());
            if p.longest_streak > 0 {
                let exists = set.iter().any(|start| {
                    (0..p.longest_streak as u64)
                        .all(|k| set.contains(&(*start + chrono::Days::new(k))))
                });
                assert!(exists);
            }
            // Adding today never lowers the current streak.
            let mut more = set.clone();
            more.insert(today.min(d(LAST)));
            assert!(progress(&more, today, d(LAST), 21).current_streak >= p.current_streak);
        }
    }

    #[test]
    fn days_are_calendar_days_across_daylight_saving() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08: clocks jump from 02:00 to 03:00, the local day has 23 hours.
        let before_midnight: DateTime<Utc> = "2026-03-08T03:59:00Z".parse().unwrap(); // 23:59 EST on 03-07
        let after_midnight: DateTime<Utc> = "2026-03-08T05:01:00Z".parse().unwrap(); // 00:01 EST on 03-08
        assert_eq!(local_date(before_midnight, ny), d("2026-03-07"));
        assert_eq!(local_date(after_midnight, ny), d("2026-03-08"));
        // 23:59 on the short day and 00:01 the next are one calendar day apart although
        // only 2 minutes and not 24 hours have passed since 00:01 + 23 h.
        let late: DateTime<Utc> = "2026-03-09T03:59:00Z".parse().unwrap(); // 23:59 EDT on 03-08
        let next: DateTime<Utc> = "2026-03-09T04:01:00Z".parse().unwrap(); // 00:01 EDT on 03-09
        assert_eq!(local_date(late, ny), d("2026-03-08"));
        assert_eq!(local_date(next, ny), d("2026-03-09"));
        let sh: Tz = "Asia/Shanghai".parse().unwrap();
        assert_eq!(
            local_date("2026-11-23T15:59:00Z".parse().unwrap(), sh),
            d("2026-11-23")
        );
        assert_eq!(
            local_date("2026-11-23T16:01:00Z".parse().unwrap(), sh),
            d("2026-11-24")
        );
    }

    #[test]
    fn makeups_only_for_past_days_inside() {
        let (first, last) = (d("2026-11-01"), d("2026-11-21"));
        assert_eq!(
            check_makeup_day(d("2026-11-05"), d("2026-11-10"), first, last),
            Ok(())
        );
        assert_eq!(
            check_makeup_day(d("2026-11-10"), d("2026-11-10"), first, last),
            Err(MakeupRefusal::NotPast)
        );
        assert_eq!(
            check_makeup_day(d("2026-11-11"), d("2026-11-10"), first, last),
            Err(MakeupRefusal::NotPast)
        );
        assert_eq!(
            check_makeup_day(d("2026-10-31"), d("2026-11-10"), first, last),
            Err(MakeupRefusal::OutsideCampaign)
        );
    }

    #[test]
    fn rank_values_order_total_then_streak() {
        let a = Progress {
            total_days: 10,
            current_streak: 2,
            ..Default::default()
        };
        let b = Progress {
            total_days: 9,
            current_streak: 9,
            ..Default::default()
        };
        let c = Progress {
            total_days: 10,
            current_streak: 3,
            ..Default::default()
        };
        assert!(rank_value(&a) > rank_value(&b));
        assert!(rank_value(&c) > rank_value(&a));
        assert_eq!(from_rank_value(rank_value(&c)), (10, 3));
    }
}
