//! HTTP endpoints of quiz campaigns.

use std::collections::{BTreeMap, HashMap, HashSet};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rules::{
    self, Dealt, Question, QuestionInput, QuestionKind, QuizOption, from_rank_value, rank_value,
};
use super::store::{self, Attempt, Listing, NewAttempt, NewQuiz, Publish, Quiz, Submission};
use crate::AppState;
use crate::auth::{self, AuthUser, Role};
use crate::db::DbConn;
use crate::domain::{Fields, OrgId, UserId, text_field};
use crate::error::{ApiError, ApiResult, FieldError, Text};
use crate::http::{Json, Page, Paged, Query};
use crate::orgs::store as orgs;

/// Late submissions within this much of the deadline still count (slow phone networks).
const GRACE: TimeDelta = TimeDelta::seconds(5);
const CSV_LIMIT: usize = 2 * 1024 * 1024;

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Active members of the org subtree.
    Members,
    /// Everyone signed in.
    Everyone,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuizView {
    pub id: i64,
    pub org_id: OrgId,
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: String,
    pub questions_per_attempt: i32,
    pub time_limit_secs: i32,
    pub pass_score: i32,
    pub max_attempts_per_day: i32,
    pub draws_per_pass: i32,
    pub audience: Audience,
    /// `draft` or `published`.
    pub status: String,
    /// `draft`, `upcoming`, `active` or `ended`.
    pub phase: &'static str,
    /// Chances can be drawn until then (a day after the end).
    pub draws_close_at: DateTime<Utc>,
    /// The prize list with its odds (single-campaign reads only; odds are always public).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prizes: Option<Vec<crate::draws::PrizeView>>,
    /// What the prizes leave of the million: the chance of "no prize" (谢谢参与).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_prize_ppm: Option<i64>,
}

fn quiz_view(q: Quiz, now: DateTime<Utc>) -> QuizView {
    let (starts, ends) = (utc(q.starts_at), utc(q.ends_at));
    let phase = match () {
        _ if q.status != "published" => "draft",
        _ if now < starts => "upcoming",
        _ if now < ends => "active",
        _ => "ended",
    };
    QuizView {
        id: q.id,
        org_id: OrgId(q.org_id),
        title: q.title,
        description: q.description,
        starts_at: starts,
        ends_at: ends,
        time_zone: q.time_zone,
        questions_per_attempt: q.questions_per_attempt,
        time_limit_secs: q.time_limit_secs,
        pass_score: q.pass_score,
        max_attempts_per_day: q.max_attempts_per_day,
        draws_per_pass: q.draws_per_pass,
        audience: if q.audience == "everyone" {
            Audience::Everyone
        } else {
            Audience::Members
        },
        status: q.status,
        phase,
        draws_close_at: ends + crate::draws::engine::DRAW_GRACE,
        prizes: None,
        no_prize_ppm: None,
    }
}

fn with_prizes(mut view: QuizView, prizes: Vec<crate::draws::store::Prize>) -> QuizView {
    let taken: i64 = prizes.iter().map(|p| i64::from(p.probability_ppm)).sum();
    view.no_prize_ppm = Some(i64::from(crate::draws::rules::MILLION) - taken);
    view.prizes = Some(prizes.into_iter().map(crate::draws::prize_view).collect());
    view
}

/// Loads a quiz for its organizers: 404 outside their subtree.
fn quiz_for_staff(conn: &mut DbConn, user: UserId, id: i64) -> ApiResult<Quiz> {
    let quiz = store::quiz(conn, id)?;
    auth::require_role_or_hide(conn, user, OrgId(quiz.org_id), Role::Organizer)?;
    Ok(quiz)
}

/// Loads a published quiz for members (drafts do not exist for them).
fn published_quiz(conn: &mut DbConn, id: i64) -> ApiResult<Quiz> {
    let quiz = store::quiz(conn, id)?;
    if quiz.status != "published" {
        return Err(ApiError::NotFound);
    }
    Ok(quiz)
}

