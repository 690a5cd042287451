//! Enrollment (入会), review, member cards, transfers, the audit log.

use chrono::TimeDelta;
use huigong::clock::Clock;
use huigong::enrollment::rules::synthetic_id;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, logs, problem, random_phone, token};

/// A fresh, valid ID number of an adult.
fn new_id() -> String {
    let year = 1960 + rand::random_range(0..40);
    let birth = format!(
        "{year}{:02}{:02}",
        rand::random_range(1..=12),
        rand::random_range(1..=28)
    );
    synthetic_id(
        "371481",
        &birth,
        &format!("{:03}", rand::random_range(0..1000)),
    )
    .unwrap()
}

fn form(org: i64, id_number: &str, phone: &str) -> Value {
    json!({
        "org_id": org, "real_name": "王建国", "id_number": id_number, "phone": phone,
        "employer": "美团乐陵站", "occupation": "外卖骑手", "employment_form": "food_delivery", "consent_version": "2026-01",
    })
}

struct World {
    app: TestApp,
    admin: String,
    laoling: i64,
    riders: i64,
    hospital: i64,
    zhucheng: i64,
    zhucheng_union: i64,
}

async fn org(app: &TestApp, admin: &str, name: &str, parent: Option<i64>, region: &str) -> i64 {
    let kind = if parent.is_some() {
        "grassroots"
    } else {
        "federation"
    };
    let res = app
        .post(
            "/api/v1/admin/orgs",
            Some(admin),
            json!({"name": name, "kind": kind, "parent_id": parent, "region_code": region}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let laoling = org(&app, &admin, "乐陵市总工会", None, "371481").await;
    let riders = org(
        &app,
        &admin,
        "乐陵市新就业形态劳动者联合工会",
        Some(laoling),
        "371481",
    )
    .await;
    let hospital = org(&app, &admin, "乐陵市人民医院工会", Some(laoling), "371481").await;
    let zhucheng = org(&app, &admin, "诸城市总工会", None, "370782").await;
    let zhucheng_union = org(
        &app,
        &admin,
        "诸城市快递物流行业工会联合会",
        Some(zhucheng),
        "370782",
    )
    .await;
    World {
        app,
        admin,
        laoling,
        riders,
        hospital,
        zhucheng,
        zhucheng_union,
    }
}

impl World {
    async fn org_admin(&self, org: i64) -> String {
        self.app.org_staff(&self.admin, org, "org_admin").await
    }

    /// A member who applied to `org`: (token, enrollment).
    async fn applicant(&self, org: i64) -> (String, Value) {
        let member = token(&self.app.wechat_member().await);
        let res = self
            .app
            .post(
                "/api/v1/enrollments",
                Some(&member),
                form(org, &new_id(), &random_phone()),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        (member, res.json().await.unwrap())
    }
}

#[tokio::test]
async fn apply_review_and_carry_a_card() {
    let w = world().await;
    let app = &w.app;
    let member = token(&app.wechat_member().await);
    let phone = random_phone();
    let res = app
        .post(
            "/api/v1/enrollments",
            Some(&member),
            form(w.riders, "11010519491231002x", &phone),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["status"], "pending");
    assert_eq!(created["id_number"], "1101**********002X");
    assert_eq!(
        created["phone"],
        format!("{}****{}", &phone[..3], &phone[7..])
    );
    assert_eq!(created["history"][0]["status"], "pending");
    let id = created["id"].as_i64().unwrap();

    let mine: Value = app
        .get("/api/v1/enrollments/mine", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"][0]["id"], id);
    problem(
        app.get("/api/v1/me/membership", Some(&member)).await,
        404,
        "not_found",
    )
    .await;

    // The org admin of 乐陵 (an ancestor) sees it in the queue and approves it.
    let laoling_admin = w.org_admin(w.laoling).await;
    let queue: Value = app
        .get(
            &format!(
                "/api/v1/admin/enrollments?org_id={}&status=pending",
                w.laoling
            ),
            Some(&laoling_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue["items"].as_array().unwrap().len(), 1);
    assert_eq!(queue["items"][0]["id_number"], "1101**********002X");
    assert_eq!(
        queue["items"][0]["org_name"],
        "乐陵市新就业形态劳动者联合工会"
    );
    let res = app
        .post(
            &format!("/api/v1/admin/enrollments/{id}/approve"),
            Some(&laoling_admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let approved: Value = res.json().await.unwrap();
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["member_no"], "371481-0000001");
    let again = app
        .post(
            &format!("/api/v1/admin/enrollments/{id}/approve"),
            Some(&laoling_admin),
            json!({}),
        )
        .await;
    problem(again, 409, "enrollment.not_pending").await;

    // Membership, /me, and the card.
    let membership: Value = app
        .get("/api/v1/me/membership", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(membership["member_no"], "371481-0000001");
    assert_eq!(membership["org"]["id"], w.riders);
    let me: Value = app
        .get("/api/v1/me", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["membership"],
        json!({"status": "active", "member_no": "371481-0000001", "org_id": w.riders})
    );
    let qr = membership["card"]["qr_payload"]
        .as_str()
        .unwrap()
        .to_owned();

    let verdict: Value = app
        .post(
            "/api/v1/membership-cards/verify",
            Some(&laoling_admin),
            json!({"qr_payload": qr}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        verdict,
        json!({"valid": true, "reason": null, "member_no": "371481-0000001", "org_name": "乐陵市新就业形态劳动者联合工会", "real_name": "王**"})
    );
    let tampered = qr.replacen('e', "f", 1);
    let verdict: Value = app
        .post(
            "/api/v1/membership-cards/verify",
            Some(&laoling_admin),
            json!({"qr_payload": tampered}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (verdict["valid"].clone(), verdict["reason"].clone()),
        (json!(false), json!("tampered"))
    );
    // Members cannot check cards.
    problem(
        app.post(
            "/api/v1/membership-cards/verify",
            Some(&member),
            json!({"qr_payload": qr}),
        )
        .await,
        403,
        "auth.forbidden",
    )
    .await;
    app.clock.advance(TimeDelta::hours(25));
    let verdict: Value = app
        .post(
            "/api/v1/membership-cards/verify",
            Some(&laoling_admin),
            json!({"qr_payload": qr}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verdict["reason"], "expired");
}

#[tokio::test]
async fn id_numbers_are_checked_and_every_bad_field_named() {
    let w = world().await;
    let app = &w.app;
    let member = token(&app.wechat_member().await);
    // 440524188001010014 is valid (born 1880).
    let res = app
        .post(
            "/api/v1/enrollments",
            Some(&member),
            form(w.riders, "440524188001010014", &random_phone()),
        )
        .await;
    assert_eq!(res.status(), 201);

    let other = token(&app.wechat_member().await);
    let today = app.clock.now();
    let fifteen = synthetic_id(
        "110105",
        &(today - TimeDelta::days(15 * 365))
            .format("%Y%m%d")
            .to_string(),
        "001",
    )
    .unwrap();
    let future = synthetic_id(
        "110105",
        &(today + TimeDelta::days(30)).format("%Y%m%d").to_string(),
        "001",
    )
    .unwrap();
    for bad in [
        "130402198207290622",
        "11010519491231002",
        future.as_str(),
        fifteen.as_str(),
        "",
        "ABCDEFGHIJKLMNOPQR",
    ] {
        let res = app
            .post(
                "/api/v1/enrollments",
                Some(&other),
                form(w.riders, bad, &random_phone()),
            )
            .await;
        let p = problem(res, 422, "validation.failed").await;
        assert_eq!(fields(&p), vec!["id_number"], "{bad}");
    }
    let all_bad = json!({
        "org_id": 987654, "real_name": "Bob", "id_number": "123", "phone": "12345",
        "employer": "", "occupation": "x", "employment_form": "astronaut", "consent_version": "",
    });
    let p = problem(
        app.post("/api/v1/enrollments", Some(&other), all_bad).await,
        422,
        "validation.failed",
    )
    .await;
    let mut named = fields(&p);
    named.sort();
    assert_eq!(
        named,
        vec![
            "consent_version",
            "employer",
            "employment_form",
            "id_number",
            "occupation",
            "org_id",
            "phone",
            "real_name"
        ]
    );
    let p = problem(
        app.post(
            "/api/v1/enrollments",
            Some(&other),
            json!({"org_id": "one"}),
        )
        .await,
        400,
        "request.invalid_field",
    )
    .await;
    assert_eq!(fields(&p), vec!["org_id"]);
    let mut extra = form(w.riders, &new_id(), &random_phone());
    extra["salary"] = json!(1);
    problem(
        app.post("/api/v1/enrollments", Some(&other), extra).await,
        400,
        "request.unknown_field",
    )
    .await;
    problem(
        app.post(
            "/api/v1/enrollments",
            None,
            form(w.riders, &new_id(), &random_phone()),
        )
        .await,
        401,
        "auth.missing_token",
    )
    .await;

    // Nothing of the refused requests was stored.
    let mine: Value = app
        .get("/api/v1/enrollments/mine", Some(&other))
        .await
        .json()
        .await
        .unwrap();
    assert!(mine["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn one_live_membership_per_person_even_at_the_same_moment() {
    let w = world().await;
    let app = &w.app;
    let id_number = new_id();
    let mut members = Vec::new();
    for _ in 0..8 {
        members.push(token(&app.wechat_member().await));
    }
    let tasks = members.iter().map(|m| {
        let req = app
            .client
            .post(app.url("/api/v1/enrollments"))
            .bearer_auth(m)
            .json(&form(w.riders, &id_number, &random_phone()));
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
    assert_eq!(
        outcomes.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .filter(|(s, _)| *s != 201)
            .all(|(s, b)| *s == 409 && b["code"] == "enrollment.duplicate"),
        "{outcomes:?}"
    );

    // One account, two people: also refused while the first is live.
    let (member, first) = w.applicant(w.riders).await;
    let res = app
        .post(
            "/api/v1/enrollments",
            Some(&member),
            form(w.hospital, &new_id(), &random_phone()),
        )
        .await;
    problem(res, 409, "enrollment.duplicate").await;
    // After withdrawing, the same person may apply again.
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/enrollments/{}", first["id"]),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/enrollments/{}", first["id"]),
            Some(&member),
            None,
        )
        .await;
    problem(res, 409, "enrollment.not_pending").await;
    let res = app
        .post(
            "/api/v1/enrollments",
            Some(&member),
            form(w.hospital, &new_id(), &random_phone()),
        )
        .await;
    assert_eq!(res.status(), 201);
    let mine: Value = app
        .get("/api/v1/enrollments/mine", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["pending", "withdrawn"]);
    assert_eq!(mine["items"][1]["history"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn nobody_reaches_what_is_not_theirs() {
    let w = world().await;
    let app = &w.app;
    let (member_a, enrollment) = w.applicant(w.riders).await;
    let id = enrollment["id"].as_i64().unwrap();
    let member_b = token(&app.wechat_member().await);

    // Member B: 404 on A's application.
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/enrollments/{id}"),
            Some(&member_b),
            None,
        )
        .await;
    problem(res, 404, "not_found").await;
    problem(
        app.post(
            &format!("/api/v1/admin/enrollments/{id}/approve"),
            Some(&member_b),
            json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // The org admin of 诸城 (another subtree): cannot list, approve, reject or reveal it.
    let zhucheng_admin = w.org_admin(w.zhucheng).await;
    problem(
        app.get(
            &format!("/api/v1/admin/enrollments?org_id={}", w.laoling),
            Some(&zhucheng_admin),
        )
        .await,
        403,
        "auth.forbidden",
    )
    .await;
    let theirs: Value = app
        .get(
            &format!("/api/v1/admin/enrollments?org_id={}", w.zhucheng),
            Some(&zhucheng_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs["items"].as_array().unwrap().is_empty());
    problem(
        app.post(
            &format!("/api/v1/admin/enrollments/{id}/approve"),
            Some(&zhucheng_admin),
            json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/admin/enrollments/{id}/reject"),
            Some(&zhucheng_admin),
            json!({"reason": "不符合条件"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/admin/enrollments/{id}/reveal"),
            Some(&zhucheng_admin),
            json!({"purpose": "核对身份信息"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // A sibling grassroots admin neither.
    let hospital_admin = w.org_admin(w.hospital).await;
    problem(
        app.post(
            &format!("/api/v1/admin/enrollments/{id}/approve"),
            Some(&hospital_admin),
            json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Still pending after all that.
    let mine: Value = app
        .get("/api/v1/enrollments/mine", Some(&member_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"][0]["status"], "pending");
}

#[tokio::test]
async fn reject_with_reason_and_audited_reveal() {
    let w = world().await;
    let app = &w.app;
    let riders_admin = w.org_admin(w.riders).await;
    let member = token(&app.wechat_member().await);
    let id_number = new_id();
    let phone = random_phone();
    let created: Value = app
        .post(
            "/api/v1/enrollments",
            Some(&member),
            form(w.riders, &id_number, &phone),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();

    problem(
        app.post(
            &format!("/api/v1/admin/enrollments/{id}/reveal"),
            Some(&riders_admin),
            json!({"purpose": ""}),
        )
        .await,
        422,
        "validation.failed",
    )
    .await;
    let res = app
        .post(
            &format!("/api/v1/admin/enrollments/{id}/reveal"),
            Some(&riders_admin),
            json!({"purpose": "核对身份证件"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let revealed: Value = res.json().await.unwrap();
    assert_eq!(revealed["id_number"], id_number);

    // The audit log: who, what, why; platform admins only.
    problem(
        app.get("/api/v1/admin/audit-log", Some(&riders_admin))
            .await,
        403,
        "auth.forbidden",
    )
    .await;
    let log: Value = app
        .get("/api/v1/admin/audit-log", Some(&w.admin))
        .await
        .json()
        .await
        .unwrap();
    let entry = &log["items"][0];
    assert_eq!(entry["action"], "reveal_id_number");
    assert_eq!(entry["subject_id"], id);
    assert_eq!(entry["purpose"], "核对身份证件");
    assert!(!log.to_string().contains(&id_number));

    let p = problem(
        app.post(
            &format!("/api/v1/admin/enrollments/{id}/reject"),
            Some(&riders_admin),
            json!({"reason": ""}),
        )
        .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), vec!["reason"]);
    let res = app
        .post(
            &format!("/api/v1/admin/enrollments/{id}/reject"),
            Some(&riders_admin),
            json!({"reason": "单位信息与证明材料不符"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mine: Value = app
        .get("/api/v1/enrollments/mine", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    let e = &mine["items"][0];
    assert_eq!(e["status"], "rejected");
    assert_eq!(e["reject_reason"], "单位信息与证明材料不符");
    assert_eq!(e["history"][1]["status"], "rejected");
    assert_eq!(e["history"][1]["reason"], "单位信息与证明材料不符");
    problem(
        app.request(
            Method::DELETE,
            &format!("/api/v1/enrollments/{id}"),
            Some(&member),
            None,
        )
        .await,
        409,
        "enrollment.not_pending",
    )
    .await;

    // Neither the ID number nor the phone ever reached the log.
    let logged = logs().contents();
    assert!(
        !logged.contains(&id_number) && !logged.contains(&phone),
        "personal data in the logs"
    );
}

#[tokio::test]
async fn concurrent_approvals_number_members_uniquely() {
    let w = world().await;
    let app = &w.app;
    let laoling_admin = w.org_admin(w.laoling).await;
    let mut ids = Vec::new();
    for org in [
        w.riders, w.hospital, w.riders, w.hospital, w.riders, w.riders,
    ] {
        ids.push(w.applicant(org).await.1["id"].as_i64().unwrap());
    }
    let tasks = ids.iter().map(|id| {
        let req = app
            .client
            .post(app.url(&format!("/api/v1/admin/enrollments/{id}/approve")))
            .bearer_auth(&laoling_admin)
            .json(&json!({}));
        tokio::spawn(async move { req.send().await.unwrap().json::<Value>().await.unwrap() })
    });
    let approved: Vec<Value> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut numbers: Vec<String> = approved
        .iter()
        .map(|a| a["member_no"].as_str().unwrap().to_owned())
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=6).map(|n| format!("371481-{n:07}")).collect();
    assert_eq!(numbers, expected);

    // Another federation counts on its own.
    let (_, e) = w.applicant(w.zhucheng_union).await;
    let zhucheng_admin = w.org_admin(w.zhucheng).await;
    let approved: Value = app
        .post(
            &format!("/api/v1/admin/enrollments/{}/approve", e["id"]),
            Some(&zhucheng_admin),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approved["member_no"], "370782-0000001");
}

#[tokio::test]
async fn transfer_moves_the_membership_and_keeps_the_number() {
    let w = world().await;
    let app = &w.app;
    let laoling_admin = w.org_admin(w.laoling).await;
    let (member, e) = w.applicant(w.riders).await;
    let approved: Value = app
        .post(
            &format!("/api/v1/admin/enrollments/{}/approve", e["id"]),
            Some(&laoling_admin),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let member_no = approved["member_no"].clone();

    let p = problem(
        app.post(
            "/api/v1/me/membership/transfer",
            Some(&member),
            json!({"to_org_id": w.riders, "reason": "工作调动"}),
        )
        .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), vec!["to_org_id"]);
    let p = problem(
        app.post(
            "/api/v1/me/membership/transfer",
            Some(&member),
            json!({"to_org_id": 987654, "reason": ""}),
        )
        .await,
        422,
        "validation.failed",
    )
    .await;
    let mut named = fields(&p);
    named.sort();
    assert_eq!(named, vec!["reason", "to_org_id"]);
    let outsider = token(&app.wechat_member().await);
    problem(
        app.post(
            "/api/v1/me/membership/transfer",
            Some(&outsider),
            json!({"to_org_id": w.zhucheng_union, "reason": "工作调动"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    let res = app
        .post(
            "/api/v1/me/membership/transfer",
            Some(&member),
            json!({"to_org_id": w.zhucheng_union, "reason": "工作调动到诸城"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let transfer: Value = res.json().await.unwrap();
    assert_eq!(transfer["status"], "pending");
    let again = app
        .post(
            "/api/v1/me/membership/transfer",
            Some(&member),
            json!({"to_org_id": w.zhucheng_union, "reason": "再次申请"}),
        )
        .await;
    problem(again, 409, "transfer.pending_exists").await;

    // The sending side cannot approve it; the receiving side can.
    let tid = transfer["id"].as_i64().unwrap();
    problem(
        app.post(
            &format!("/api/v1/admin/membership-transfers/{tid}/approve"),
            Some(&laoling_admin),
            json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let zhucheng_admin = w.org_admin(w.zhucheng).await;
    let incoming: Value = app
        .get(
            &format!(
                "/api/v1/admin/membership-transfers?org_id={}&status=pending",
                w.zhucheng
            ),
            Some(&zhucheng_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(incoming["items"][0]["id"], tid);
    let res = app
        .post(
            &format!("/api/v1/admin/membership-transfers/{tid}/approve"),
            Some(&zhucheng_admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    problem(
        app.post(
            &format!("/api/v1/admin/membership-transfers/{tid}/approve"),
            Some(&zhucheng_admin),
            json!({}),
        )
        .await,
        409,
        "transfer.not_pending",
    )
    .await;

    let membership: Value = app
        .get("/api/v1/me/membership", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(membership["org"]["id"], w.zhucheng_union);
    assert_eq!(membership["member_no"], member_no);
    assert_eq!(membership["transfers"][0]["status"], "approved");
    let mine: Value = app
        .get("/api/v1/enrollments/mine", Some(&member))
        .await
        .json()
        .await
        .unwrap();
    let history: Vec<&str> = mine["items"][0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, vec!["pending", "approved", "transferred"]);
}

#[tokio::test]
async fn membership_stats_per_subtree() {
    let w = world().await;
    let app = &w.app;
    let laoling_admin = w.org_admin(w.laoling).await;
    for _ in 0..3 {
        let (_, e) = w.applicant(w.riders).await;
        app.post(
            &format!("/api/v1/admin/enrollments/{}/approve", e["id"]),
            Some(&laoling_admin),
            json!({}),
        )
        .await;
    }
    w.applicant(w.hospital).await;
    w.applicant(w.zhucheng_union).await;
    let stats: Value = app
        .get(
            &format!("/api/v1/admin/orgs/{}/stats/membership", w.laoling),
            Some(&laoling_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["by_status"]["approved"], 3);
    assert_eq!(stats["by_status"]["pending"], 1);
    assert_eq!(stats["by_status"]["rejected"], 0);
    assert_eq!(stats["by_employment_form"]["food_delivery"], 3);
    assert_eq!(stats["by_employment_form"]["courier"], 0);
    let month = app
        .clock
        .now()
        .with_timezone(&huigong::ratelimit::china_time())
        .format("%Y-%m")
        .to_string();
    assert_eq!(
        stats["by_month"],
        json!([{"month": month, "applications": 4, "approvals": 3}])
    );
    let member = token(&app.wechat_member().await);
    problem(
        app.get(
            &format!("/api/v1/admin/orgs/{}/stats/membership", w.laoling),
            Some(&member),
        )
        .await,
        403,
        "auth.forbidden",
    )
    .await;
}
