//! Huigong's load generator: ceilings and user journeys back to back against one running
//! server, each for the same time with the same users, then one table of req/s, p50, p99,
//! errors and each journey's ratio to its ceiling.
//!
//! `huigong-load --host http://127.0.0.1:18080 [--seconds 10] [--users 32] [--rounds 1] [--smoke] [--only NAME]`
//! The server must run with `HUIGONG_BENCH_ENDPOINTS=true` (see run.sh, which does it all).

use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

mod wechat;

use goose::config::GooseConfiguration;
use goose::prelude::*;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Value, json};

static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
static REFRESH_TOKENS: OnceLock<Vec<String>> = OnceLock::new();
static QUIZ: OnceLock<i64> = OnceLock::new();
static READERS: OnceLock<Vec<String>> = OnceLock::new();
static READING: OnceLock<i64> = OnceLock::new();
static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(0);
static NEXT_REFRESH: AtomicUsize = AtomicUsize::new(0);
static NEXT_READER: AtomicUsize = AtomicUsize::new(0);
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

/// Where the synthetic stations cluster (`huigong seed-demo --stations N`), GCJ-02.
const CITIES: [(f64, f64); 8] = [
    (39.9042, 116.4074),
    (31.2304, 121.4737),
    (23.1291, 113.2644),
    (22.5431, 114.0579),
    (30.5728, 104.0668),
    (30.2741, 120.1551),
    (29.0991, 119.6985),
    (37.7297, 117.2317),
];

#[derive(Clone)]
struct Session {
    token: String,
    refresh: String,
}

/// Each simulated member takes one of the fixture's tokens.
async fn sign_in(user: &mut GooseUser) -> TransactionResult {
    let tokens = TOKENS.get().map(Vec::as_slice).unwrap_or_default();
    let token = tokens
        .get(NEXT_TOKEN.fetch_add(1, Ordering::Relaxed) % tokens.len().max(1))
        .cloned()
        .unwrap_or_default();
    user.set_session_data(Session {
        token,
        refresh: String::new(),
    });
    Ok(())
}

/// The next of a list of fixture tokens, round robin.
fn next_of(list: &OnceLock<Vec<String>>, counter: &AtomicUsize) -> String {
    let list = list.get().map(Vec::as_slice).unwrap_or_default();
    list.get(counter.fetch_add(1, Ordering::Relaxed) % list.len().max(1))
        .cloned()
        .unwrap_or_default()
}

/// One request with an explicit token and JSON body; the answer read as `T` when it
/// succeeded. Journeys that only need to know it worked read it as `IgnoredAny`: the JSON is
/// still checked in full, but not built into a tree (which, for a 10 KB station list, cost
/// the generator more than the server spent answering).
async fn send<T: DeserializeOwned>(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    token: &str,
    body: Option<Value>,
    idempotency: bool,
) -> Result<Option<T>, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&method, path)?;
    if !token.is_empty() {
        builder = builder.bearer_auth(token);
    }
    if idempotency {
        let key = format!("load-{}", NEXT_KEY.fetch_add(1, Ordering::Relaxed));
        builder = builder.header("Idempotency-Key", key);
    }
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    let mut goose = user.request(request).await?;
    match goose.response {
        // A success whose body is cut short or is not JSON counts as a failure.
        Ok(res) if res.status().is_success() => match res.json::<T>().await {
            Ok(answer) => Ok(Some(answer)),
            Err(e) => user
                .set_failure(&format!("{name}: {e}"), &mut goose.request, None, None)
                .map(|()| None),
        },
        _ => Ok(None),
    }
}

fn token(user: &GooseUser) -> String {
    user.get_session_data::<Session>()
        .map(|s| s.token.clone())
        .unwrap_or_default()
}

/// A request as this goose user's member; POSTs carry a fresh Idempotency-Key (draws
/// require one; the bench endpoints ignore it).
async fn call(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
) -> TransactionResult {
    let token = token(user);
    let post = method == GooseMethod::Post;
    send::<IgnoredAny>(user, method, path, name, &token, None, post).await?;
    Ok(())
}

