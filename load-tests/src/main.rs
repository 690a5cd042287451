//! Huigong's load generator: ceilings and user journeys back to back against one running
//! server, each for the same time with the same users, then one table of req/s, p50, p99,
//! errors and each journey's ratio to its ceiling.
//!
//! `huigong-load --host http://127.0.0.1:18080 [--seconds 10] [--users 32] [--smoke]`
//! The server must run with `HUIGONG_BENCH_ENDPOINTS=true` (see run.sh, which does it all).

use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use goose::config::GooseConfiguration;
use goose::prelude::*;
use serde_json::{Value, json};

static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
static QUIZ: OnceLock<i64> = OnceLock::new();
static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(0);
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

#[derive(Clone)]
struct Session {
    token: String,
}

/// Each simulated member takes one of the fixture's tokens.
async fn sign_in(user: &mut GooseUser) -> TransactionResult {
    let tokens = TOKENS.get().map(Vec::as_slice).unwrap_or_default();
    let token = tokens
        .get(NEXT_TOKEN.fetch_add(1, Ordering::Relaxed) % tokens.len().max(1))
        .cloned()
        .unwrap_or_default();
    user.set_session_data(Session { token });
    Ok(())
}

fn token(user: &GooseUser) -> String {
    user.get_session_data::<Session>()
        .map(|s| s.token.clone())
        .unwrap_or_default()
}

async fn call(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    idempotency: bool,
) -> TransactionResult {
    let mut builder = user
        .get_request_builder(&method, path)?
        .bearer_auth(token(user));
    if idempotency {
        let key = format!("load-{}", NEXT_KEY.fetch_add(1, Ordering::Relaxed));
        builder = builder.header("Idempotency-Key", key);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    user.request(request).await?;
    Ok(())
}

async fn ceiling_json(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Get,
        "/api/v1/_bench/json",
        "ceiling json",
        false,
    )
    .await
}

async fn ceiling_lua(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Post,
        "/api/v1/_bench/lua",
        "ceiling lua",
        false,
    )
    .await
}

async fn ceiling_insert(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Post,
        "/api/v1/_bench/insert",
        "ceiling insert",
        false,
    )
    .await
}

async fn draw(user: &mut GooseUser) -> TransactionResult {
    let path = format!("/api/v1/quizzes/{}/draws", QUIZ.get().copied().unwrap_or(0));
    call(user, GooseMethod::Post, &path, "draw", true).await
}

async fn leaderboard(user: &mut GooseUser) -> TransactionResult {
    let path = format!(
        "/api/v1/quizzes/{}/leaderboard?limit=20",
        QUIZ.get().copied().unwrap_or(0)
    );
    call(user, GooseMethod::Get, &path, "leaderboard", false).await
}

async fn job_search(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Get,
        "/api/v1/job-postings?q=%E5%8F%B8%E6%9C%BA&limit=20",
        "job search",
        false,
    )
    .await
}

/// One measured run: what the table shows.
struct Row {
    name: &'static str,
    ceiling: Option<&'static str>,
    requests: usize,
    errors: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct Plan {
    host: String,
    seconds: usize,
    users: usize,
}

async fn measure(
    plan: &Plan,
    name: &'static str,
    ceiling: Option<&'static str>,
    transaction: Transaction,
) -> Result<Row, GooseError> {
    let scenario = scenario!("run")
        .register_transaction(transaction!(sign_in).set_on_start())
        .register_transaction(transaction);
    let metrics = GooseAttack::initialize_with_config(GooseConfiguration::default())?
        .register_scenario(scenario)
        .set_default(GooseDefault::Host, plan.host.as_str())?
        .set_default(GooseDefault::Users, plan.users)?
        .set_default(GooseDefault::IncreaseRate, plan.users.to_string().as_str())?
        .set_default(GooseDefault::RunTime, plan.seconds)?
        .set_default(GooseDefault::NoPrintMetrics, true)?
        .set_default(GooseDefault::NoErrorSummary, true)?
        .set_default(GooseDefault::NoTelnet, true)?
        .set_default(GooseDefault::Quiet, 1)?
        .execute()
        .await?;
    let (mut requests, mut errors, mut p50, mut p99) = (0, 0, 0.0, 0.0);
    for aggregate in metrics.requests.values() {
        requests += aggregate.raw_data.counter;
        errors += aggregate.fail_count;
        p50 = aggregate.raw_data.percentile_us(0.50) as f64 / 1000.0;
        p99 = aggregate.raw_data.percentile_us(0.99) as f64 / 1000.0;
    }
    let seconds = metrics.duration.max(1) as f64;
    Ok(Row {
        name,
        ceiling,
        requests,
        errors,
        rps: requests as f64 / seconds,
        p50_ms: p50,
        p99_ms: p99,
    })
}

async fn fixture(host: &str, members: usize) -> Result<(), String> {
    let client = reqwest::Client::new();
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
    let tokens = body["tokens"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    TOKENS.set(tokens).ok();
    QUIZ.set(body["quiz_id"].as_i64().unwrap_or(0)).ok();
    Ok(())
}

fn parse_args() -> Result<(Plan, bool), String> {
    let mut args = std::env::args().skip(1);
    let mut plan = Plan {
        host: "http://127.0.0.1:18080".into(),
        seconds: 10,
        users: 32,
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
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if smoke {
        plan.seconds = 2;
        plan.users = 4;
    }
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if !loopback.iter().any(|p| plan.host.starts_with(p)) {
        return Err("the load generator only targets loopback (http://127.0.0.1:PORT)".into());
    }
    Ok((plan, smoke))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (plan, smoke) = match parse_args() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("huigong-load: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = fixture(&plan.host, plan.users.max(200)).await {
        eprintln!("huigong-load: {e}");
        return ExitCode::FAILURE;
    }
    let runs: Vec<(&'static str, Option<&'static str>, Transaction)> = vec![
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
    ];
    let mut rows: Vec<Row> = Vec::new();
    for (name, ceiling, transaction) in runs {
        eprintln!(
            "huigong-load: {name} ({} s, {} users)",
            plan.seconds, plan.users
        );
        match measure(&plan, name, ceiling, transaction).await {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("huigong-load: {name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let rps_of = |name: &str| rows.iter().find(|r| r.name == name).map_or(0.0, |r| r.rps);
    let insert = rps_of("ceiling insert");
    println!("| scenario | req/s | p50 ms | p99 ms | errors | ratio to ceiling |");
    println!("|---|---:|---:|---:|---:|---|");
    for r in &rows {
        let mut ratio = match r.ceiling {
            Some(c) if rps_of(c) > 0.0 => format!("{:.0}% of {c}", 100.0 * r.rps / rps_of(c)),
            _ => "(ceiling)".into(),
        };
        if r.name == "draw" && insert > 0.0 {
            ratio.push_str(&format!(", {:.1}x ceiling insert", r.rps / insert));
        }
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} | {} |",
            r.name, r.rps, r.p50_ms, r.p99_ms, r.errors, ratio
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
