//! Pure rules of quiz campaigns: questions and their answer keys, dealing an attempt,
//! scoring, the leaderboard order, and the campaign's calendar day.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    Single,
    Multiple,
    TrueFalse,
}

impl QuestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Single => "single",
            QuestionKind::Multiple => "multiple",
            QuestionKind::TrueFalse => "true_false",
        }
    }

    pub fn parse(s: &str) -> Option<QuestionKind> {
        match s {
            "single" => Some(QuestionKind::Single),
            "multiple" => Some(QuestionKind::Multiple),
            "true_false" => Some(QuestionKind::TrueFalse),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuizOption {
    /// `A`, `B`, ... (1-8 letters or digits), unique within the question.
    pub key: String,
    pub text: String,
}

/// A question as an organizer sends it (JSON or one CSV row).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionInput {
    pub kind: String,
    pub text: String,
    /// For `true_false` may be left out: `T` 正确 / `F` 错误.
    #[serde(default)]
    pub options: Vec<QuizOption>,
    pub answer: Vec<String>,
    pub points: i32,
    #[serde(default)]
    pub explanation: String,
}

/// A checked question: options unique, the key a non-empty subset of them, as many keys
/// as the kind allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub kind: QuestionKind,
    pub text: String,
    pub options: Vec<QuizOption>,
    /// Sorted, unique.
    pub answer: Vec<String>,
    pub points: i32,
    pub explanation: String,
}

fn err(field: &str, zh: &str, en: &str) -> FieldError {
    FieldError::new(field.to_owned(), Text::owned(zh.to_owned(), en.to_owned()))
}

