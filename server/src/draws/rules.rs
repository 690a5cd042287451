//! Pure rules of prize draws: validating prizes, picking by the published odds, and
//! redemption codes. No I/O; the randomness is passed in.

use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Fields, text_field};
use crate::error::{ApiError, FieldError, Text};

/// Odds are in parts per million; what the prizes leave of the million is "no prize".
pub const MILLION: u32 = 1_000_000;
pub const MAX_QUANTITY: i32 = 1_000_000;
pub const MAX_PER_USER: i32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrizeKind {
    Physical,
    Voucher,
    Points,
}

impl PrizeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrizeKind::Physical => "physical",
            PrizeKind::Voucher => "voucher",
            PrizeKind::Points => "points",
        }
    }

    pub fn parse(s: &str) -> Option<PrizeKind> {
        match s {
            "physical" => Some(PrizeKind::Physical),
            "voucher" => Some(PrizeKind::Voucher),
            "points" => Some(PrizeKind::Points),
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrizeInput {
    /// 1-60 characters.
    pub name: String,
    pub kind: PrizeKind,
    /// Units in stock, 1-1,000,000.
    pub quantity: i32,
    /// Chance per draw in parts per million, 1-1,000,000; all prizes of a campaign together
    /// at most 1,000,000.
    pub probability_ppm: i32,
    /// How many of this prize one member can win, 1-1,000 (default 1).
    pub max_per_user: Option<i32>,
}

/// A prize that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrize {
    pub name: String,
    pub kind: PrizeKind,
    pub quantity: i32,
    pub probability_ppm: i32,
    pub max_per_user: i32,
}

fn in_range(field: &'static str, value: i32, min: i32, max: i32) -> Result<i32, FieldError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(
            field,
            Text::owned(
                format!("应在 {min} 到 {max} 之间"),
                format!("must be between {min} and {max}"),
            ),
        ))
    }
}

/// Validates a prize against the odds already taken by the campaign's other prizes.
pub fn validate_prize(input: PrizeInput, taken_ppm: i64) -> Result<NewPrize, ApiError> {
    let mut fields = Fields::new();
    let name = fields.check(text_field("name", &input.name, 1, 60));
    let quantity = fields.check(in_range("quantity", input.quantity, 1, MAX_QUANTITY));
    let ppm = fields.check(in_range(
        "probability_ppm",
        input.probability_ppm,
        1,
        MILLION as i32,
    ));
    if let Some(ppm) = ppm
        && taken_ppm + i64::from(ppm) > i64::from(MILLION)
    {
        fields.push(FieldError::new(
            "probability_ppm",
            Text::owned(
                format!(
                    "各奖品中奖概率之和不能超过 1000000（已用 {taken_ppm}，本项 {ppm}）"
                ),
                format!(
                    "the prizes' odds may add up to at most 1000000 ppm ({taken_ppm} taken, {ppm} asked)"
                ),
            ),
        ));
    }
    let max_per_user = fields.check(in_range(
        "max_per_user",
        input.max_per_user.unwrap_or(1),
        1,
        MAX_PER_USER,
    ));
    fields.finish()?;
    match (name, quantity, ppm, max_per_user) {
        (Some(name), Some(quantity), Some(probability_ppm), Some(max_per_user)) => Ok(NewPrize {
            name,
            kind: input.kind,
            quantity,
            probability_ppm,
            max_per_user,
        }),
        _ => Err(ApiError::internal("prize validation lost a field")),
    }
}

/// A prize's slice of the million.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Odds {
    pub prize: i64,
    pub ppm: u32,
}

/// The prize that `roll` (uniform in `0..MILLION`) lands on: prizes take consecutive
/// slices of the million in the order given (ascending prize id), the rest is no prize.
pub fn pick(odds: &[Odds], roll: u32) -> Option<i64> {
    let mut end = 0u32;
    for o in odds {
        end = end.saturating_add(o.ppm);
        if roll < end {
            return Some(o.prize);
        }
    }
    None
}

/// A uniform roll from the given generator (the server passes its CSPRNG).
pub fn roll(rng: &mut impl Rng) -> u32 {
    rng.random_range(0..MILLION)
}

/// Redemption codes: 12 symbols of a 32-letter alphabet without 0/O and 1/I (60 bits from
/// the CSPRNG), shown as `XXXX-XXXX-XXXX`.
const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

pub fn redemption_code(rng: &mut impl Rng) -> String {
    let mut out = String::with_capacity(14);
    for i in 0..12 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(CODE_ALPHABET[rng.random_range(0..32usize)]));
    }
    out
}

/// The stored form of a code as typed or scanned: upper case, dashes and spaces dropped,
/// confusable letters mapped (O -> 0 is not in the alphabet, so O is read as 0 -> invalid).
pub fn normalize_code(raw: &str) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if compact.len() != 12 || !compact.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
        return None;
    }
    Some(format!(
        "{}-{}-{}",
        &compact[0..4],
        &compact[4..8],
        &compact[8..12]
    ))
}