pub fn frozen() -> ApiError {
    ApiError::Conflict {
        code: "quiz.frozen",
        detail: Text::new(
            "活动已发布，题目和规则不能再修改",
            "The quiz is published; its questions and rules are frozen",
        ),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuiz {
    pub org_id: i64,
    /// 2-100 characters.
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// RFC 3339 with an offset (`2026-11-23T08:00:00Z`).
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// 1-50.
    pub questions_per_attempt: i32,
    /// 10-3600.
    pub time_limit_secs: i32,
    pub pass_score: i32,
    /// 1-100, counted per calendar day in `time_zone`.
    pub max_attempts_per_day: i32,
    /// 0-10 draw chances per passed attempt.
    pub draws_per_pass: i32,
    pub audience: Audience,
    /// IANA zone of the campaign's calendar days; default `Asia/Shanghai`.
    pub time_zone: Option<String>,
}

/// Creates a draft campaign in an org the caller organizes.
#[utoipa::path(tag = "quizzes", request_body = CreateQuiz,
    responses((status = 201, body = QuizView), (status = 403), (status = 422)), security(("bearer" = [])))]
#[post(
    "/admin/quizzes",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn create_quiz(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateQuiz>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let mut fields = Fields::new();
    let title = fields.check(text_field("title", &b.title, 2, 100));
    let description = fields.check(text_field("description", &b.description, 0, 2000));
    let time_zone = fields.check(rules::parse_time_zone(
        b.time_zone.as_deref().unwrap_or("Asia/Shanghai"),
    ));
    let range = |field: &'static str, v: i32, lo: i32, hi: i32| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(FieldError::new(
                field,
                Text::owned(
                    format!("取值范围为 {lo}-{hi}"),
                    format!("must be between {lo} and {hi}"),
                ),
            ))
        }
    };
    fields.check(range(
        "questions_per_attempt",
        b.questions_per_attempt,
        1,
        50,
    ));
    fields.check(range("time_limit_secs", b.time_limit_secs, 10, 3600));
    fields.check(range(
        "pass_score",
        b.pass_score,
        0,
        rules::MAX_SCORE as i32,
    ));
    fields.check(range(
        "max_attempts_per_day",
        b.max_attempts_per_day,
        1,
        100,
    ));
    fields.check(range("draws_per_pass", b.draws_per_pass, 0, 10));
    if b.ends_at <= b.starts_at {
        fields.push(FieldError::new(
            "ends_at",
            Text::new("结束时间须晚于开始时间", "ends_at must be after starts_at"),
        ));
    }
    fields.finish()?;
    let (Some(title), Some(description), Some(time_zone)) = (title, description, time_zone) else {
        return Err(ApiError::internal("fields checked above"));
    };
    let new = NewQuiz {
        org_id: b.org_id,
        title,
        description,
        starts_at: b.starts_at.naive_utc(),
        ends_at: b.ends_at.naive_utc(),
        time_zone: time_zone.name().to_owned(),
        questions_per_attempt: b.questions_per_attempt,
        time_limit_secs: b.time_limit_secs,
        pass_score: b.pass_score,
        max_attempts_per_day: b.max_attempts_per_day,
        draws_per_pass: b.draws_per_pass,
        audience: match b.audience {
            Audience::Members => "members",
            Audience::Everyone => "everyone",
        },
        status: "draft",
        created_by: user.id.0,
        created_at: state.clock.now_naive(),
    };
    let quiz = state
        .db
        .run(move |c| -> ApiResult<Quiz> {
            auth::require_role_for_field(c, user.id, OrgId(new.org_id), Role::Organizer, "org_id")?;
            Ok(store::insert_quiz(c, &new)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(quiz_view(quiz, state.clock.now())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionsAdded {
    pub added: usize,
    /// Questions in the bank now.
    pub total: usize,
}

fn parse_questions(inputs: Vec<QuestionInput>) -> ApiResult<Vec<Question>> {
    if inputs.is_empty() || inputs.len() > 1000 {
        return Err(ApiError::validation(
            "questions",
            Text::new("一次提交 1-1000 道题", "send 1 to 1000 questions at a time"),
        ));
    }
    let mut questions = Vec::with_capacity(inputs.len());
    let mut errors = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        match Question::parse(input, &format!("[{i}]")) {
            Ok(q) => questions.push(q),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(questions)
    } else {
        Err(ApiError::Validation(errors))
    }
}

async fn store_questions(
    state: &AppState,
    user: AuthUser,
    id: i64,
    questions: Vec<Question>,
) -> ApiResult<QuestionsAdded> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| -> ApiResult<QuestionsAdded> {
            quiz_for_staff(c, user.id, id)?;
            if !store::add_questions(c, id, &questions, now)? {
                return Err(frozen());
            }
            Ok(QuestionsAdded {
                added: questions.len(),
                total: store::questions_of(c, id)?.len(),
            })
        })
        .await
}

/// Adds questions to a draft, all or none; every bad one is named (`[3].answer`).
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path)), request_body = Vec<QuestionInput>,
    responses((status = 201, body = QuestionsAdded), (status = 404), (status = 409, description = "quiz.frozen"), (status = 422)),
    security(("bearer" = [])))]
