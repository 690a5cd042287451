//! Quiz campaigns: question banks, timed attempts, scoring, daily limits, leaderboards.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use huigong::clock::Clock;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem, random_phone, token};

struct Campaign {
    app: TestApp,
    admin: String,
    org: i64,
    quiz: i64,
    /// question id -> correct keys
    answers: HashMap<i64, Vec<String>>,
}

fn question(i: usize) -> Value {
    match i % 3 {
        0 => {
            json!({"kind": "single", "text": format!("第{i}题：劳动合同应当以什么形式订立？"), "options": [{"key": "A", "text": "书面形式"}, {"key": "B", "text": "口头形式"}, {"key": "C", "text": "任意形式"}], "answer": ["A"], "points": 20, "explanation": "劳动合同法第十条"})
        }
        1 => {
            json!({"kind": "multiple", "text": format!("第{i}题：哪些情形劳动者可以立即解除劳动合同？"), "options": [{"key": "A", "text": "暴力强迫劳动"}, {"key": "B", "text": "强令冒险作业危及人身安全"}, {"key": "C", "text": "调整工作岗位"}], "answer": ["A", "B"], "points": 20, "explanation": "劳动合同法第三十八条"})
        }
        _ => {
            json!({"kind": "true_false", "text": format!("第{i}题：用人单位可以扣押劳动者的身份证。"), "answer": ["F"], "points": 20, "explanation": "劳动合同法第九条"})
        }
    }
}

fn quiz_body(org: i64, now: DateTime<Utc>, per_day: i32, audience: &str) -> Value {
    json!({
        "org_id": org, "title": "惠工普法答题", "description": "劳动合同法与工会法知识竞答",
        "starts_at": (now - TimeDelta::hours(1)).to_rfc3339(), "ends_at": (now + TimeDelta::days(30)).to_rfc3339(),
        "questions_per_attempt": 5, "time_limit_secs": 120, "pass_score": 60, "max_attempts_per_day": per_day,
        "draws_per_pass": 2, "audience": audience,
    })
}

async fn campaign_with(per_day: i32, audience: &str) -> Campaign {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let org: Value = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "乐陵市总工会", "kind": "federation", "parent_id": null, "region_code": "371481"})).await.json().await.unwrap();
    let org = org["id"].as_i64().unwrap();
    let res = app
        .post(
            "/api/v1/admin/quizzes",
            Some(&admin),
            quiz_body(org, app.clock.now(), per_day, audience),
        )
        .await;
    assert_eq!(res.status(), 201);
    let quiz: Value = res.json().await.unwrap();
    assert_eq!(quiz["status"], "draft");
    let quiz = quiz["id"].as_i64().unwrap();
    let questions: Vec<Value> = (0..9).map(question).collect();
    let res = app
        .post(
            &format!("/api/v1/admin/quizzes/{quiz}/questions"),
            Some(&admin),
            json!(questions),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            &format!("/api/v1/admin/quizzes/{quiz}/publish"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // The bank's answers, known to the test through the question texts.
    let bank: Vec<(i64, Vec<String>)> = app
        .db(move |c| {
            Ok(huigong::quizzes::store::questions_of(c, quiz)?
                .into_iter()
                .map(|q| (q.id, serde_json::from_str(&q.answer).unwrap()))
                .collect())
        })
        .await;
    Campaign {
        app,
        admin,
        org,
        quiz,
        answers: bank.into_iter().collect(),
    }
}

async fn campaign() -> Campaign {
    campaign_with(3, "everyone").await
}

impl Campaign {
    async fn start(&self, member: &str) -> Value {
        let res = self
            .app
            .post(
                &format!("/api/v1/quizzes/{}/attempts", self.quiz),
                Some(member),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// Answers: right for the first `right` questions, wrong for the rest.
    fn answers(&self, attempt: &Value, right: usize) -> Value {
        let answers: Vec<Value> = attempt["questions"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let id = q["id"].as_i64().unwrap();
                let keys = if i < right {
                    self.answers[&id].clone()
                } else {
                    let options: Vec<String> = q["options"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|o| o["key"].as_str().unwrap().to_owned())
                        .collect();
                    vec![
                        options
                            .into_iter()
                            .find(|k| !self.answers[&id].contains(k))
                            .unwrap(),
                    ]
                };
                json!({"question_id": id, "keys": keys})
            })
            .collect();
        json!({"answers": answers})
    }

    async fn submit(&self, member: &str, attempt: &Value, right: usize) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/attempts/{}/submit", attempt["attempt_id"]),
                Some(member),
                self.answers(attempt, right),
            )
            .await
    }

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
}

