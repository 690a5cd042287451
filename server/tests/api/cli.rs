//! The `huigong` binary as an operator uses it: migrate, create the first admin, serve and
//! stop cleanly on SIGTERM.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb};

fn huigong(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_huigong"));
    cmd.env("HUIGONG_DATABASE_URL", &db.url)
        .env("HUIGONG_LOG", "warn")
        .env("HUIGONG_DATA_KEY", hex::encode([9u8; 32]))
        .env_remove("HUIGONG_REDIS_URL");
    cmd
}

#[tokio::test]
async fn migrate_and_create_the_first_admin() {
    let db = TestDb::new();
    let out = huigong(&db).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migration(s) applied"));

    let create = |password: &str| {
        let mut child = huigong(&db)
            .args([
                "admin",
                "create",
                "--username",
                "root-admin",
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = create("short");
    assert!(!weak.status.success());
    let made = create("a long enough password");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let again = create("a long enough password");
    assert!(
        !again.status.success(),
        "a second admin with the same name is refused"
    );

    // A server on the same database lets the admin in as platform admin.
    let app = TestApp::spawn_on(db).await;
    let res = app
        .post(
            "/api/v1/auth/password-login",
            None,
            json!({"username": "root-admin", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["user"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "platform_admin")
    );
}

#[tokio::test]
async fn a_malformed_database_url_is_an_error_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_huigong"))
        .current_dir(dir.path())
        .env("HUIGONG_DATABASE_URL", "huigong.db")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn serve_stops_cleanly_on_sigterm() {
    let db = TestDb::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = huigong(&db)
        .args(["serve"])
        .env("HUIGONG_LISTEN", format!("127.0.0.1:{port}"))
        .env("HUIGONG_WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(res) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            assert_eq!(res.status(), 200);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(35);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn postgres_without_a_data_key_refuses_to_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_huigong"))
        .env("HUIGONG_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env_remove("HUIGONG_DATA_KEY")
        .env("HUIGONG_LISTEN", "127.0.0.1:0")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HUIGONG_DATA_KEY is required"));
}

/// On the embedded default without HUIGONG_DATA_KEY, a key is generated once beside the
/// database and reused, so what was encrypted stays readable after a restart.
#[tokio::test]
async fn the_generated_data_key_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh/sub/huigong.db");
    let config = || huigong::config::Config {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", db.display()),
        ..Default::default()
    };
    let first = huigong::Application::build(config()).await.unwrap();
    let sealed = first
        .state()
        .crypto
        .encrypt("11010519491231002X", "test")
        .unwrap();
    let key_file = dir.path().join("fresh/sub/huigong.key");
    assert!(key_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    drop(first);
    let second = huigong::Application::build(config()).await.unwrap();
    assert_eq!(
        second.state().crypto.decrypt(&sealed, 1, "test").unwrap(),
        "11010519491231002X"
    );
}
