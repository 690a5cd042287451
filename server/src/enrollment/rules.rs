//! Pure rules of enrollment: the applicant's identity fields, the application's state
//! machine, member numbers and member-card payloads.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Text};

/// A well-formed ID number from a 6-digit region, a birth date `YYYYMMDD` and a 3-digit
/// sequence, with its check character: for demo data and tests, never real people.
pub fn synthetic_id(region: &str, birth: &str, sequence: &str) -> Option<String> {
    let first17 = format!("{region}{birth}{sequence}");
    let check = check_char(first17.as_bytes())? as char;
    Some(format!("{first17}{check}"))
}

/// A resident identity card number (公民身份号码, GB 11643-1999): 17 digits and a check
/// character. Its `Debug` never shows it whole.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character of the first 17 digits.
pub fn check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(CHECK[(sum % 11) as usize])
}

impl IdNumber {
    /// Parses and checks: 18 characters, the checksum, a real birth date in the past, and
    /// an age of at least 16 on `today`. A lowercase x is accepted and stored uppercase.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<IdNumber, FieldError> {
        let err =
            |zh: &'static str, en: &'static str| FieldError::new("id_number", Text::new(zh, en));
        let id = raw.trim().to_ascii_uppercase();
        let bytes = id.as_bytes();
        if bytes.len() != 18 {
            return Err(err(
                "身份证号码应为 18 位",
                "The ID number has 18 characters",
            ));
        }
        if !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err(err(
                "身份证号码格式有误",
                "The ID number is 17 digits and a digit or X",
            ));
        }
        if check_char(&bytes[..17]) != Some(bytes[17]) {
            return Err(err(
                "身份证号码校验位不正确，请核对",
                "The ID number's check character is wrong",
            ));
        }
        let birth = birth_date(&id).ok_or_else(|| {
            err(
                "身份证号码中的出生日期无效",
                "The birth date in the ID number is not a real date",
            )
        })?;
        if birth >= today {
            return Err(err(
                "身份证号码中的出生日期无效",
                "The birth date in the ID number is in the future",
            ));
        }
        if age_on(birth, today) < 16 {
            return Err(err(
                "入会需年满 16 周岁",
                "Members must be at least 16 years old",
            ));
        }
        Ok(IdNumber(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `1101**********002X`
    pub fn masked(&self) -> String {
        mask_id_number(&self.0)
    }
}

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

pub fn mask_id_number(id: &str) -> String {
    if id.len() != 18 {
        return "*".repeat(id.chars().count());
    }
    format!("{}{}{}", &id[..4], "*".repeat(10), &id[14..])
}

fn birth_date(id: &str) -> Option<NaiveDate> {
    let year = id.get(6..10)?.parse().ok()?;
    let month = id.get(10..12)?.parse().ok()?;
    let day = id.get(12..14)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Whole years between `birth` and `today`.
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// A person's legal name: 2-30 characters, Chinese characters and the middle dot of
/// minority names (阿依古丽·买买提), which may not start or end it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealName(String);

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF | 0x2A700..=0x2EBEF | 0x30000..=0x3134F)
}

impl RealName {
    pub fn parse(raw: &str) -> Result<RealName, FieldError> {
        let name = raw.trim().replace(['•', '・'], "·");
        let count = name.chars().count();
        let err = || {
            FieldError::new(
                "real_name",
                Text::new(
                    "姓名应为 2-30 个汉字，少数民族姓名可用间隔号“·”",
                    "real_name must be 2-30 Chinese characters (a middle dot · may separate names)",
                ),
            )
        };
        if !(2..=30).contains(&count)
            || name.starts_with('·')
            || name.ends_with('·')
            || name.contains("··")
        {
            return Err(err());
        }
        if !name.chars().all(|c| is_cjk(c) || c == '·') {
            return Err(err());
        }
        Ok(RealName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `张*`, `欧阳**`: the first character, the rest starred.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first)
            .chain(chars.map(|c| if c == '·' { '·' } else { '*' }))
            .collect(),
        None => String::new(),
    }
}

/// How the applicant works; gig forms are 新就业形态劳动者.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentForm {
    Standard,
    Courier,
    FoodDelivery,
    TruckDriver,
    RideHailing,
    DomesticService,
    OtherGig,
}

