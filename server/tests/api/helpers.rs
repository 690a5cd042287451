//! Spawns a server on its own database (a SQLite file, or a Postgres schema) and hot-store
//! key prefix, with local mock servers for WeChat and SMS, and a small typed client.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::Utc;
use diesel::Connection;
use diesel::connection::SimpleConnection;
use huigong::auth::password::hash_password;
use huigong::auth::store;
use huigong::clock::ManualClock;
use huigong::config::{Config, Secret, SmsProviderKind};
use huigong::domain::UserId;
use huigong::{AppState, Application};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const JWT_SECRET: &str = "test-jwt-secret-test-jwt-secret-0123456789";
pub const STAFF_PASSWORD: &str = "staff-password-123";

/// Which stack the suite runs on, from the environment CI sets.
///
/// Loopback connections skip TLS unless the URL asks for it: it protects nothing on
/// 127.0.0.1, and libpq's OpenSSL clean-up at process exit can race with the servers the
/// harness leaves running (seen once as an abort after every test had passed).
pub fn pg_url() -> Option<String> {
    let url = std::env::var("HUIGONG_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())?;
    let loopback =
        url.contains("@127.0.0.1") || url.contains("@localhost") || url.contains("@[::1]");
    if loopback && !url.contains("sslmode=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        return Some(format!("{url}{sep}sslmode=disable"));
    }
    Some(url)
}

pub fn redis_url() -> Option<String> {
    std::env::var("HUIGONG_TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

pub fn random_suffix() -> String {
    hex::encode(rand::random::<[u8; 6]>())
}

/// Everything the server logs during the test run, to prove what it never logs.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn logs() -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                "debug,h2=info,hyper=info,reqwest=info,actix_server=warn,wiremock=info,diesel=info",
            )
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buffer
    })
}

/// A Postgres schema that lives as long as the test.
struct PgSchema {
    admin_url: String,
    name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// A database URL of its own for one test: a fresh SQLite file or Postgres schema.
pub struct TestDb {
    pub url: String,
    _dir: tempfile::TempDir,
    _schema: Option<PgSchema>,
}

impl TestDb {
    pub fn new() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        match pg_url() {
            Some(base) => {
                let name = format!("t_{}", random_suffix());
                let mut conn = diesel::PgConnection::establish(&base)
                    .expect("HUIGONG_TEST_DATABASE_URL answers");
                conn.batch_execute(&format!("CREATE SCHEMA {name}"))
                    .unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{name}");
                TestDb {
                    url,
                    _dir: dir,
                    _schema: Some(PgSchema {
                        admin_url: base,
                        name,
                    }),
                }
            }
            None => {
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    _dir: dir,
                    _schema: None,
                }
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    pub clock: Arc<ManualClock>,
    pub wechat: MockServer,
    pub sms: MockServer,
    database_url: String,
    /// Dropped with the first server (a second one borrows it).
    _db: Option<TestDb>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with the test configuration, changed by `tweak` first.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on_with(TestDb::new(), tweak).await
    }

    /// Spawns on a database prepared by the test (for instance by the CLI).
    pub async fn spawn_on(db: TestDb) -> TestApp {
        Self::spawn_on_with(db, |_| {}).await
    }

    async fn spawn_on_with(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let url = db.url.clone();
        let prefix = format!("hgt{}", random_suffix());
        Self::launch(url, prefix, Some(db), tweak).await
    }

    /// A second server on the same database and hot store (with Redis, the same keys), as a
    /// deployment behind a load balancer runs them.
    pub async fn second_server(&self) -> TestApp {
        let prefix = self.state.config.redis_prefix.clone();
        Self::launch(self.database_url().to_owned(), prefix, None, |_| {}).await
    }

    async fn launch(
        database_url: String,
        prefix: String,
        db: Option<TestDb>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        logs();
        let wechat = MockServer::start().await;
        let sms = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/send"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&sms)
            .await;
        let mut config = Config {
            listen: "127.0.0.1:0".into(),
            database_url,
            database_pool_size: 8,
            redis_url: redis_url(),
            redis_prefix: prefix.clone(),
            jwt_secret: Secret::new(JWT_SECRET),
            data_key: Secret::new(hex::encode([7u8; 32])),
            wechat_api_base: wechat.uri(),
            wechat_appid: "wx-test-app".into(),
            wechat_secret: Secret::new("wechat-test-secret"),
            sms_provider: SmsProviderKind::Http,
            sms_api_base: sms.uri(),
            sms_api_key: Secret::new("sms-test-key"),
            workers: Some(2),
            ..Config::default()
        };
        tweak(&mut config);
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let app = Application::build_with_clock(config, clock.clone())
            .await
            .expect("the test server starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let state_url = state.config.database_url.clone();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            state,
            clock,
            wechat,
            sms,
            database_url: state_url,
            _db: db,
        }
    }

