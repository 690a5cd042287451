//! Pure rules of rest stations: amenities, opening hours (overnight ranges included) and the
//! CSV import format.

use chrono::{Datelike, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{Coord, Datum, contact_phone, text_field};
use crate::error::{FieldError, Text};

/// How close a rider must be to check in at a station.
pub const VISIT_RADIUS_M: f64 = 300.0;
/// The widest nearby search.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// Redis GEO, and with it our stored points, end short of the poles.
pub const MAX_ABS_LAT: f64 = 85.0;

fn err(field: impl Into<String>, zh: &str, en: &str) -> FieldError {
    FieldError::new(field.into(), Text::owned(zh.to_owned(), en.to_owned()))
}

/// What a station offers; the order is the bit order stored in `stations.amenities`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Amenity {
    Charging,
    Water,
    Microwave,
    FirstAid,
    RestArea,
    Restroom,
    Wifi,
    AirPump,
    Heating,
    Cooling,
    Books,
}

impl Amenity {
    pub const ALL: [Amenity; 11] = [
        Amenity::Charging,
        Amenity::Water,
        Amenity::Microwave,
        Amenity::FirstAid,
        Amenity::RestArea,
        Amenity::Restroom,
        Amenity::Wifi,
        Amenity::AirPump,
        Amenity::Heating,
        Amenity::Cooling,
        Amenity::Books,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Amenity::Charging => "charging",
            Amenity::Water => "water",
            Amenity::Microwave => "microwave",
            Amenity::FirstAid => "first_aid",
            Amenity::RestArea => "rest_area",
            Amenity::Restroom => "restroom",
            Amenity::Wifi => "wifi",
            Amenity::AirPump => "air_pump",
            Amenity::Heating => "heating",
            Amenity::Cooling => "cooling",
            Amenity::Books => "books",
        }
    }

    fn bit(self) -> i32 {
        1 << (self as i32)
    }

    /// Parses a list of names (`charging,water`) into a bit set; errors name `field`.
    pub fn parse_list<'a>(
        field: &str,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<i32, FieldError> {
        let mut mask = 0;
        for name in names {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let Some(a) = Amenity::ALL.iter().find(|a| a.as_str() == name) else {
                return Err(FieldError::new(
                    field.to_owned(),
                    Text::owned(
                        format!("未知的设施：{name}"),
                        format!(
                            "unknown amenity {name:?}; known: {}",
                            Amenity::ALL.map(Amenity::as_str).join(", ")
                        ),
                    ),
                ));
            };
            mask |= a.bit();
        }
        Ok(mask)
    }

    pub fn list(mask: i32) -> Vec<Amenity> {
        Amenity::ALL
            .into_iter()
            .filter(|a| mask & a.bit() != 0)
            .collect()
    }
}

/// One weekly rule: on `days` (ISO, 1 = Monday) from `open` to `close`, in minutes of the
/// day. A close at or before the open runs past midnight into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    days: u8,
    open: u16,
    close: u16,
}

