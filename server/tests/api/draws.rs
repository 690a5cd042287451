//! Prize draws and verifiable raffles: odds frozen at publish, the draw gate under
//! concurrency (also with the hot store losing it mid-run), replays, wins and redemption.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::TimeDelta;
use futures_util::StreamExt;
use huigong::clock::Clock;
use huigong::hot::gate_fields;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem, token};

struct Setup {
    app: Arc<TestApp>,
    admin: String,
    org: i64,
    quiz: i64,
    answers: HashMap<i64, Vec<String>>,
}

fn question(i: usize) -> Value {
    json!({"kind": "true_false", "text": format!("第{i}题：用人单位可以扣押劳动者的身份证。"), "answer": ["F"], "points": 20, "explanation": "劳动合同法第九条"})
}

/// A draft quiz (5 true/false questions, pass 60, `draws` chances per pass) with prizes.
async fn setup(draws_per_pass: i32, prizes: &[Value]) -> Setup {
    setup_on(TestApp::spawn().await, draws_per_pass, prizes).await
}

async fn setup_on(app: TestApp, draws_per_pass: i32, prizes: &[Value]) -> Setup {
    let (_, admin) = app.platform_admin().await;
    let org: Value = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "金东区总工会", "kind": "federation", "parent_id": null, "region_code": "330703"})).await.json().await.unwrap();
    let org = org["id"].as_i64().unwrap();
    let now = app.clock.now();
    let quiz: Value = app
        .post(
            "/api/v1/admin/quizzes",
            Some(&admin),
            json!({
                "org_id": org, "title": "工会法知识抽奖", "description": "答题抽奖",
                "starts_at": (now - TimeDelta::hours(1)).to_rfc3339(), "ends_at": (now + TimeDelta::days(7)).to_rfc3339(),
                "questions_per_attempt": 5, "time_limit_secs": 300, "pass_score": 60, "max_attempts_per_day": 5,
                "draws_per_pass": draws_per_pass, "audience": "everyone",
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let quiz = quiz["id"].as_i64().unwrap();
    let questions: Vec<Value> = (0..5).map(question).collect();
    let res = app
        .post(
            &format!("/api/v1/admin/quizzes/{quiz}/questions"),
            Some(&admin),
            json!(questions),
        )
        .await;
    assert_eq!(res.status(), 201);
    for p in prizes {
        let res = app
            .post(
                &format!("/api/v1/admin/quizzes/{quiz}/prizes"),
                Some(&admin),
                p.clone(),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    let res = app
        .post(
            &format!("/api/v1/admin/quizzes/{quiz}/publish"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let answers = app
        .db(move |c| {
            Ok(huigong::quizzes::store::questions_of(c, quiz)?
                .into_iter()
                .map(|q| (q.id, serde_json::from_str(&q.answer).unwrap()))
                .collect())
        })
        .await;
    Setup {
        app: Arc::new(app),
        admin,
        org,
        quiz,
        answers,
    }
}

impl Setup {
    /// A new member who passed once: (user id, token).
    async fn passer(&self) -> (i64, String) {
        let session = self.app.wechat_member().await;
        let t = token(&session);
        let attempt: Value = self
            .app
            .post(
                &format!("/api/v1/quizzes/{}/attempts", self.quiz),
                Some(&t),
                json!({}),
            )
            .await
            .json()
            .await
            .unwrap();
        let answers: Vec<Value> = attempt["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                let id = q["id"].as_i64().unwrap();
                json!({"question_id": id, "keys": self.answers[&id]})
            })
            .collect();
        let res = self
            .app
            .post(
                &format!("/api/v1/attempts/{}/submit", attempt["attempt_id"]),
                Some(&t),
                json!({ "answers": answers }),
            )
            .await;
        assert_eq!(res.status(), 200);
        (session["user"]["id"].as_i64().unwrap(), t)
    }

    async fn draw(&self, member: &str, key: &str) -> reqwest::Response {
        self.app
            .client
            .post(
                self.app
                    .url(&format!("/api/v1/quizzes/{}/draws", self.quiz)),
            )
            .bearer_auth(member)
            .header("Idempotency-Key", key)
            .send()
            .await
            .unwrap()
    }

    /// The exact, locked reconciliation an organizer can ask for.
    async fn reconcile(&self) -> Value {
        self.app
            .post(
                &format!("/api/v1/admin/quizzes/{}/draw-reconciliation", self.quiz),
                Some(&self.admin),
                json!({}),
            )
            .await
            .json()
            .await
            .unwrap()
    }

    /// What the member sees of their draw chances.
    async fn chances(&self, member: &str) -> Value {
        self.app
            .get(
                &format!("/api/v1/quizzes/{}/draw-chances", self.quiz),
                Some(member),
            )
            .await
            .json()
            .await
            .unwrap()
    }

    /// SQL's view: (prize id, quantity, remaining, wins recorded).
    async fn ledger(&self) -> Vec<(i64, i64, i64, i64)> {
        let quiz = self.quiz;
        self.app
            .db(move |c| Ok(huigong::draws::store::prize_ledger(c, quiz)?))
            .await
    }
}

fn prize(name: &str, quantity: i32, ppm: i32, cap: i32) -> Value {
    json!({"name": name, "kind": "physical", "quantity": quantity, "probability_ppm": ppm, "max_per_user": cap})
}

#[tokio::test]
async fn odds_are_public_and_frozen_at_publish() {
    let s = setup(1, &[prize("工会定制保温杯", 10, 600_000, 1)]).await;
    let quiz: Value = s
        .app
        .get(&format!("/api/v1/quizzes/{}", s.quiz), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(quiz["prizes"][0]["name"], "工会定制保温杯");
    assert_eq!(quiz["prizes"][0]["probability_ppm"], 600_000);
    assert_eq!(quiz["prizes"][0]["remaining"], 10);
    assert_eq!(quiz["no_prize_ppm"], 400_000);
    let res = s
        .app
        .post(
            &format!("/api/v1/admin/quizzes/{}/prizes", s.quiz),
            Some(&s.admin),
            prize("电影票", 5, 1_000, 1),
        )
        .await;
    problem(res, 409, "quiz.frozen").await;

    // On a draft: the million is a hard limit, and each bad field is named.
    let now = s.app.clock.now();
    let draft: Value = s.app.post("/api/v1/admin/quizzes", Some(&s.admin), json!({
        "org_id": s.org, "title": "草稿活动", "starts_at": now.to_rfc3339(), "ends_at": (now + TimeDelta::days(1)).to_rfc3339(),
        "questions_per_attempt": 1, "time_limit_secs": 60, "pass_score": 1, "max_attempts_per_day": 1, "draws_per_pass": 1, "audience": "everyone",
    })).await.json().await.unwrap();
    let path = format!("/api/v1/admin/quizzes/{}/prizes", draft["id"]);
    assert_eq!(
        s.app
            .post(&path, Some(&s.admin), prize("A", 1, 700_000, 1))
            .await
            .status(),
        201
    );
    let p = problem(
        s.app
            .post(&path, Some(&s.admin), prize("B", 1, 300_001, 1))
            .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), ["probability_ppm"]);
    let p = problem(
        s.app.post(&path, Some(&s.admin), prize("", 0, 1, 0)).await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), ["name", "quantity", "max_per_user"]);
    let res = s
        .app
        .post(
            &path,
            Some(&s.admin),
            json!({"name": "B", "kind": "cash", "quantity": 1, "probability_ppm": 1}),
        )
        .await;
    assert!(res.status() == 400 || res.status() == 422);
    // None of the refused prizes was stored.
    let draft_id = draft["id"].as_i64().unwrap();
    let stored = s
        .app
        .db(move |c| Ok(huigong::draws::store::prizes_of(c, draft_id)?))
        .await;
    assert_eq!(stored.len(), 1);
    // A member cannot add prizes.
    let member = token(&s.app.wechat_member().await);
    assert_eq!(
        s.app
            .post(&path, Some(&member), prize("C", 1, 1, 1))
            .await
            .status(),
        404
    );
}

/// The SQL side of a batch, called directly (each backend has its own: statements on
/// SQLite, `record_draws` on Postgres; this test runs on both and expects the same): stock
/// goes by prize, then arrival; a member wins a prize only under its cap, counting wins
/// already held and this batch's earlier ones; a draw the gate turned away never wins; a
/// batch with a member short of chances keeps nothing.
#[tokio::test]
async fn sql_records_a_batch_by_prize_then_arrival_under_the_caps() {
    use huigong::draws::store::{self, DrawRequest, Recorded};
    let s = setup(
        10,
        &[
            prize("保温杯", 1, 100_000, 5),
            prize("电影票", 2, 100_000, 1),
            prize("话费", 5, 100_000, 1),
        ],
    )
    .await;
    let ledger = s.ledger().await;
    let (a, b, c) = (ledger[0].0, ledger[1].0, ledger[2].0);
    let (m1, m2, m3) = (s.passer().await.0, s.passer().await.0, s.passer().await.0);
    let quiz = s.quiz;
    let now = s.app.clock.now().naive_utc();
    let draw = move |n: usize, user: i64, picked: Option<i64>, gate_won: bool| DrawRequest {
        quiz,
        user,
        key: format!("batch-{n}"),
        picked,
        gate_won,
        max_per_user: if picked == Some(a) { 5 } else { 1 },
        code: format!("CODE{n:08}"),
        now,
    };
    let record =
        |batch: Vec<DrawRequest>| s.app.db(move |conn| Ok(store::record_batch(conn, &batch)?));
    let won = |recorded: Option<Vec<Recorded>>| -> Vec<Option<i64>> {
        recorded
            .expect("every chance is there")
            .into_iter()
            .map(|r| match r {
                Recorded::New(d) => d.prize_id,
                other => panic!("{other:?}"),
            })
            .collect()
    };

    let first = record(vec![
        draw(0, m1, Some(b), true),
        draw(1, m2, Some(a), true),
        draw(2, m1, Some(b), true),
        draw(3, m3, Some(b), true),
        draw(4, m3, Some(a), true),
        draw(5, m2, None, false),
        draw(6, m1, Some(a), false),
        draw(7, m2, Some(c), true),
    ])
    .await;
    assert_eq!(
        won(first),
        [Some(b), Some(a), None, Some(b), None, None, None, Some(c)],
        "a: one unit, to the first; b: m1 at its cap of one, then m3; the gate's loss stays one"
    );
    // m2 already holds its one c; m1 does not.
    let second = record(vec![draw(8, m2, Some(c), true), draw(9, m1, Some(c), true)]).await;
    assert_eq!(won(second), [None, Some(c)]);
    let ledger = s.ledger().await;
    let left: Vec<(i64, i64)> = ledger.iter().map(|l| (l.2, l.3)).collect();
    assert_eq!(
        left,
        [(0, 1), (0, 2), (3, 2)],
        "(remaining, wins) per prize"
    );

    // A member without a chance row: nothing of the batch is kept.
    let stranger = s.app.wechat_member().await["user"]["id"].as_i64().unwrap();
    let refused = record(vec![
        draw(10, m3, Some(c), true),
        draw(11, stranger, Some(c), true),
    ])
    .await;
    assert!(refused.is_none());
    assert_eq!(s.ledger().await, ledger);
    let used = s
        .app
        .db(move |conn| Ok(store::chance_rows(conn, quiz)?))
        .await;
    let used: Vec<(i64, i64)> = used.iter().map(|r| (r.0, r.2)).collect();
    assert_eq!(used, [(m1, 4), (m2, 4), (m3, 2)], "chances used per member");
}

/// SQL guards again: a chance the hot store wrongly still shows (edited by hand, drifted)
/// is refused when the draw is recorded, nothing is kept, and the member hears 409.
#[tokio::test]
async fn sql_refuses_a_chance_the_hot_store_wrongly_grants() {
    let s = setup(1, &[prize("电影票", 50, 500_000, 5)]).await;
    let (user, member) = s.passer().await;
    assert_eq!(s.draw(&member, "a").await.status(), 201);
    let gate = huigong::draws::engine::gate_key(&s.app.state.keys, s.quiz);
    s.app
        .state
        .hot
        .gate_write(&gate, &[(gate_fields::used(user), 0)])
        .await
        .unwrap();
    let before = s.ledger().await;
    problem(s.draw(&member, "b").await, 409, "draw.no_chances").await;
    assert_eq!(s.ledger().await, before, "no stock taken, no win kept");
    assert_eq!(
        s.chances(&member).await,
        json!({"granted": 1, "used": 1, "remaining": 0})
    );
    // The key drew nothing: it is free for a later chance, and the gate agrees with SQL.
    assert_eq!(s.reconcile().await["stock_repaired"], json!([]));
}

#[tokio::test]
async fn a_draw_takes_a_key_and_a_chance_and_replays_the_same_result() {
    let s = setup(2, &[prize("工会定制保温杯", 1, 1_000_000, 1)]).await;
    let stranger = token(&s.app.wechat_member().await);
    let res = s
        .app
        .post(
            &format!("/api/v1/quizzes/{}/draws", s.quiz),
            Some(&stranger),
            json!({}),
        )
        .await;
    problem(res, 400, "idempotency.key_required").await;
    problem(s.draw(&stranger, "k-1").await, 409, "draw.no_chances").await;

    let (mine_id, member) = s.passer().await;
    let first = s.draw(&member, "k-1").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["won"], true);
    assert_eq!(first["prize"]["name"], "工会定制保温杯");
    let code = first["redemption_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 14);
    // The same key: the same draw, nothing spent.
    let again = s.draw(&member, "k-1").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(
        s.chances(&member).await,
        json!({"granted": 2, "used": 1, "remaining": 1})
    );
    // Certain odds, but the only unit is gone: a loss, not another prize.
    let second: Value = s.draw(&member, "k-2").await.json().await.unwrap();
    assert_eq!(second["won"], false);
    assert!(second["prize"].is_null() && second["redemption_code"].is_null());
    problem(s.draw(&member, "k-3").await, 409, "draw.no_chances").await;

    // The idempotency record is lost (a Redis flush): the key still finds its draw in SQL.
    let gate = huigong::draws::engine::gate_key(&s.app.state.keys, s.quiz);
    let record = s.app.state.keys.key(
        &format!("idem:{}", mine_id),
        &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"k-2")),
    );
    assert_eq!(s.app.state.hot.del(&[gate, record]).await.unwrap(), 2);
    let replay = s
        .app
        .client
        .post(s.app.url(&format!("/api/v1/quizzes/{}/draws", s.quiz)))
        .bearer_auth(&member)
        .header("Idempotency-Key", "k-2")
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["draw_id"],
        second["draw_id"]
    );

    // The win, its owner's list, and redemption once.
    let mine: Value = s
        .app
        .get("/api/v1/me/prizes", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["redemption_code"], code);
    assert_eq!(mine["items"][0]["redeemed"], false);
    let other: Value = s
        .app
        .get("/api/v1/me/prizes", Some(&stranger))
        .await
        .json()
        .await
        .unwrap();
    assert!(other["items"].as_array().unwrap().is_empty());

    let p = problem(
        s.app
            .post(
                "/api/v1/admin/prize-redemptions",
                Some(&s.admin),
                json!({"redemption_code": "nope"}),
            )
            .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), ["redemption_code"]);
    assert_eq!(
        s.app
            .post(
                "/api/v1/admin/prize-redemptions",
                Some(&s.admin),
                json!({"redemption_code": "2222-3333-4444"}),
            )
            .await
            .status(),
        404
    );
    // Members cannot redeem, even their own code.
    assert_eq!(
        s.app
            .post(
                "/api/v1/admin/prize-redemptions",
                Some(&member),
                json!({"redemption_code": code}),
            )
            .await
            .status(),
        404
    );
    let typed = code.to_lowercase().replace('-', " ");
    let res = s
        .app
        .post(
            "/api/v1/admin/prize-redemptions",
            Some(&s.admin),
            json!({"redemption_code": typed}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let redeemed: Value = res.json().await.unwrap();
    assert_eq!(redeemed["win"]["redeemed"], true);
    assert_ne!(redeemed["win"]["redemption_code"], code);
    problem(
        s.app
            .post(
                "/api/v1/admin/prize-redemptions",
                Some(&s.admin),
                json!({"redemption_code": code}),
            )
            .await,
        409,
        "prize.already_redeemed",
    )
    .await;

    // Winners CSV: masked code, no full code; stats count draws and wins.
    let csv = s
        .app
        .get(
            &format!("/api/v1/admin/quizzes/{}/winners.csv", s.quiz),
            Some(&s.admin),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("工会定制保温杯"), "{csv}");
    assert!(!csv.contains(&code));
    assert!(csv.contains(&format!("{}**-****-**{}", &code[..2], &code[12..])));
    let stats: Value = s
        .app
        .get(
            &format!("/api/v1/admin/quizzes/{}/stats", s.quiz),
            Some(&s.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["draws"], 2);
    assert_eq!(stats["wins"], 1);
    assert_eq!(stats["prizes"][0]["remaining"], 0);
    // Operators see draws by outcome.
    let metrics = s.app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("huigong_draws_total{outcome=\"won\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("huigong_draw_commit_batch_size"),
        "{metrics}"
    );
    // Closed a day after the end.
    s.app.clock.advance(TimeDelta::days(9));
    problem(s.draw(&member, "k-9").await, 409, "draw.closed").await;
}

/// 200 members with 10 chances each draw 2,000 times at once against 20 prizes; with
/// `lose_gate` the hot store loses the campaign's gate halfway (a Redis flush) and
/// clients retry 503s with the same key, as the app does.
async fn many_concurrent_draws(lose_gate: bool) {
    let prizes: Vec<Value> = (0..20)
        .map(|i| prize(&format!("奖品{i}"), 1 + i % 4, 20_000, 1 + i % 2))
        .collect();
    let s = Arc::new(setup(10, &prizes).await);
    let members: Vec<(i64, String)> = futures_util::stream::iter(0..200)
        .map(|_| {
            let s = s.clone();
            async move { s.passer().await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let jobs: Vec<(i64, String, String)> = members
        .iter()
        .flat_map(|(id, t)| (0..10).map(move |k| (*id, t.clone(), format!("draw-{id}-{k}"))))
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let flusher = lose_gate.then(|| {
        let (s, done) = (s.clone(), done.clone());
        tokio::spawn(async move {
            while done.load(std::sync::atomic::Ordering::Relaxed) < 1000 {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            let gate = huigong::draws::engine::gate_key(&s.app.state.keys, s.quiz);
            s.app.state.hot.del(&[gate]).await.unwrap()
        })
    });
    let results: Vec<(i64, Value)> = futures_util::stream::iter(jobs)
        .map(|(id, t, key)| {
            let (s, done) = (s.clone(), done.clone());
            async move {
                for _ in 0..50 {
                    let res = s.draw(&t, &key).await;
                    match res.status().as_u16() {
                        201 => {
                            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            return (id, res.json::<Value>().await.unwrap());
                        }
                        409 | 503 => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                        other => panic!("draw answered {other}: {}", res.text().await.unwrap()),
                    }
                }
                panic!("a draw never went through");
            }
        })
        .buffer_unordered(200)
        .collect()
        .await;
    if let Some(f) = flusher {
        assert_eq!(f.await.unwrap(), 1, "the gate existed when it was dropped");
    }
    assert_eq!(results.len(), 2000);
    let ids: HashSet<i64> = results
        .iter()
        .map(|(_, b)| b["draw_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2000, "every key is its own draw");

    // Wins never exceed stock, nobody exceeds a cap; SQL adds up.
    let ledger = s.ledger().await;
    let caps: HashMap<String, i64> = prizes
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["max_per_user"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut per_user: HashMap<(i64, String), i64> = HashMap::new();
    let mut per_prize: HashMap<i64, i64> = HashMap::new();
    for (user, body) in &results {
        if body["won"] == true {
            *per_user
                .entry((*user, body["prize"]["name"].as_str().unwrap().to_owned()))
                .or_default() += 1;
            *per_prize
                .entry(body["prize"]["id"].as_i64().unwrap())
                .or_default() += 1;
        }
    }
    for ((_, name), n) in &per_user {
        assert!(*n <= caps[name], "{name} won {n} times by one member");
    }
    let mut total_wins = 0;
    for &(id, quantity, remaining, won) in &ledger {
        assert_eq!(quantity, remaining + won, "prize {id}");
        assert_eq!(per_prize.get(&id).copied().unwrap_or(0), won, "prize {id}");
        assert!(remaining >= 0);
        total_wins += won;
    }
    // With 40% odds over 2,000 draws, stock (50 units) runs out.
    assert_eq!(total_wins, 50, "{ledger:?}");
    let quiz = s.quiz;
    let (draws, spent) = s
        .app
        .db(move |c| {
            let rows = huigong::draws::store::chance_rows(c, quiz)?;
            Ok((
                huigong::draws::store::draw_count(c, quiz)?,
                rows.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>(),
            ))
        })
        .await;
    assert_eq!(draws, 2000);
    assert!(spent.iter().all(|&(g, u)| g == 10 && u == 10), "{spent:?}");

    // The hot store agrees with SQL without any repair.
    let gate = huigong::draws::engine::gate_key(&s.app.state.keys, s.quiz);
    let stock: Vec<String> = ledger.iter().map(|l| gate_fields::stock(l.0)).collect();
    let hot = s.app.state.hot.gate_read(&gate, &stock).await.unwrap();
    let sql: Vec<Option<i64>> = ledger.iter().map(|l| Some(l.2)).collect();
    assert_eq!(hot, sql);
    let report = s.reconcile().await;
    assert_eq!(report["gate_built"], true, "{report}");
    assert_eq!(report["ledger_errors"], json!([]), "{report}");
    assert_eq!(report["stock_repaired"], json!([]), "{report}");
    assert_eq!(report["members_reset"], json!([]), "{report}");
}

#[tokio::test]
async fn concurrent_draws_never_oversell_or_double_spend() {
    many_concurrent_draws(false).await;
}

#[tokio::test]
async fn concurrent_draws_stay_exact_when_the_hot_store_loses_the_gate() {
    many_concurrent_draws(true).await;
}

#[tokio::test]
async fn the_reconciler_repairs_a_drifted_gate() {
    let s = setup(3, &[prize("电影票", 5, 500_000, 5)]).await;
    let (user, member) = s.passer().await;
    assert_eq!(s.draw(&member, "a").await.status(), 201);
    let gate = huigong::draws::engine::gate_key(&s.app.state.keys, s.quiz);
    let prize_id = s.ledger().await[0].0;
    // Someone edits the hot store by hand: stock and the member's used count drift.
    s.app
        .state
        .hot
        .gate_write(
            &gate,
            &[
                (gate_fields::stock(prize_id), 99),
                (gate_fields::used(user), 0),
            ],
        )
        .await
        .unwrap();
    let report = s.reconcile().await;
    let remaining = s.ledger().await[0].2;
    assert_eq!(report["stock_repaired"], json!([[prize_id, 99, remaining]]));
    assert_eq!(report["members_reset"], json!([user]));
    let hot = s
        .app
        .state
        .hot
        .gate_read(&gate, &[gate_fields::stock(prize_id)])
        .await
        .unwrap();
    assert_eq!(hot, [Some(remaining)]);
    // The member reloads from SQL: two chances left, then none.
    assert_eq!(s.draw(&member, "b").await.status(), 201);
    assert_eq!(s.draw(&member, "c").await.status(), 201);
    problem(s.draw(&member, "d").await, 409, "draw.no_chances").await;
    let clean = s.reconcile().await;
    assert_eq!(clean["stock_repaired"], json!([]));
    assert_eq!(clean["members_reset"], json!([]));
}

#[tokio::test]
async fn raffles_commit_to_a_seed_and_anyone_can_recompute_the_winners() {
    let s = setup(0, &[]).await;
    let mut passers = Vec::new();
    for _ in 0..6 {
        passers.push(s.passer().await.0);
    }
    let now = s.app.clock.now();
    let bad = problem(
        s.app
            .post(
                "/api/v1/admin/raffles",
                Some(&s.admin),
                json!({"org_id": s.org, "title": "", "pool": {"kind": "quiz_passers", "ref_id": s.quiz, "min_hours": 2.0}, "winners": 0, "draw_at": (now - TimeDelta::hours(1)).to_rfc3339()}),
            )
            .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(
        fields(&bad),
        ["title", "winners", "draw_at", "pool.min_hours"]
    );
    let bad = problem(
        s.app
            .post(
                "/api/v1/admin/raffles",
                Some(&s.admin),
                json!({"org_id": s.org, "title": "答题幸运抽签", "pool": {"kind": "quiz_passers", "ref_id": 999_999}, "winners": 3, "draw_at": (now + TimeDelta::hours(1)).to_rfc3339()}),
            )
            .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&bad), ["pool.ref_id"]);
    let raffles: i64 = s
        .app
        .db(|c| {
            use diesel::prelude::*;
            Ok(huigong::db::schema::raffles::table.count().get_result(c)?)
        })
        .await;
    assert_eq!(raffles, 0, "a refused raffle is not stored");
    let res = s
        .app
        .post(
            "/api/v1/admin/raffles",
            Some(&s.admin),
            json!({"org_id": s.org, "title": "答题幸运抽签", "pool": {"kind": "quiz_passers", "ref_id": s.quiz}, "winners": 3, "draw_at": (now + TimeDelta::hours(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let raffle: Value = res.json().await.unwrap();
    let id = raffle["id"].as_i64().unwrap();
    let commitment = raffle["seed_commitment"].as_str().unwrap().to_owned();
    assert_eq!(commitment.len(), 64);
    let public: Value = s
        .app
        .get(&format!("/api/v1/raffles/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(public["seed"].is_null() && public["pool_digest"].is_null());
    assert_eq!(public["seed_commitment"], commitment);
    assert_eq!(
        s.app
            .get(&format!("/api/v1/raffles/{id}/pool"), None)
            .await
            .status(),
        404
    );
    let draw = format!("/api/v1/admin/raffles/{id}/draw");
    problem(
        s.app.post(&draw, Some(&s.admin), json!({})).await,
        409,
        "raffle.too_early",
    )
    .await;
    s.app.clock.advance(TimeDelta::hours(2));
    let res = s.app.post(&draw, Some(&s.admin), json!({})).await;
    assert_eq!(res.status(), 200);
    let drawn: Value = res.json().await.unwrap();
    problem(
        s.app.post(&draw, Some(&s.admin), json!({})).await,
        409,
        "raffle.already_drawn",
    )
    .await;
    assert_eq!(drawn["pool_size"], 6);
    let winners: Vec<i64> = drawn["winners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["user_id"].as_i64().unwrap())
        .collect();
    assert_eq!(winners.len(), 3);
    assert!(
        drawn["winners"][0]["nickname"]
            .as_str()
            .unwrap()
            .contains('*')
    );

    // Recompute from what is public: seed, pool, the algorithm.
    let seed = drawn["seed"].as_str().unwrap();
    let seed_bytes = huigong::raffles::rules::parse_seed(seed).unwrap();
    assert_eq!(huigong::raffles::rules::commitment(&seed_bytes), commitment);
    let pool_text = s
        .app
        .get(&format!("/api/v1/raffles/{id}/pool"), None)
        .await
        .text()
        .await
        .unwrap();
    let pool: Vec<i64> = pool_text.lines().map(|l| l.parse().unwrap()).collect();
    let mut expected = passers.clone();
    expected.sort_unstable();
    assert_eq!(pool, expected);
    assert_eq!(
        hex::encode(huigong::raffles::rules::pool_digest(&pool)),
        drawn["pool_digest"].as_str().unwrap()
    );
    assert_eq!(
        huigong::raffles::rules::winners(&seed_bytes, &pool, 3),
        winners
    );

    // And with the command an outsider would run.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pool.txt");
    std::fs::write(&file, &pool_text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_huigong"))
        .args([
            "raffle",
            "verify",
            "--seed",
            seed,
            "--winners",
            "3",
            "--commitment",
            &commitment,
            "--pool-file",
        ])
        .arg(&file)
        .env("HUIGONG_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("commitment: ok"), "{stdout}");
    let listed: Vec<i64> = stdout
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(_, u)| u.parse().unwrap())
        .collect();
    assert_eq!(listed, winners);
    let wrong = std::process::Command::new(env!("CARGO_BIN_EXE_huigong"))
        .args([
            "raffle",
            "verify",
            "--seed",
            &"00".repeat(32),
            "--winners",
            "3",
            "--commitment",
            &commitment,
            "--pool-file",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!wrong.status.success());
}

#[tokio::test]
async fn the_reconcile_command_checks_ledgers_and_repairs_redis() {
    let s = setup(2, &[prize("电影票", 5, 500_000, 5)]).await;
    let (_, member) = s.passer().await;
    assert_eq!(s.draw(&member, "a").await.status(), 201);
    let gate = huigong::draws::engine::gate_key(&s.app.state.keys, s.quiz);
    let prize_id = s.ledger().await[0].0;
    s.app
        .state
        .hot
        .gate_write(&gate, &[(gate_fields::stock(prize_id), 42)])
        .await
        .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_huigong"));
    cmd.args([
        "reconcile",
        "--quiz",
        &s.quiz.to_string(),
        "--settle-secs",
        "0",
    ])
    .env("HUIGONG_DATABASE_URL", s.app.database_url())
    .env("HUIGONG_REDIS_PREFIX", s.app.state.keys.prefix())
    .env("HUIGONG_LOG", "warn")
    .env_remove("HUIGONG_REDIS_URL");
    if let Some(url) = crate::helpers::redis_url() {
        cmd.env("HUIGONG_REDIS_URL", url);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report["quiz_id"], s.quiz);
    assert_eq!(report["ledger_errors"], json!([]));
    let remaining = s.ledger().await[0].2;
    if s.app.state.hot.kind() == "redis" {
        assert_eq!(report["stock_repaired"], json!([[prize_id, 42, remaining]]));
        let hot = s
            .app
            .state
            .hot
            .gate_read(&gate, &[gate_fields::stock(prize_id)])
            .await
            .unwrap();
        assert_eq!(hot, [Some(remaining)]);
    } else {
        // The in-process gate lives inside the server; the command checks SQL only.
        assert_eq!(report["gate_built"], false);
    }
}

#[tokio::test]
async fn bench_endpoints_exist_only_when_switched_on() {
    let off = TestApp::spawn().await;
    assert_eq!(off.get("/api/v1/_bench/json", None).await.status(), 404);
    let app = TestApp::spawn_with(|c| c.bench_endpoints = true).await;
    assert_eq!(app.get("/api/v1/_bench/json", None).await.status(), 200);
    let a: Value = app
        .post("/api/v1/_bench/lua", None, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let b: Value = app
        .post("/api/v1/_bench/lua", None, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["n"].as_i64().unwrap(), a["n"].as_i64().unwrap() + 1);
    assert_eq!(
        app.post("/api/v1/_bench/insert", None, json!({}))
            .await
            .status(),
        201
    );
    let res = app
        .post(
            "/api/v1/_bench/draw-campaign",
            None,
            json!({"members": 3, "chances": 2}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let fixture: Value = res.json().await.unwrap();
    let quiz = fixture["quiz_id"].as_i64().unwrap();
    let t = fixture["tokens"][0].as_str().unwrap();
    for key in ["x", "y"] {
        let res = app
            .client
            .post(app.url(&format!("/api/v1/quizzes/{quiz}/draws")))
            .bearer_auth(t)
            .header("Idempotency-Key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let board: Value = app
        .get(&format!("/api/v1/quizzes/{quiz}/leaderboard"), Some(t))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(board["items"].as_array().unwrap().len(), 3, "{board}");
}

#[tokio::test]
async fn the_periodic_reconciler_repairs_drift_on_its_own() {
    let app = TestApp::spawn_with(|c| c.draw_reconcile_secs = 1).await;
    let s = setup_on(app, 1, &[prize("电影票", 5, 500_000, 5)]).await;
    let (_, member) = s.passer().await;
    assert_eq!(s.draw(&member, "a").await.status(), 201);
    let gate = huigong::draws::engine::gate_key(&s.app.state.keys, s.quiz);
    let prize_id = s.ledger().await[0].0;
    let remaining = s.ledger().await[0].2;
    s.app
        .state
        .hot
        .gate_write(&gate, &[(gate_fields::stock(prize_id), 77)])
        .await
        .unwrap();
    let field = [gate_fields::stock(prize_id)];
    for _ in 0..100 {
        if s.app.state.hot.gate_read(&gate, &field).await.unwrap() == [Some(remaining)] {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the periodic reconciler did not repair the stock");
}
