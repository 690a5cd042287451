//! Pure rules of job postings: the application pipeline, contact phones and the keyset
//! cursor that keeps paging stable while postings are added.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentType {
    FullTime,
    PartTime,
    Gig,
}

impl EmploymentType {
    pub fn as_str(self) -> &'static str {
        match self {
            EmploymentType::FullTime => "full_time",
            EmploymentType::PartTime => "part_time",
            EmploymentType::Gig => "gig",
        }
    }

    pub fn parse(s: &str) -> Option<EmploymentType> {
        [
            EmploymentType::FullTime,
            EmploymentType::PartTime,
            EmploymentType::Gig,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// Where an application stands: submitted -> viewed -> interview -> hired, or rejected
/// from any step before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppStatus {
    Submitted,
    Viewed,
    Interview,
    Hired,
    Rejected,
}

impl AppStatus {
    pub const ALL: [AppStatus; 5] = [
        AppStatus::Submitted,
        AppStatus::Viewed,
        AppStatus::Interview,
        AppStatus::Hired,
        AppStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Submitted => "submitted",
            AppStatus::Viewed => "viewed",
            AppStatus::Interview => "interview",
            AppStatus::Hired => "hired",
            AppStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<AppStatus> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn can_become(self, next: AppStatus) -> bool {
        use AppStatus::*;
        matches!(
            (self, next),
            (Submitted, Viewed) | (Viewed, Interview) | (Interview, Hired)
        ) || (next == Rejected && !matches!(self, Hired | Rejected))
    }
}

/// Where the last page ended: the sort value and the id (ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self, sort: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{sort}:{}:{}", self.key, self.id))
    }

    /// Only a cursor made for the same sort order is accepted.
    pub fn decode(raw: &str, sort: &str) -> Option<Cursor> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
        let mut parts = text.splitn(3, ':');
        if parts.next()? != sort {
            return None;
        }
        Some(Cursor {
            key: parts.next()?.parse().ok()?,
            id: parts.next()?.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AppStatus::*;

    #[test]
    fn the_pipeline_moves_forward_or_to_rejected() {
        assert!(Submitted.can_become(Viewed));
        assert!(Viewed.can_become(Interview));
        assert!(Interview.can_become(Hired));
        for from in [Submitted, Viewed, Interview] {
            assert!(from.can_become(Rejected));
        }
        for (from, to) in [
            (Submitted, Interview),
            (Submitted, Hired),
            (Viewed, Submitted),
            (Hired, Rejected),
            (Rejected, Viewed),
            (Hired, Hired),
            (Viewed, Viewed),
        ] {
            assert!(!from.can_become(to), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn cursors() {
        let c = Cursor {
            key: 1_795_000_000_000,
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode("newest"), "newest"), Some(c));
        assert_eq!(Cursor::decode(&c.encode("newest"), "salary"), None);
        assert_eq!(Cursor::decode("garbage", "newest"), None);
    }
}