/// When a station is open, in its own time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hours {
    Always,
    Weekly(Vec<Rule>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleInput {
    days: Vec<i64>,
    open: String,
    close: String,
}

#[derive(Serialize)]
struct RuleOutput {
    days: Vec<u8>,
    open: String,
    close: String,
}

fn minutes(field: &str, raw: &str, allow_24: bool) -> Result<u16, FieldError> {
    let bad = || {
        err(
            field,
            "时间格式应为 HH:MM",
            "must be a time of day as HH:MM (00:00-23:59, or 24:00 for a close)",
        )
    };
    let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let total = h * 60 + m;
    if m < 60 && (h < 24 || (allow_24 && total == 24 * 60)) {
        Ok(total)
    } else {
        Err(bad())
    }
}

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

const MAX_RULES: usize = 14;

impl Hours {
    /// From the API's JSON: `"24/7"` or `[{"days":[1,2,3],"open":"08:00","close":"20:00"}]`.
    pub fn from_json(field: &str, value: &Value) -> Result<Hours, FieldError> {
        if value.as_str().is_some_and(|s| s.trim() == "24/7") {
            return Ok(Hours::Always);
        }
        let shape = || {
            err(
                field,
                "营业时间应为 \"24/7\" 或每周时段列表",
                "must be \"24/7\" or a list like [{\"days\":[1,2,3,4,5],\"open\":\"08:00\",\"close\":\"20:00\"}]",
            )
        };
        let Value::Array(items) = value else {
            return Err(shape());
        };
        if items.is_empty() || items.len() > MAX_RULES {
            return Err(err(
                field,
                "营业时段应为 1-14 条",
                "must list 1 to 14 weekly rules",
            ));
        }
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let input: RuleInput = serde_json::from_value(item.clone()).map_err(|_| shape())?;
            let mut days = 0u8;
            for d in input.days {
                if !(1..=7).contains(&d) {
                    return Err(err(
                        format!("{at}.days"),
                        "星期应为 1-7（1 为周一）",
                        "days must be 1-7 (1 is Monday)",
                    ));
                }
                days |= 1 << (d - 1);
            }
            rules.push(Rule::new(
                &at,
                days,
                minutes(&format!("{at}.open"), &input.open, false)?,
                minutes(&format!("{at}.close"), &input.close, true)?,
            )?);
        }
        Ok(Hours::Weekly(rules))
    }

    /// From the CSV import's compact text: `24/7`, `1-5 08:00-20:00; 6,7 09:00-17:00`, or
    /// the JSON form.
    pub fn from_text(field: &str, raw: &str) -> Result<Hours, FieldError> {
        let raw = raw.trim();
        if raw == "24/7" {
            return Ok(Hours::Always);
        }
        if raw.starts_with('[') {
            let value: Value = serde_json::from_str(raw)
                .map_err(|_| err(field, "营业时间 JSON 无效", "is not valid JSON"))?;
            return Hours::from_json(field, &value);
        }
        let shape = || {
            err(
                field,
                "营业时间应为 24/7 或如 1-5 08:00-20:00; 6,7 09:00-17:00",
                "must be 24/7 or like `1-5 08:00-20:00; 6,7 09:00-17:00`",
            )
        };
        let parts: Vec<&str> = raw
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() || parts.len() > MAX_RULES {
            return Err(shape());
        }
        let mut rules = Vec::with_capacity(parts.len());
        for part in parts {
            let (days_text, times) = part.split_once(' ').ok_or_else(shape)?;
            let (open, close) = times.trim().split_once('-').ok_or_else(shape)?;
            let mut days = 0u8;
            for piece in days_text.split(',') {
                let (a, b) = piece.split_once('-').unwrap_or((piece, piece));
                let (a, b): (u8, u8) = (
                    a.trim().parse().map_err(|_| shape())?,
                    b.trim().parse().map_err(|_| shape())?,
                );
                if !(1..=7).contains(&a) || !(a..=7).contains(&b) {
                    return Err(shape());
                }
                for d in a..=b {
                    days |= 1 << (d - 1);
                }
            }
            rules.push(Rule::new(
                field,
                days,
                minutes(field, open, false)?,
                minutes(field, close, true)?,
            )?);
        }
        Ok(Hours::Weekly(rules))
    }

    /// As stored: `24/7` or the canonical JSON list.
    pub fn to_stored(&self) -> String {
        match self {
            Hours::Always => "24/7".to_owned(),
            Hours::Weekly(_) => self.to_json().to_string(),
        }
    }

    /// Reads what [`Hours::to_stored`] wrote (typed JSON, no detour through `Value`: every
    /// nearby result reads one). None when unreadable.
    pub fn from_stored(raw: &str) -> Option<Hours> {
        if raw == "24/7" {
            return Some(Hours::Always);
        }
        let items: Vec<RuleInput> = serde_json::from_str(raw).ok()?;
        let mut rules = Vec::with_capacity(items.len());
        for r in items {
            let days = r
                .days
                .iter()
                .filter(|d| (1..=7).contains(*d))
                .fold(0u8, |acc, d| acc | 1 << (d - 1));
            let open = minutes("open", &r.open, false).ok()?;
            let close = minutes("close", &r.close, true).ok()?;
            rules.push(Rule::new("opening_hours", days, open, close).ok()?);
        }
        Some(Hours::Weekly(rules))
    }

    /// As the API shows it.
    pub fn to_json(&self) -> Value {
        match self {
            Hours::Always => Value::String("24/7".to_owned()),
            Hours::Weekly(rules) => serde_json::to_value(
                rules
                    .iter()
                    .map(|r| RuleOutput {
                        days: (1..=7).filter(|d| r.days & (1 << (d - 1)) != 0).collect(),
                        open: hhmm(r.open),
                        close: hhmm(r.close),
                    })
                    .collect::<Vec<_>>(),
            )
            .unwrap_or(Value::Null),
        }
    }

    /// Open at this wall-clock time of the station's zone?
    pub fn is_open_at(&self, local: NaiveDateTime) -> bool {
        match self {
            Hours::Always => true,
            Hours::Weekly(rules) => any_open_at(rules, local),
        }
    }
}