#[tokio::test]
async fn an_attempt_deals_questions_without_keys_and_scores_on_the_server() {
    let c = campaign().await;
    let member = token(&c.app.wechat_member().await);
    let res = c
        .app
        .post(
            &format!("/api/v1/quizzes/{}/attempts", c.quiz),
            Some(&member),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("\"answer\"")
            && !text.contains("explanation")
            && !text.contains("劳动合同法第"),
        "an answer key leaked: {text}"
    );
    let attempt: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(attempt["questions"].as_array().unwrap().len(), 5);

    c.app.clock.advance(TimeDelta::seconds(42));
    let res = c.submit(&member, &attempt, 3).await;
    assert_eq!(res.status(), 200);
    let result: Value = res.json().await.unwrap();
    assert_eq!(result["score"], 60);
    assert_eq!(result["passed"], true);
    assert_eq!(result["duration_ms"], 42_000);
    assert_eq!(result["draws_granted"], 2);
    let review = result["review"].as_array().unwrap();
    assert_eq!(review.len(), 5);
    assert_eq!(review.iter().filter(|r| r["correct"] == true).count(), 3);
    assert!(review.iter().all(|r| r["answer"].as_array().is_some()
        && r["explanation"].as_str().unwrap().starts_with("劳动合同法")));
    assert_eq!(
        c.chances(&member).await,
        json!({"granted": 2, "used": 0, "remaining": 2})
    );

    // A failing attempt grants nothing.
    let attempt = c.start(&member).await;
    let result: Value = c.submit(&member, &attempt, 1).await.json().await.unwrap();
    assert_eq!(
        (result["passed"].clone(), result["draws_granted"].clone()),
        (json!(false), json!(0))
    );
    assert_eq!(c.chances(&member).await["granted"], 2);

    // Someone else's attempt does not exist for you; answers must belong to the attempt.
    let attempt = c.start(&member).await;
    let other = token(&c.app.wechat_member().await);
    problem(c.submit(&other, &attempt, 5).await, 404, "not_found").await;
    let bogus = json!({"answers": [{"question_id": 999_999, "keys": ["A"]}, {"question_id": attempt["questions"][0]["id"], "keys": ["Z"]}]});
    let p = problem(
        c.app
            .post(
                &format!("/api/v1/attempts/{}/submit", attempt["attempt_id"]),
                Some(&member),
                bogus,
            )
            .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(
        fields(&p),
        vec!["answers[0].question_id", "answers[1].keys"]
    );
}

#[tokio::test]
async fn late_submissions_are_refused_after_the_grace() {
    let c = campaign().await;
    let member = token(&c.app.wechat_member().await);
    let attempt = c.start(&member).await;
    c.app.clock.advance(TimeDelta::seconds(120 + 4));
    assert_eq!(
        c.submit(&member, &attempt, 5).await.status(),
        200,
        "within the 5 s grace"
    );
    let result: Value = c.submit(&member, &attempt, 5).await.json().await.unwrap();
    assert_eq!(result["duration_ms"], 120_000, "clipped to the time limit");

    let attempt = c.start(&member).await;
    c.app.clock.advance(TimeDelta::seconds(120 + 6));
    problem(
        c.submit(&member, &attempt, 5).await,
        409,
        "quiz.attempt_expired",
    )
    .await;
    problem(
        c.submit(&member, &attempt, 5).await,
        409,
        "quiz.attempt_expired",
    )
    .await;
    assert_eq!(
        c.chances(&member).await["granted"],
        2,
        "only the first attempt counted"
    );

    // A new attempt abandons the open one.
    let other = token(&c.app.wechat_member().await);
    let first = c.start(&other).await;
    c.start(&other).await;
    problem(
        c.submit(&other, &first, 5).await,
        409,
        "quiz.attempt_abandoned",
    )
    .await;
}

#[tokio::test]
async fn the_daily_limit_resets_at_local_midnight() {
    let c = campaign_with(2, "everyone").await;
    // 23:00 in Shanghai.
    let now = c.app.clock.now();
    let local = now.with_timezone(&chrono_tz::Asia::Shanghai);
    let to_23h = local
        .date_naive()
        .and_hms_opt(23, 0, 0)
        .unwrap()
        .and_local_timezone(chrono_tz::Asia::Shanghai)
        .unwrap()
        .with_timezone(&Utc);
    c.app.clock.set(if to_23h > now {
        to_23h
    } else {
        to_23h + TimeDelta::days(1)
    });

    let member = token(&c.app.wechat_member().await);
    c.start(&member).await;
    c.start(&member).await;
    let res = c
        .app
        .post(
            &format!("/api/v1/quizzes/{}/attempts", c.quiz),
            Some(&member),
            json!({}),
        )
        .await;
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry, 3600, "until local midnight");
    problem(res, 429, "quiz.daily_limit").await;

    c.app.clock.advance(TimeDelta::minutes(59));
    problem(
        c.app
            .post(
                &format!("/api/v1/quizzes/{}/attempts", c.quiz),
                Some(&member),
                json!({}),
            )
            .await,
        429,
        "quiz.daily_limit",
    )
    .await;
    c.app.clock.advance(TimeDelta::minutes(1));
    c.start(&member).await;
}

