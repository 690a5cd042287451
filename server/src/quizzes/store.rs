//! SQL of quiz campaigns, questions, attempts, daily counters and draw chances.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel::sqlite::SqliteConnection;

use super::rules::Question;
use crate::db::schema::{
    draw_chances, enrollments, orgs, quiz_answer_results, quiz_attempts, quiz_questions, quizzes,
    users,
};
use crate::db::{DbConn, per_backend, write_tx};
use crate::domain::UserId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = quizzes)]
pub struct Quiz {
    pub id: i64,
    pub org_id: i64,
    pub title: String,
    pub description: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub time_zone: String,
    pub questions_per_attempt: i32,
    pub time_limit_secs: i32,
    pub pass_score: i32,
    pub max_attempts_per_day: i32,
    pub draws_per_pass: i32,
    pub audience: String,
    pub status: String,
    pub published_at: Option<NaiveDateTime>,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = quizzes)]
pub struct NewQuiz {
    pub org_id: i64,
    pub title: String,
    pub description: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub time_zone: String,
    pub questions_per_attempt: i32,
    pub time_limit_secs: i32,
    pub pass_score: i32,
    pub max_attempts_per_day: i32,
    pub draws_per_pass: i32,
    pub audience: &'static str,
    pub status: &'static str,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

pub fn insert_quiz(conn: &mut DbConn, new: &NewQuiz) -> QueryResult<Quiz> {
    let id: i64 = diesel::insert_into(quizzes::table)
        .values(new)
        .returning(quizzes::id)
        .get_result(conn)?;
    quiz(conn, id)
}

pub fn quiz(conn: &mut DbConn, id: i64) -> QueryResult<Quiz> {
    quizzes::table
        .find(id)
        .select(Quiz::as_select())
        .first(conn)
}

/// Which campaigns a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Active,
    Upcoming,
    Ended,
}

pub fn list_published(
    conn: &mut DbConn,
    listing: Listing,
    now: NaiveDateTime,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Quiz>> {
    let mut query = quizzes::table
        .filter(quizzes::status.eq("published"))
        .order(quizzes::id)
        .limit(limit)
        .select(Quiz::as_select())
        .into_boxed();
    query = match listing {
        Listing::Active => query
            .filter(quizzes::starts_at.le(now))
            .filter(quizzes::ends_at.gt(now)),
        Listing::Upcoming => query.filter(quizzes::starts_at.gt(now)),
        Listing::Ended => query.filter(quizzes::ends_at.le(now)),
    };
    if let Some(after) = after {
        query = query.filter(quizzes::id.gt(after));
    }
    query.load(conn)
}

/// Locks a draft for changing (a row lock on Postgres, the write lock on SQLite): false
/// when it is published and so frozen.
pub(crate) fn lock_draft(conn: &mut DbConn, quiz: i64) -> QueryResult<bool> {
    let locked = diesel::update(
        quizzes::table
            .find(quiz)
            .filter(quizzes::status.eq("draft")),
    )
    .set(quizzes::status.eq("draft"))
    .execute(conn)?;
    Ok(locked == 1)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = quiz_questions)]
pub struct QuestionRow {
    pub id: i64,
    pub quiz_id: i64,
    pub kind: String,
    pub text: String,
    pub options: String,
    pub answer: String,
    pub points: i32,
    pub explanation: String,
    pub created_at: NaiveDateTime,
}

/// Adds questions to a draft, all or none. False when the quiz is already published.
pub fn add_questions(
    conn: &mut DbConn,
    quiz: i64,
    questions: &[Question],
    now: NaiveDateTime,
) -> QueryResult<bool> {
    write_tx(conn, |c| {
        if !lock_draft(c, quiz)? {
            return Ok(false);
        }
        for q in questions {
            let options = serde_json::to_string(&q.options)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
            let answer = serde_json::to_string(&q.answer)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
            diesel::insert_into(quiz_questions::table)
                .values((
                    quiz_questions::quiz_id.eq(quiz),
                    quiz_questions::kind.eq(q.kind.as_str()),
                    quiz_questions::text.eq(&q.text),
                    quiz_questions::options.eq(options),
                    quiz_questions::answer.eq(answer),
                    quiz_questions::points.eq(q.points),
                    quiz_questions::explanation.eq(&q.explanation),
                    quiz_questions::created_at.eq(now),
                ))
                .execute(c)?;
        }
        Ok(true)
    })
}