fn valid_key(key: &str) -> bool {
    (1..=8).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Question {
    /// Checks one question; errors are named under `prefix` (`questions[3]`, `rows[4]`).
    pub fn parse(input: QuestionInput, prefix: &str) -> Result<Question, Vec<FieldError>> {
        let mut errors = Vec::new();
        let f = |name: &str| format!("{prefix}.{name}");
        let kind = QuestionKind::parse(input.kind.trim());
        if kind.is_none() {
            errors.push(err(
                &f("kind"),
                "题型应为 single、multiple 或 true_false",
                "kind must be single, multiple or true_false",
            ));
        }
        let text = input.text.trim().to_owned();
        if text.chars().count() < 2 || text.chars().count() > 500 {
            errors.push(err(
                &f("text"),
                "题干应为 2-500 个字符",
                "text must be 2 to 500 characters",
            ));
        }
        let mut options: Vec<QuizOption> = input
            .options
            .into_iter()
            .map(|o| QuizOption {
                key: o.key.trim().to_owned(),
                text: o.text.trim().to_owned(),
            })
            .collect();
        if options.is_empty() && kind == Some(QuestionKind::TrueFalse) {
            options = vec![
                QuizOption {
                    key: "T".into(),
                    text: "正确".into(),
                },
                QuizOption {
                    key: "F".into(),
                    text: "错误".into(),
                },
            ];
        }
        let keys: BTreeSet<&str> = options.iter().map(|o| o.key.as_str()).collect();
        let (min, max) = match kind {
            Some(QuestionKind::TrueFalse) => (2, 2),
            _ => (2, 8),
        };
        if options.len() < min || options.len() > max {
            errors.push(err(
                &f("options"),
                &format!("选项数量应为 {min}-{max} 个"),
                &format!("a question has {min} to {max} options"),
            ));
        } else if keys.len() != options.len() || !options.iter().all(|o| valid_key(&o.key)) {
            errors.push(err(
                &f("options"),
                "选项的 key 须唯一，且为 1-8 个字母或数字",
                "option keys must be unique, 1-8 letters or digits",
            ));
        } else if options
            .iter()
            .any(|o| o.text.is_empty() || o.text.chars().count() > 200)
        {
            errors.push(err(
                &f("options"),
                "选项内容应为 1-200 个字符",
                "option texts must be 1 to 200 characters",
            ));
        }
        let answer: BTreeSet<String> = input.answer.iter().map(|k| k.trim().to_owned()).collect();
        let answer_ok = !answer.is_empty()
            && answer.len() == input.answer.len()
            && answer.iter().all(|k| keys.contains(k.as_str()))
            && match kind {
                Some(QuestionKind::Multiple) => true,
                _ => answer.len() == 1,
            };
        if !answer_ok {
            errors.push(err(
                &f("answer"),
                "答案须为选项中的 key（单选题和判断题只能有一个）",
                "answer must be option keys (exactly one for single and true_false)",
            ));
        }
        if !(1..=100).contains(&input.points) {
            errors.push(err(
                &f("points"),
                "分值应为 1-100",
                "points must be 1 to 100",
            ));
        }
        let explanation = input.explanation.trim().to_owned();
        if explanation.chars().count() > 1000 {
            errors.push(err(
                &f("explanation"),
                "解析不超过 1000 个字符",
                "explanation has at most 1000 characters",
            ));
        }
        match kind {
            Some(kind) if errors.is_empty() => Ok(Question {
                kind,
                text,
                options,
                answer: answer.into_iter().collect(),
                points: input.points,
                explanation,
            }),
            _ => Err(errors),
        }
    }
}

/// Reads the CSV import: header `kind,text,options,answer,points,explanation`; options as
/// `A:text|B:text`, answer as `A|C`. All rows or nothing: every error names its row (the
/// line number in the file, the header being line 1) and column.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<Question>, Vec<FieldError>> {
    const COLUMNS: [&str; 6] = ["kind", "text", "options", "answer", "points", "explanation"];
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header_ok = reader
        .headers()
        .map(|h| {
            h.iter()
                .map(|c| c.trim_start_matches('\u{feff}').to_ascii_lowercase())
                .collect::<Vec<_>>()
                == COLUMNS
        })
        .unwrap_or(false);
    if !header_ok {
        return Err(vec![err(
            "rows[1]",
            "第 1 行应为表头：kind,text,options,answer,points,explanation",
            "row 1 must be the header kind,text,options,answer,points,explanation",
        )]);
    }
    let mut questions = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let prefix = format!("rows[{line}]");
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(err(
                    &prefix,
                    &format!("第 {line} 行无法读取：{e}"),
                    &format!("row {line} cannot be read: {e}"),
                ));
                continue;
            }
        };
        let get = |i: usize| record.get(i).unwrap_or("").to_owned();
        let mut row_errors = Vec::new();
        let options: Vec<QuizOption> = get(2)
            .split('|')
            .filter(|s| !s.trim().is_empty())
            .filter_map(
                |pair| match pair.split_once(':').or_else(|| pair.split_once('：')) {
                    Some((k, t)) => Some(QuizOption {
                        key: k.trim().to_owned(),
                        text: t.trim().to_owned(),
                    }),
                    None => {
                        row_errors.push(err(
                            &format!("{prefix}.options"),
                            "选项格式应为 A:内容|B:内容",
                            "options look like A:text|B:text",
                        ));
                        None
                    }
                },
            )
            .collect();
        let points = match get(4).parse::<i32>() {
            Ok(p) => p,
            Err(_) => {
                row_errors.push(err(
                    &format!("{prefix}.points"),
                    "分值应为整数",
                    "points must be a whole number",
                ));
                0
            }
        };
        let input = QuestionInput {
            kind: get(0),
            text: get(1),
            options,
            answer: get(3)
                .split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            points,
            explanation: get(5),
        };
        match Question::parse(input, &prefix) {
            Ok(q) if row_errors.is_empty() => questions.push(q),
            Ok(_) => errors.extend(row_errors),
            Err(mut e) => {
                // A column already reported as unreadable is not reported again.
                e.retain(|x| !row_errors.iter().any(|r| r.field == x.field));
                row_errors.append(&mut e);
                errors.extend(row_errors);
            }
        }
    }
    if questions.is_empty() && errors.is_empty() {
        errors.push(err(
            "rows[2]",
            "文件中没有题目",
            "the file has no questions",
        ));
    }
    if errors.is_empty() {
        Ok(questions)
    } else {
        Err(errors)
    }
}

/// One dealt question: its id and the order its options are shown in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dealt {
    pub question_id: i64,
    pub options: Vec<String>,
}