#[tokio::test]
async fn concurrent_starts_respect_the_daily_limit() {
    let c = campaign_with(3, "everyone").await;
    let member = token(&c.app.wechat_member().await);
    let tasks = (0..10).map(|_| {
        let req = c
            .app
            .client
            .post(c.app.url(&format!("/api/v1/quizzes/{}/attempts", c.quiz)))
            .bearer_auth(&member)
            .json(&json!({}));
        tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
    });
    let statuses: Vec<u16> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_double_submit_grants_chances_once() {
    let c = campaign().await;
    let member = token(&c.app.wechat_member().await);
    let attempt = c.start(&member).await;
    let body = c.answers(&attempt, 5);
    let tasks = (0..8).map(|_| {
        let req = c
            .app
            .client
            .post(c.app.url(&format!(
                "/api/v1/attempts/{}/submit",
                attempt["attempt_id"]
            )))
            .bearer_auth(&member)
            .json(&body);
        tokio::spawn(async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        })
    });
    let outcomes: Vec<(u16, Value)> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        outcomes
            .iter()
            .all(|(s, b)| *s == 200 && b["score"] == 100 && b["draws_granted"] == 2),
        "{outcomes:?}"
    );
    assert_eq!(
        c.chances(&member).await,
        json!({"granted": 2, "used": 0, "remaining": 2})
    );
}