#[post("/admin/quizzes/{id}/questions")]
pub async fn add_questions(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<Vec<QuestionInput>>,
) -> ApiResult<HttpResponse> {
    let questions = parse_questions(body.0)?;
    Ok(HttpResponse::Created()
        .json(store_questions(&state, user, id.into_inner(), questions).await?))
}

/// Imports questions from CSV (`text/csv`, header `kind,text,options,answer,points,explanation`;
/// options `A:text|B:text`, answer `A|C`). All rows or none; errors name row and column (`rows[3].answer`).
/// Accepts `Idempotency-Key`: a file sent again with its key is added once.
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)), request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = QuestionsAdded), (status = 404), (status = 409), (status = 415), (status = 422)),
    security(("bearer" = [])))]
#[post(
    "/admin/quizzes/{id}/questions/import",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional_upload)"
)]
pub async fn import_questions(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = crate::http::read_csv(&req, payload, CSV_LIMIT).await?;
    let questions = rules::parse_csv(&body).map_err(ApiError::Validation)?;
    Ok(HttpResponse::Created()
        .json(store_questions(&state, user, id.into_inner(), questions).await?))
}

/// Publishes a draft: it needs at least `questions_per_attempt` questions; afterwards its
/// questions, rules and prizes are frozen.
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path)),
    responses((status = 200, body = QuizView), (status = 404), (status = 409, description = "quiz.no_questions, quiz.frozen")),
    security(("bearer" = [])))]
