//! Operations endpoints, the error contract, and the committed OpenAPI document.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));

    let ready: Value = app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let expected_db = if crate::helpers::pg_url().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let expected_hot = if crate::helpers::redis_url().is_some() {
        "redis"
    } else {
        "memory"
    };
    assert_eq!(ready["database"], expected_db);
    assert_eq!(ready["hot_store"], expected_hot);

    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(
            "huigong_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("huigong_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn startup_refuses_an_unreachable_redis() {
    // A Redis that does not answer: the server refuses to start rather than serve blind.
    let db = crate::helpers::TestDb::new();
    let config = huigong::config::Config {
        listen: "127.0.0.1:0".into(),
        database_url: db.url.clone(),
        redis_url: Some("redis://127.0.0.1:1".into()),
        ..Default::default()
    };
    assert!(huigong::Application::build(config).await.is_err());
}

#[tokio::test]
async fn errors_are_problem_json() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;

    problem(
        app.get("/api/v1/no-such-thing", None).await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.request(Method::DELETE, "/api/v1/orgs", None, None)
            .await,
        405,
        "method_not_allowed",
    )
    .await;
    problem(app.get("/api/v1/orgs/abc", None).await, 404, "not_found").await;

    // Bad JSON.
    let res = app
        .client
        .post(app.url("/api/v1/admin/orgs"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    problem(res, 400, "request.invalid_json").await;

    // Unknown field, wrong type: the field is named.
    let body = json!({"name": "测试工会", "kind": "grassroots", "parent_id": null, "region_code": "371481", "colour": "red"});
    let p = problem(
        app.post("/api/v1/admin/orgs", Some(&admin), body).await,
        400,
        "request.unknown_field",
    )
    .await;
    assert_eq!(fields(&p), vec!["colour"]);
    let body =
        json!({"name": 42, "kind": "grassroots", "parent_id": null, "region_code": "371481"});
    let p = problem(
        app.post("/api/v1/admin/orgs", Some(&admin), body).await,
        400,
        "request.invalid_field",
    )
    .await;
    assert_eq!(fields(&p), vec!["name"]);

    // Not JSON at all, and too large.
    let res = app
        .client
        .post(app.url("/api/v1/auth/wechat"))
        .header("content-type", "text/plain")
        .body("code")
        .send()
        .await
        .unwrap();
    problem(res, 415, "unsupported_media_type").await;
    let huge = json!({"code": "x".repeat(300 * 1024)});
    problem(
        app.post("/api/v1/auth/wechat", None, huge).await,
        413,
        "payload_too_large",
    )
    .await;

    // Bad query.
    let p = problem(
        app.get("/api/v1/orgs?limit=abc", None).await,
        400,
        "request.invalid_query",
    )
    .await;
    assert_eq!(fields(&p), vec!["limit"]);
    let p = problem(
        app.get("/api/v1/orgs?parent_id=-x", None).await,
        400,
        "request.invalid_query",
    )
    .await;
    assert_eq!(fields(&p), vec!["parent_id"]);
    let p = problem(
        app.get("/api/v1/orgs?limit=1000", None).await,
        400,
        "request.invalid_query",
    )
    .await;
    assert_eq!(fields(&p), vec!["limit"]);
}

#[tokio::test]
async fn problems_speak_chinese_by_default_and_english_on_request() {
    let app = TestApp::spawn().await;
    let zh = problem(app.get("/api/v1/me", None).await, 401, "auth.missing_token").await;
    assert_eq!(zh["detail"], "请先登录");
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    let en = problem(res, 401, "auth.missing_token").await;
    assert_eq!(en["detail"], "Sign in first");
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("x-request-id", "client-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-abc-123");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["trace_id"], "client-abc-123");
}

#[tokio::test]
async fn docs_and_spec_are_served() {
    let app = TestApp::spawn().await;
    let res = app.get("/docs/", None).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().to_lowercase().contains("swagger"));
    let res = app.get("/docs", None).await;
    assert!(
        res.status().is_redirection() || res.status() == 200,
        "{}",
        res.status()
    );

    let served: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let paths = served["paths"].as_object().unwrap();
    for expected in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/auth/wechat",
        "/api/v1/auth/sms-codes",
        "/api/v1/auth/sms-login",
        "/api/v1/auth/password-login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/orgs",
        "/api/v1/orgs/{id}",
        "/api/v1/admin/orgs",
        "/api/v1/admin/orgs/{id}/staff",
    ] {
        assert!(
            paths.contains_key(expected),
            "{expected} missing from the spec"
        );
    }
    assert!(paths["/api/v1/me"].get("patch").is_some());
}

/// `api-spec/openapi.json` is what the code generates. Regenerate with
/// `HUIGONG_UPDATE_SPEC=1 cargo test -p huigong spec_is_committed`.
#[test]
fn spec_is_committed() {
    let generated = huigong::openapi::spec_json();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../api-spec/openapi.json");
    if std::env::var("HUIGONG_UPDATE_SPEC").is_ok() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "api-spec/openapi.json is stale: run HUIGONG_UPDATE_SPEC=1 cargo test -p huigong spec_is_committed"
    );
}

#[tokio::test]
async fn large_answers_are_gzipped_for_clients_that_accept_it() {
    use std::io::Read;
    let app = TestApp::spawn().await;
    let get = |encoding: &'static str| {
        app.client
            .get(app.url("/openapi.json"))
            .header("accept-encoding", encoding)
            .send()
    };
    let plain = get("identity").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    assert!(plain.len() > 1024);

    for accepted in ["gzip", "br;q=1.0, gzip;q=0.8", "*"] {
        let res = get(accepted).await.unwrap();
        assert_eq!(res.headers()["content-encoding"], "gzip", "{accepted}");
        assert!(
            res.headers()["vary"]
                .to_str()
                .unwrap()
                .contains("accept-encoding")
        );
        let zipped = res.bytes().await.unwrap();
        assert!(zipped.len() < plain.len() / 3);
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, plain);
    }
    let refused = get("gzip;q=0").await.unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
    // Small answers are not worth it.
    let small = app
        .client
        .get(app.url("/healthz"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(small.headers().get("content-encoding").is_none());
}