#[tokio::test]
async fn the_leaderboard_orders_score_then_time_then_earlier_and_survives_a_flush() {
    let c = campaign().await;
    let mut members = Vec::new();
    // (right answers, seconds taken)
    for (right, secs) in [(5, 30), (5, 20), (4, 5), (5, 20)] {
        let session = c.app.wechat_member().await;
        let t = token(&session);
        let attempt = c.start(&t).await;
        c.app.clock.advance(TimeDelta::seconds(secs));
        assert_eq!(c.submit(&t, &attempt, right).await.status(), 200);
        c.app.clock.advance(TimeDelta::seconds(60));
        members.push((session["user"]["id"].as_i64().unwrap(), t));
    }
    // A worse second try does not lower the best.
    let attempt = c.start(&members[0].1).await;
    c.app.clock.advance(TimeDelta::seconds(2));
    c.submit(&members[0].1, &attempt, 0).await;

    let board: Value = c
        .app
        .get(
            &format!("/api/v1/quizzes/{}/leaderboard?limit=10", c.quiz),
            Some(&members[0].1),
        )
        .await
        .json()
        .await
        .unwrap();
    let order: Vec<i64> = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        order,
        vec![members[1].0, members[3].0, members[0].0, members[2].0],
        "{board}"
    );
    assert_eq!(board["items"][0]["score"], 100);
    assert_eq!(board["items"][0]["duration_ms"], 20_000);
    assert_eq!(board["items"][0]["rank"], 1);
    assert_eq!(board["items"][0]["user"]["nickname"], "微信用户");
    assert_eq!(
        board["me"],
        json!({"rank": 3, "score": 100, "duration_ms": 30_000})
    );

    // The hot store loses the board: it is rebuilt from SQL, same order.
    let keys = [
        format!("{}:{{quiz:{}}}:lb", c.app.state.keys.prefix(), c.quiz),
        format!("{}:{{quiz:{}}}:lb:built", c.app.state.keys.prefix(), c.quiz),
    ];
    assert_eq!(c.app.state.hot.del(&keys).await.unwrap(), 2);
    let rebuilt: Value = c
        .app
        .get(
            &format!("/api/v1/quizzes/{}/leaderboard?limit=2", c.quiz),
            Some(&members[2].1),
        )
        .await
        .json()
        .await
        .unwrap();
    let order: Vec<i64> = rebuilt["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![members[1].0, members[3].0]);
    assert_eq!(rebuilt["me"]["rank"], 4);
    let stranger = token(&c.app.wechat_member().await);
    let board: Value = c
        .app
        .get(
            &format!("/api/v1/quizzes/{}/leaderboard", c.quiz),
            Some(&stranger),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(board["me"].is_null());
}

#[tokio::test]
async fn organizers_build_banks_all_or_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let org: Value = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "诸城市总工会", "kind": "federation", "parent_id": null, "region_code": "370782"})).await.json().await.unwrap();
    let org = org["id"].as_i64().unwrap();
    let quiz: Value = app
        .post(
            "/api/v1/admin/quizzes",
            Some(&admin),
            quiz_body(org, app.clock.now(), 3, "everyone"),
        )
        .await
        .json()
        .await
        .unwrap();
    let quiz = quiz["id"].as_i64().unwrap();

    let mut bad = question(0);
    bad["answer"] = json!(["D"]);
    let p = problem(
        app.post(
            &format!("/api/v1/admin/quizzes/{quiz}/questions"),
            Some(&admin),
            json!([question(1), bad]),
        )
        .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), vec!["[1].answer"]);
    problem(
        app.post(
            &format!("/api/v1/admin/quizzes/{quiz}/publish"),
            Some(&admin),
            json!({}),
        )
        .await,
        409,
        "quiz.no_questions",
    )
    .await;

    let csv = "kind,text,options,answer,points,explanation\nsingle,试用期最长不超过多久？,A:一个月|B:六个月,B,20,第十九条\nsingle,第二题题干,A:甲|B:乙,C,ten,\n";
    let res = app
        .client
        .post(app.url(&format!("/api/v1/admin/quizzes/{quiz}/questions/import")))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let p = problem(res, 422, "validation.failed").await;
    assert_eq!(fields(&p), vec!["rows[3].points", "rows[3].answer"]);
    let stats: Value = app
        .get(&format!("/api/v1/admin/quizzes/{quiz}/stats"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["questions"], json!([]));

    let csv = "kind,text,options,answer,points,explanation\n".to_owned()
        + &(0..5).map(|i| format!("single,第{i}题：工会会员按本人工资收入的多少交纳会费？,A:百分之零点五|B:百分之二,A,20,中国工会章程\n")).collect::<String>();
    // Sent twice with its Idempotency-Key (a double click): added once, the same answer.
    for _ in 0..2 {
        let res = app
            .client
            .post(app.url(&format!("/api/v1/admin/quizzes/{quiz}/questions/import")))
            .bearer_auth(&admin)
            .header("content-type", "text/csv")
            .header("idempotency-key", "bank-1")
            .body(csv.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"added": 5, "total": 5})
        );
    }
    let res = app
        .client
        .post(app.url(&format!("/api/v1/admin/quizzes/{quiz}/questions/import")))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("[]")
        .send()
        .await
        .unwrap();
    problem(res, 415, "unsupported_media_type").await;

    assert_eq!(
        app.post(
            &format!("/api/v1/admin/quizzes/{quiz}/publish"),
            Some(&admin),
            json!({})
        )
        .await
        .status(),
        200
    );
    problem(
        app.post(
            &format!("/api/v1/admin/quizzes/{quiz}/questions"),
            Some(&admin),
            json!([question(0)]),
        )
        .await,
        409,
        "quiz.frozen",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/admin/quizzes/{quiz}/publish"),
            Some(&admin),
            json!({}),
        )
        .await,
        409,
        "quiz.frozen",
    )
    .await;

    // Bad campaign settings are named; a time without an offset is refused.
    let mut body = quiz_body(org, app.clock.now(), 0, "everyone");
    body["ends_at"] = body["starts_at"].clone();
    body["time_zone"] = json!("Mars/Olympus");
    let p = problem(
        app.post("/api/v1/admin/quizzes", Some(&admin), body).await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(
        fields(&p),
        vec!["time_zone", "max_attempts_per_day", "ends_at"]
    );
    let mut body = quiz_body(org, app.clock.now(), 3, "everyone");
    body["starts_at"] = json!("2026-11-23T08:00:00");
    assert_eq!(
        fields(
            &problem(
                app.post("/api/v1/admin/quizzes", Some(&admin), body).await,
                400,
                "request.invalid_field"
            )
            .await
        ),
        vec!["starts_at"]
    );

    // Members and other unions' staff cannot touch it.
    let member = token(&app.wechat_member().await);
    problem(
        app.post(
            "/api/v1/admin/quizzes",
            Some(&member),
            quiz_body(org, app.clock.now(), 3, "everyone"),
        )
        .await,
        403,
        "auth.forbidden",
    )
    .await;
    problem(
        app.get(
            &format!("/api/v1/admin/quizzes/{quiz}/stats"),
            Some(&member),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn members_only_quizzes_and_the_org_ranking() {
    let c = campaign_with(3, "members").await;
    let app = &c.app;
    let outsider = token(&app.wechat_member().await);
    problem(
        app.post(
            &format!("/api/v1/quizzes/{}/attempts", c.quiz),
            Some(&outsider),
            json!({}),
        )
        .await,
        403,
        "quiz.members_only",
    )
    .await;

    // A member of a grassroots union under the quiz's federation.
    let union: Value = app.post("/api/v1/admin/orgs", Some(&c.admin), json!({"name": "乐陵市快递行业联合工会", "kind": "joint", "parent_id": c.org, "region_code": "371481"})).await.json().await.unwrap();
    let union = union["id"].as_i64().unwrap();
    let member = token(&app.wechat_member().await);
    let id_number = huigong::enrollment::rules::synthetic_id("371481", "19900101", "123").unwrap();
    let e: Value = app
        .post("/api/v1/enrollments", Some(&member), json!({"org_id": union, "real_name": "李秀英", "id_number": id_number, "phone": random_phone(), "employer": "中通快递", "occupation": "快递员", "employment_form": "courier", "consent_version": "2026-01"}))
        .await
        .json()
        .await
        .unwrap();
    app.post(
        &format!("/api/v1/admin/enrollments/{}/approve", e["id"]),
        Some(&c.admin),
        json!({}),
    )
    .await;
    let attempt = c.start(&member).await;
    assert_eq!(c.submit(&member, &attempt, 5).await.status(), 200);
    let attempt = c.start(&member).await;
    assert_eq!(c.submit(&member, &attempt, 2).await.status(), 200);

    let ranking: Value = app
        .get(&format!("/api/v1/quizzes/{}/org-ranking", c.quiz), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ranking["items"],
        json!([
            {"org_id": c.org, "name": "乐陵市总工会", "participations": 2},
            {"org_id": union, "name": "乐陵市快递行业联合工会", "participations": 2},
        ])
    );

    let stats: Value = app
        .get(
            &format!("/api/v1/admin/quizzes/{}/stats", c.quiz),
            Some(&c.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            stats["participants"].clone(),
            stats["attempts"].clone(),
            stats["submitted"].clone(),
            stats["passed"].clone()
        ),
        (json!(1), json!(2), json!(2), json!(1))
    );
    assert_eq!(stats["pass_rate"], 0.5);
    let answered: i64 = stats["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["answered"].as_i64().unwrap())
        .sum();
    assert_eq!(answered, 10);
    let res = app
        .get(
            &format!("/api/v1/admin/quizzes/{}/results.csv", c.quiz),
            Some(&c.admin),
        )
        .await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.lines().nth(1).unwrap().contains(",100,true,"));
}
