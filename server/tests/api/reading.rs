//! Reading check-ins: calendar days in the campaign's zone, streaks, makeups, the board.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Asia::Shanghai;
use huigong::clock::Clock;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem, token};

struct Reading {
    app: TestApp,
    admin: String,
    campaign: i64,
    /// The campaign's first day.
    first: NaiveDate,
}

/// Local wall-clock time in Shanghai on `day`, as UTC.
fn at(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    day.and_hms_opt(h, m, 0)
        .unwrap()
        .and_local_timezone(Shanghai)
        .unwrap()
        .with_timezone(&Utc)
}

async fn reading() -> Reading {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let org: Value = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "舟山市总工会", "kind": "federation", "parent_id": null, "region_code": "330900"})).await.json().await.unwrap();
    let first = app.clock.now().with_timezone(&Shanghai).date_naive() - TimeDelta::days(2);
    app.clock.set(at(first, 9, 0));
    let res = app
        .post("/api/v1/admin/reading-campaigns", Some(&admin), json!({
            "org_id": org["id"], "title": "书香工汇 21 天读书打卡", "starts_on": first.to_string(), "ends_on": (first + TimeDelta::days(20)).to_string(),
            "target_days": 4, "time_zone": "Asia/Shanghai", "makeup_cards": 1, "min_note_chars": 5,
        }))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let campaign = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    Reading {
        app,
        admin,
        campaign,
        first,
    }
}

impl Reading {
    async fn member(&self) -> String {
        let t = token(&self.app.wechat_member().await);
        let res = self
            .app
            .post(
                &format!("/api/v1/reading-campaigns/{}/join", self.campaign),
                Some(&t),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 201);
        t
    }

    async fn check_in(&self, member: &str) -> reqwest::Response {
        self.app
            .post(&format!("/api/v1/reading-campaigns/{}/checkins", self.campaign), Some(member), json!({"book_title": "平凡的世界", "minutes": 30, "note": "读到孙少平在矿上的日子，很受触动。"}))
            .await
    }

    async fn make_up(&self, member: &str, day: NaiveDate) -> reqwest::Response {
        self.app
            .post(&format!("/api/v1/reading-campaigns/{}/makeups", self.campaign), Some(member), json!({"date": day.to_string(), "book_title": "平凡的世界", "minutes": 20, "note": "补上那天的阅读记录。"}))
            .await
    }
}

#[tokio::test]
async fn streaks_follow_local_days_gaps_and_makeups() {
    let r = reading().await;
    let app = &r.app;
    let m = r.member().await;
    let d = |n: i64| r.first + TimeDelta::days(n);

    // 23:59 and 00:01 local are two days.
    app.clock.set(at(d(0), 23, 59));
    let p: Value = r.check_in(&m).await.json().await.unwrap();
    assert_eq!(
        (
            p["date"].as_str().unwrap(),
            p["current_streak"].as_i64().unwrap()
        ),
        (d(0).to_string().as_str(), 1)
    );
    problem(r.check_in(&m).await, 409, "reading.already_checked_in").await;
    app.clock.advance(TimeDelta::minutes(2));
    let p: Value = r.check_in(&m).await.json().await.unwrap();
    assert_eq!(p["date"], d(1).to_string());
    assert_eq!(p["current_streak"], 2);

    // The next day without a check-in yet: the streak stands. A day missed: it breaks.
    app.clock.set(at(d(2), 20, 0));
    let me: Value = app
        .get(
            &format!("/api/v1/reading-campaigns/{}/me", r.campaign),
            Some(&m),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["current_streak"].clone(), me["checked_today"].clone()),
        (json!(2), json!(false))
    );
    app.clock.set(at(d(3), 8, 0));
    let p: Value = r.check_in(&m).await.json().await.unwrap();
    assert_eq!(
        (
            p["current_streak"].clone(),
            p["longest_streak"].clone(),
            p["total_days"].clone()
        ),
        (json!(1), json!(2), json!(3))
    );
    assert_eq!(p["completed"], false);

    // A makeup mends it and completes the target.
    let p: Value = r.make_up(&m, d(2)).await.json().await.unwrap();
    assert_eq!(p["date"], d(2).to_string());
    let me: Value = app
        .get(
            &format!("/api/v1/reading-campaigns/{}/me", r.campaign),
            Some(&m),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            me["current_streak"].clone(),
            me["total_days"].clone(),
            me["completed"].clone()
        ),
        (json!(4), json!(4), json!(true))
    );
    assert_eq!(me["makeup_cards_left"], 0);
    assert_eq!(
        me["checked_days"],
        json!([
            d(0).to_string(),
            d(1).to_string(),
            d(2).to_string(),
            d(3).to_string()
        ])
    );

    // Makeups: never today or later, never outside, never without a card.
    let p = problem(r.make_up(&m, d(3)).await, 422, "validation.failed").await;
    assert_eq!(fields(&p), vec!["date"]);
    problem(r.make_up(&m, d(5)).await, 422, "validation.failed").await;
    problem(r.make_up(&m, d(-1)).await, 422, "validation.failed").await;
    app.clock.set(at(d(6), 8, 0));
    problem(r.make_up(&m, d(4)).await, 409, "reading.no_makeup_cards").await;
}

#[tokio::test]
async fn one_check_in_per_day_even_at_the_same_moment() {
    let r = reading().await;
    let m = r.member().await;
    let body = json!({"book_title": "平凡的世界", "minutes": 30, "note": "同一时刻的两次打卡。"});
    let tasks = (0..10).map(|_| {
        let req = r
            .app
            .client
            .post(r.app.url(&format!(
                "/api/v1/reading-campaigns/{}/checkins",
                r.campaign
            )))
            .bearer_auth(&m)
            .json(&body);
        tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
    });
    let statuses: Vec<u16> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let me: Value = r
        .app
        .get(
            &format!("/api/v1/reading-campaigns/{}/me", r.campaign),
            Some(&m),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["total_days"], 1);
}

