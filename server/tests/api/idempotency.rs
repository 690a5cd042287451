//! `Idempotency-Key`: replay, mismatch, in flight.

use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};

fn org_body(name: &str) -> Value {
    json!({"name": name, "kind": "federation", "parent_id": null, "region_code": "330900"})
}

async fn post_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/admin/orgs"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn org_count(app: &TestApp) -> usize {
    let all: Value = app
        .get("/api/v1/orgs?limit=100", None)
        .await
        .json()
        .await
        .unwrap();
    all["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn same_key_replays_and_other_body_is_refused() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let body = org_body("舟山市总工会");

    let first = post_with_key(&app, &admin, "create-zhoushan-1", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = post_with_key(&app, &admin, "create-zhoushan-1", &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(org_count(&app).await, 1);

    let other = post_with_key(&app, &admin, "create-zhoushan-1", &org_body("嘉定区总工会")).await;
    problem(other, 422, "idempotency.mismatch").await;
    assert_eq!(org_count(&app).await, 1);

    // Keys belong to their caller: another admin's same key is a new request.
    let (_, other_admin) = app.platform_admin().await;
    let theirs = post_with_key(
        &app,
        &other_admin,
        "create-zhoushan-1",
        &org_body("嘉定区总工会"),
    )
    .await;
    assert_eq!(theirs.status(), 201);

    // An error frees the key for a corrected retry.
    let bad = post_with_key(
        &app,
        &admin,
        "retry-me",
        &json!({"name": "", "kind": "federation", "parent_id": null, "region_code": "330900"}),
    )
    .await;
    problem(bad, 422, "validation.failed").await;
    assert_eq!(
        post_with_key(&app, &admin, "retry-me", &org_body("金华市金东区总工会"))
            .await
            .status(),
        201
    );

    let long = "k".repeat(256);
    problem(
        post_with_key(&app, &admin, &long, &body).await,
        400,
        "idempotency.invalid_key",
    )
    .await;
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_once() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let body = org_body("诸城市总工会");
    let tasks = (0..10).map(|_| {
        let req = app
            .client
            .post(app.url("/api/v1/admin/orgs"))
            .bearer_auth(&admin)
            .header("idempotency-key", "one-key")
            .json(&body);
        tokio::spawn(async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        })
    });
    let outcomes: Vec<(u16, Value)> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for (status, body) in &outcomes {
        assert!(
            *status == 201 || (*status == 409 && body["code"] == "idempotency.in_flight"),
            "{status} {body}"
        );
    }
    let created: Vec<&Value> = outcomes
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|b| b["id"] == created[0]["id"]),
        "every 201 is the same org"
    );
    assert_eq!(org_count(&app).await, 1);
}