async fn ceiling_json(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Get,
        "/api/v1/_bench/json",
        "ceiling json",
    )
    .await
}

async fn ceiling_lua(user: &mut GooseUser) -> TransactionResult {
    call(user, GooseMethod::Post, "/api/v1/_bench/lua", "ceiling lua").await
}

async fn ceiling_insert(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Post,
        "/api/v1/_bench/insert",
        "ceiling insert",
    )
    .await
}

async fn draw(user: &mut GooseUser) -> TransactionResult {
    let path = format!("/api/v1/quizzes/{}/draws", QUIZ.get().copied().unwrap_or(0));
    call(user, GooseMethod::Post, &path, "draw").await
}

async fn leaderboard(user: &mut GooseUser) -> TransactionResult {
    let path = format!(
        "/api/v1/quizzes/{}/leaderboard?limit=20",
        QUIZ.get().copied().unwrap_or(0)
    );
    call(user, GooseMethod::Get, &path, "leaderboard").await
}

async fn job_search(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Get,
        "/api/v1/job-postings?q=%E5%8F%B8%E6%9C%BA&limit=20",
        "job search",
    )
    .await
}

/// A WeChat login (`wx.login()` code -> our server -> jscode2session on the local stand-in
/// -> member found or created -> a new session). Codes cycle over 2,000 members, so most
/// logins are returning members and the first ones sign up.
async fn wechat_login(user: &mut GooseUser) -> TransactionResult {
    let n = NEXT_KEY.fetch_add(1, Ordering::Relaxed) % 2_000;
    let body = json!({"code": format!("code{n}")});
    send::<IgnoredAny>(
        user,
        GooseMethod::Post,
        "/api/v1/auth/wechat",
        "login (wechat)",
        "",
        Some(body),
        false,
    )
    .await?;
    Ok(())
}

/// A member opening the app: the refresh token is traded for a new pair (a rotation with
/// reuse detection), as every app start does.
async fn login(user: &mut GooseUser) -> TransactionResult {
    let mut session = user
        .get_session_data::<Session>()
        .cloned()
        .unwrap_or(Session {
            token: String::new(),
            refresh: String::new(),
        });
    if session.refresh.is_empty() {
        session.refresh = next_of(&REFRESH_TOKENS, &NEXT_REFRESH);
    }
    let body = json!({"refresh_token": session.refresh});
    let answer = send::<Value>(
        user,
        GooseMethod::Post,
        "/api/v1/auth/refresh",
        "login (refresh)",
        "",
        Some(body),
        false,
    )
    .await?;
    session.refresh = answer
        .and_then(|a| a["refresh_token"].as_str().map(str::to_owned))
        .unwrap_or_default();
    user.set_session_data(session);
    Ok(())
}

/// Start an attempt, answer every question with its first option, submit. Each round uses
/// the next member, so nobody reaches the daily attempt limit.
async fn quiz(user: &mut GooseUser) -> TransactionResult {
    let token = next_of(&TOKENS, &NEXT_TOKEN);
    let path = format!(
        "/api/v1/quizzes/{}/attempts",
        QUIZ.get().copied().unwrap_or(0)
    );
    let Some(attempt) = send::<Value>(
        user,
        GooseMethod::Post,
        &path,
        "quiz attempt",
        &token,
        None,
        false,
    )
    .await?
    else {
        return Ok(());
    };
    let answers: Vec<Value> = attempt["questions"]
        .as_array()
        .map(|qs| {
            qs.iter()
                .map(|q| json!({"question_id": q["id"], "keys": [q["options"][0]["key"]]}))
                .collect()
        })
        .unwrap_or_default();
    let path = format!("/api/v1/attempts/{}/submit", attempt["attempt_id"]);
    send::<IgnoredAny>(
        user,
        GooseMethod::Post,
        &path,
        "quiz submit",
        &token,
        Some(json!({"answers": answers})),
        false,
    )
    .await?;
    Ok(())
}

