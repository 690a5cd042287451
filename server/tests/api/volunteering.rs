//! Volunteering: capacity under concurrency, the waitlist, on-site check-in, the 60% rule,
//! the append-only ledger, boards and certificates.

use chrono::{DateTime, TimeDelta, Utc};
use huigong::clock::Clock;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem, token};

/// 乐陵市工人文化宫, GCJ-02.
const SITE: (f64, f64) = (37.7297, 117.2317);

struct Volunteering {
    app: TestApp,
    admin: String,
    org: i64,
}

async fn volunteering() -> Volunteering {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let org: Value = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "乐陵市总工会", "kind": "federation", "parent_id": null, "region_code": "371481"})).await.json().await.unwrap();
    Volunteering {
        org: org["id"].as_i64().unwrap(),
        app,
        admin,
    }
}

impl Volunteering {
    /// An activity of two hours starting in `starts_in`.
    async fn activity(&self, capacity: i32, starts_in: TimeDelta) -> (i64, DateTime<Utc>) {
        let starts = self.app.clock.now() + starts_in;
        let res = self
            .app
            .post("/api/v1/admin/volunteer-activities", Some(&self.admin), json!({
                "org_id": self.org, "title": "文明交通志愿服务", "address": "乐陵市工人文化宫", "location": {"lat": SITE.0, "lng": SITE.1},
                "starts_at": starts.to_rfc3339(), "ends_at": (starts + TimeDelta::hours(2)).to_rfc3339(),
                "capacity": capacity, "signup_deadline": (starts - TimeDelta::hours(1)).to_rfc3339(),
            }))
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        (
            res.json::<Value>().await.unwrap()["id"].as_i64().unwrap(),
            starts,
        )
    }

    async fn signup(&self, id: i64, member: &str, waitlist: bool) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/volunteer-activities/{id}/signups"),
                Some(member),
                json!({"waitlist": waitlist}),
            )
            .await
    }

    async fn code(&self, id: i64) -> String {
        let c: Value = self
            .app
            .get(
                &format!("/api/v1/admin/volunteer-activities/{id}/checkin-code"),
                Some(&self.admin),
            )
            .await
            .json()
            .await
            .unwrap();
        c["code"].as_str().unwrap().to_owned()
    }

    async fn presence(
        &self,
        member: &str,
        id: i64,
        what: &str,
        code: &str,
        at: (f64, f64),
    ) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/volunteer-activities/{id}/{what}"),
                Some(member),
                json!({"code": code, "location": {"lat": at.0, "lng": at.1}}),
            )
            .await
    }
}

