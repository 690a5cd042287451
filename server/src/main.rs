//! The `huigong` command: serve, migrate, create the first admin, seed demo data.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use huigong::auth::password::{check_strength, hash_password};
use huigong::auth::store;
use huigong::clock::{Clock, SystemClock};
use huigong::config::Config;
use huigong::db::{self, DatabaseUrl};
use huigong::{Application, demo, openapi, telemetry};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "huigong",
    version,
    about = "Huigong (惠工): trade-union member app backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default command).
    Serve {
        /// Load demo data first (idempotent).
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Administer users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Load demo data (idempotent).
    SeedDemo {
        /// Also make sure this many synthetic rest stations exist nationwide (load tests).
        #[arg(long)]
        stations: Option<usize>,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Check prize ledgers in SQL and the draw gates in Redis against them; repair the gates.
    Reconcile {
        /// One campaign (default: every campaign still open for draws).
        #[arg(long)]
        quiz: Option<i64>,
        /// Draws may be in flight in running servers: a difference counts only when it is
        /// unchanged after this many seconds.
        #[arg(long, default_value_t = 5)]
        settle_secs: u64,
    },
    /// Verifiable raffles.
    Raffle {
        #[command(subcommand)]
        command: RaffleCommand,
    },
}

#[derive(Subcommand)]
enum RaffleCommand {
    /// Recompute a raffle's winners from its revealed seed and published pool.
    Verify {
        /// The revealed seed (64 hex characters).
        #[arg(long)]
        seed: String,
        /// The pool: user ids, one per line (`GET /api/v1/raffles/{id}/pool`).
        #[arg(long)]
        pool_file: std::path::PathBuf,
        /// How many winners the raffle draws.
        #[arg(long)]
        winners: usize,
        /// The commitment published before the draw, to check the seed against.
        #[arg(long)]
        commitment: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform admin who signs in with a password.
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from standard input (so it stays out of shell history).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => c,
        Err(err) => {
            eprintln!("huigong: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing(config.log_format);
    match run(
        cli.command.unwrap_or(Command::Serve { demo: false }),
        config,
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("huigong: {err}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn run(command: Command, config: Config) -> Result<(), Error> {
    match command {
        Command::Serve { demo } => {
            if demo {
                seed_demo(&config, None)?;
            }
            let app = Application::build(config.clone()).await?;
            tracing::info!(listen = %config.listen, port = app.port(), "huigong is serving");
            app.run_until_stopped().await?;
            tracing::info!("stopped");
        }
        Command::Migrate => {
            let url = DatabaseUrl::parse(&config.database_url)?;
            let applied = db::migrate(&url)?;
            println!(
                "{} migration(s) applied on {}",
                applied.len(),
                url.backend().name()
            );
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    username,
                    password_stdin,
                },
        } => {
            if !password_stdin {
                return Err("pass the password on standard input with --password-stdin".into());
            }
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            check_strength(password)?;
            let username = username.trim();
            if username.is_empty() || username.len() > 64 {
                return Err("username must be 1-64 characters".into());
            }
            let db = open_db(&config)?;
            let mut conn = db.get()?;
            if store::user_by_username(&mut conn, username)?.is_some() {
                return Err(format!("user {username} already exists").into());
            }
            let hash = hash_password(password).map_err(|e| e.to_string())?;
            let now = SystemClock.now_naive();
            let id = store::create_staff(&mut conn, username, username, &hash, true, now)?;
            println!("platform admin {username} created (user id {id})");
        }
        Command::SeedDemo { stations } => seed_demo(&config, stations)?,
        Command::Openapi => print!("{}", openapi::spec_json()),
        Command::Reconcile { quiz, settle_secs } => reconcile(&config, quiz, settle_secs).await?,
        Command::Raffle {
            command:
                RaffleCommand::Verify {
                    seed,
                    pool_file,
                    winners,
                    commitment,
                },
        } => verify_raffle(&seed, &pool_file, winners, commitment.as_deref())?,
    }
    Ok(())
}

async fn reconcile(config: &Config, quiz: Option<i64>, settle_secs: u64) -> Result<(), Error> {
    use huigong::draws::{self, store};
    use huigong::hot::{HotStore, Keys, MemoryStore, RedisStore};
    let db = open_db(config)?;
    let hot: Box<dyn HotStore> = match &config.redis_url {
        Some(url) => Box::new(RedisStore::connect(url).await?),
        None => {
            eprintln!(
                "no HUIGONG_REDIS_URL: the in-process gates live inside the server (it reconciles them itself); checking SQL ledgers only"
            );
            Box::new(MemoryStore::new())
        }
    };
    let keys = Keys::new(config.redis_prefix.clone());
    let quizzes = match quiz {
        Some(q) => vec![q],
        None => {
            let since = (SystemClock.now() - draws::engine::DRAW_GRACE).naive_utc();
            let mut conn = db.get()?;
            store::drawable_quizzes(&mut conn, since)?
        }
    };
    let mut broken = false;
    for q in quizzes {
        let report = draws::reconcile(
            &db,
            hot.as_ref(),
            &keys,
            q,
            Some(std::time::Duration::from_secs(settle_secs)),
        )
        .await
        .map_err(|e| e.to_string())?;
        broken |= !report.ledger_errors.is_empty();
        println!("{}", serde_json::to_string(&report)?);
    }
    if broken {
        return Err("a prize ledger does not add up (quantity != remaining + wins)".into());
    }
    Ok(())
}

fn verify_raffle(
    seed: &str,
    pool_file: &std::path::Path,
    winners: usize,
    commitment: Option<&str>,
) -> Result<(), Error> {
    use huigong::raffles::rules;
    let seed = rules::parse_seed(seed).ok_or("--seed must be 64 hex characters")?;
    if let Some(expected) = commitment {
        if !rules::commitment(&seed).eq_ignore_ascii_case(expected.trim()) {
            return Err("the seed does not match the commitment".into());
        }
        println!("commitment: ok");
    }
    let mut pool = Vec::new();
    for (n, line) in std::fs::read_to_string(pool_file)?.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        pool.push(
            line.parse::<i64>()
                .map_err(|_| format!("{}: line {}: not a user id", pool_file.display(), n + 1))?,
        );
    }
    let pool = rules::normalize_pool(pool);
    println!("pool size: {}", pool.len());
    println!("pool digest: {}", hex::encode(rules::pool_digest(&pool)));
    for (place, user) in (1..).zip(rules::winners(&seed, &pool, winners)) {
        println!("{place}\t{user}");
    }
    Ok(())
}

fn open_db(config: &Config) -> Result<db::Db, Error> {
    Ok(db::Db::connect(
        &config.database_url,
        2,
        std::time::Duration::from_secs(config.database_pool_timeout_secs),
    )?)
}

fn seed_demo(config: &Config, stations: Option<usize>) -> Result<(), Error> {
    let db = open_db(config)?;
    let mut conn = db.get()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let crypto =
        huigong::crypto::DataKeys::new(&huigong::load_data_key(config)?, config.data_key_version);
    let seeded = demo::seed(&mut conn, clock.as_ref(), &crypto)?;
    println!(
        "demo data ready ({} org(s), {} member(s) added{}); demo console login: {} / {}",
        seeded.orgs_created,
        seeded.members_created,
        if seeded.admin_created {
            ", demo admin created"
        } else {
            ""
        },
        demo::DEMO_ADMIN_USERNAME,
        demo::DEMO_ADMIN_PASSWORD
    );
    if let Some(total) = stations {
        let added = demo::seed_national_stations(&mut conn, clock.as_ref(), total)?;
        println!("synthetic stations: {added} added ({total} wanted)");
    }
    Ok(())
}
