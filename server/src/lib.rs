//! Huigong (惠工): the backend of a trade-union member app.
//!
//! `Application::build` wires configuration, SQL, the hot store and the HTTP routes and
//! binds the listener (port 0 in tests); `run_until_stopped` serves until SIGTERM.

pub mod auth;
pub mod bench;
pub mod clock;
pub mod compress;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub(crate) mod demo_quiz;
pub(crate) mod demo_stations;
pub mod domain;
pub mod draws;
pub mod enrollment;
pub mod error;
pub mod hot;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod leaderboard;
pub mod openapi;
pub mod ops;
pub mod orgs;
pub mod quizzes;
pub mod raffles;
pub mod ratelimit;
pub mod reading;
pub mod routes;
pub mod stations;
pub mod telemetry;
pub mod users;
pub mod volunteering;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use base64::Engine;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::sms::SmsSender;
use crate::auth::tokens::TokenService;
use crate::auth::wechat::{WechatClient, http_client};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::crypto::DataKeys;
use crate::db::Db;
use crate::hot::{GeoIndex, HotStore, Keys, MemoryGeo, MemoryStore, RedisGeo, RedisStore};
use crate::telemetry::Metrics;

/// Everything a request handler may reach. Built once, shared by all workers.
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub hot: Arc<dyn HotStore>,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
    pub tokens: TokenService,
    pub wechat: WechatClient,
    pub sms: SmsSender,
    pub crypto: DataKeys,
    pub metrics: Arc<Metrics>,
    /// The draw hot path: gate, group committer, campaign cache.
    pub draws: Arc<draws::DrawEngine>,
    /// The stations' nearby index (Redis GEO or the in-process grid).
    pub geo: Arc<dyn GeoIndex>,
    /// Active stations' rows, kept in step with `geo`'s change log.
    pub station_rows: Arc<stations::rows::Rows>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Database(#[from] db::SetupError),
    #[error("hot store: {0}")]
    Hot(#[from] hot::HotError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error("configuration: {0}")]
    Secret(String),
}

/// 32 bytes from hex (64 characters) or base64.
fn decode_key(raw: &str) -> Option<[u8; 32]> {
    let raw = raw.trim();
    let bytes = if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(raw).ok()?
    } else {
        base64::engine::general_purpose::STANDARD.decode(raw).ok()?
    };
    bytes.try_into().ok()
}

/// The data key: `HUIGONG_DATA_KEY`, or on the embedded default a key generated once and
/// kept beside the SQLite file (ID numbers must stay readable across restarts). Postgres
/// deployments must set it: a lost key means unreadable ID numbers.
pub fn load_data_key(config: &Config) -> Result<[u8; 32], StartupError> {
    if !config.data_key.is_empty() {
        return decode_key(config.data_key.expose()).ok_or_else(|| {
            StartupError::Secret(
                "HUIGONG_DATA_KEY must be 32 bytes, as 64 hex characters or base64".into(),
            )
        });
    }
    let db::DatabaseUrl::Sqlite(path) =
        db::DatabaseUrl::parse(&config.database_url).map_err(StartupError::Secret)?
    else {
        return Err(StartupError::Secret(
            "HUIGONG_DATA_KEY is required with PostgreSQL (generate one with `openssl rand -hex 32` and keep it safe)".into(),
        ));
    };
    let key_path = std::path::Path::new(&path).with_extension("key");
    if let Ok(existing) = std::fs::read_to_string(&key_path) {
        return decode_key(&existing).ok_or_else(|| {
            StartupError::Secret(format!(
                "{} does not hold a 32-byte hex key",
                key_path.display()
            ))
        });
    }
    let key: [u8; 32] = rand::random();
    if let Some(dir) = key_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    write_private(&key_path, &hex::encode(key))?;
    tracing::warn!(
        path = %key_path.display(),
        "HUIGONG_DATA_KEY is not set: generated a data key beside the SQLite file. Back it up with the database; without it ID numbers cannot be read."
    );
    Ok(key)
}

fn write_private(path: &std::path::Path, contents: &str) -> Result<(), StartupError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())?;
    Ok(())
}

