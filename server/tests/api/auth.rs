//! Logins, sessions and tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{
    JWT_SECRET, STAFF_PASSWORD, TestApp, fields, logs, problem, random_phone, random_suffix, token,
};

#[tokio::test]
async fn wechat_login_finds_or_creates_the_user() {
    let app = TestApp::spawn().await;
    app.mock_wechat(
        "c-first",
        json!({"openid": "o-alice", "session_key": "sk-never-shown", "unionid": "u1"}),
    )
    .await;
    app.mock_wechat(
        "c-second",
        json!({"openid": "o-alice", "session_key": "sk-never-shown"}),
    )
    .await;

    let res = app
        .post("/api/v1/auth/wechat", None, json!({"code": "c-first"}))
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("sk-never-shown"),
        "the session key leaked: {text}"
    );
    let first: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(first["expires_in"], 900);
    assert!(first["refresh_token"].as_str().unwrap().len() >= 40);
    assert_eq!(first["user"]["roles"][0]["role"], "member");

    let second: Value = app
        .post("/api/v1/auth/wechat", None, json!({"code": "c-second"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["user"]["id"], second["user"]["id"]);

    let me: Value = app
        .get("/api/v1/me", Some(&token(&second)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], first["user"]["id"]);
    assert!(me["membership"].is_null());

    // The app id and secret went to WeChat as query parameters.
    let requests = app.wechat.received_requests().await.unwrap();
    let query = requests[0].url.query().unwrap();
    assert!(query.contains("appid=wx-test-app") && query.contains("secret=wechat-test-secret"));
    assert!(query.contains("grant_type=authorization_code"));
    assert!(!logs().contents().contains("sk-never-shown"));
}

#[tokio::test]
async fn wechat_errcodes_map_to_statuses() {
    let app = TestApp::spawn().await;
    for (errcode, status, code) in [
        (40029, 401, "auth.wechat_code_invalid"),
        (45011, 429, "rate_limited"),
        (-1, 503, "auth.wechat_unavailable"),
        (40226, 403, "auth.wechat_user_blocked"),
        (12345, 502, "auth.wechat_error"),
    ] {
        let js_code = format!("err{errcode}");
        app.mock_wechat(&js_code, json!({"errcode": errcode, "errmsg": "refused"}))
            .await;
        let res = app
            .post("/api/v1/auth/wechat", None, json!({"code": js_code}))
            .await;
        problem(res, status, code).await;
    }
    let p = problem(
        app.post("/api/v1/auth/wechat", None, json!({"code": ""}))
            .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), vec!["code"]);
    let p = problem(
        app.post("/api/v1/auth/wechat", None, json!({})).await,
        400,
        "request.missing_field",
    )
    .await;
    assert_eq!(fields(&p), vec!["code"]);
}

#[tokio::test]
async fn wechat_unreachable_is_503() {
    let app = TestApp::spawn_with(|c| c.wechat_api_base = "http://127.0.0.1:1".into()).await;
    problem(
        app.post("/api/v1/auth/wechat", None, json!({"code": "abc"}))
            .await,
        503,
        "auth.wechat_unavailable",
    )
    .await;
}

