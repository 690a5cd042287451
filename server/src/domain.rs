//! Value types shared across features. Each is parsed once at the edge, so a value that
//! exists is valid ("parse, don't validate").

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, FieldError, Text};

macro_rules! id_newtype {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_newtype!(
    /// A person using the app (member or staff).
    UserId,
    /// A union organization (总工会, 基层工会, ...).
    OrgId,
);

/// A mainland mobile number: `1[3-9]` and nine digits, after stripping `+86`/`0086`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, FieldError> {
        let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("0086"))
            .unwrap_or(&compact);
        let bytes = digits.as_bytes();
        let valid = bytes.len() == 11
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1])
            && bytes.iter().all(u8::is_ascii_digit);
        if valid {
            Ok(Phone(digits.to_owned()))
        } else {
            Err(FieldError::new(
                "phone",
                Text::new(
                    "请输入 11 位中国大陆手机号",
                    "Enter an 11-digit mainland China mobile number",
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

/// Masks a stored phone number for display: keeps the first 3 and last 4 characters.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// Masks every number of 7 or more digits in free text members wrote for others to read (a
/// phone or ID number typed into a report), keeping the first 3 and last 4 digits as
/// [`mask_phone`] does (all of them masked at 7). A number may be typed in groups
/// (`138 1234 5678`, `0534-6212345`, `138.1234.5678`) and in full-width digits
/// (`１３８…`): up to three joining characters between digits keep it one number, and the
/// joiners are kept as typed.
pub fn mask_digit_runs(text: &str) -> String {
    let is_digit = |c: char| c.is_ascii_digit() || ('０'..='９').contains(&c);
    let joins = |c: char| {
        matches!(
            c,
            ' ' | '\u{3000}' | '-' | '－' | '‐' | '–' | '—' | '.' | '．' | '·'
        )
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The number runs to its last digit; joiners after it are plain text again.
        let mut end = i + 1;
        let mut j = end;
        while j < chars.len() {
            if is_digit(chars[j]) {
                j += 1;
                end = j;
            } else if joins(chars[j]) && j - end < 3 {
                j += 1;
            } else {
                break;
            }
        }
        let number = &chars[i..end];
        let digits = number.iter().filter(|c| is_digit(**c)).count();
        let mut seen = 0;
        for &c in number {
            if !is_digit(c) {
                out.push(c);
                continue;
            }
            let shown = digits >= 8 && (seen < 3 || seen >= digits - 4);
            out.push(if digits < 7 || shown { c } else { '*' });
            seen += 1;
        }
        i = end;
    }
    out
}

// Phone numbers never reach a log line whole, even through `{:?}`.
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

/// A contact number: a mainland mobile, or a landline with its area code (`0534-6212345`).
/// Returns the digits only.
pub fn contact_phone(field: &'static str, raw: &str) -> Result<String, FieldError> {
    if let Ok(mobile) = Phone::parse(raw) {
        return Ok(mobile.as_str().to_owned());
    }
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let landline = digits.starts_with('0')
        && (10..=12).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit());
    if landline {
        Ok(digits)
    } else {
        Err(FieldError::new(
            field,
            Text::owned(
                "联系电话应为手机号或带区号的座机号".to_owned(),
                format!("{field} must be a mobile or a landline with its area code"),
            ),
        ))
    }
}

/// Checks a free-text field: trimmed, length in characters within bounds, no control chars.
/// With `min` 0 an optional field comes back empty when left blank.
pub fn text_field(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<String, FieldError> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min || len > max {
        return Err(FieldError::new(
            field,
            Text::owned(
                format!("长度应为 {min}-{max} 个字符"),
                format!("must be {min} to {max} characters long"),
            ),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            Text::new("不能包含控制字符", "must not contain control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Collects field errors of one request, so every bad field is named at once.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value when valid, records the error otherwise.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn push(&mut self, err: FieldError) {
        self.0.push(err);
    }

    /// Err with every collected error, or Ok when there was none.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_parse_and_mask() {
        for ok in [
            "13812345678",
            "+8613812345678",
            "008613812345678",
            "138-1234-5678",
            "19912345678",
        ] {
            assert_eq!(Phone::parse(ok).unwrap().as_str().len(), 11, "{ok}");
        }
        for bad in [
            "",
            "12812345678",
            "1381234567",
            "138123456789",
            "1381234567a",
            "+85213812345678",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            contact_phone("phone", "0534-6212345").unwrap(),
            "05346212345"
        );
        assert_eq!(
            contact_phone("phone", "+86 138 1234 5678").unwrap(),
            "13812345678"
        );
        assert!(contact_phone("phone", "12345").is_err());
        assert_eq!(
            mask_digit_runs("请打13812345678，或 0534-6212345，2 号柜"),
            "请打138****5678，或 053*-***2345，2 号柜"
        );
        for (typed, shown) in [
            ("打138 1234 5678没人接", "打138 **** 5678没人接"),
            ("138-1234-5678", "138-****-5678"),
            ("138.1234.5678。", "138.****.5678。"),
            ("１３８１２３４５６７８", "１３８****５６７８"),
            ("138 - 1234 - 5678", "138 - **** - 5678"),
            ("身份证 11010519491231002X", "身份证 110**********1002X"),
            ("7 位 6212345 号", "7 位 ******* 号"),
            // Short numbers stay: times, a locker, a price, a date's parts.
            (
                "08:00-20:00 开，2 号柜，3.5 元",
                "08:00-20:00 开，2 号柜，3.5 元",
            ),
            ("123456 号", "123456 号"),
            ("12    3456789", "12    *******"),
            ("", ""),
        ] {
            assert_eq!(mask_digit_runs(typed), shown, "{typed}");
        }
        let p = Phone::parse("13812345678").unwrap();
        assert_eq!(p.masked(), "138****5678");
        assert!(!format!("{p:?}").contains("13812345678"));
    }

    #[test]
    fn text_fields_count_characters_not_bytes() {
        assert_eq!(
            text_field("name", "  乐陵市总工会 ", 2, 60).unwrap(),
            "乐陵市总工会"
        );
        assert!(text_field("name", "乐", 2, 60).is_err());
        assert!(text_field("name", &"字".repeat(61), 2, 60).is_err());
        assert!(text_field("name", "a\u{0007}b", 1, 60).is_err());
    }
}

/// The radius of the sphere [`Coord::distance_m`] measures on.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Metres per degree of latitude on that sphere.
pub const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// A point in GCJ-02 (the datum of Chinese maps), the only datum the API answers in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coord {
    pub lat: f64,
    pub lng: f64,
}

/// A point as a client sends it, in the datum named by the request's `coord`.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LatLng {
    pub lat: f64,
    pub lng: f64,
}

/// The datum a client sent a point in (`coord=wgs84` for raw GPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Datum {
    #[default]
    Gcj02,
    Wgs84,
}

impl Coord {
    /// Checks ranges and converts to GCJ-02. Errors name `field`, a `{lat, lng}` object.
    pub fn parse(field: &str, lat: f64, lng: f64, datum: Datum) -> Result<Coord, FieldError> {
        Self::parse_fields([field, field], lat, lng, datum)
    }

    /// As [`Coord::parse`], for a point sent as two fields (`?lat=&lng=`, two CSV columns):
    /// an error names the one that is wrong, latitude first.
    pub fn parse_fields(
        [lat_field, lng_field]: [&str; 2],
        lat: f64,
        lng: f64,
        datum: Datum,
    ) -> Result<Coord, FieldError> {
        let outside = |v: f64, max: f64| !v.is_finite() || !(-max..=max).contains(&v);
        let wrong = if outside(lat, 90.0) {
            Some(lat_field)
        } else if outside(lng, 180.0) {
            Some(lng_field)
        } else {
            None
        };
        if let Some(field) = wrong {
            return Err(FieldError::new(
                field.to_owned(),
                Text::new(
                    "坐标无效：纬度 -90~90，经度 -180~180",
                    "lat must be within -90..90 and lng within -180..180",
                ),
            ));
        }
        Ok(match datum {
            Datum::Gcj02 => Coord { lat, lng },
            Datum::Wgs84 => wgs84_to_gcj02(lat, lng),
        })
    }

    /// Great-circle distance in metres (haversine; exact enough at city scale).
    pub fn distance_m(&self, other: &Coord) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lng - self.lng).to_radians();
        let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.sqrt().asin()
    }
}