/// Today's reading check-in, each by a member who has not checked in yet today.
async fn reading_checkin(user: &mut GooseUser) -> TransactionResult {
    let token = next_of(&READERS, &NEXT_READER);
    let path = format!(
        "/api/v1/reading-campaigns/{}/checkins",
        READING.get().copied().unwrap_or(0)
    );
    let body = json!({"book_title": "平凡的世界", "minutes": 30, "note": ""});
    send::<IgnoredAny>(
        user,
        GooseMethod::Post,
        &path,
        "reading check-in",
        &token,
        Some(body),
        false,
    )
    .await?;
    Ok(())
}

/// A rider somewhere in a city asks for the 20 nearest stations within 5 km.
async fn nearby(user: &mut GooseUser) -> TransactionResult {
    let n = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    let (lat, lng) = CITIES[(n % CITIES.len() as u64) as usize];
    // A cheap spread of points over about 20 km around the centre.
    let (dlat, dlng) = (
        ((n * 7919) % 2001) as f64 / 10_000.0 - 0.1,
        ((n * 104_729) % 2001) as f64 / 10_000.0 - 0.1,
    );
    let path = format!(
        "/api/v1/stations/nearby?lat={:.5}&lng={:.5}&radius_m=5000&limit=20",
        lat + dlat,
        lng + dlng
    );
    send::<IgnoredAny>(
        user,
        GooseMethod::Get,
        &path,
        "nearby stations",
        "",
        None,
        false,
    )
    .await?;
    Ok(())
}

