//! Job postings: search, expiry, stable paging, applications and their pipeline.

use chrono::TimeDelta;
use huigong::clock::Clock;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem, token};

struct Board {
    app: TestApp,
    admin: String,
    org: i64,
}

async fn board() -> Board {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let org: Value = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "乐陵市总工会", "kind": "federation", "parent_id": null, "region_code": "371481"})).await.json().await.unwrap();
    Board {
        org: org["id"].as_i64().unwrap(),
        app,
        admin,
    }
}

impl Board {
    fn body(
        &self,
        title: &str,
        employer: &str,
        salary: (i32, i32),
        district: &str,
        days: i64,
    ) -> Value {
        json!({
            "org_id": self.org, "title": title, "employer": employer, "category": "物流", "district": district,
            "address": "乐陵市开发区物流园 8 号", "location": {"lat": 37.7297, "lng": 117.2317}, "coord": "wgs84",
            "salary_min": salary.0, "salary_max": salary.1, "headcount": 5, "employment_type": "full_time",
            "description": "五险一金，包住宿", "contact_phone": "0534-6212345",
            "valid_until": (self.app.clock.now() + TimeDelta::days(days)).to_rfc3339(),
        })
    }

    /// Creates and publishes; returns the id.
    async fn post(
        &self,
        title: &str,
        employer: &str,
        salary: (i32, i32),
        district: &str,
        days: i64,
    ) -> i64 {
        let res = self
            .app
            .post(
                "/api/v1/admin/job-postings",
                Some(&self.admin),
                self.body(title, employer, salary, district, days),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        assert_eq!(
            self.app
                .post(
                    &format!("/api/v1/admin/job-postings/{id}/publish"),
                    Some(&self.admin),
                    json!({})
                )
                .await
                .status(),
            200
        );
        self.app.clock.advance(TimeDelta::seconds(1));
        id
    }

    async fn search(&self, query: &str) -> Value {
        self.app
            .get(&format!("/api/v1/job-postings?{query}"), None)
            .await
            .json()
            .await
            .unwrap()
    }
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn search_filters_sorts_and_forgets_expired_postings() {
    let b = board().await;
    let courier = b
        .post("快递分拣员", "中通快递乐陵网点", (4000, 6000), "乐陵市", 30)
        .await;
    let driver = b
        .post(
            "网约车司机",
            "滴滴出行德州分公司",
            (6000, 12000),
            "德城区",
            30,
        )
        .await;
    let short = b
        .post("外卖骑手（短期）", "美团乐陵站", (5000, 9000), "乐陵市", 1)
        .await;
    let ascii = b
        .post("KFC 门店服务员", "Yum China", (3000, 4000), "乐陵市", 30)
        .await;

    assert_eq!(
        ids(&b.search(&format!("q={}", enc("快递"))).await),
        vec![courier]
    );
    assert_eq!(
        ids(&b.search(&format!("q={}", enc("美团"))).await),
        vec![short]
    );
    assert_eq!(
        ids(&b.search("q=kfc").await),
        vec![ascii],
        "ASCII ignores case"
    );
    assert_eq!(
        ids(&b.search("q=%25").await),
        Vec::<i64>::new(),
        "% is a character"
    );
    assert_eq!(
        ids(&b.search(&format!("district={}", enc("德城区"))).await),
        vec![driver]
    );
    assert_eq!(ids(&b.search("salary_min=7000").await), vec![short, driver]);
    assert_eq!(
        ids(&b.search("sort=salary").await),
        vec![driver, short, courier, ascii]
    );
    assert_eq!(
        ids(&b.search("").await),
        vec![ascii, short, driver, courier],
        "newest first"
    );

    // Phone masked in lists; location stored in GCJ-02.
    let one: Value = b
        .app
        .get(&format!("/api/v1/job-postings/{courier}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["contact_phone"], "053****2345");
    assert!(
        (one["location"]["lat"].as_f64().unwrap() - 37.7297).abs() > 0.0005,
        "WGS-84 was converted"
    );

    // Expiry and closing take postings out of search; re-publishing brings them back.
    b.app.clock.advance(TimeDelta::days(2));
    assert!(!ids(&b.search("").await).contains(&short));
    assert_eq!(
        b.app
            .post(
                &format!("/api/v1/admin/job-postings/{courier}/close"),
                Some(&b.admin),
                json!({})
            )
            .await
            .status(),
        200
    );
    assert!(!ids(&b.search("").await).contains(&courier));
    problem(
        b.app
            .post(
                &format!("/api/v1/admin/job-postings/{short}/publish"),
                Some(&b.admin),
                json!({}),
            )
            .await,
        422,
        "validation.failed",
    )
    .await;
    let until = (b.app.clock.now() + TimeDelta::days(10)).to_rfc3339();
    assert_eq!(
        b.app
            .post(
                &format!("/api/v1/admin/job-postings/{short}/publish"),
                Some(&b.admin),
                json!({"valid_until": until})
            )
            .await
            .status(),
        200
    );
    assert_eq!(
        ids(&b.search("").await)[0],
        short,
        "re-published counts as new"
    );
    problem(
        b.app.get("/api/v1/job-postings?sort=cheapest", None).await,
        400,
        "request.invalid_query",
    )
    .await;
}

#[tokio::test]
async fn paging_neither_repeats_nor_skips_while_postings_arrive() {
    let b = board().await;
    let mut original = Vec::new();
    for i in 0..7 {
        original.push(
            b.post(
                &format!("仓库管理员{i}"),
                "京东物流德州仓",
                (4000 + i * 100, 5000 + i * 100),
                "德城区",
                30,
            )
            .await,
        );
    }
    for sort in ["newest", "salary"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut added = 0;
        loop {
            let query = match &cursor {
                Some(c) => format!("sort={sort}&limit=3&cursor={c}"),
                None => format!("sort={sort}&limit=3"),
            };
            let page = b.search(&query).await;
            seen.extend(ids(&page));
            // New postings arrive between pages (with top salaries and the newest times).
            b.post(
                &format!("新岗位{sort}{added}"),
                "顺丰速运",
                (20_000, 30_000),
                "乐陵市",
                30,
            )
            .await;
            added += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        // Newest first and highest salary first both put the originals in reverse order.
        let mut expected = original.clone();
        expected.reverse();
        let only_original: Vec<i64> = seen
            .iter()
            .copied()
            .filter(|id| original.contains(id))
            .collect();
        assert_eq!(
            only_original, expected,
            "{sort}: every original posting once, in order"
        );
        let unique: std::collections::HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no repeats");
    }
    problem(
        b.app
            .get("/api/v1/job-postings?sort=salary&cursor=garbage", None)
            .await,
        400,
        "request.invalid_query",
    )
    .await;
}

#[tokio::test]
async fn applications_move_through_the_pipeline_once() {
    let b = board().await;
    let app = &b.app;
    let posting = b
        .post("快递分拣员", "中通快递乐陵网点", (4000, 6000), "乐陵市", 30)
        .await;
    let member = token(&app.wechat_member().await);

    let before: Value = app
        .get(&format!("/api/v1/job-postings/{posting}"), Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["contact_phone"], "053****2345");
    let res = app
        .post(
            &format!("/api/v1/job-postings/{posting}/applications"),
            Some(&member),
            json!({"message": "有三年分拣经验"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let application = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    problem(
        app.post(
            &format!("/api/v1/job-postings/{posting}/applications"),
            Some(&member),
            json!({}),
        )
        .await,
        409,
        "job.already_applied",
    )
    .await;
    let after: Value = app
        .get(&format!("/api/v1/job-postings/{posting}"), Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["contact_phone"], "05346212345");

    // Staff move it; invalid moves are refused.
    let path = format!("/api/v1/admin/job-applications/{application}");
    problem(
        app.patch(&path, Some(&b.admin), json!({"status": "hired"}))
            .await,
        409,
        "job.invalid_transition",
    )
    .await;
    for step in ["viewed", "interview"] {
        assert_eq!(
            app.patch(&path, Some(&b.admin), json!({"status": step}))
                .await
                .status(),
            200
        );
    }
    problem(
        app.patch(&path, Some(&b.admin), json!({"status": "viewed"}))
            .await,
        409,
        "job.invalid_transition",
    )
    .await;
    assert_eq!(
        app.patch(&path, Some(&b.admin), json!({"status": "hired"}))
            .await
            .status(),
        200
    );
    problem(
        app.patch(&path, Some(&b.admin), json!({"status": "rejected"}))
            .await,
        409,
        "job.invalid_transition",
    )
    .await;
    problem(
        app.patch(&path, Some(&member), json!({"status": "rejected"}))
            .await,
        404,
        "not_found",
    )
    .await;

    let mine: Value = app
        .get("/api/v1/me/job-applications", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    let steps: Vec<&str> = mine["items"][0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, vec!["submitted", "viewed", "interview", "hired"]);
    assert_eq!(mine["items"][0]["status"], "hired");

    // Another member is rejected from the first step.
    let other = token(&app.wechat_member().await);
    let res: Value = app
        .post(
            &format!("/api/v1/job-postings/{posting}/applications"),
            Some(&other),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.patch(
            &format!("/api/v1/admin/job-applications/{}", res["id"]),
            Some(&b.admin),
            json!({"status": "rejected"})
        )
        .await
        .status(),
        200
    );

    let stats: Value = app
        .get(
            &format!("/api/v1/admin/orgs/{}/stats/jobs", b.org),
            Some(&b.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"org_id": b.org, "postings": 1, "positions": 5, "applications": 2, "hires": 1})
    );
    let csv = app
        .get(
            &format!("/api/v1/admin/job-postings/{posting}/applications.csv"),
            Some(&b.admin),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.contains("有三年分拣经验"));
}

#[tokio::test]
async fn one_application_even_at_the_same_moment() {
    let b = board().await;
    let posting = b
        .post("外卖骑手", "美团乐陵站", (5000, 9000), "乐陵市", 30)
        .await;
    let member = token(&b.app.wechat_member().await);
    let tasks = (0..8).map(|_| {
        let req = b
            .app
            .client
            .post(
                b.app
                    .url(&format!("/api/v1/job-postings/{posting}/applications")),
            )
            .bearer_auth(&member)
            .json(&json!({"message": "我想应聘"}));
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
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409));
}

#[tokio::test]
async fn bookmarks_drafts_and_bad_postings() {
    let b = board().await;
    let app = &b.app;
    let posting = b
        .post("叉车司机", "德州华鲁物流", (6000, 8000), "德城区", 30)
        .await;
    let member = token(&app.wechat_member().await);
    assert_eq!(
        app.request(
            Method::PUT,
            &format!("/api/v1/job-postings/{posting}/bookmark"),
            Some(&member),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        app.request(
            Method::PUT,
            &format!("/api/v1/job-postings/{posting}/bookmark"),
            Some(&member),
            None
        )
        .await
        .status(),
        204
    );
    let marks: Value = app
        .get("/api/v1/me/job-bookmarks", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&marks), vec![posting]);
    assert_eq!(
        app.request(
            Method::DELETE,
            &format!("/api/v1/job-postings/{posting}/bookmark"),
            Some(&member),
            None
        )
        .await
        .status(),
        204
    );
    let marks: Value = app
        .get("/api/v1/me/job-bookmarks", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert!(ids(&marks).is_empty());

    // A draft does not exist for members.
    let draft: Value = app
        .post(
            "/api/v1/admin/job-postings",
            Some(&b.admin),
            b.body("草稿岗位", "某公司", (1, 2), "乐陵市", 5),
        )
        .await
        .json()
        .await
        .unwrap();
    problem(
        app.get(&format!("/api/v1/job-postings/{}", draft["id"]), None)
            .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/job-postings/{}/applications", draft["id"]),
            Some(&member),
            json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    let mut bad = b.body("", "某公司", (9000, 1000), "乐陵市", -1);
    bad["contact_phone"] = json!("123");
    bad["headcount"] = json!(0);
    bad["location"] = json!({"lat": 123.0, "lng": 0.0});
    let p = problem(
        app.post("/api/v1/admin/job-postings", Some(&b.admin), bad)
            .await,
        422,
        "validation.failed",
    )
    .await;
    let mut named = fields(&p);
    named.sort();
    assert_eq!(
        named,
        vec![
            "contact_phone",
            "headcount",
            "location",
            "salary_max",
            "title",
            "valid_until"
        ]
    );
    problem(
        app.post(
            "/api/v1/admin/job-postings",
            Some(&member),
            b.body("岗位", "某公司", (1, 2), "乐陵市", 5),
        )
        .await,
        403,
        "auth.forbidden",
    )
    .await;
}
