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

// Phone numbers never reach a log line whole, even through `{:?}`.
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

/// Checks a free-text field: trimmed, length in characters within bounds, no control chars.
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