#[tokio::test]
async fn sms_login_and_code_limits() {
    let app = TestApp::spawn().await;
    let phone = random_phone();
    let res = app
        .post(
            "/api/v1/auth/sms-codes",
            None,
            json!({"phone": format!("+86{phone}")}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(sent["phone"], format!("{}****{}", &phone[..3], &phone[7..]));
    let code = app.sms_codes_for(&phone).await.pop().unwrap();
    assert_eq!(code.len(), 6);

    // A second code for the same number within a minute: 429 with Retry-After.
    let res = app
        .post("/api/v1/auth/sms-codes", None, json!({"phone": phone}))
        .await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert!(res.headers().contains_key("ratelimit"));
    problem(res, 429, "rate_limited").await;
    assert_eq!(
        app.sms_codes_for(&phone).await.len(),
        1,
        "nothing more was sent"
    );

    let res = app
        .post(
            "/api/v1/auth/sms-login",
            None,
            json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["user"]["phone"], sent["phone"]);
    // A used code does not work twice.
    let res = app
        .post(
            "/api/v1/auth/sms-login",
            None,
            json!({"phone": phone, "code": code}),
        )
        .await;
    problem(res, 401, "auth.sms_code_invalid").await;

    // The same number later is the same user.
    let again = app.sms_member(&random_phone()).await;
    assert_ne!(again["user"]["id"], session["user"]["id"]);

    // Logs never carry the number, the code or tokens.
    let logged = logs().contents();
    for secret in [
        phone.as_str(),
        code.as_str(),
        session["access_token"].as_str().unwrap(),
        session["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!logged.contains(secret), "logs contain a secret");
    }
}

#[tokio::test]
async fn sms_codes_per_client_address_per_day() {
    let app = TestApp::spawn_with(|c| {
        c.sms_per_ip_per_minute = 100;
        c.sms_per_ip_per_day = 3;
    })
    .await;
    for _ in 0..3 {
        let res = app
            .post(
                "/api/v1/auth/sms-codes",
                None,
                json!({"phone": random_phone()}),
            )
            .await;
        assert_eq!(res.status(), 202);
    }
    let res = app
        .post(
            "/api/v1/auth/sms-codes",
            None,
            json!({"phone": random_phone()}),
        )
        .await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry <= 86_400 && retry > 0);
    problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn sms_bad_input_sends_nothing() {
    let app = TestApp::spawn().await;
    for bad in ["", "12345", "12812345678", "138123456789"] {
        let p = problem(
            app.post("/api/v1/auth/sms-codes", None, json!({"phone": bad}))
                .await,
            422,
            "validation.failed",
        )
        .await;
        assert_eq!(fields(&p), vec!["phone"]);
    }
    let p = problem(
        app.post(
            "/api/v1/auth/sms-codes",
            None,
            json!({"phone": 13812345678u64}),
        )
        .await,
        400,
        "request.invalid_field",
    )
    .await;
    assert_eq!(fields(&p), vec!["phone"]);
    let p = problem(
        app.post(
            "/api/v1/auth/sms-login",
            None,
            json!({"phone": "1", "code": "12"}),
        )
        .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), vec!["phone", "code"]);
    assert!(app.sms.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn five_wrong_codes_void_the_code_and_codes_expire() {
    let app = TestApp::spawn().await;
    let phone = random_phone();
    assert_eq!(
        app.post("/api/v1/auth/sms-codes", None, json!({"phone": phone}))
            .await
            .status(),
        202
    );
    let code = app.sms_codes_for(&phone).await.pop().unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        problem(
            app.post(
                "/api/v1/auth/sms-login",
                None,
                json!({"phone": phone, "code": wrong}),
            )
            .await,
            401,
            "auth.sms_code_wrong",
        )
        .await;
    }
    let res = app
        .post(
            "/api/v1/auth/sms-login",
            None,
            json!({"phone": phone, "code": code}),
        )
        .await;
    problem(res, 401, "auth.sms_code_invalid").await;

    // Expiry: a code is good for five minutes (the clock moves, the rate limit does not matter).
    let phone = random_phone();
    assert_eq!(
        app.post("/api/v1/auth/sms-codes", None, json!({"phone": phone}))
            .await
            .status(),
        202
    );
    let code = app.sms_codes_for(&phone).await.pop().unwrap();
    app.clock.advance(TimeDelta::minutes(6));
    problem(
        app.post(
            "/api/v1/auth/sms-login",
            None,
            json!({"phone": phone, "code": code}),
        )
        .await,
        401,
        "auth.sms_code_invalid",
    )
    .await;
}

#[tokio::test]
async fn concurrent_guesses_never_exceed_five() {
    let app = TestApp::spawn().await;
    let phone = random_phone();
    assert_eq!(
        app.post("/api/v1/auth/sms-codes", None, json!({"phone": phone}))
            .await
            .status(),
        202
    );
    let code = app.sms_codes_for(&phone).await.pop().unwrap();
    let guesses: Vec<String> = (0..20)
        .map(|i| format!("{:06}", i))
        .filter(|g| *g != code)
        .take(12)
        .collect();
    let tasks = guesses.into_iter().map(|g| {
        let req = app
            .client
            .post(app.url("/api/v1/auth/sms-login"))
            .json(&json!({"phone": phone, "code": g}));
        tokio::spawn(async move {
            req.send().await.unwrap().json::<Value>().await.unwrap()["code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
    });
    let codes: Vec<String> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let judged = codes.iter().filter(|c| *c == "auth.sms_code_wrong").count();
    assert_eq!(judged, 5, "exactly five guesses were compared: {codes:?}");
    problem(
        app.post(
            "/api/v1/auth/sms-login",
            None,
            json!({"phone": phone, "code": code}),
        )
        .await,
        401,
        "auth.sms_code_invalid",
    )
    .await;
}

#[tokio::test]
async fn password_lockout_after_five_failures() {
    let app = TestApp::spawn().await;
    let name = format!("staff-{}", random_suffix());
    app.staff_user(&name, false).await;
    problem(
        app.password_login("nobody-here", STAFF_PASSWORD).await,
        401,
        "auth.invalid_credentials",
    )
    .await;
    for _ in 0..5 {
        problem(
            app.password_login(&name, "wrong-password").await,
            401,
            "auth.invalid_credentials",
        )
        .await;
    }
    let res = app.password_login(&name, STAFF_PASSWORD).await;
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 14 * 60 && retry <= 15 * 60, "{retry}");
    problem(res, 429, "auth.account_locked").await;

    app.clock.advance(TimeDelta::minutes(16));
    let res = app.password_login(&name, STAFF_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["username"], name.as_str());
}

#[tokio::test]
async fn parallel_wrong_passwords_are_compared_five_times_at_most() {
    let app = TestApp::spawn().await;
    let name = format!("staff-{}", random_suffix());
    app.staff_user(&name, false).await;
    let tasks = (0..12).map(|_| {
        let req = app
            .client
            .post(app.url("/api/v1/auth/password-login"))
            .json(&json!({"username": name, "password": "wrong-password"}));
        tokio::spawn(async move {
            req.send().await.unwrap().json::<Value>().await.unwrap()["code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
    });
    let codes: Vec<String> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        codes
            .iter()
            .filter(|c| *c == "auth.invalid_credentials")
            .count(),
        5,
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| c == "auth.invalid_credentials" || c == "auth.account_locked"),
        "{codes:?}"
    );
    problem(
        app.password_login(&name, STAFF_PASSWORD).await,
        429,
        "auth.account_locked",
    )
    .await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let login = app.wechat_member().await;
    let first = login["refresh_token"].as_str().unwrap().to_owned();

    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        app.get("/api/v1/me", Some(&token(&rotated))).await.status(),
        200
    );

    // The first token again: reuse. The whole family dies, the thief's and the owner's.
    problem(
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first}),
        )
        .await,
        401,
        "auth.refresh_reused",
    )
    .await;
    problem(
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": second}),
        )
        .await,
        401,
        "auth.invalid_refresh_token",
    )
    .await;

    // Another login is a new family and unaffected.
    let other = app.wechat_member().await;
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": other["refresh_token"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    problem(
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": "garbage"}),
        )
        .await,
        401,
        "auth.invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn concurrent_refresh_rotates_once() {
    let app = TestApp::spawn().await;
    let login = app.wechat_member().await;
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let tasks = (0..8).map(|_| {
        let req = app
            .client
            .post(app.url("/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": refresh}));
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
    let winners: Vec<&Value> = outcomes
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert!(winners.len() <= 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|(s, _)| *s == 200 || *s == 401),
        "{outcomes:?}"
    );
    let reused = outcomes
        .iter()
        .any(|(_, b)| b["code"] == "auth.refresh_reused");
    if let (Some(winner), true) = (winners.first(), reused) {
        // The reuse came after the rotation, so the successor died with its family.
        let res = app
            .post(
                "/api/v1/auth/refresh",
                None,
                json!({"refresh_token": winner["refresh_token"]}),
            )
            .await;
        assert_eq!(res.status(), 401);
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let login = app.wechat_member().await;
    let res = app
        .post(
            "/api/v1/auth/logout",
            None,
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(res.status(), 204);
    problem(
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await,
        401,
        "auth.invalid_refresh_token",
    )
    .await;
}

fn sign(header: &Header, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn claims(sub: &Value, iss: &str, aud: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "iss": iss, "aud": aud, "exp": now + exp_offset, "nbf": now - 10, "iat": now - 10})
}

#[tokio::test]
async fn forged_and_stale_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let login = app.wechat_member().await;
    let uid = login["user"]["id"].clone();
    let sub = json!(uid.to_string());
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(huigong::auth::tokens::kid_of(JWT_SECRET.as_bytes()));

    // The control: a token we sign like the server does is accepted.
    let good = sign(
        &header,
        &claims(&sub, "huigong", "huigong-app", 600),
        JWT_SECRET,
    );
    assert_eq!(app.get("/api/v1/me", Some(&good)).await.status(), 200);

    let wrong_aud = sign(
        &header,
        &claims(&sub, "huigong", "someone-else", 600),
        JWT_SECRET,
    );
    let wrong_iss = sign(
        &header,
        &claims(&sub, "evil", "huigong-app", 600),
        JWT_SECRET,
    );
    let expired = sign(
        &header,
        &claims(&sub, "huigong", "huigong-app", -3600),
        JWT_SECRET,
    );
    let wrong_key = sign(
        &header,
        &claims(&sub, "huigong", "huigong-app", 600),
        "another-secret-another-secret-xxxxxx",
    );
    let mut string_nbf = claims(&sub, "huigong", "huigong-app", 600);
    string_nbf["nbf"] = json!((chrono::Utc::now().timestamp() + 86_400).to_string());
    let string_nbf = sign(&header, &string_nbf, JWT_SECRET);
    let mut no_sub = claims(&sub, "huigong", "huigong-app", 600);
    no_sub.as_object_mut().unwrap().remove("sub");
    let no_sub = sign(&header, &no_sub, JWT_SECRET);
    let no_kid = sign(
        &Header::new(Algorithm::HS256),
        &claims(&sub, "huigong", "huigong-app", 600),
        JWT_SECRET,
    );
    let hs512 = {
        let mut h = Header::new(Algorithm::HS512);
        h.kid = header.kid.clone();
        sign(&h, &claims(&sub, "huigong", "huigong-app", 600), JWT_SECRET)
    };
    let alg_none = {
        let head = URL_SAFE_NO_PAD
            .encode(json!({"alg": "none", "typ": "JWT", "kid": header.kid}).to_string());
        let body = URL_SAFE_NO_PAD.encode(claims(&sub, "huigong", "huigong-app", 600).to_string());
        format!("{head}.{body}.")
    };
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD
            .encode(claims(&json!("424242"), "huigong", "huigong-app", 600).to_string());
        parts.join(".")
    };

    for (name, bad) in [
        ("wrong aud", wrong_aud),
        ("wrong iss", wrong_iss),
        ("wrong key", wrong_key),
        ("string nbf", string_nbf),
        ("no sub", no_sub),
        ("no kid", no_kid),
        ("hs512", hs512),
        ("alg none", alg_none),
        ("tampered", tampered),
        ("garbage", "not.a.token".to_owned()),
    ] {
        let res = app.get("/api/v1/me", Some(&bad)).await;
        assert_eq!(res.status(), 401, "{name} was accepted");
        problem(res, 401, "auth.invalid_token").await;
    }
    problem(
        app.get("/api/v1/me", Some(&expired)).await,
        401,
        "auth.token_expired",
    )
    .await;
    problem(app.get("/api/v1/me", None).await, 401, "auth.missing_token").await;
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    problem(res, 401, "auth.missing_token").await;
}