/// Deals `n` of the questions at random and shuffles their options (true/false keeps its
/// order), with the thread's CSPRNG.
pub fn deal(questions: &[(i64, QuestionKind, Vec<String>)], n: usize) -> Vec<Dealt> {
    let mut rng = rand::rng();
    let mut picked: Vec<&(i64, QuestionKind, Vec<String>)> = questions.iter().collect();
    picked.shuffle(&mut rng);
    picked.truncate(n);
    picked
        .into_iter()
        .map(|(id, kind, keys)| {
            let mut options = keys.clone();
            if *kind != QuestionKind::TrueFalse {
                options.shuffle(&mut rng);
            }
            Dealt {
                question_id: *id,
                options,
            }
        })
        .collect()
}

/// Whether an answer is right: the same set of keys (multiple choice is all or nothing).
pub fn is_correct(answer: &[String], given: &[String]) -> bool {
    let a: BTreeSet<&str> = answer.iter().map(String::as_str).collect();
    let g: BTreeSet<&str> = given.iter().map(String::as_str).collect();
    !g.is_empty() && a == g
}

/// Leaderboard order in one sorted-set score: higher score first, then shorter duration,
/// then the earlier submission. 10 bits of score (at most 1023), 22 bits of duration in ms
/// (time limits are at most an hour), 21 bits of 10-second steps since the campaign
/// started (242 days): 53 bits, exactly what an f64 holds.
pub const MAX_SCORE: i64 = 1023;
const DURATION_BITS: u32 = 22;
const TIME_BITS: u32 = 21;

pub fn rank_value(score: i64, duration_ms: i64, since_start_secs: i64) -> f64 {
    let score = score.clamp(0, MAX_SCORE);
    let duration = duration_ms.clamp(0, (1 << DURATION_BITS) - 1);
    let steps = (since_start_secs / 10).clamp(0, (1 << TIME_BITS) - 1);
    let shorter = (1 << DURATION_BITS) - 1 - duration;
    let earlier = (1 << TIME_BITS) - 1 - steps;
    ((score << (DURATION_BITS + TIME_BITS)) | (shorter << TIME_BITS) | earlier) as f64
}

/// Score and duration back from a rank value.
pub fn from_rank_value(value: f64) -> (i64, i64) {
    let v = value as i64;
    let score = v >> (DURATION_BITS + TIME_BITS);
    let shorter = (v >> TIME_BITS) & ((1 << DURATION_BITS) - 1);
    (score, (1 << DURATION_BITS) - 1 - shorter)
}

/// The campaign's calendar day of an instant, and the time left until its next midnight.
pub fn local_day(now: DateTime<Utc>, tz: Tz) -> (NaiveDate, TimeDelta) {
    let local = now.with_timezone(&tz);
    let today = local.date_naive();
    let next = today
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|m| m.and_local_timezone(tz).earliest())
        .map(|m| m.with_timezone(&Utc));
    (today, next.map_or(TimeDelta::days(1), |m| m - now))
}

pub fn parse_time_zone(raw: &str) -> Result<Tz, FieldError> {
    raw.parse::<Tz>().map_err(|_| {
        err(
            "time_zone",
            "时区无效，例如 Asia/Shanghai",
            "time_zone must be an IANA zone such as Asia/Shanghai",
        )
    })
}

