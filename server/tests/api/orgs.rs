//! The org tree and subtree-scoped staff roles.

use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem, random_suffix, token};

async fn create(app: &TestApp, admin: &str, name: &str, kind: &str, parent: Option<i64>) -> Value {
    let res = app
        .post(
            "/api/v1/admin/orgs",
            Some(admin),
            json!({"name": name, "kind": kind, "parent_id": parent, "region_code": "371481"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// 乐陵市总工会 with two grassroots unions, and 诸城市总工会 beside it.
struct Tree {
    laoling: i64,
    hospital: i64,
    market: i64,
    zhucheng: i64,
}

async fn tree(app: &TestApp, admin: &str) -> Tree {
    let laoling = create(app, admin, "乐陵市总工会", "federation", None).await["id"]
        .as_i64()
        .unwrap();
    let hospital = create(
        app,
        admin,
        "乐陵市人民医院工会",
        "grassroots",
        Some(laoling),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let market = create(
        app,
        admin,
        "乐陵市市场监督管理局工会",
        "grassroots",
        Some(laoling),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let zhucheng = create(app, admin, "诸城市总工会", "federation", None).await["id"]
        .as_i64()
        .unwrap();
    Tree {
        laoling,
        hospital,
        market,
        zhucheng,
    }
}

/// A staff user with `role` in `org`, signed in: the access token.
async fn staff(app: &TestApp, admin: &str, org: i64, role: &str) -> String {
    app.org_staff(admin, org, role).await
}

#[tokio::test]
async fn platform_admin_builds_the_tree() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let t = tree(&app, &admin).await;

    let org: Value = app
        .get(&format!("/api/v1/orgs/{}", t.hospital), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(org["name"], "乐陵市人民医院工会");
    assert_eq!(org["kind"], "grassroots");
    assert_eq!(org["parent_id"], t.laoling);
    assert_eq!(org["path"], json!([t.laoling, t.hospital]));
    assert_eq!(org["region_code"], "371481");

    let found: Value = app
        .get("/api/v1/orgs?q=%E4%B9%90%E9%99%B5", None)
        .await
        .json()
        .await
        .unwrap(); // 乐陵
    assert_eq!(found["items"].as_array().unwrap().len(), 3);
    let children: Value = app
        .get(&format!("/api/v1/orgs?parent_id={}", t.laoling), None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = children["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![t.hospital, t.market]);
    // A % in the search is a character, not a wildcard.
    let none: Value = app
        .get("/api/v1/orgs?q=%25", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(none["items"].as_array().unwrap().is_empty());

    // Pages of two: every org exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/orgs?limit=2&cursor={c}"),
            None => "/api/v1/orgs?limit=2".to_owned(),
        };
        let page: Value = app.get(&path, None).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec![t.laoling, t.hospital, t.market, t.zhucheng]);
    problem(
        app.get("/api/v1/orgs?cursor=bogus", None).await,
        400,
        "request.invalid_query",
    )
    .await;
    problem(app.get("/api/v1/orgs/999999", None).await, 404, "not_found").await;
}

#[tokio::test]
async fn org_admins_act_in_their_subtree_only() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let t = tree(&app, &admin).await;
    let laoling_admin = staff(&app, &admin, t.laoling, "org_admin").await;

    // Inside the subtree: create below 乐陵 and below its grassroots union.
    let joint = create(
        &app,
        &laoling_admin,
        "乐陵市快递行业联合工会",
        "joint",
        Some(t.laoling),
    )
    .await;
    assert_eq!(
        joint["path"],
        json!([t.laoling, joint["id"].as_i64().unwrap()])
    );
    create(
        &app,
        &laoling_admin,
        "内科分会",
        "grassroots",
        Some(t.hospital),
    )
    .await;

    // Outside it, or at the top: 403, and nothing is created.
    let res = app.post("/api/v1/admin/orgs", Some(&laoling_admin), json!({"name": "诸城某工会", "kind": "grassroots", "parent_id": t.zhucheng, "region_code": "370782"})).await;
    problem(res, 403, "auth.forbidden").await;
    let res = app.post("/api/v1/admin/orgs", Some(&laoling_admin), json!({"name": "新总工会", "kind": "federation", "parent_id": null, "region_code": "370782"})).await;
    problem(res, 403, "auth.forbidden").await;
    let under_zhucheng: Value = app
        .get(&format!("/api/v1/orgs?parent_id={}", t.zhucheng), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(under_zhucheng["items"].as_array().unwrap().is_empty());

    // Granting staff: in the subtree yes, elsewhere no.
    let someone = app
        .staff_user(&format!("u-{}", random_suffix()), false)
        .await;
    let res = app
        .post(
            &format!("/api/v1/admin/orgs/{}/staff", t.market),
            Some(&laoling_admin),
            json!({"user_id": someone.0, "role": "organizer"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let again = app
        .post(
            &format!("/api/v1/admin/orgs/{}/staff", t.market),
            Some(&laoling_admin),
            json!({"user_id": someone.0, "role": "organizer"}),
        )
        .await;
    problem(again, 409, "org.staff_exists").await;
    let res = app
        .post(
            &format!("/api/v1/admin/orgs/{}/staff", t.zhucheng),
            Some(&laoling_admin),
            json!({"user_id": someone.0, "role": "organizer"}),
        )
        .await;
    problem(res, 403, "auth.forbidden").await;

    // An org admin of a grassroots union cannot act on its parent.
    let hospital_admin = staff(&app, &admin, t.hospital, "org_admin").await;
    let res = app.post("/api/v1/admin/orgs", Some(&hospital_admin), json!({"name": "医院旁的工会", "kind": "grassroots", "parent_id": t.laoling, "region_code": "371481"})).await;
    problem(res, 403, "auth.forbidden").await;

    // Organizers and plain members cannot administer the tree.
    let organizer = staff(&app, &admin, t.laoling, "organizer").await;
    let res = app.post("/api/v1/admin/orgs", Some(&organizer), json!({"name": "组织者建的工会", "kind": "grassroots", "parent_id": t.laoling, "region_code": "371481"})).await;
    problem(res, 403, "auth.forbidden").await;
    let member = token(&app.wechat_member().await);
    let res = app
        .post(
            &format!("/api/v1/admin/orgs/{}/staff", t.laoling),
            Some(&member),
            json!({"user_id": someone.0, "role": "org_admin"}),
        )
        .await;
    problem(res, 403, "auth.forbidden").await;

    // /me lists the roles.
    let me: Value = app
        .get("/api/v1/me", Some(&laoling_admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["roles"],
        json!([{"role": "member", "org_id": null}, {"role": "org_admin", "org_id": t.laoling}])
    );
}

#[tokio::test]
async fn bad_org_input_is_named_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let laoling = create(&app, &admin, "乐陵市总工会", "federation", None).await["id"]
        .as_i64()
        .unwrap();

    let res = app
        .post(
            "/api/v1/admin/orgs",
            Some(&admin),
            json!({"name": " ", "kind": "grassroots", "parent_id": laoling, "region_code": "12"}),
        )
        .await;
    let p = problem(res, 422, "validation.failed").await;
    assert_eq!(fields(&p), vec!["name", "region_code"]);
    let res = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "x".repeat(61), "kind": "grassroots", "parent_id": laoling, "region_code": "371481"})).await;
    assert_eq!(
        fields(&problem(res, 422, "validation.failed").await),
        vec!["name"]
    );
    let res = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "某工会", "kind": "club", "parent_id": laoling, "region_code": "371481"})).await;
    assert_eq!(
        fields(&problem(res, 400, "request.invalid_field").await),
        vec!["kind"]
    );
    let res = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "某工会", "kind": "grassroots", "parent_id": 987654, "region_code": "371481"})).await;
    assert_eq!(
        fields(&problem(res, 422, "validation.failed").await),
        vec!["parent_id"]
    );
    let res = app.post("/api/v1/admin/orgs", Some(&admin), json!({"name": "乐陵市总工会", "kind": "federation", "parent_id": null, "region_code": "371481"})).await;
    problem(res, 409, "org.duplicate").await;
    let res = app
        .post(
            &format!("/api/v1/admin/orgs/{laoling}/staff"),
            Some(&admin),
            json!({"user_id": 987654, "role": "organizer"}),
        )
        .await;
    assert_eq!(
        fields(&problem(res, 422, "validation.failed").await),
        vec!["user_id"]
    );
    let res = app
        .post(
            &format!("/api/v1/admin/orgs/{laoling}/staff"),
            Some(&admin),
            json!({"user_id": 1, "role": "platform_admin"}),
        )
        .await;
    assert_eq!(
        fields(&problem(res, 422, "validation.failed").await),
        vec!["role"]
    );
    let res = app
        .post(
            "/api/v1/admin/orgs/987654/staff",
            Some(&admin),
            json!({"user_id": 1, "role": "organizer"}),
        )
        .await;
    problem(res, 404, "not_found").await;
    problem(
        app.post("/api/v1/admin/orgs", None, json!({})).await,
        401,
        "auth.missing_token",
    )
    .await;

    let all: Value = app.get("/api/v1/orgs", None).await.json().await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
}

async fn seed(app: &TestApp) -> huigong::demo::Seeded {
    let state = app.state.clone();
    app.db(move |c| {
        Ok(huigong::demo::seed(
            c,
            &huigong::clock::SystemClock,
            &state.crypto,
        )?)
    })
    .await
}

#[tokio::test]
async fn demo_seed_is_idempotent() {
    let app = TestApp::spawn().await;
    let first = seed(&app).await;
    assert!(
        first.orgs_created >= 5
            && first.admin_created
            && first.members_created >= 6
            && first.quiz_created
            && first.reading_created
            && first.jobs_created >= 30
            && first.activities_created >= 5
    );
    let second = seed(&app).await;
    assert_eq!(
        (
            second.orgs_created,
            second.admin_created,
            second.members_created,
            second.quiz_created,
            second.reading_created,
            second.jobs_created,
            second.activities_created
        ),
        (0, false, 0, false, false, 0, 0)
    );
    let upcoming: Value = app
        .get("/api/v1/volunteer-activities?status=upcoming", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(upcoming["items"].as_array().unwrap().len(), 2);
    let jobs: Value = app
        .get("/api/v1/job-postings?limit=100", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(jobs["items"].as_array().unwrap().len() >= 30);
    let campaigns: Value = app
        .get("/api/v1/reading-campaigns", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(campaigns["items"][0]["phase"], "running");
    // The demo quiz is live and deals five real questions.
    let quizzes: Value = app.get("/api/v1/quizzes", None).await.json().await.unwrap();
    let quiz = quizzes["items"][0]["id"].as_i64().unwrap();
    let member = token(&app.wechat_member().await);
    let attempt: Value = app
        .post(
            &format!("/api/v1/quizzes/{quiz}/attempts"),
            Some(&member),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attempt["questions"].as_array().unwrap().len(), 5);
    // Demo members: some approved with member numbers, some waiting.
    let admin: Value = app
        .password_login(
            huigong::demo::DEMO_ADMIN_USERNAME,
            huigong::demo::DEMO_ADMIN_PASSWORD,
        )
        .await
        .json()
        .await
        .unwrap();
    let laoling: Value = app
        .get(
            &format!("/api/v1/orgs?q={}", url_escape("乐陵市总工会")),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let laoling = laoling["items"][0]["id"].as_i64().unwrap();
    let stats: Value = app
        .get(
            &format!("/api/v1/admin/orgs/{laoling}/stats/membership"),
            Some(&token(&admin)),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        stats["by_status"]["approved"].as_i64().unwrap() >= 2
            && stats["by_status"]["pending"].as_i64().unwrap() >= 1,
        "{stats}"
    );
    for name in [
        "诸城市总工会",
        "乐陵市总工会",
        "金华市金东区总工会",
        "嘉定区总工会",
        "舟山市总工会",
    ] {
        let q = url_escape(name);
        let found: Value = app
            .get(&format!("/api/v1/orgs?q={q}"), None)
            .await
            .json()
            .await
            .unwrap();
        assert!(
            found["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["name"] == name),
            "{name}"
        );
    }
    let res = app
        .password_login(
            huigong::demo::DEMO_ADMIN_USERNAME,
            huigong::demo::DEMO_ADMIN_PASSWORD,
        )
        .await;
    assert_eq!(res.status(), 200);
}

fn url_escape(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}