#[tokio::test]
async fn me_shows_masked_phone_and_updates_profile() {
    let app = TestApp::spawn().await;
    let phone = random_phone();
    let session = app.sms_member(&phone).await;
    let t = token(&session);
    let me: Value = app.get("/api/v1/me", Some(&t)).await.json().await.unwrap();
    assert_eq!(me["phone"], format!("{}****{}", &phone[..3], &phone[7..]));

    let res = app
        .patch(
            "/api/v1/me",
            Some(&t),
            json!({"nickname": "  快递小哥  ", "avatar_url": "https://img.example.cn/a.png"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["nickname"], "快递小哥");
    assert_eq!(me["avatar_url"], "https://img.example.cn/a.png");

    let p = problem(
        app.patch(
            "/api/v1/me",
            Some(&t),
            json!({"nickname": "", "avatar_url": "http://x"}),
        )
        .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), vec!["nickname", "avatar_url"]);
    let p = problem(
        app.patch("/api/v1/me", Some(&t), json!({"nickname": "a".repeat(31)}))
            .await,
        422,
        "validation.failed",
    )
    .await;
    assert_eq!(fields(&p), vec!["nickname"]);
    problem(
        app.patch("/api/v1/me", Some(&t), json!({"phone": "13800000000"}))
            .await,
        400,
        "request.unknown_field",
    )
    .await;

    // Nothing of the refused requests was stored; null clears the avatar.
    let me: Value = app.get("/api/v1/me", Some(&t)).await.json().await.unwrap();
    assert_eq!(me["nickname"], "快递小哥");
    let me: Value = app
        .patch("/api/v1/me", Some(&t), json!({"avatar_url": null}))
        .await
        .json()
        .await
        .unwrap();
    assert!(me["avatar_url"].is_null());
    assert_eq!(me["nickname"], "快递小哥");
}