    /// The database the server runs on (for the CLI against the same data).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("the request reaches the server")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    /// Runs a closure on a database connection of the app (setting up fixtures).
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut huigong::db::DbConn) -> Result<T, huigong::error::ApiError> + Send + 'static,
    ) -> T {
        self.state.db.run(f).await.expect("fixture query")
    }

    /// Creates a staff user with a password; `platform_admin` makes it a platform admin.
    pub async fn staff_user(&self, username: &str, platform_admin: bool) -> UserId {
        let username = username.to_owned();
        let hash = hash_password(STAFF_PASSWORD).unwrap();
        self.db(move |c| {
            Ok(store::create_staff(
                c,
                &username,
                &username,
                &hash,
                platform_admin,
                Utc::now().naive_utc(),
            )?)
        })
        .await
    }

    /// A new staff user given `role` in `org` by `admin`, signed in: their access token.
    pub async fn org_staff(&self, admin: &str, org: i64, role: &str) -> String {
        let name = format!("{role}-{}", random_suffix());
        let id = self.staff_user(&name, false).await;
        let res = self
            .post(
                &format!("/api/v1/admin/orgs/{org}/staff"),
                Some(admin),
                json!({"user_id": id.0, "role": role}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        self.staff_login(&name).await
    }

    /// Signs a staff user in with the tests' password: their access token.
    pub async fn staff_login(&self, username: &str) -> String {
        let body: Value = self
            .password_login(username, STAFF_PASSWORD)
            .await
            .json()
            .await
            .unwrap();
        token(&body)
    }

    pub async fn password_login(&self, username: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/password-login",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// A signed-in platform admin: (user id, access token).
    pub async fn platform_admin(&self) -> (UserId, String) {
        let name = format!("admin-{}", random_suffix());
        let id = self.staff_user(&name, true).await;
        (id, self.staff_login(&name).await)
    }

    /// Answers the next jscode2session call for `code` with `reply`.
    pub async fn mock_wechat(&self, code: &str, reply: Value) {
        Mock::given(method("GET"))
            .and(path("/sns/jscode2session"))
            .and(wiremock::matchers::query_param("js_code", code))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string(reply.to_string())
                    .insert_header("content-type", "text/plain"),
            )
            .mount(&self.wechat)
            .await;
    }

    /// A member signed in through WeChat with a fresh openid: the token response.
    pub async fn wechat_member(&self) -> Value {
        let code = format!("code-{}", random_suffix());
        self.mock_wechat(
            &code,
            json!({"openid": format!("openid-{code}"), "session_key": "secret-session-key"}),
        )
        .await;
        let res = self
            .post("/api/v1/auth/wechat", None, json!({"code": code}))
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// The codes the SMS provider was asked to send to `phone`, oldest first.
    pub async fn sms_codes_for(&self, phone: &str) -> Vec<String> {
        let requests = self.sms.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .filter(|b| b["phone"] == phone)
            .filter_map(|b| b["params"]["code"].as_str().map(str::to_owned))
            .collect()
    }

    /// A member signed in by SMS with this phone: the token response.
    pub async fn sms_member(&self, phone: &str) -> Value {
        let res = self
            .post("/api/v1/auth/sms-codes", None, json!({"phone": phone}))
            .await;
        assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
        let code = self.sms_codes_for(phone).await.pop().unwrap();
        let res = self
            .post(
                "/api/v1/auth/sms-login",
                None,
                json!({"phone": phone, "code": code}),
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

/// A random mainland mobile number.
pub fn random_phone() -> String {
    format!("139{:08}", rand::random_range(0..100_000_000u32))
}

/// Reads a problem+json error and checks its shape; returns the body.
pub async fn problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "content type");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "code in {body}");
    assert_eq!(body["status"], status);
    for key in ["type", "title", "detail", "trace_id", "errors"] {
        assert!(body.get(key).is_some(), "{key} missing in {body}");
    }
    assert!(!body["trace_id"].as_str().unwrap().is_empty());
    body
}

/// The field names a problem names in `errors`.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

pub fn token(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}