#[tokio::test]
async fn bad_check_ins_are_named_and_not_stored() {
    let r = reading().await;
    let app = &r.app;
    let stranger = token(&app.wechat_member().await);
    problem(r.check_in(&stranger).await, 409, "reading.not_joined").await;
    let m = r.member().await;
    let res = app
        .post(
            &format!("/api/v1/reading-campaigns/{}/checkins", r.campaign),
            Some(&m),
            json!({"book_title": "", "minutes": 2, "note": "短"}),
        )
        .await;
    let p = problem(res, 422, "validation.failed").await;
    assert_eq!(fields(&p), vec!["book_title", "minutes", "note"]);
    let me: Value = app
        .get(
            &format!("/api/v1/reading-campaigns/{}/me", r.campaign),
            Some(&m),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["total_days"], 0);
    // Joining twice changes nothing; after the end nobody joins or checks in.
    assert_eq!(
        app.post(
            &format!("/api/v1/reading-campaigns/{}/join", r.campaign),
            Some(&m),
            json!({})
        )
        .await
        .status(),
        200
    );
    app.clock.set(at(r.first + TimeDelta::days(21), 9, 0));
    problem(r.check_in(&m).await, 409, "reading.not_running").await;
    problem(
        app.post(
            &format!("/api/v1/reading-campaigns/{}/join", r.campaign),
            Some(&stranger),
            json!({}),
        )
        .await,
        409,
        "reading.ended",
    )
    .await;
    // Campaign settings.
    let res = app
        .post("/api/v1/admin/reading-campaigns", Some(&r.admin), json!({"org_id": 1, "title": "x", "starts_on": "2026-12-10", "ends_on": "2026-12-01", "target_days": 5, "time_zone": "Nowhere/Land"}))
        .await;
    let p = problem(res, 422, "validation.failed").await;
    assert_eq!(fields(&p), vec!["title", "time_zone", "ends_on"]);
}

#[tokio::test]
async fn the_board_ranks_total_days_then_streak_and_is_rebuilt() {
    let r = reading().await;
    let app = &r.app;
    let d = |n: i64| r.first + TimeDelta::days(n);
    let (a, b, c) = (r.member().await, r.member().await, r.member().await);
    // a: days 0,1,2 (streak 3); b: days 0,2 + today(3)... set up per day.
    app.clock.set(at(d(0), 9, 0));
    for m in [&a, &b, &c] {
        r.check_in(m).await;
    }
    app.clock.set(at(d(1), 9, 0));
    r.check_in(&a).await;
    app.clock.set(at(d(2), 9, 0));
    r.check_in(&a).await;
    r.check_in(&b).await;
    r.check_in(&c).await;
    // a: 3 days streak 3; b: 2 days streak 1; c: 2 days streak 1; c makes up day 1 -> 3 days streak 3.
    r.make_up(&c, d(1)).await;
    app.clock.set(at(d(3), 9, 0));
    r.check_in(&c).await;
    // Today (d3): c 4 days streak 4; a 3 days streak 3 (today unchecked); b 2 days streak 1.
    let board: Value = app
        .get(
            &format!("/api/v1/reading-campaigns/{}/leaderboard", r.campaign),
            Some(&b),
        )
        .await
        .json()
        .await
        .unwrap();
    let totals: Vec<(i64, i64)> = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["total_days"].as_i64().unwrap(),
                e["current_streak"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(totals, vec![(4, 4), (3, 3), (2, 1)], "{board}");
    assert_eq!(board["me"]["rank"], 3);

    // Lost from the hot store: rebuilt from SQL with the same standings.
    let prefix = app.state.keys.prefix().to_owned();
    let key = format!("{prefix}:{{reading:{}}}:lb:{}", r.campaign, d(3));
    app.state
        .hot
        .del(&[key.clone(), format!("{key}:built")])
        .await
        .unwrap();
    let again: Value = app
        .get(
            &format!("/api/v1/reading-campaigns/{}/leaderboard", r.campaign),
            Some(&b),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["items"], board["items"]);

    // A day later with nobody checking in, streaks through yesterday still count; a's broke.
    app.clock.set(at(d(5), 9, 0));
    let later: Value = app
        .get(
            &format!("/api/v1/reading-campaigns/{}/leaderboard", r.campaign),
            Some(&b),
        )
        .await
        .json()
        .await
        .unwrap();
    let totals: Vec<(i64, i64)> = later["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["total_days"].as_i64().unwrap(),
                e["current_streak"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(totals, vec![(4, 0), (3, 0), (2, 0)]);

    let stats: Value = app
        .get(
            &format!("/api/v1/admin/reading-campaigns/{}/stats", r.campaign),
            Some(&r.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            stats["joined"].clone(),
            stats["completed"].clone(),
            stats["checkins"].clone()
        ),
        (json!(3), json!(1), json!(9))
    );
    assert_eq!(
        stats["per_day"][0],
        json!({"date": d(0).to_string(), "checkins": 3})
    );
    let csv = app
        .get(
            &format!(
                "/api/v1/admin/reading-campaigns/{}/finishers.csv",
                r.campaign
            ),
            Some(&r.admin),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2);
    problem(
        app.get(
            &format!("/api/v1/admin/reading-campaigns/{}/stats", r.campaign),
            Some(&b),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}