impl EmploymentForm {
    pub const ALL: [EmploymentForm; 7] = [
        EmploymentForm::Standard,
        EmploymentForm::Courier,
        EmploymentForm::FoodDelivery,
        EmploymentForm::TruckDriver,
        EmploymentForm::RideHailing,
        EmploymentForm::DomesticService,
        EmploymentForm::OtherGig,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EmploymentForm::Standard => "standard",
            EmploymentForm::Courier => "courier",
            EmploymentForm::FoodDelivery => "food_delivery",
            EmploymentForm::TruckDriver => "truck_driver",
            EmploymentForm::RideHailing => "ride_hailing",
            EmploymentForm::DomesticService => "domestic_service",
            EmploymentForm::OtherGig => "other_gig",
        }
    }

    pub fn parse(s: &str) -> Option<EmploymentForm> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// The life of an application. `approved` is an active membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Withdrawn,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Pending,
        Status::Approved,
        Status::Rejected,
        Status::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Review and withdrawal only act on pending applications.
    pub fn can_become(self, next: Status) -> bool {
        self == Status::Pending
            && matches!(
                next,
                Status::Approved | Status::Rejected | Status::Withdrawn
            )
    }
}

/// A member number: the federation's region code and a sequence within the federation,
/// `371481-0000042`. Unique within the federation because the sequence is.
pub fn member_no(federation_region: &str, sequence: i64) -> String {
    format!("{federation_region}-{sequence:07}")
}

/// What a member card's QR code carries (signed; see `crypto::DataKeys::sign`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardPayload {
    /// Enrollment id.
    pub e: i64,
    /// Member number.
    pub m: String,
    /// Expiry, unix seconds.
    pub x: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn make_id(prefix6: &str, birth: &str, seq3: &str) -> String {
        synthetic_id(prefix6, birth, seq3).unwrap()
    }

    #[test]
    fn the_issue_examples() {
        assert_eq!(
            IdNumber::parse("11010519491231002X", today())
                .unwrap()
                .as_str(),
            "11010519491231002X"
        );
        assert_eq!(
            IdNumber::parse("11010519491231002x", today())
                .unwrap()
                .as_str(),
            "11010519491231002X"
        );
        assert!(IdNumber::parse("440524188001010014", today()).is_ok());
        assert!(
            IdNumber::parse("130402198207290622", today()).is_err(),
            "bad checksum"
        );
        assert!(
            IdNumber::parse("11010519491231002", today()).is_err(),
            "17 characters"
        );
    }

    #[test]
    fn dates_and_ages() {
        let future = make_id("110105", "20300101", "001");
        assert!(IdNumber::parse(&future, today()).is_err());
        let not_a_date = make_id("110105", "19900230", "001");
        assert!(IdNumber::parse(&not_a_date, today()).is_err());
        let fifteen = make_id("110105", "20101124", "001"); // 16 tomorrow
        assert!(IdNumber::parse(&fifteen, today()).is_err());
        let sixteen = make_id("110105", "20101123", "001"); // 16 today
        assert!(IdNumber::parse(&sixteen, today()).is_ok());
        assert_eq!(
            age_on(
                NaiveDate::from_ymd_opt(2000, 2, 29).unwrap(),
                NaiveDate::from_ymd_opt(2016, 2, 28).unwrap()
            ),
            15
        );
    }

    #[test]
    fn masks() {
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.masked(), "1101**********002X");
        assert!(!format!("{id:?}").contains("11010519491231002X"));
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("阿依古丽·买买提"), "阿***·***");
    }

    #[test]
    fn names() {
        assert!(RealName::parse("张三").is_ok());
        assert!(RealName::parse(" 阿依古丽·买买提 ").is_ok());
        assert_eq!(
            RealName::parse("阿依古丽•买买提").unwrap().as_str(),
            "阿依古丽·买买提"
        );
        for bad in [
            "张",
            "",
            "·张三",
            "张三·",
            "Zhang San",
            "张3",
            &"张".repeat(31),
        ] {
            assert!(RealName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_pending_moves() {
        assert!(Status::Pending.can_become(Status::Approved));
        assert!(Status::Pending.can_become(Status::Withdrawn));
        assert!(!Status::Approved.can_become(Status::Rejected));
        assert!(!Status::Rejected.can_become(Status::Approved));
        assert!(!Status::Pending.can_become(Status::Pending));
        assert_eq!(member_no("371481", 42), "371481-0000042");
    }
}