/// Campaign state from its times and status.
pub fn is_active(
    status: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    status == "published" && starts_at <= now && now < ends_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: &str, options: &[(&str, &str)], answer: &[&str]) -> QuestionInput {
        QuestionInput {
            kind: kind.into(),
            text: "劳动合同应当以什么形式订立？".into(),
            options: options
                .iter()
                .map(|(k, t)| QuizOption {
                    key: (*k).into(),
                    text: (*t).into(),
                })
                .collect(),
            answer: answer.iter().map(|s| (*s).into()).collect(),
            points: 10,
            explanation: String::new(),
        }
    }

    #[test]
    fn questions_check_their_keys() {
        let opts = [("A", "书面"), ("B", "口头"), ("C", "任意")];
        assert!(Question::parse(input("single", &opts, &["A"]), "q").is_ok());
        assert!(Question::parse(input("single", &opts, &["A", "B"]), "q").is_err());
        assert!(
            Question::parse(input("multiple", &opts, &["C", "A"]), "q")
                .unwrap()
                .answer
                == vec!["A", "C"]
        );
        assert!(Question::parse(input("multiple", &opts, &["D"]), "q").is_err());
        assert!(Question::parse(input("multiple", &opts, &[]), "q").is_err());
        assert!(Question::parse(input("single", &[("A", "x"), ("A", "y")], &["A"]), "q").is_err());
        let tf = Question::parse(input("true_false", &[], &["T"]), "q").unwrap();
        assert_eq!(tf.options.len(), 2);
        let errs = Question::parse(input("essay", &opts, &["A"]), "questions[2]").unwrap_err();
        assert_eq!(errs[0].field, "questions[2].kind");
    }

    #[test]
    fn csv_is_all_or_nothing_with_row_numbers() {
        let good = "kind,text,options,answer,points,explanation\nsingle,试用期最长多久？,A:一个月|B:六个月,B,10,劳动合同法第十九条\ntrue_false,用人单位可以扣押身份证。,,F,5,\n";
        let qs = parse_csv(good.as_bytes()).unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[1].answer, vec!["F"]);
        let bad = "kind,text,options,answer,points,explanation\nsingle,试用期最长多久？,A:一个月|B:六个月,B,10,\nsingle,第二题题干,A:甲|B:乙,C,ten,\n";
        let errs = parse_csv(bad.as_bytes()).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_ref()).collect();
        assert_eq!(fields, vec!["rows[3].points", "rows[3].answer"]);
        assert!(parse_csv(b"a,b\n1,2\n").is_err());
    }

    #[test]
    fn multiple_choice_is_all_or_nothing() {
        let key = vec!["A".to_owned(), "C".to_owned()];
        assert!(is_correct(&key, &["C".into(), "A".into()]));
        assert!(!is_correct(&key, &["A".into()]));
        assert!(!is_correct(&key, &["A".into(), "B".into(), "C".into()]));
        assert!(!is_correct(&key, &[]));
    }

    #[test]
    fn rank_values_order_score_then_duration_then_time() {
        let best = rank_value(100, 30_000, 50);
        assert!(best > rank_value(90, 1_000, 0), "score first");
        assert!(best > rank_value(100, 31_000, 0), "then shorter");
        assert!(best > rank_value(100, 30_000, 60), "then earlier");
        assert!(
            best < rank_value(100, 30_000, 40),
            "earlier wins a full tie"
        );
        assert_eq!(from_rank_value(best), (100, 30_000));
        assert_eq!(
            from_rank_value(rank_value(1023, 3_600_000, 242 * 86_400)),
            (1023, 3_600_000)
        );
        // Exactly representable: distinct values stay distinct at the top of the range.
        assert_ne!(rank_value(1023, 0, 0), rank_value(1023, 0, 10));
    }

    #[test]
    fn days_follow_the_campaign_zone() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let now: DateTime<Utc> = "2026-11-23T15:59:00Z".parse().unwrap(); // 23:59 in Beijing
        let (day, left) = local_day(now, tz);
        assert_eq!(day.to_string(), "2026-11-23");
        assert_eq!(left, TimeDelta::minutes(1));
        let (day, _) = local_day(now + TimeDelta::minutes(2), tz);
        assert_eq!(day.to_string(), "2026-11-24");
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn dealing_picks_distinct_questions() {
        let qs: Vec<(i64, QuestionKind, Vec<String>)> = (1..=20)
            .map(|i| {
                (
                    i,
                    QuestionKind::Single,
                    vec!["A".into(), "B".into(), "C".into()],
                )
            })
            .collect();
        let dealt = deal(&qs, 5);
        assert_eq!(dealt.len(), 5);
        let ids: BTreeSet<i64> = dealt.iter().map(|d| d.question_id).collect();
        assert_eq!(ids.len(), 5);
        assert!(dealt.iter().all(|d| {
            let mut o = d.options.clone();
            o.sort();
            o == vec!["A", "B", "C"]
        }));
    }
}