#[tokio::test]
async fn fifty_sign_ups_for_ten_places() {
    let v = volunteering().await;
    let (id, _) = v.activity(10, TimeDelta::days(2)).await;
    let mut members = Vec::new();
    for _ in 0..50 {
        members.push(token(&v.app.wechat_member().await));
    }
    let tasks = members.iter().enumerate().map(|(i, m)| {
        let body = json!({"waitlist": i % 2 == 0});
        let req = v
            .app
            .client
            .post(
                v.app
                    .url(&format!("/api/v1/volunteer-activities/{id}/signups")),
            )
            .bearer_auth(m)
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
    let confirmed = outcomes
        .iter()
        .filter(|(s, b)| *s == 201 && b["status"] == "confirmed")
        .count();
    let waiting = outcomes
        .iter()
        .filter(|(s, b)| *s == 201 && b["status"] == "waitlisted")
        .count();
    let full = outcomes
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "volunteer.full")
        .count();
    assert_eq!(confirmed, 10, "{outcomes:?}");
    assert_eq!(confirmed + waiting + full, 50);
    let activity: Value = v
        .app
        .get(&format!("/api/v1/volunteer-activities/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(activity["places_left"], 0);
}

#[tokio::test]
async fn cancelling_hands_the_place_to_the_first_in_line() {
    let v = volunteering().await;
    let (id, _) = v.activity(1, TimeDelta::days(2)).await;
    let (a, b, c) = (
        token(&v.app.wechat_member().await),
        token(&v.app.wechat_member().await),
        token(&v.app.wechat_member().await),
    );
    assert_eq!(
        v.signup(id, &a, false).await.json::<Value>().await.unwrap()["status"],
        "confirmed"
    );
    problem(v.signup(id, &b, false).await, 409, "volunteer.full").await;
    assert_eq!(
        v.signup(id, &b, true).await.json::<Value>().await.unwrap()["status"],
        "waitlisted"
    );
    v.app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(
        v.signup(id, &c, true).await.json::<Value>().await.unwrap()["status"],
        "waitlisted"
    );
    problem(
        v.signup(id, &a, true).await,
        409,
        "volunteer.already_signed_up",
    )
    .await;

    assert_eq!(
        v.app
            .request(
                Method::DELETE,
                &format!("/api/v1/volunteer-activities/{id}/signups/me"),
                Some(&a),
                None
            )
            .await
            .status(),
        204
    );
    // b waited longest: b now holds the place, c still waits.
    v.app.clock.advance(TimeDelta::days(2));
    let code_now = v.code(id).await;
    assert_eq!(
        v.presence(&b, id, "checkin", &code_now, SITE)
            .await
            .status(),
        200
    );
    problem(
        v.presence(&c, id, "checkin", &code_now, SITE).await,
        409,
        "volunteer.not_signed_up",
    )
    .await;
    // After the deadline nobody signs up or cancels.
    problem(v.signup(id, &a, true).await, 409, "volunteer.signup_closed").await;
    problem(
        v.app
            .request(
                Method::DELETE,
                &format!("/api/v1/volunteer-activities/{id}/signups/me"),
                Some(&c),
                None,
            )
            .await,
        409,
        "volunteer.signup_closed",
    )
    .await;
}

#[tokio::test]
async fn check_in_needs_the_code_the_place_and_the_time() {
    let v = volunteering().await;
    let (id, starts) = v.activity(5, TimeDelta::days(1)).await;
    let m = token(&v.app.wechat_member().await);
    assert_eq!(
        v.app
            .post(
                &format!("/api/v1/volunteer-activities/{id}/signups"),
                Some(&m),
                json!({})
            )
            .await
            .status(),
        201
    );
    let stranger = token(&v.app.wechat_member().await);

    // Too early.
    let code = v.code(id).await;
    problem(
        v.presence(&m, id, "checkin", &code, SITE).await,
        409,
        "volunteer.outside_window",
    )
    .await;
    v.app.clock.set(starts - TimeDelta::minutes(10));
    let code = v.code(id).await;
    let p = problem(
        v.presence(&m, id, "checkin", "000000", SITE).await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), vec!["code"]);
    // 0.009 degrees north is about 1 km.
    let p = problem(
        v.presence(&m, id, "checkin", &code, (SITE.0 + 0.009, SITE.1))
            .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), vec!["location"]);
    problem(
        v.presence(&stranger, id, "checkin", &code, SITE).await,
        409,
        "volunteer.not_signed_up",
    )
    .await;
    problem(
        v.presence(&m, id, "checkout", &code, SITE).await,
        409,
        "volunteer.outside_window",
    )
    .await;

    // The previous code still works for 30 s after it changes, not later.
    let window_end = v
        .app
        .get(
            &format!("/api/v1/admin/volunteer-activities/{id}/checkin-code"),
            Some(&v.admin),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["valid_until"]
        .as_str()
        .unwrap()
        .parse::<DateTime<Utc>>()
        .unwrap();
    v.app.clock.set(window_end + TimeDelta::seconds(20));
    assert_eq!(
        v.presence(&m, id, "checkin", &code, SITE).await.status(),
        200
    );
    problem(
        v.presence(&m, id, "checkin", &v.code(id).await, SITE).await,
        409,
        "volunteer.already_checked_in",
    )
    .await;
    v.app.clock.set(window_end + TimeDelta::seconds(40));
    problem(
        v.presence(&m, id, "checkout", &code, SITE).await,
        409,
        "volunteer.outside_window",
    )
    .await;
}

#[tokio::test]
async fn the_sixty_percent_rule_corrections_and_the_ledger() {
    let v = volunteering().await;
    let (id, starts) = v.activity(5, TimeDelta::days(1)).await;
    let (full, short) = (v.app.wechat_member().await, v.app.wechat_member().await);
    let (tf, ts) = (token(&full), token(&short));
    for t in [&tf, &ts] {
        assert_eq!(
            v.app
                .post(
                    &format!("/api/v1/volunteer-activities/{id}/signups"),
                    Some(t),
                    json!({})
                )
                .await
                .status(),
            201
        );
    }
    // Both check in at the start; one leaves after 60 of 120 minutes, one stays to the end.
    v.app.clock.set(starts);
    let code = v.code(id).await;
    for t in [&tf, &ts] {
        assert_eq!(
            v.presence(t, id, "checkin", &code, SITE).await.status(),
            200
        );
    }
    v.app.clock.set(starts + TimeDelta::minutes(60));
    let out: Value = v
        .presence(&ts, id, "checkout", &v.code(id).await, SITE)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            out["credited_minutes"].clone(),
            out["pending_confirmation"].clone()
        ),
        (json!(0), json!(true))
    );
    v.app.clock.set(starts + TimeDelta::minutes(150));
    let out: Value = v
        .presence(&tf, id, "checkout", &v.code(id).await, SITE)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            out["credited_minutes"].clone(),
            out["pending_confirmation"].clone()
        ),
        (json!(120), json!(false)),
        "clipped to the activity"
    );
    problem(
        v.presence(&tf, id, "checkout", &v.code(id).await, SITE)
            .await,
        409,
        "volunteer.not_checked_in",
    )
    .await;

    // Organizer: confirms 60 minutes for the short stay; never more than the activity.
    let sid = short["user"]["id"].as_i64().unwrap();
    let res = v
        .app
        .post(
            &format!("/api/v1/admin/volunteer-activities/{id}/hours"),
            Some(&v.admin),
            json!([{"user_id": sid, "minutes": 121, "note": "核对"}]),
        )
        .await;
    assert_eq!(
        fields(&problem(res, 422, "validation.failed").await),
        vec!["[0].minutes"]
    );
    let res = v
        .app
        .post(
            &format!("/api/v1/admin/volunteer-activities/{id}/hours"),
            Some(&v.admin),
            json!([{"user_id": 987654, "minutes": 10, "note": "核对"}]),
        )
        .await;
    assert_eq!(
        fields(&problem(res, 422, "validation.failed").await),
        vec!["[0].user_id"]
    );
    let res = v
        .app
        .post(
            &format!("/api/v1/admin/volunteer-activities/{id}/hours"),
            Some(&v.admin),
            json!([{"user_id": sid, "minutes": 60, "note": "提前离开，经核实服务 60 分钟"}]),
        )
        .await;
    assert_eq!(res.status(), 201);
    // A later correction down to 45 is a new entry; nothing is rewritten.
    v.app
        .post(
            &format!("/api/v1/admin/volunteer-activities/{id}/hours"),
            Some(&v.admin),
            json!([{"user_id": sid, "minutes": 45, "note": "更正为 45 分钟"}]),
        )
        .await;
    let mine: Value = v
        .app
        .get("/api/v1/me/volunteer-hours", Some(&ts))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["total_minutes"], 45);
    let kinds: Vec<(String, i64)> = mine["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["minutes"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("pending".into(), 0),
            ("correction".into(), 60),
            ("correction".into(), -15)
        ]
    );

    // The board of the org and year, and after a correction it is fresh.
    let board: Value = v
        .app
        .get(
            &format!("/api/v1/volunteer-hours/leaderboard?org_id={}", v.org),
            Some(&ts),
        )
        .await
        .json()
        .await
        .unwrap();
    let totals: Vec<i64> = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["total_minutes"].as_i64().unwrap())
        .collect();
    assert_eq!(totals, vec![120, 45]);
    assert_eq!(board["me"], json!({"rank": 2, "total_minutes": 45}));
    v.app
        .post(
            &format!("/api/v1/admin/volunteer-activities/{id}/hours"),
            Some(&v.admin),
            json!([{"user_id": sid, "minutes": 120, "note": "全程参与，更正"}]),
        )
        .await;
    let board: Value = v
        .app
        .get(
            &format!("/api/v1/volunteer-hours/leaderboard?org_id={}", v.org),
            Some(&ts),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(board["me"]["total_minutes"], 120);

    let stats: Value = v
        .app
        .get(
            &format!("/api/v1/admin/orgs/{}/stats/volunteering", v.org),
            Some(&v.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"org_id": v.org, "activities": 1, "volunteers": 2, "total_minutes": 240})
    );

    // A certificate anyone can verify; garbage is not valid.
    let cert: Value = v
        .app
        .post("/api/v1/me/volunteer-certificates", Some(&tf), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cert["total_minutes"], 120);
    let check: Value = v
        .app
        .get(
            &format!(
                "/api/v1/volunteer-certificates/{}",
                cert["code"].as_str().unwrap()
            ),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            check["valid"].clone(),
            check["total_minutes"].clone(),
            check["holder"].clone()
        ),
        (json!(true), json!(120), json!("微***"))
    );
    let check: Value = v
        .app
        .get("/api/v1/volunteer-certificates/NOTACODE", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(check["valid"], false);
    let newcomer = token(&v.app.wechat_member().await);
    problem(
        v.app
            .post(
                "/api/v1/me/volunteer-certificates",
                Some(&newcomer),
                json!({}),
            )
            .await,
        409,
        "volunteer.no_hours",
    )
    .await;
}

