//! Pure rules of the org tree: kinds, region codes and materialized paths.

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Text};

/// The kind of a union organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 总工会
    Federation,
    District,
    /// 基层工会
    Grassroots,
    /// 联合工会
    Joint,
    Industry,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Federation => "federation",
            OrgKind::District => "district",
            OrgKind::Grassroots => "grassroots",
            OrgKind::Joint => "joint",
            OrgKind::Industry => "industry",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        match s {
            "federation" => Some(OrgKind::Federation),
            "district" => Some(OrgKind::District),
            "grassroots" => Some(OrgKind::Grassroots),
            "joint" => Some(OrgKind::Joint),
            "industry" => Some(OrgKind::Industry),
            _ => None,
        }
    }
}

/// A GB/T 2260 administrative division code: 6 digits (county), or 9/12 digits for
/// township and village, with a known province prefix.
pub fn parse_region_code(raw: &str) -> Result<String, FieldError> {
    let code = raw.trim();
    let bad = || {
        FieldError::new(
            "region_code",
            Text::new(
                "行政区划代码应为 6、9 或 12 位数字",
                "region_code must be a 6, 9 or 12 digit division code",
            ),
        )
    };
    if !matches!(code.len(), 6 | 9 | 12) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let province: u32 = code[..2].parse().map_err(|_| bad())?;
    if !(11..=82).contains(&province) {
        return Err(bad());
    }
    Ok(code.to_owned())
}

/// The path of a child: its parent's path followed by its own id (`/1/4/` + 9 = `/1/4/9/`).
pub fn child_path(parent_path: Option<&str>, id: i64) -> String {
    format!("{}{id}/", parent_path.unwrap_or("/"))
}

/// The ids of a path, root first.
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_and_parse() {
        let root = child_path(None, 1);
        assert_eq!(root, "/1/");
        let child = child_path(Some(&root), 12);
        assert_eq!(child, "/1/12/");
        assert_eq!(path_ids(&child), vec![1, 12]);
    }

    #[test]
    fn region_codes() {
        assert!(parse_region_code("371481").is_ok());
        assert!(parse_region_code("310114001").is_ok());
        assert!(parse_region_code("37148").is_err());
        assert!(parse_region_code("99xxxx").is_err());
        assert!(parse_region_code("991481").is_err());
    }
}