/// `AB**-****-**YZ`: enough to match a code a member reads out, useless to redeem.
pub fn mask_code(code: &str) -> String {
    code.char_indices()
        .map(|(i, c)| {
            if c == '-' || i < 2 || i + 2 >= code.len() {
                c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn input(ppm: i32) -> PrizeInput {
        PrizeInput {
            name: "保温杯".into(),
            kind: PrizeKind::Physical,
            quantity: 10,
            probability_ppm: ppm,
            max_per_user: None,
        }
    }

    #[test]
    fn prizes_keep_the_million() {
        assert_eq!(
            validate_prize(input(250_000), 750_000)
                .unwrap()
                .max_per_user,
            1
        );
        let ApiError::Validation(errors) = validate_prize(input(250_001), 750_000).unwrap_err()
        else {
            panic!("expected a validation error")
        };
        assert_eq!(errors[0].field, "probability_ppm");
        let ApiError::Validation(errors) = validate_prize(
            PrizeInput {
                name: " ".into(),
                quantity: 0,
                max_per_user: Some(0),
                ..input(0)
            },
            0,
        )
        .unwrap_err() else {
            panic!("expected a validation error")
        };
        let named: Vec<_> = errors.iter().map(|e| e.field.as_ref()).collect();
        assert_eq!(
            named,
            ["name", "quantity", "probability_ppm", "max_per_user"]
        );
    }

    #[test]
    fn picks_follow_slices_of_the_million() {
        let odds = [
            Odds { prize: 7, ppm: 10 },
            Odds {
                prize: 9,
                ppm: 500_000,
            },
        ];
        assert_eq!(pick(&odds, 0), Some(7));
        assert_eq!(pick(&odds, 9), Some(7));
        assert_eq!(pick(&odds, 10), Some(9));
        assert_eq!(pick(&odds, 500_009), Some(9));
        assert_eq!(pick(&odds, 500_010), None);
        assert_eq!(pick(&odds, MILLION - 1), None);
        assert_eq!(pick(&[], 0), None);
        let all = [Odds {
            prize: 1,
            ppm: MILLION,
        }];
        assert_eq!(pick(&all, MILLION - 1), Some(1));
    }

    /// 100,000 rolls through `pick` against the published odds: Pearson's chi-square with
    /// 4 degrees of freedom stays under 18.47 (p = 0.001). The generator is seeded so the
    /// test is repeatable; the server uses the thread CSPRNG.
    #[test]
    fn picks_match_the_published_odds() {
        let odds = [
            Odds {
                prize: 1,
                ppm: 5_000,
            },
            Odds {
                prize: 2,
                ppm: 45_000,
            },
            Odds {
                prize: 3,
                ppm: 150_000,
            },
            Odds {
                prize: 4,
                ppm: 300_000,
            },
        ];
        let n = 100_000u32;
        let mut rng = StdRng::seed_from_u64(20261123);
        let mut seen = [0u32; 5];
        for _ in 0..n {
            let slot = pick(&odds, roll(&mut rng)).map_or(0, |p| p as usize);
            seen[slot] += 1;
        }
        let expected_ppm = [500_000u32, 5_000, 45_000, 150_000, 300_000];
        let chi2: f64 = seen
            .iter()
            .zip(expected_ppm)
            .map(|(&o, ppm)| {
                let e = f64::from(n) * f64::from(ppm) / f64::from(MILLION);
                (f64::from(o) - e).powi(2) / e
            })
            .sum();
        assert!(chi2 < 18.47, "chi-square {chi2} over {seen:?}");
        // And it is not trivially passing: skewed odds fail the same test.
        let skewed: f64 = seen
            .iter()
            .zip([450_000u32, 55_000, 45_000, 150_000, 300_000])
            .map(|(&o, ppm)| {
                let e = f64::from(n) * f64::from(ppm) / f64::from(MILLION);
                (f64::from(o) - e).powi(2) / e
            })
            .sum();
        assert!(skewed > 18.47, "a 1% shift must be detected ({skewed})");
    }

    #[test]
    fn codes_are_unguessable_and_forgiving_to_type() {
        let mut rng = StdRng::seed_from_u64(1);
        let code = redemption_code(&mut rng);
        assert_eq!(code.len(), 14);
        assert_eq!(
            normalize_code(&code.to_lowercase().replace('-', " ")),
            Some(code.clone())
        );
        assert_eq!(normalize_code("ABCD-EFGH-JKL"), None);
        assert_eq!(normalize_code("ABCD-EFGH-JKL0"), None);
        assert_eq!(mask_code("ABCD-EFGH-JKLM"), "AB**-****-**LM");
        let other = redemption_code(&mut rng);
        assert_ne!(code, other);
    }
}