#[tokio::test]
async fn bad_activities_are_named() {
    let v = volunteering().await;
    let now = v.app.clock.now();
    let res = v
        .app
        .post("/api/v1/admin/volunteer-activities", Some(&v.admin), json!({
            "org_id": v.org, "title": "x", "address": "乐陵", "location": {"lat": 200.0, "lng": 117.0},
            "starts_at": now.to_rfc3339(), "ends_at": (now - TimeDelta::hours(1)).to_rfc3339(), "capacity": 0,
            "signup_deadline": (now + TimeDelta::days(1)).to_rfc3339(),
        }))
        .await;
    let mut named = fields(&problem(res, 422, "validation.failed").await);
    named.sort();
    assert_eq!(
        named,
        vec![
            "capacity",
            "ends_at",
            "location",
            "signup_deadline",
            "title"
        ]
    );
    let member = token(&v.app.wechat_member().await);
    let (id, _) = v.activity(3, TimeDelta::days(1)).await;
    problem(
        v.app
            .get(
                &format!("/api/v1/admin/volunteer-activities/{id}/checkin-code"),
                Some(&member),
            )
            .await,
        404,
        "not_found",
    )
    .await;
    let upcoming: Value = v
        .app
        .get("/api/v1/volunteer-activities?status=upcoming", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(upcoming["items"][0]["id"], id);
}