/// Does any of these weekly rules hold at this wall-clock time?
pub fn any_open_at(rules: &[Rule], local: NaiveDateTime) -> bool {
    let today = local.weekday().number_from_monday() as u8;
    let yesterday = if today == 1 { 7 } else { today - 1 };
    let now = (local.hour() * 60 + local.minute()) as u16;
    let on = |days: u8, d: u8| days & (1 << (d - 1)) != 0;
    rules.iter().any(|r| {
        if r.open < r.close {
            on(r.days, today) && (r.open..r.close).contains(&now)
        } else {
            (on(r.days, today) && now >= r.open) || (on(r.days, yesterday) && now < r.close)
        }
    })
}

impl Rule {
    /// A rule that never holds (no days): filler for fixed-size lists.
    pub const NEVER: Rule = Rule {
        days: 0,
        open: 0,
        close: 0,
    };

    fn new(field: &str, days: u8, open: u16, close: u16) -> Result<Rule, FieldError> {
        if days == 0 {
            return Err(err(field, "请至少选择一天", "must name at least one day"));
        }
        if open == close {
            return Err(err(
                field,
                "开门与关门时间不能相同",
                "open and close must differ (use \"24/7\" for always open)",
            ));
        }
        Ok(Rule { days, open, close })
    }
}

/// A station as an admin describes it, checked (the API body and each CSV row).
#[derive(Debug, Clone)]
pub struct StationInput {
    pub org_id: i64,
    pub name: String,
    pub address: String,
    pub location: Coord,
    pub amenities: i32,
    pub hours: Hours,
    pub time_zone: String,
    pub phone: String,
}

/// A station's or a rider's point; `fields` name its latitude and longitude (the same name
/// twice for a `location` object).
pub fn check_location(
    fields: [&str; 2],
    lat: f64,
    lng: f64,
    datum: Datum,
) -> Result<Coord, FieldError> {
    let c = Coord::parse_fields(fields, lat, lng, datum)?;
    if c.lat.abs() > MAX_ABS_LAT {
        return Err(err(
            fields[0],
            "纬度应在 -85 到 85 之间",
            "lat must be within -85..85",
        ));
    }
    Ok(c)
}

/// The CSV import header, in order.
pub const CSV_HEADER: [&str; 10] = [
    "org_id",
    "name",
    "address",
    "lat",
    "lng",
    "coord",
    "amenities",
    "opening_hours",
    "time_zone",
    "phone",
];

/// The most rows one import takes.
pub const MAX_CSV_ROWS: usize = 20_000;