/// One measured run of one scenario.
struct Row {
    name: &'static str,
    ceiling: Option<&'static str>,
    requests: usize,
    errors: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Row {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

struct Plan {
    host: String,
    seconds: usize,
    users: usize,
    /// Run only the scenarios whose name contains this (the ceilings always run).
    only: Option<String>,
    /// Each scenario's `seconds` in this many slices, run round-robin over all scenarios:
    /// a journey and its ceiling then share the machine's good and bad minutes alike.
    rounds: usize,
}

async fn measure(
    plan: &Plan,
    name: &'static str,
    ceiling: Option<&'static str>,
    transaction: Transaction,
    seconds: usize,
) -> Result<Row, GooseError> {
    let scenario = scenario!("run")
        .register_transaction(transaction!(sign_in).set_on_start())
        .register_transaction(transaction);
    let metrics = GooseAttack::initialize_with_config(GooseConfiguration::default())?
        .register_scenario(scenario)
        .set_default(GooseDefault::Host, plan.host.as_str())?
        .set_default(GooseDefault::Users, plan.users)?
        .set_default(GooseDefault::IncreaseRate, plan.users.to_string().as_str())?
        .set_default(GooseDefault::RunTime, seconds)?
        .set_default(GooseDefault::NoPrintMetrics, true)?
        .set_default(GooseDefault::NoErrorSummary, true)?
        .set_default(GooseDefault::NoTelnet, true)?
        // Count the ramp-up too: an error in the first second is still an error.
        .set_default(GooseDefault::NoResetMetrics, true)?
        .set_default(GooseDefault::Quiet, 1)?
        .execute()
        .await?;
    let (mut requests, mut errors, mut p50, mut p99) = (0, 0, 0.0, 0.0);
    // A journey of several requests reports the slower request's percentiles.
    for aggregate in metrics.requests.values() {
        requests += aggregate.raw_data.counter;
        errors += aggregate.fail_count;
        p50 = f64::max(p50, aggregate.raw_data.percentile_us(0.50) as f64 / 1000.0);
        p99 = f64::max(p99, aggregate.raw_data.percentile_us(0.99) as f64 / 1000.0);
    }
    Ok(Row {
        name,
        ceiling,
        requests,
        errors,
        seconds: metrics.duration.max(1) as f64,
        p50_ms: p50,
        p99_ms: p99,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One scenario over all rounds: what the table shows.
struct Summary {
    name: &'static str,
    /// The ceiling's name and the median over rounds of this scenario's req/s divided by
    /// the ceiling's req/s in the same round.
    ratio: Option<(&'static str, f64)>,
    /// The median ratio to ceiling insert (draws only).
    insert_ratio: Option<f64>,
    requests: usize,
    errors: usize,
    rps: f64,
    /// The median of the rounds' medians, and the worst round's p99.
    p50_ms: f64,
    p99_ms: f64,
}

/// `rounds[r]` holds round r's rows, in the same order every round.
fn summarize(rounds: &[Vec<Row>]) -> Vec<Summary> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    let per_round = |name: &str, ceiling: &str| -> Option<f64> {
        let ratios: Vec<f64> = rounds
            .iter()
            .filter_map(|round| {
                let rps = |n: &str| round.iter().find(|r| r.name == n).map(Row::rps);
                Some(rps(name)? / rps(ceiling).filter(|c| *c > 0.0)?)
            })
            .collect();
        (!ratios.is_empty()).then(|| median(ratios))
    };
    first
        .iter()
        .map(|row| {
            let all: Vec<&Row> = rounds
                .iter()
                .flatten()
                .filter(|r| r.name == row.name)
                .collect();
            let requests: usize = all.iter().map(|r| r.requests).sum();
            let seconds: f64 = all.iter().map(|r| r.seconds).sum();
            Summary {
                name: row.name,
                ratio: row
                    .ceiling
                    .and_then(|c| per_round(row.name, c).map(|x| (c, x))),
                insert_ratio: (row.name == "draw")
                    .then(|| per_round(row.name, "ceiling insert"))
                    .flatten(),
                requests,
                errors: all.iter().map(|r| r.errors).sum(),
                rps: requests as f64 / seconds.max(1.0),
                p50_ms: median(all.iter().map(|r| r.p50_ms).collect()),
                p99_ms: all.iter().map(|r| r.p99_ms).fold(0.0, f64::max),
            }
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn fixture(host: &str, members: usize, readers: usize) -> Result<(), String> {
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{host}/api/v1/_bench/reading-campaign"))
        .json(&json!({"members": readers}))
        .send()
        .await
        .map_err(|e| format!("fixture: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("reading fixture: {}", res.status()));
    }
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    READERS.set(strings(&body["tokens"])).ok();
    READING.set(body["campaign_id"].as_i64().unwrap_or(0)).ok();
    let res = client
        .post(format!("{host}/api/v1/_bench/draw-campaign"))
        .json(&json!({"members": members, "chances": 1_000_000}))
        .send()
        .await
        .map_err(|e| format!("fixture: {e}"))?;
    if !res.status().is_success() {
        return Err(format!(
            "fixture: {} (is HUIGONG_BENCH_ENDPOINTS=true?)",
            res.status()
        ));
    }
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    TOKENS.set(strings(&body["tokens"])).ok();
    REFRESH_TOKENS.set(strings(&body["refresh_tokens"])).ok();
    // A campaign's draw gate and leaderboard are built from SQL on first use (concurrent
    // first callers get 503 and retry); build them before measuring, as a launch would.
    let quiz = body["quiz_id"].as_i64().unwrap_or(0);
    let first = TOKENS
        .get()
        .and_then(|t| t.first())
        .cloned()
        .unwrap_or_default();
    for (path, key) in [
        (
            format!("{host}/api/v1/quizzes/{quiz}/draws"),
            Some("warm-up"),
        ),
        (
            format!("{host}/api/v1/quizzes/{quiz}/leaderboard?limit=20"),
            None,
        ),
    ] {
        let request = match key {
            Some(k) => client.post(&path).header("Idempotency-Key", k),
            None => client.get(&path),
        };
        let res = request
            .bearer_auth(&first)
            .send()
            .await
            .map_err(|e| format!("warm-up: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("warm-up {path}: {}", res.status()));
        }
    }
    QUIZ.set(body["quiz_id"].as_i64().unwrap_or(0)).ok();
    Ok(())
}

fn parse_args() -> Result<(Plan, bool), String> {
    let mut args = std::env::args().skip(1);
    let mut plan = Plan {
        host: "http://127.0.0.1:18080".into(),
        seconds: 10,
        users: 32,
        only: None,
        rounds: 1,
    };
    let mut smoke = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--host" => plan.host = value("--host")?,
            "--seconds" => {
                plan.seconds = value("--seconds")?
                    .parse()
                    .map_err(|_| "--seconds: a number")?
            }
            "--users" => plan.users = value("--users")?.parse().map_err(|_| "--users: a number")?,
            "--smoke" => smoke = true,
            "--only" => plan.only = Some(value("--only")?),
            "--rounds" => {
                plan.rounds = value("--rounds")?
                    .parse()
                    .ok()
                    .filter(|r| *r >= 1)
                    .ok_or("--rounds: a number, 1 or more")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if smoke {
        plan.seconds = 2;
        plan.users = 4;
        plan.rounds = 1;
    }
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if !loopback.iter().any(|p| plan.host.starts_with(p)) {
        return Err("the load generator only targets loopback (http://127.0.0.1:PORT)".into());
    }
    Ok((plan, smoke))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("mock-wechat") {
        let port = args
            .iter()
            .position(|a| a == "--port")
            .and_then(|i| args.get(i + 1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(18_081);
        return match wechat::serve(port).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("huigong-load mock-wechat: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let (plan, smoke) = match parse_args() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("huigong-load: {e}");
            return ExitCode::from(2);
        }
    };
    // Every check-in needs a member who has not checked in today: enough for the run.
    // 5,000 a second ran out on 2026-12-06 (5.2k check-ins/s embedded, each one past the
    // last member a 409 counted as an error).
    let readers = (plan.seconds * 10_000).min(300_000);
    eprintln!("huigong-load: fixtures (1000 members with draw chances, {readers} readers)");
    if let Err(e) = fixture(&plan.host, 1_000.max(plan.users), readers).await {
        eprintln!("huigong-load: {e}");
        return ExitCode::FAILURE;
    }
    let mut runs: Vec<(&'static str, Option<&'static str>, Transaction)> = vec![
        ("ceiling json", None, transaction!(ceiling_json)),
        ("ceiling lua", None, transaction!(ceiling_lua)),
        ("ceiling insert", None, transaction!(ceiling_insert)),
        ("draw", Some("ceiling lua"), transaction!(draw)),
        (
            "leaderboard",
            Some("ceiling lua"),
            transaction!(leaderboard),
        ),
        ("job search", Some("ceiling json"), transaction!(job_search)),
        (
            "nearby stations",
            Some("ceiling json"),
            transaction!(nearby),
        ),
        (
            "login (wechat)",
            Some("ceiling insert"),
            transaction!(wechat_login),
        ),
        (
            "login (refresh)",
            Some("ceiling insert"),
            transaction!(login),
        ),
        (
            "quiz attempt + submit",
            Some("ceiling insert"),
            transaction!(quiz),
        ),
        (
            "reading check-in",
            Some("ceiling insert"),
            transaction!(reading_checkin),
        ),
    ];
    // The ceilings always run: every journey is compared with one of them.
    runs.retain(|(name, _, _)| {
        name.starts_with("ceiling") || plan.only.as_deref().is_none_or(|o| name.contains(o))
    });
    let slice = (plan.seconds / plan.rounds).max(1);
    let mut rounds: Vec<Vec<Row>> = Vec::new();
    for round in 1..=plan.rounds {
        let mut rows: Vec<Row> = Vec::new();
        for (name, ceiling, transaction) in &runs {
            eprintln!(
                "huigong-load: {name} ({slice} s, {} users, round {round} of {})",
                plan.users, plan.rounds
            );
            match measure(&plan, name, *ceiling, transaction.clone(), slice).await {
                Ok(row) => rows.push(row),
                Err(e) => {
                    eprintln!("huigong-load: {name}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        rounds.push(rows);
    }
    let rows = summarize(&rounds);
    println!("| scenario | req/s | p50 ms | p99 ms | errors | ratio to ceiling |");
    println!("|---|---:|---:|---:|---:|---|");
    for r in &rows {
        let mut ratio = match r.ratio {
            Some((c, x)) => format!("{:.0}% of {c}", 100.0 * x),
            None => "(ceiling)".into(),
        };
        if let Some(x) = r.insert_ratio {
            ratio.push_str(&format!(", {x:.1}x ceiling insert"));
        }
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} | {} |",
            r.name, r.rps, r.p50_ms, r.p99_ms, r.errors, ratio
        );
    }
    if plan.rounds > 1 {
        println!(
            "\n{} rounds of {slice} s per scenario, round-robin; ratios are the median of the \
             rounds' ratios, p50 the median of the rounds', p99 the worst round's.",
            plan.rounds
        );
    }
    let errors: usize = rows.iter().map(|r| r.errors).sum();
    let empty = rows.iter().any(|r| r.requests == 0);
    if smoke && (errors > 0 || empty) {
        eprintln!(
            "huigong-load: smoke run failed: {errors} errors, a scenario with no requests: {empty}"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &'static str, ceiling: Option<&'static str>, requests: usize) -> Row {
        Row {
            name,
            ceiling,
            requests,
            errors: 0,
            seconds: 10.0,
            p50_ms: requests as f64 / 1_000.0,
            p99_ms: requests as f64 / 100.0,
        }
    }

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(Vec::new()), 0.0);
    }

    /// A slow round slows the journey and its ceiling alike: each round's ratio is 30%,
    /// and so is the summary, though the totals of a fast ceiling round against a slow
    /// journey round would say otherwise.
    #[test]
    fn ratios_are_taken_within_each_round() {
        let rounds = vec![
            vec![
                row("ceiling json", None, 400_000),
                row("nearby stations", Some("ceiling json"), 120_000),
            ],
            vec![
                row("ceiling json", None, 200_000),
                row("nearby stations", Some("ceiling json"), 60_000),
            ],
            vec![
                row("ceiling json", None, 300_000),
                row("nearby stations", Some("ceiling json"), 90_000),
            ],
        ];
        let s = summarize(&rounds);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "ceiling json");
        assert!(s[0].ratio.is_none());
        assert_eq!(s[0].rps, 30_000.0);
        let nearby = &s[1];
        let (ceiling, ratio) = nearby.ratio.expect("a ratio");
        assert_eq!(ceiling, "ceiling json");
        assert!((ratio - 0.3).abs() < 1e-12, "{ratio}");
        assert_eq!(nearby.requests, 270_000);
        assert_eq!(nearby.rps, 9_000.0);
        // p50: the median round's; p99: the worst round's.
        assert_eq!(nearby.p50_ms, 90.0);
        assert_eq!(nearby.p99_ms, 1_200.0);
    }

    /// Draws are also compared with the insert ceiling, round by round.
    #[test]
    fn draws_get_both_ratios() {
        let rounds = vec![
            vec![
                row("ceiling lua", None, 100_000),
                row("ceiling insert", None, 20_000),
                row("draw", Some("ceiling lua"), 25_000),
            ],
            vec![
                row("ceiling lua", None, 50_000),
                row("ceiling insert", None, 10_000),
                row("draw", Some("ceiling lua"), 12_500),
            ],
        ];
        let s = summarize(&rounds);
        let draw = s.iter().find(|r| r.name == "draw").expect("draw");
        assert!((draw.ratio.expect("ratio").1 - 0.25).abs() < 1e-12);
        assert!((draw.insert_ratio.expect("insert ratio") - 1.25).abs() < 1e-12);
        assert!(
            s.iter()
                .all(|r| r.name == "draw" || r.insert_ratio.is_none())
        );
    }
}