#[post("/admin/quizzes/{id}/publish")]
pub async fn publish_quiz(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let quiz = state
        .db
        .run(move |c| -> ApiResult<Quiz> {
            let quiz = quiz_for_staff(c, user.id, id)?;
            match store::publish(c, id, now)? {
                Publish::Done => Ok(store::quiz(c, id)?),
                Publish::AlreadyPublished => Err(frozen()),
                Publish::TooFewQuestions(n) => Err(ApiError::Conflict {
                    code: "quiz.no_questions",
                    detail: Text::owned(
                        format!(
                            "题库只有 {n} 道题，每次答题需要 {} 道",
                            quiz.questions_per_attempt
                        ),
                        format!(
                            "the bank has {n} questions; an attempt deals {}",
                            quiz.questions_per_attempt
                        ),
                    ),
                }),
                Publish::ScoreTooHigh(best) => Err(ApiError::Conflict {
                    code: "quiz.score_too_high",
                    detail: Text::owned(
                        format!("单次最高可得 {best} 分，不能超过 {}", rules::MAX_SCORE),
                        format!(
                            "an attempt could score {best}; at most {} is supported",
                            rules::MAX_SCORE
                        ),
                    ),
                }),
            }
        })
        .await?;
    tracing::info!(quiz_id = id, by = user.id.0, "quiz published");
    Ok(HttpResponse::Ok().json(quiz_view(quiz, state.clock.now())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `active` (default), `upcoming` or `ended`.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Published campaigns.
#[utoipa::path(tag = "quizzes", params(ListQuery), responses((status = 200, body = Paged<QuizView>), (status = 400)))]
#[get("/quizzes")]
pub async fn list_quizzes(
    state: web::Data<AppState>,
    query: Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let listing = match q.status.as_deref().unwrap_or("active") {
        "active" => Listing::Active,
        "upcoming" => Listing::Upcoming,
        "ended" => Listing::Ended,
        _ => {
            return Err(ApiError::invalid_query(
                "status",
                Text::new(
                    "status 应为 active、upcoming 或 ended",
                    "status must be active, upcoming or ended",
                ),
            ));
        }
    };
    let now = state.clock.now();
    let rows = state
        .db
        .run(move |c| -> ApiResult<Vec<Quiz>> {
            Ok(store::list_published(
                c,
                listing,
                now.naive_utc(),
                page.after,
                page.limit + 1,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(page.finish(rows, |q| q.id).map(|q| quiz_view(q, now))))
}

/// A published campaign's rules.
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path)), responses((status = 200, body = QuizView), (status = 404)))]
#[get("/quizzes/{id}")]
pub async fn get_quiz(state: web::Data<AppState>, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (quiz, prizes) = state
        .db
        .run(move |c| -> ApiResult<_> {
            Ok((
                published_quiz(c, id)?,
                crate::draws::store::prizes_of(c, id)?,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(with_prizes(quiz_view(quiz, state.clock.now()), prizes)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DealtQuestion {
    pub id: i64,
    pub kind: QuestionKind,
    pub text: String,
    /// In the order dealt for this attempt.
    pub options: Vec<QuizOption>,
    pub points: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt_id: i64,
    pub questions: Vec<DealtQuestion>,
    pub started_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

fn tz_of(quiz: &Quiz) -> Tz {
    quiz.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

/// Is the member allowed in a members-only campaign? An active membership in its org's subtree.
fn check_audience(conn: &mut DbConn, quiz: &Quiz, user: UserId) -> ApiResult<()> {
    if quiz.audience == "everyone" {
        return Ok(());
    }
    let quiz_path = orgs::org(conn, OrgId(quiz.org_id))?.path;
    match crate::enrollment::store::membership_of(conn, user)? {
        Some((_, org)) if org.path.starts_with(&quiz_path) => Ok(()),
        _ => Err(ApiError::Forbidden {
            code: "quiz.members_only",
            detail: Text::new(
                "本次答题仅限本工会会员参加",
                "This quiz is for members of the union only",
            ),
        }),
    }
}

/// Starts an attempt: N random questions with shuffled options and no answer key. A new
/// attempt abandons the member's open one. 429 `quiz.daily_limit` when today's are used up.
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path)),
    responses((status = 201, body = AttemptView), (status = 403), (status = 404), (status = 409, description = "quiz.not_active"), (status = 429, description = "quiz.daily_limit")),
    security(("bearer" = [])))]
#[post("/quizzes/{id}/attempts")]
pub async fn start_attempt(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    let view = state
        .db
        .run(move |c| -> ApiResult<AttemptView> {
            let quiz = published_quiz(c, id)?;
            if !rules::is_active(&quiz.status, utc(quiz.starts_at), utc(quiz.ends_at), now) {
                return Err(ApiError::Conflict {
                    code: "quiz.not_active",
                    detail: Text::new("活动未开始或已结束", "The quiz is not running now"),
                });
            }
            check_audience(c, &quiz, user.id)?;
            let bank = store::questions_of(c, id)?;
            let parsed: Vec<(i64, QuestionKind, Vec<QuizOption>)> = bank
                .iter()
                .map(|q| {
                    let options: Vec<QuizOption> =
                        serde_json::from_str(&q.options).unwrap_or_default();
                    (
                        q.id,
                        QuestionKind::parse(&q.kind).unwrap_or(QuestionKind::Single),
                        options,
                    )
                })
                .collect();
            let keys: Vec<(i64, QuestionKind, Vec<String>)> = parsed
                .iter()
                .map(|(id, kind, opts)| (*id, *kind, opts.iter().map(|o| o.key.clone()).collect()))
                .collect();
            let dealt = rules::deal(&keys, quiz.questions_per_attempt as usize);
            let (today, until_midnight) = rules::local_day(now, tz_of(&quiz));
            let deadline = now + TimeDelta::seconds(i64::from(quiz.time_limit_secs));
            let new = NewAttempt {
                quiz_id: id,
                user: user.id,
                layout: serde_json::to_string(&dealt).map_err(ApiError::internal)?,
                local_date: today.to_string(),
                started_at: now.naive_utc(),
                deadline: deadline.naive_utc(),
                max_per_day: quiz.max_attempts_per_day,
            };
            let Some(attempt) = store::start_attempt(c, &new)? else {
                return Err(ApiError::RateLimited {
                    code: "quiz.daily_limit",
                    detail: Text::owned(
                        format!(
                            "今天的 {} 次答题机会已用完，明天再来",
                            quiz.max_attempts_per_day
                        ),
                        format!(
                            "All {} attempts of today are used; come back tomorrow",
                            quiz.max_attempts_per_day
                        ),
                    ),
                    retry_after_secs: u64::try_from(until_midnight.num_seconds().max(1))
                        .unwrap_or(1),
                    limit: Some(u64::try_from(quiz.max_attempts_per_day).unwrap_or(0)),
                });
            };
            let by_id: HashMap<i64, &(i64, QuestionKind, Vec<QuizOption>)> =
                parsed.iter().map(|p| (p.0, p)).collect();
            let texts: HashMap<i64, (&str, i32)> = bank
                .iter()
                .map(|q| (q.id, (q.text.as_str(), q.points)))
                .collect();
            let questions = dealt
                .iter()
                .filter_map(|d| {
                    let (qid, kind, options) = by_id.get(&d.question_id)?;
                    let (text, points) = texts.get(qid)?;
                    let ordered = d
                        .options
                        .iter()
                        .filter_map(|k| options.iter().find(|o| &o.key == k).cloned())
                        .collect();
                    Some(DealtQuestion {
                        id: *qid,
                        kind: *kind,
                        text: (*text).to_owned(),
                        options: ordered,
                        points: *points,
                    })
                })
                .collect();
            Ok(AttemptView {
                attempt_id: attempt.id,
                questions,
                started_at: utc(attempt.started_at),
                deadline: utc(attempt.deadline),
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub question_id: i64,
    pub keys: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitAnswers {
    pub answers: Vec<Answer>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewItem {
    pub question_id: i64,
    pub correct: bool,
    /// The right keys.
    pub answer: Vec<String>,
    /// What was answered.
    pub keys: Vec<String>,
    pub explanation: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptResult {
    pub attempt_id: i64,
    pub score: i32,
    pub passed: bool,
    pub duration_ms: i64,
    pub draws_granted: i32,
    pub review: Vec<ReviewItem>,
}

/// Grades answers against the dealt layout; None for an answer key never dealt.
fn grade(
    layout: &[Dealt],
    bank: &[store::QuestionRow],
    answers: &[Answer],
) -> (i32, Vec<(i64, bool)>, Vec<ReviewItem>) {
    let given: HashMap<i64, &Vec<String>> =
        answers.iter().map(|a| (a.question_id, &a.keys)).collect();
    let mut score = 0;
    let mut results = Vec::new();
    let mut review = Vec::new();
    for d in layout {
        let Some(q) = bank.iter().find(|q| q.id == d.question_id) else {
            continue;
        };
        let key: Vec<String> = serde_json::from_str(&q.answer).unwrap_or_default();
        let keys = given.get(&q.id).map(|k| (*k).clone()).unwrap_or_default();
        let correct = rules::is_correct(&key, &keys);
        if correct {
            score += q.points;
        }
        results.push((q.id, correct));
        review.push(ReviewItem {
            question_id: q.id,
            correct,
            answer: key,
            keys,
            explanation: q.explanation.clone(),
        });
    }
    (score, results, review)
}

fn check_answers(layout: &[Dealt], answers: &[Answer]) -> ApiResult<()> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, a) in answers.iter().enumerate() {
        match layout.iter().find(|d| d.question_id == a.question_id) {
            None => errors.push(FieldError::new(
                format!("answers[{i}].question_id"),
                Text::new(
                    "该题不在本次答题中",
                    "This question was not dealt in this attempt",
                ),
            )),
            Some(_) if !seen.insert(a.question_id) => errors.push(FieldError::new(
                format!("answers[{i}].question_id"),
                Text::new("同一题重复作答", "The question is answered twice"),
            )),
            Some(d) => {
                let unique: HashSet<&String> = a.keys.iter().collect();
                if unique.len() != a.keys.len() || a.keys.iter().any(|k| !d.options.contains(k)) {
                    errors.push(FieldError::new(
                        format!("answers[{i}].keys"),
                        Text::new(
                            "选项不属于该题",
                            "keys must be options of the question, once each",
                        ),
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn result_of(attempt: &Attempt, bank: &[store::QuestionRow]) -> ApiResult<AttemptResult> {
    let layout: Vec<Dealt> = serde_json::from_str(&attempt.layout).map_err(ApiError::internal)?;
    let answers: Vec<Answer> = attempt
        .answers
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(ApiError::internal)?
        .unwrap_or_default();
    let (_, _, review) = grade(&layout, bank, &answers);
    Ok(AttemptResult {
        attempt_id: attempt.id,
        score: attempt.score.unwrap_or(0),
        passed: attempt.passed.unwrap_or(false),
        duration_ms: attempt.duration_ms.unwrap_or(0),
        draws_granted: attempt.draws_granted,
        review,
    })
}

fn leaderboard_key(state: &AppState, quiz: i64) -> String {
    state.keys.key(&format!("quiz:{quiz}"), "lb")
}

fn leaderboard_built_key(state: &AppState, quiz: i64) -> String {
    state.keys.key(&format!("quiz:{quiz}"), "lb:built")
}

/// Submits the answers. Scored on the server; a retry of the same attempt returns the same
/// result and never grants chances twice. After the deadline (plus 5 s): 409.
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = SubmitAnswers,
    responses((status = 200, body = AttemptResult), (status = 404), (status = 409, description = "quiz.attempt_expired, quiz.attempt_abandoned"), (status = 422)),
    security(("bearer" = [])))]
#[post(
    "/attempts/{id}/submit",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn submit_attempt(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<SubmitAnswers>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let answers = body.0.answers;
    let now = state.clock.now();
    let (result, quiz, fresh, granted) = state
        .db
        .run(move |c| -> ApiResult<(AttemptResult, Quiz, bool, i32)> {
            let attempt = store::attempt(c, id)?;
            if attempt.user_id != user.id.0 {
                return Err(ApiError::NotFound);
            }
            let quiz = store::quiz(c, attempt.quiz_id)?;
            let bank = store::questions_of(c, attempt.quiz_id)?;
            match attempt.status.as_str() {
                "submitted" => return Ok((result_of(&attempt, &bank)?, quiz, false, 0)),
                "abandoned" => {
                    return Err(ApiError::Conflict {
                        code: "quiz.attempt_abandoned",
                        detail: Text::new(
                            "已开始新的答题，本次答题作废",
                            "A newer attempt replaced this one",
                        ),
                    });
                }
                "expired" => return Err(expired()),
                _ => {}
            }
            if now.naive_utc() > attempt.deadline + GRACE {
                store::expire_attempt(c, id)?;
                return Err(expired());
            }
            let layout: Vec<Dealt> =
                serde_json::from_str(&attempt.layout).map_err(ApiError::internal)?;
            check_answers(&layout, &answers)?;
            let (score, results, _) = grade(&layout, &bank, &answers);
            let passed = score >= quiz.pass_score;
            let limit_ms = i64::from(quiz.time_limit_secs) * 1000;
            let duration_ms = (now.naive_utc() - attempt.started_at)
                .num_milliseconds()
                .clamp(0, limit_ms);
            let submission = Submission {
                attempt: &attempt,
                answers: serde_json::to_string(&answers).map_err(ApiError::internal)?,
                score,
                passed,
                duration_ms,
                draws: if passed { quiz.draws_per_pass } else { 0 },
                results,
                now: now.naive_utc(),
            };
            let fresh = store::submit(c, &submission)?;
            // Whoever won a race, the stored submission is the answer.
            let stored = store::attempt(c, id)?;
            if stored.status != "submitted" {
                return Err(expired());
            }
            let granted = if fresh && stored.draws_granted > 0 {
                store::chances(c, stored.quiz_id, user.id)?.0
            } else {
                0
            };
            Ok((result_of(&stored, &bank)?, quiz, fresh, granted))
        })
        .await?;
    if granted > 0 {
        // A member whose chances are already in the draw gate gets the new ones there;
        // should this fail, the draw path finds the difference in SQL and reloads.
        let gate = crate::draws::engine::gate_key(&state.keys, quiz.id);
        if let Err(err) = state
            .hot
            .gate_grant(&gate, user.id.0, i64::from(granted))
            .await
        {
            tracing::warn!(error = %err, quiz_id = quiz.id, "draw gate grant failed");
        }
    }
    if fresh {
        let since_start = (now - utc(quiz.starts_at)).num_seconds();
        let value = rank_value(i64::from(result.score), result.duration_ms, since_start);
        // The board is rebuilt from SQL if this write is lost; the submission already counts.
        if let Err(err) = state
            .hot
            .zset_if_higher(
                &leaderboard_key(&state, quiz.id),
                &user.id.0.to_string(),
                value,
            )
            .await
        {
            tracing::warn!(error = %err, quiz_id = quiz.id, "leaderboard update failed");
        }
    }
    Ok(HttpResponse::Ok().json(result))
}

fn expired() -> ApiError {
    ApiError::Conflict {
        code: "quiz.attempt_expired",
        detail: Text::new(
            "答题时间已到，本次提交无效",
            "Time is up; the attempt has expired",
        ),
    }
}

/// Makes sure the leaderboard exists in the hot store, rebuilding it from SQL when it was
/// lost (see [`crate::hot::ensure_built`]).
async fn ensure_leaderboard(state: &AppState, quiz: &Quiz) -> ApiResult<()> {
    let quiz_id = quiz.id;
    let starts = utc(quiz.starts_at);
    let built = leaderboard_built_key(state, quiz_id);
    let lock = state.keys.key(&format!("quiz:{quiz_id}"), "lb:lock");
    crate::hot::ensure_built(state.hot.as_ref(), &built, &lock, None, || async move {
        let rows = state
            .db
            .run(move |c| -> ApiResult<_> { Ok(store::submitted(c, quiz_id)?) })
            .await?;
        let mut best: HashMap<i64, f64> = HashMap::new();
        for (user, score, duration, at) in rows {
            let value = rank_value(i64::from(score), duration, (utc(at) - starts).num_seconds());
            let entry = best.entry(user).or_insert(value);
            *entry = entry.max(value);
        }
        let key = leaderboard_key(state, quiz_id);
        for (user, value) in best {
            state
                .hot
                .zset_if_higher(&key, &user.to_string(), value)
                .await?;
        }
        tracing::info!(quiz_id, "leaderboard rebuilt from SQL");
        Ok(())
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    /// 1-100, default 20.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoardEntry {
    /// 1-based.
    pub rank: u64,
    pub user: crate::users::PublicUser,
    pub score: i64,
    pub duration_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyRank {
    pub rank: u64,
    pub score: i64,
    pub duration_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Leaderboard {
    pub items: Vec<BoardEntry>,
    pub me: Option<MyRank>,
}

/// Best score per member, then shorter time, then earlier.
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path), BoardQuery), responses((status = 200, body = Leaderboard), (status = 404)), security(("bearer" = [])))]
#[get("/quizzes/{id}/leaderboard")]
pub async fn get_leaderboard(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<BoardQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = Page::parse(query.0.limit, None)?.limit;
    let quiz = state.db.run(move |c| published_quiz(c, id)).await?;
    ensure_leaderboard(&state, &quiz).await?;
    let (rows, mine) =
        crate::leaderboard::page(&state, &leaderboard_key(&state, id), limit, user.id).await?;
    let items = rows
        .into_iter()
        .map(|r| {
            let (score, duration_ms) = from_rank_value(r.value);
            BoardEntry {
                rank: r.rank,
                user: r.user,
                score,
                duration_ms,
            }
        })
        .collect();
    let me = mine.map(|m| {
        let (score, duration_ms) = from_rank_value(m.value);
        MyRank {
            rank: m.rank,
            score,
            duration_ms,
        }
    });
    Ok(HttpResponse::Ok().json(Leaderboard { items, me }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DrawChances {
    pub granted: i32,
    pub used: i32,
    pub remaining: i32,
}

/// The caller's draw chances in a campaign.
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path)), responses((status = 200, body = DrawChances), (status = 404)), security(("bearer" = [])))]
#[get("/quizzes/{id}/draw-chances")]
pub async fn get_draw_chances(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (granted, used) = state
        .db
        .run(move |c| -> ApiResult<(i32, i32)> {
            published_quiz(c, id)?;
            Ok(store::chances(c, id, user.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(DrawChances {
        granted,
        used,
        remaining: granted - used,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgParticipation {
    pub org_id: OrgId,
    pub name: String,
    /// Submitted attempts of members of this org and every org below it.
    pub participations: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgRanking {
    pub items: Vec<OrgParticipation>,
}

/// Participation per union, rolled up the org tree (each counts for the member's org and
/// every ancestor), most first.
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path)), responses((status = 200, body = OrgRanking), (status = 404)))]
#[get("/quizzes/{id}/org-ranking")]
pub async fn org_ranking(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let items = state
        .db
        .run(move |c| -> ApiResult<Vec<OrgParticipation>> {
            published_quiz(c, id)?;
            let mut totals: BTreeMap<i64, i64> = BTreeMap::new();
            for (path, n) in store::participation_by_org_path(c, id)? {
                for org in crate::orgs::rules::path_ids(&path) {
                    *totals.entry(org).or_default() += n;
                }
            }
            let mut items = Vec::with_capacity(totals.len());
            for (org, n) in totals {
                let name = orgs::org(c, OrgId(org))?.name;
                items.push(OrgParticipation {
                    org_id: OrgId(org),
                    name,
                    participations: n,
                });
            }
            items.sort_by(|a, b| {
                b.participations
                    .cmp(&a.participations)
                    .then(a.org_id.cmp(&b.org_id))
            });
            Ok(items)
        })
        .await?;
    Ok(HttpResponse::Ok().json(OrgRanking { items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionStat {
    pub question_id: i64,
    pub answered: i64,
    pub correct: i64,
    pub correct_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuizStatsView {
    pub participants: i64,
    /// Started attempts (including abandoned and expired ones).
    pub attempts: i64,
    pub submitted: i64,
    pub passed: i64,
    /// Passed / submitted.
    pub pass_rate: f64,
    pub average_duration_ms: Option<f64>,
    pub questions: Vec<QuestionStat>,
    /// Chances spent.
    pub draws: i64,
    /// Prizes won.
    pub wins: i64,
    /// Per prize: quantity, remaining.
    pub prizes: Vec<crate::draws::PrizeView>,
}

/// Campaign figures for its organizers.
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path)), responses((status = 200, body = QuizStatsView), (status = 404)), security(("bearer" = [])))]
#[get("/admin/quizzes/{id}/stats")]
pub async fn quiz_stats(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (s, draws, prizes) = state
        .db
        .run(move |c| -> ApiResult<_> {
            quiz_for_staff(c, user.id, id)?;
            Ok((
                store::stats(c, id)?,
                crate::draws::store::draw_count(c, id)?,
                crate::draws::store::prizes_of(c, id)?,
            ))
        })
        .await?;
    let rate = |a: i64, b: i64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    Ok(HttpResponse::Ok().json(QuizStatsView {
        participants: s.participants,
        attempts: s.attempts,
        submitted: s.submitted,
        passed: s.passed,
        pass_rate: rate(s.passed, s.submitted),
        average_duration_ms: s.average_duration_ms,
        questions: s
            .per_question
            .into_iter()
            .map(|(question_id, answered, correct)| QuestionStat {
                question_id,
                answered,
                correct,
                correct_rate: rate(correct, answered),
            })
            .collect(),
        draws,
        wins: prizes
            .iter()
            .map(|p| i64::from(p.quantity - p.remaining))
            .sum(),
        prizes: prizes.into_iter().map(crate::draws::prize_view).collect(),
    }))
}

/// Every submitted attempt as CSV (UTF-8 with BOM so spreadsheet programs read Chinese).
#[utoipa::path(tag = "quizzes", params(("id" = i64, Path)), responses((status = 200, content_type = "text/csv"), (status = 404)), security(("bearer" = [])))]
#[get("/admin/quizzes/{id}/results.csv")]
pub async fn export_results(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let rows = state
        .db
        .run(move |c| -> ApiResult<_> {
            quiz_for_staff(c, user.id, id)?;
            Ok(store::results(c, id)?)
        })
        .await?;
    let mut out = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    let write = |out: &mut csv::Writer<Vec<u8>>, record: &[String]| {
        out.write_record(record).map_err(ApiError::internal)
    };
    write(
        &mut out,
        &[
            "attempt_id",
            "user_id",
            "nickname",
            "score",
            "passed",
            "duration_ms",
            "submitted_at",
        ]
        .map(String::from),
    )?;
    for (a, nickname) in rows {
        write(
            &mut out,
            &[
                a.id.to_string(),
                a.user_id.to_string(),
                nickname,
                a.score.unwrap_or(0).to_string(),
                a.passed.unwrap_or(false).to_string(),
                a.duration_ms.unwrap_or(0).to_string(),
                a.submitted_at
                    .map(|t| utc(t).to_rfc3339())
                    .unwrap_or_default(),
            ],
        )?;
    }
    let body = out.into_inner().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"quiz-{id}-results.csv\""),
        ))
        .body(body))
}