/// Parses an import file: every row or none; errors name the row (1 = the first data row)
/// and column, as `rows[3].lat`.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<StationInput>, Vec<FieldError>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header_ok = reader
        .headers()
        .map(|h| h.iter().eq(CSV_HEADER.iter().copied()))
        .unwrap_or(false);
    if !header_ok {
        return Err(vec![err(
            "header",
            "表头应为 org_id,name,address,lat,lng,coord,amenities,opening_hours,time_zone,phone",
            "the header must be org_id,name,address,lat,lng,coord,amenities,opening_hours,time_zone,phone",
        )]);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let n = i + 1;
        if n > MAX_CSV_ROWS {
            errors.push(err(
                "rows",
                "一次最多导入 20000 行",
                "at most 20000 rows per import",
            ));
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(_) => {
                errors.push(err(
                    format!("rows[{n}]"),
                    "该行不是有效的 CSV",
                    "is not a valid CSV row with 10 columns",
                ));
                continue;
            }
        };
        match parse_row(n, &record) {
            Ok(row) => rows.push(row),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(err("rows", "文件没有数据行", "the file has no data rows"));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn keep<T>(errors: &mut Vec<FieldError>, res: Result<T, FieldError>) -> Option<T> {
    res.map_err(|e| errors.push(e)).ok()
}

fn parse_row(n: usize, r: &csv::StringRecord) -> Result<StationInput, Vec<FieldError>> {
    let col = |i: usize| r.get(i).unwrap_or("");
    let at = |name: &str| format!("rows[{n}].{name}");
    let mut errors = Vec::new();
    let org_id = keep(
        &mut errors,
        col(0)
            .parse::<i64>()
            .map_err(|_| err(at("org_id"), "应为组织编号", "must be an organization id")),
    );
    let name = keep(
        &mut errors,
        text_field("name", col(1), 2, 60).map_err(|e| e.at(at("name"))),
    );
    let address = keep(
        &mut errors,
        text_field("address", col(2), 2, 200).map_err(|e| e.at(at("address"))),
    );
    let datum = match col(5) {
        "" | "gcj02" => Some(Datum::Gcj02),
        "wgs84" => Some(Datum::Wgs84),
        _ => keep(
            &mut errors,
            Err(err(
                at("coord"),
                "坐标系应为 gcj02 或 wgs84",
                "must be gcj02 or wgs84",
            )),
        ),
    };
    let number = |i: usize, name: &str| {
        col(i)
            .parse::<f64>()
            .map_err(|_| err(at(name), "应为数字", "must be a number"))
    };
    let (lat, lng) = (
        keep(&mut errors, number(3, "lat")),
        keep(&mut errors, number(4, "lng")),
    );
    let location = match (lat, lng, datum) {
        (Some(lat), Some(lng), Some(datum)) => keep(
            &mut errors,
            check_location([&at("lat"), &at("lng")], lat, lng, datum),
        ),
        _ => None,
    };
    let amenities = keep(
        &mut errors,
        Amenity::parse_list(&at("amenities"), col(6).split('|')),
    );
    let hours = keep(&mut errors, Hours::from_text(&at("opening_hours"), col(7)));
    let time_zone = match col(8) {
        "" => Some("Asia/Shanghai".to_owned()),
        tz => keep(
            &mut errors,
            crate::quizzes::rules::parse_time_zone(tz)
                .map(|_| tz.to_owned())
                .map_err(|e| e.at(at("time_zone"))),
        ),
    };
    let phone = keep(
        &mut errors,
        contact_phone("phone", col(9)).map_err(|e| e.at(at("phone"))),
    );
    match (
        org_id, name, address, location, amenities, hours, time_zone, phone,
    ) {
        (
            Some(org_id),
            Some(name),
            Some(address),
            Some(location),
            Some(amenities),
            Some(hours),
            Some(time_zone),
            Some(phone),
        ) if errors.is_empty() => Ok(StationInput {
            org_id,
            name,
            address,
            location,
            amenities,
            hours,
            time_zone,
            phone,
        }),
        _ => Err(errors),
    }
}

/// What a member can report about a station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Closed,
    Broken,
    Other,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Closed => "closed",
            ReportKind::Broken => "broken",
            ReportKind::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Option<ReportKind> {
        match raw {
            "closed" => Some(ReportKind::Closed),
            "broken" => Some(ReportKind::Broken),
            "other" => Some(ReportKind::Other),
            _ => None,
        }
    }
}

/// The average of `count` ratings summing to `sum`, to one decimal; None without ratings.
pub fn average_rating(sum: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| (sum as f64 / count as f64 * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, min, 0))
            .unwrap()
    }

    #[test]
    fn overnight_hours_hold_on_both_sides_of_midnight() {
        // Friday night only: 20:00 Friday to 06:00 Saturday. 2026-11-27 is a Friday.
        let h = Hours::from_json(
            "opening_hours",
            &json!([{"days":[5],"open":"20:00","close":"06:00"}]),
        )
        .unwrap();
        assert!(!h.is_open_at(at(2026, 11, 27, 19, 59)));
        assert!(h.is_open_at(at(2026, 11, 27, 20, 0)));
        assert!(h.is_open_at(at(2026, 11, 27, 23, 59)));
        assert!(h.is_open_at(at(2026, 11, 28, 0, 0)));
        assert!(h.is_open_at(at(2026, 11, 28, 5, 59)));
        assert!(!h.is_open_at(at(2026, 11, 28, 6, 0)));
        // Saturday evening is not Friday evening; Thursday night's tail is not open either.
        assert!(!h.is_open_at(at(2026, 11, 28, 21, 0)));
        assert!(!h.is_open_at(at(2026, 11, 27, 3, 0)));
        // Sunday night into Monday wraps the week.
        let sunday = Hours::from_text("h", "7 22:00-02:00").unwrap();
        assert!(sunday.is_open_at(at(2026, 11, 30, 1, 0)), "Monday 01:00");
        assert!(!sunday.is_open_at(at(2026, 11, 24, 1, 0)), "Tuesday 01:00");
    }

    #[test]
    fn day_ranges_and_closing_at_midnight() {
        let h = Hours::from_text("h", "1-5 08:00-20:00; 6,7 09:00-24:00").unwrap();
        assert!(h.is_open_at(at(2026, 11, 23, 8, 0)), "Monday 08:00");
        assert!(!h.is_open_at(at(2026, 11, 23, 20, 0)), "Monday 20:00");
        assert!(!h.is_open_at(at(2026, 11, 28, 8, 59)), "Saturday 08:59");
        assert!(h.is_open_at(at(2026, 11, 28, 23, 59)), "Saturday 23:59");
        assert!(!h.is_open_at(at(2026, 11, 29, 0, 30)) || h.is_open_at(at(2026, 11, 29, 9, 0)));
        assert!(Hours::Always.is_open_at(at(2026, 11, 23, 3, 0)));
        // Stored and read back, and shown as the API's JSON.
        let back = Hours::from_stored(&h.to_stored()).unwrap();
        assert_eq!(back, h);
        assert_eq!(
            h.to_json(),
            json!([{"days":[1,2,3,4,5],"open":"08:00","close":"20:00"},{"days":[6,7],"open":"09:00","close":"24:00"}])
        );
        assert_eq!(Hours::from_stored("24/7"), Some(Hours::Always));
    }

    #[test]
    fn bad_hours_name_the_field() {
        for (bad, field) in [
            (json!("always"), "opening_hours"),
            (json!([]), "opening_hours"),
            (
                json!([{"days":[8],"open":"08:00","close":"20:00"}]),
                "opening_hours[0].days",
            ),
            (
                json!([{"days":[1],"open":"8:00","close":"20:00"}]),
                "opening_hours[0].open",
            ),
            (
                json!([{"days":[1],"open":"08:00","close":"24:01"}]),
                "opening_hours[0].close",
            ),
            (
                json!([{"days":[1],"open":"24:00","close":"06:00"}]),
                "opening_hours[0].open",
            ),
            (
                json!([{"days":[],"open":"08:00","close":"20:00"}]),
                "opening_hours[0]",
            ),
            (
                json!([{"days":[1],"open":"08:00","close":"08:00"}]),
                "opening_hours[0]",
            ),
        ] {
            let e = Hours::from_json("opening_hours", &bad).unwrap_err();
            assert_eq!(e.field(), field, "{bad}");
        }
        assert!(Hours::from_text("h", "1-8 08:00-20:00").is_err());
        assert!(Hours::from_text("h", "5-1 08:00-20:00").is_err());
        assert!(Hours::from_text("h", "").is_err());
    }

    #[test]
    fn amenities_round_trip_as_bits() {
        let mask = Amenity::parse_list("amenities", ["charging", " water", "books", ""]).unwrap();
        assert_eq!(
            Amenity::list(mask),
            vec![Amenity::Charging, Amenity::Water, Amenity::Books]
        );
        let e = Amenity::parse_list("amenities", ["sauna"]).unwrap_err();
        assert_eq!(e.field(), "amenities");
    }

    #[test]
    fn csv_rows_all_or_nothing_with_row_numbers() {
        let good = "org_id,name,address,lat,lng,coord,amenities,opening_hours,time_zone,phone\n\
            1,金东驿站,金华市金东区多湖街道,29.08,119.70,,charging|water,24/7,,0579-82345678\n\
            1,乐陵驿站,乐陵市市中街道,37.72,117.23,wgs84,water,1-5 08:00-20:00,Asia/Shanghai,13812345678\n";
        let rows = parse_csv(good.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].location,
            Coord {
                lat: 29.08,
                lng: 119.70
            }
        );
        assert!(rows[1].location.lat != 37.72, "wgs84 is shifted to GCJ-02");
        let bad = "org_id,name,address,lat,lng,coord,amenities,opening_hours,time_zone,phone\n\
            1,金东驿站,金华市金东区多湖街道,29.08,119.70,,charging,24/7,,0579-82345678\n\
            x,乙,金华市,91,119.70,gcj,sauna,always,Mars/Base,123\n\
            1,丙驿站,金华市金东区,29.08,190,,water,24/7,,0579-82345678\n";
        let errors = parse_csv(bad.as_bytes()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field()).collect();
        for f in [
            "rows[2].org_id",
            "rows[2].name",
            "rows[2].coord",
            "rows[2].amenities",
            "rows[2].opening_hours",
            "rows[2].time_zone",
            "rows[2].phone",
            "rows[3].lng",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        assert!(!fields.contains(&"rows[3].lat"), "{fields:?}");
        assert_eq!(
            parse_csv(b"name,org_id\n").unwrap_err()[0].field(),
            "header"
        );
    }

    #[test]
    fn averages_round_to_one_decimal() {
        assert_eq!(average_rating(0, 0), None);
        assert_eq!(average_rating(14, 3), Some(4.7));
    }
}