/// The public WGS-84 to GCJ-02 transform (Krasovsky ellipsoid); points outside China are
/// not shifted.
pub fn wgs84_to_gcj02(lat: f64, lng: f64) -> Coord {
    use std::f64::consts::PI;
    const A: f64 = 6_378_245.0;
    const EE: f64 = 0.006_693_421_622_965_943;
    if !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat) {
        return Coord { lat, lng };
    }
    let (x, y) = (lng - 105.0, lat - 35.0);
    let mut dlat = -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * x.abs().sqrt()
        + (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0
        + (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0
        + (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    let mut dlng = 300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * x.abs().sqrt()
        + (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0
        + (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0
        + (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    let rad = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    dlat = dlat * 180.0 / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    dlng = dlng * 180.0 / (A / sqrt_magic * rad.cos() * PI);
    Coord {
        lat: lat + dlat,
        lng: lng + dlng,
    }
}

/// The inverse of [`wgs84_to_gcj02`], by fixed-point iteration (converges to well under a
/// centimetre in a few steps); points outside China are not shifted.
pub fn gcj02_to_wgs84(lat: f64, lng: f64) -> Coord {
    let mut guess = Coord { lat, lng };
    for _ in 0..8 {
        let shifted = wgs84_to_gcj02(guess.lat, guess.lng);
        guess.lat -= shifted.lat - lat;
        guess.lng -= shifted.lng - lng;
    }
    guess
}

#[cfg(test)]
mod coord_tests {
    use super::*;

    #[test]
    fn gcj02_shifts_inside_china_only() {
        // 乐陵市 city centre, WGS-84 from GPS.
        let gps = Coord {
            lat: 37.7297,
            lng: 117.2317,
        };
        let gcj = wgs84_to_gcj02(gps.lat, gps.lng);
        let shift = gps.distance_m(&gcj);
        assert!((100.0..800.0).contains(&shift), "shift {shift} m");
        let tokyo = wgs84_to_gcj02(35.68, 139.76);
        assert_eq!(
            tokyo,
            Coord {
                lat: 35.68,
                lng: 139.76
            }
        );
        assert!(Coord::parse("location", 91.0, 0.0, Datum::Gcj02).is_err());
        assert!(Coord::parse("location", f64::NAN, 0.0, Datum::Gcj02).is_err());
    }

    #[test]
    fn gcj02_reference_point_and_round_trip() {
        // Tiananmen, WGS-84 as GPS reports it, and the GCJ-02 point Chinese maps show.
        let gcj = wgs84_to_gcj02(39.908722, 116.397499);
        let expected = Coord {
            lat: 39.910126,
            lng: 116.403743,
        };
        assert!(gcj.distance_m(&expected) < 1.0, "{gcj:?}");
        let back = gcj02_to_wgs84(gcj.lat, gcj.lng);
        let gps = Coord {
            lat: 39.908722,
            lng: 116.397499,
        };
        assert!(back.distance_m(&gps) < 0.01, "{back:?}");
        assert_eq!(
            gcj02_to_wgs84(35.68, 139.76),
            Coord {
                lat: 35.68,
                lng: 139.76
            }
        );
    }

    #[test]
    fn distances() {
        let a = Coord {
            lat: 37.7297,
            lng: 117.2317,
        };
        let b = Coord {
            lat: 37.7387,
            lng: 117.2317,
        }; // 0.009 degrees north, about 1 km
        assert!((a.distance_m(&b) - 1000.8).abs() < 5.0);
    }
}