impl AppState {
    pub async fn new(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartupError> {
        config.validate()?;
        // Configuration mistakes first, before any connection is tried.
        let data_key = load_data_key(&config)?;
        let config_version = config.data_key_version;
        let url = config.database_url.clone();
        let (size, timeout) = (
            config.database_pool_size,
            Duration::from_secs(config.database_pool_timeout_secs),
        );
        let db = tokio::task::spawn_blocking(move || Db::connect(&url, size, timeout))
            .await
            .map_err(|e| StartupError::Secret(format!("database setup task: {e}")))??;
        let keys = Keys::new(config.redis_prefix.clone());
        let redis = match &config.redis_url {
            Some(url) => Some(RedisStore::connect(url).await?),
            None => None,
        };
        let geo: Arc<dyn GeoIndex> = match (&config.geo_redis_url, &redis) {
            (Some(url), _) => Arc::new(RedisGeo::new(
                RedisStore::connect(url).await?.connections(),
                &keys,
            )),
            (None, Some(redis)) => Arc::new(RedisGeo::new(redis.connections(), &keys)),
            (None, None) => Arc::new(MemoryGeo::new()),
        };
        let hot: Arc<dyn HotStore> = match redis {
            Some(redis) => Arc::new(redis),
            None => Arc::new(MemoryStore::new()),
        };

        let jwt_secret = if config.jwt_secret.is_empty() {
            tracing::warn!(
                "HUIGONG_JWT_SECRET is not set: using a random key for this process only. \
                 Every restart signs everyone out; set it in production."
            );
            rand::random::<[u8; 32]>().to_vec()
        } else {
            if config.jwt_secret.expose().len() < 32 {
                return Err(StartupError::Secret(
                    "HUIGONG_JWT_SECRET needs at least 32 characters".into(),
                ));
            }
            config.jwt_secret.expose().as_bytes().to_vec()
        };
        let previous = config.jwt_previous_secret.expose().as_bytes().to_vec();
        let tokens = TokenService::new(
            &jwt_secret,
            Some(&previous),
            &config.jwt_issuer,
            &config.jwt_audience,
            config.access_token_ttl_secs,
        );

        let http = http_client(Duration::from_secs(config.upstream_timeout_secs))?;
        let wechat = WechatClient::new(
            http.clone(),
            &config.wechat_api_base,
            &config.wechat_appid,
            config.wechat_secret.clone(),
        );
        let sms = SmsSender::from_config(&config, http);
        let metrics = Arc::new(Metrics::new());
        let draws = draws::DrawEngine::start(db.clone(), &metrics);
        let station_rows = Arc::new(stations::rows::Rows::new(&metrics));
        Ok(AppState {
            keys,
            config: Arc::new(config),
            db,
            hot,
            clock,
            tokens,
            wechat,
            sms,
            crypto: DataKeys::new(&data_key, config_version),
            metrics,
            draws,
            geo,
            station_rows,
        })
    }
}

pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As `build`, with a clock the caller controls (tests move time with it).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartupError> {
        let listener = TcpListener::bind(config.listen_addr()?)?;
        let port = listener.local_addr()?.port();
        let workers = config.workers;
        let state = web::Data::new(AppState::new(config, clock).await?);
        let spec = openapi::spec();
        let shared = state.clone();
        let bench = state.config.bench_endpoints;
        if bench {
            tracing::warn!(
                "HUIGONG_BENCH_ENDPOINTS is on: /api/v1/_bench/* mints tokens; never in production"
            );
        }
        let mut server = HttpServer::new(move || {
            App::new()
                // Before the API scope, which would otherwise answer 404 for its prefix.
                .configure(|cfg| {
                    if bench {
                        bench::routes(cfg);
                    }
                })
                .into_utoipa_app()
                .app_data(shared.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(http::JSON_LIMIT)
                        .error_handler(error::json_error),
                )
                .app_data(web::PayloadConfig::new(http::JSON_LIMIT))
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .configure(routes::root)
                .service(routes::api_scope())
                .into_app()
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec.clone()))
                .service(web::redirect("/docs", "/docs/"))
                .default_service(web::to(telemetry::not_found))
                .wrap(from_fn(telemetry::observe))
                .wrap(from_fn(compress::gzip))
        })
        .listen(listener)?
        .shutdown_timeout(30);
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        if state.config.draw_reconcile_secs > 0 {
            let every = Duration::from_secs(state.config.draw_reconcile_secs);
            tokio::spawn(draws::engine::reconcile_every(state.clone(), every));
        }
        tokio::spawn(db::checkpoint_every(state.db.clone(), db::CHECKPOINT_EVERY));
        let every = state.config.station_sync_secs;
        tokio::spawn(stations::nearby::sync_every(
            state.clone(),
            (every > 0).then(|| Duration::from_secs(every)),
        ));
        Ok(Application {
            server: server.run(),
            port,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM finish in-flight requests first).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