pub fn questions_of(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<QuestionRow>> {
    quiz_questions::table
        .filter(quiz_questions::quiz_id.eq(quiz))
        .order(quiz_questions::id)
        .select(QuestionRow::as_select())
        .load(conn)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Publish {
    Done,
    AlreadyPublished,
    /// Fewer questions than one attempt deals.
    TooFewQuestions(i64),
    /// The best possible score would not fit the leaderboard.
    ScoreTooHigh(i64),
}

pub fn publish(conn: &mut DbConn, quiz_id: i64, now: NaiveDateTime) -> QueryResult<Publish> {
    write_tx(conn, |c| {
        if !lock_draft(c, quiz_id)? {
            return Ok(Publish::AlreadyPublished);
        }
        let q = quiz(c, quiz_id)?;
        let mut points: Vec<i32> = quiz_questions::table
            .filter(quiz_questions::quiz_id.eq(quiz_id))
            .select(quiz_questions::points)
            .load(c)?;
        let count = points.len() as i64;
        if count < i64::from(q.questions_per_attempt) {
            return Ok(Publish::TooFewQuestions(count));
        }
        points.sort_unstable_by(|a, b| b.cmp(a));
        let best: i64 = points
            .iter()
            .take(q.questions_per_attempt as usize)
            .map(|p| i64::from(*p))
            .sum();
        if best > super::rules::MAX_SCORE {
            return Ok(Publish::ScoreTooHigh(best));
        }
        diesel::update(quizzes::table.find(quiz_id))
            .set((
                quizzes::status.eq("published"),
                quizzes::published_at.eq(Some(now)),
            ))
            .execute(c)?;
        Ok(Publish::Done)
    })
}

// --- attempts ------------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = quiz_attempts)]
pub struct Attempt {
    pub id: i64,
    pub quiz_id: i64,
    pub user_id: i64,
    pub status: String,
    pub layout: String,
    pub local_date: String,
    pub started_at: NaiveDateTime,
    pub deadline: NaiveDateTime,
    pub submitted_at: Option<NaiveDateTime>,
    pub score: Option<i32>,
    pub passed: Option<bool>,
    pub duration_ms: Option<i64>,
    pub draws_granted: i32,
    pub answers: Option<String>,
}

#[derive(Debug, QueryableByName)]
struct Started {
    #[diesel(sql_type = Integer)]
    started: i32,
}

/// Counts one more attempt of the day unless `max` were already started: an upsert with a
/// condition, so two attempts at the same moment cannot both take the last one.
fn count_daily_attempt(
    conn: &mut DbConn,
    quiz: i64,
    user: UserId,
    day: &str,
    max: i32,
) -> QueryResult<bool> {
    let day_pg = day.to_owned();
    let started = per_backend(
        conn,
        |c: &mut PgConnection| {
            diesel::sql_query(
                "INSERT INTO quiz_daily_attempts (quiz_id, user_id, local_date, started) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (quiz_id, user_id, local_date)
                 DO UPDATE SET started = quiz_daily_attempts.started + 1 WHERE quiz_daily_attempts.started < $4
                 RETURNING started",
            )
            .bind::<BigInt, _>(quiz)
            .bind::<BigInt, _>(user.0)
            .bind::<Text, _>(day_pg)
            .bind::<Integer, _>(max)
            .get_result::<Started>(c)
            .optional()
        },
        |c: &mut SqliteConnection| {
            diesel::sql_query(
                "INSERT INTO quiz_daily_attempts (quiz_id, user_id, local_date, started) VALUES (?, ?, ?, 1)
                 ON CONFLICT (quiz_id, user_id, local_date)
                 DO UPDATE SET started = started + 1 WHERE started < ?
                 RETURNING started",
            )
            .bind::<BigInt, _>(quiz)
            .bind::<BigInt, _>(user.0)
            .bind::<Text, _>(day.to_owned())
            .bind::<Integer, _>(max)
            .get_result::<Started>(c)
            .optional()
        },
    )?;
    Ok(started.is_some_and(|s| s.started <= max))
}

pub struct NewAttempt {
    pub quiz_id: i64,
    pub user: UserId,
    pub layout: String,
    pub local_date: String,
    pub started_at: NaiveDateTime,
    pub deadline: NaiveDateTime,
    pub max_per_day: i32,
}

/// Starts an attempt: counts it against the day (None when the day's attempts are used
/// up) and abandons the member's open attempt, if any.
pub fn start_attempt(conn: &mut DbConn, new: &NewAttempt) -> QueryResult<Option<Attempt>> {
    write_tx(conn, |c| {
        if !count_daily_attempt(c, new.quiz_id, new.user, &new.local_date, new.max_per_day)? {
            return Ok(None);
        }
        diesel::update(
            quiz_attempts::table
                .filter(quiz_attempts::quiz_id.eq(new.quiz_id))
                .filter(quiz_attempts::user_id.eq(new.user.0))
                .filter(quiz_attempts::status.eq("open")),
        )
        .set(quiz_attempts::status.eq("abandoned"))
        .execute(c)?;
        let id: i64 = diesel::insert_into(quiz_attempts::table)
            .values((
                quiz_attempts::quiz_id.eq(new.quiz_id),
                quiz_attempts::user_id.eq(new.user.0),
                quiz_attempts::status.eq("open"),
                quiz_attempts::layout.eq(&new.layout),
                quiz_attempts::local_date.eq(&new.local_date),
                quiz_attempts::started_at.eq(new.started_at),
                quiz_attempts::deadline.eq(new.deadline),
            ))
            .returning(quiz_attempts::id)
            .get_result(c)?;
        attempt(c, id).map(Some)
    })
}

pub fn attempt(conn: &mut DbConn, id: i64) -> QueryResult<Attempt> {
    quiz_attempts::table
        .find(id)
        .select(Attempt::as_select())
        .first(conn)
}

pub fn expire_attempt(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(
        quiz_attempts::table
            .find(id)
            .filter(quiz_attempts::status.eq("open")),
    )
    .set(quiz_attempts::status.eq("expired"))
    .execute(conn)
    .map(drop)
}

pub struct Submission<'a> {
    pub attempt: &'a Attempt,
    pub answers: String,
    pub score: i32,
    pub passed: bool,
    pub duration_ms: i64,
    pub draws: i32,
    pub results: Vec<(i64, bool)>,
    pub now: NaiveDateTime,
}

/// Records a submission once: the attempt moves from open to submitted in a guarded
/// UPDATE, and only the request that moved it stores the results and grants the chances.
/// False when another request submitted it first.
pub fn submit(conn: &mut DbConn, s: &Submission<'_>) -> QueryResult<bool> {
    write_tx(conn, |c| {
        let moved = diesel::update(
            quiz_attempts::table
                .find(s.attempt.id)
                .filter(quiz_attempts::status.eq("open")),
        )
        .set((
            quiz_attempts::status.eq("submitted"),
            quiz_attempts::submitted_at.eq(Some(s.now)),
            quiz_attempts::score.eq(Some(s.score)),
            quiz_attempts::passed.eq(Some(s.passed)),
            quiz_attempts::duration_ms.eq(Some(s.duration_ms)),
            quiz_attempts::draws_granted.eq(s.draws),
            quiz_attempts::answers.eq(Some(&s.answers)),
        ))
        .execute(c)?;
        if moved != 1 {
            return Ok(false);
        }
        for (question_id, correct) in &s.results {
            diesel::insert_into(quiz_answer_results::table)
                .values((
                    quiz_answer_results::attempt_id.eq(s.attempt.id),
                    quiz_answer_results::question_id.eq(question_id),
                    quiz_answer_results::quiz_id.eq(s.attempt.quiz_id),
                    quiz_answer_results::correct.eq(correct),
                ))
                .execute(c)?;
        }
        if s.draws > 0 {
            grant_chances(c, s.attempt.quiz_id, UserId(s.attempt.user_id), s.draws)?;
        }
        Ok(true)
    })
}

fn grant_chances(conn: &mut DbConn, quiz: i64, user: UserId, n: i32) -> QueryResult<()> {
    use draw_chances::dsl as d;
    per_backend(
        conn,
        |c: &mut PgConnection| {
            diesel::insert_into(d::draw_chances)
                .values((
                    d::quiz_id.eq(quiz),
                    d::user_id.eq(user.0),
                    d::granted.eq(n),
                    d::used.eq(0),
                ))
                .on_conflict((d::quiz_id, d::user_id))
                .do_update()
                .set(d::granted.eq(d::granted + n))
                .execute(c)
        },
        |c: &mut SqliteConnection| {
            diesel::insert_into(d::draw_chances)
                .values((
                    d::quiz_id.eq(quiz),
                    d::user_id.eq(user.0),
                    d::granted.eq(n),
                    d::used.eq(0),
                ))
                .on_conflict((d::quiz_id, d::user_id))
                .do_update()
                .set(d::granted.eq(d::granted + n))
                .execute(c)
        },
    )
    .map(drop)
}

/// (granted, used)
pub fn chances(conn: &mut DbConn, quiz: i64, user: UserId) -> QueryResult<(i32, i32)> {
    Ok(draw_chances::table
        .find((quiz, user.0))
        .select((draw_chances::granted, draw_chances::used))
        .first(conn)
        .optional()?
        .unwrap_or((0, 0)))
}

/// Every submitted attempt's (user, score, duration, submitted_at), to rebuild the board.
pub fn submitted(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<(i64, i32, i64, NaiveDateTime)>> {
    type Row = (i64, Option<i32>, Option<i64>, Option<NaiveDateTime>);
    let rows: Vec<Row> = quiz_attempts::table
        .filter(quiz_attempts::quiz_id.eq(quiz))
        .filter(quiz_attempts::status.eq("submitted"))
        .select((
            quiz_attempts::user_id,
            quiz_attempts::score,
            quiz_attempts::duration_ms,
            quiz_attempts::submitted_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(u, s, d, t)| Some((u, s?, d?, t?)))
        .collect())
}

// --- stats ---------------------------------------------------------------------------------

pub struct QuizStats {
    pub participants: i64,
    pub attempts: i64,
    pub submitted: i64,
    pub passed: i64,
    pub average_duration_ms: Option<f64>,
    /// (question id, answered, correct)
    pub per_question: Vec<(i64, i64, i64)>,
}

pub fn stats(conn: &mut DbConn, quiz: i64) -> QueryResult<QuizStats> {
    let of_quiz = quiz_attempts::quiz_id.eq(quiz);
    let attempts: i64 = quiz_attempts::table
        .filter(of_quiz)
        .count()
        .get_result(conn)?;
    let participants: i64 = quiz_attempts::table
        .filter(of_quiz)
        .filter(quiz_attempts::status.eq("submitted"))
        .select(diesel::dsl::count(quiz_attempts::user_id).aggregate_distinct())
        .first(conn)?;
    let durations: Vec<(Option<i64>, Option<bool>)> = quiz_attempts::table
        .filter(of_quiz)
        .filter(quiz_attempts::status.eq("submitted"))
        .select((quiz_attempts::duration_ms, quiz_attempts::passed))
        .load(conn)?;
    let submitted = durations.len() as i64;
    let passed = durations.iter().filter(|(_, p)| *p == Some(true)).count() as i64;
    let total: i64 = durations.iter().filter_map(|(d, _)| *d).sum();
    let average_duration_ms = (submitted > 0).then(|| total as f64 / submitted as f64);
    let answered: Vec<(i64, i64)> = quiz_answer_results::table
        .filter(quiz_answer_results::quiz_id.eq(quiz))
        .group_by(quiz_answer_results::question_id)
        .select((quiz_answer_results::question_id, count_star()))
        .load(conn)?;
    let correct: Vec<(i64, i64)> = quiz_answer_results::table
        .filter(quiz_answer_results::quiz_id.eq(quiz))
        .filter(quiz_answer_results::correct.eq(true))
        .group_by(quiz_answer_results::question_id)
        .select((quiz_answer_results::question_id, count_star()))
        .load(conn)?;
    let per_question = answered
        .into_iter()
        .map(|(q, n)| {
            (
                q,
                n,
                correct.iter().find(|(c, _)| *c == q).map_or(0, |(_, k)| *k),
            )
        })
        .collect();
    Ok(QuizStats {
        participants,
        attempts,
        submitted,
        passed,
        average_duration_ms,
        per_question,
    })
}

/// Submitted attempts with the member's nickname, for the CSV export.
pub fn results(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<(Attempt, String)>> {
    quiz_attempts::table
        .inner_join(users::table)
        .filter(quiz_attempts::quiz_id.eq(quiz))
        .filter(quiz_attempts::status.eq("submitted"))
        .order(quiz_attempts::id)
        .select((Attempt::as_select(), users::nickname))
        .load(conn)
}

/// Submitted attempts per member org path (members only; others belong to no org).
pub fn participation_by_org_path(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<(String, i64)>> {
    quiz_attempts::table
        .inner_join(
            enrollments::table.on(enrollments::user_id
                .eq(quiz_attempts::user_id)
                .and(enrollments::status.eq("approved"))),
        )
        .inner_join(orgs::table.on(orgs::id.eq(enrollments::org_id)))
        .filter(quiz_attempts::quiz_id.eq(quiz))
        .filter(quiz_attempts::status.eq("submitted"))
        .group_by(orgs::path)
        .select((orgs::path, count_star()))
        .load(conn)
}
