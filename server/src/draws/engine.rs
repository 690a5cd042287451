//! The draw hot path. A draw passes the campaign's gate in the hot store (one Lua call on
//! Redis, one lock on the in-process store), then waits for the group committer, which
//! makes the draws of many concurrent requests durable in one SQL transaction; the answer
//! leaves only after that commit.
//!
//! Per campaign and process a read/write lock separates draws from rebuilds and repairs:
//! a draw holds it shared from the gate until its commit, a rebuild holds it exclusively,
//! so a gate is never rebuilt from SQL while a draw that passed the old gate is still on
//! its way to SQL. Across processes SQL guards again (chances, stock, cap, key) and the
//! reconciler repairs what a flush in the middle of another process's draw left behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{RwLock, mpsc, oneshot};

use super::rules::{self, Odds};
use super::store::{self, DrawRecord, DrawRequest, Recorded};
use crate::AppState;
use crate::db::{Db, DbConn, write_tx};
use crate::error::{ApiError, ApiResult, Text};
use crate::hot::{Gate, GatePick, HotStore, Keys, Spend, gate_fields as gf};

/// Draws stay open this long after the quiz ends, so a pass in the last minute can be used.
pub const DRAW_GRACE: TimeDelta = TimeDelta::hours(24);
/// The most draws one SQL transaction records.
const MAX_BATCH: usize = 256;
/// A client whose draw is not committed by then gets 503 and retries with the same key
/// (which replays the draw if it did commit).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);
const REBUILD_LOCK_TTL: Duration = Duration::from_secs(30);

/// A published campaign's frozen prize table, cached per process (it cannot change).
#[derive(Debug)]
pub struct Campaign {
    pub quiz_id: i64,
    pub org_id: i64,
    pub closes_at: DateTime<Utc>,
    pub prizes: Vec<store::Prize>,
    pub odds: Vec<Odds>,
}

impl Campaign {
    pub fn prize(&self, id: i64) -> Option<&store::Prize> {
        self.prizes.iter().find(|p| p.id == id)
    }
}

struct Job {
    request: DrawRequest,
    reply: oneshot::Sender<ApiResult<Recorded>>,
}

/// The result of a draw, durable in SQL.
pub struct Drawn {
    pub record: DrawRecord,
    pub campaign: Arc<Campaign>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// What operators watch at a launch: draws by outcome, and how well commits group.
#[derive(Clone)]
struct DrawMetrics {
    draws: Family<OutcomeLabels, Counter>,
    batch: Histogram,
}

impl DrawMetrics {
    fn count(&self, outcome: &'static str) {
        self.draws.get_or_create(&OutcomeLabels { outcome }).inc();
    }
}

pub struct DrawEngine {
    metrics: DrawMetrics,
    queue: mpsc::Sender<Job>,
    locks: Mutex<HashMap<i64, Arc<RwLock<()>>>>,
    campaigns: Mutex<HashMap<i64, Arc<Campaign>>>,
}

pub fn gate_key(keys: &Keys, quiz: i64) -> String {
    keys.key(&format!("quiz:{quiz}"), "draw")
}

fn rebuild_lock_key(keys: &Keys, quiz: i64) -> String {
    keys.key(&format!("quiz:{quiz}"), "draw:rebuilding")
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

pub fn no_chances() -> ApiError {
    ApiError::Conflict {
        code: "draw.no_chances",
        detail: Text::new(
            "没有抽奖机会了，答题及格可获得抽奖机会",
            "No draw chances left; passing the quiz grants chances",
        ),
    }
}

fn busy() -> ApiError {
    ApiError::Unavailable {
        code: "hot_store.rebuilding",
        detail: Text::new(
            "抽奖数据正在重建，请稍后再试",
            "Draws are being rebuilt; retry shortly",
        ),
        retry_after_secs: 1,
    }
}

impl DrawEngine {
    /// Starts the group committer on a thread of its own.
    pub fn start(db: Db, metrics: &crate::telemetry::Metrics) -> Arc<DrawEngine> {
        let draw_metrics = DrawMetrics {
            draws: Family::default(),
            batch: Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        };
        metrics.with_registry(|r| {
            r.register(
                "draws",
                "Draws by outcome: won, lost, replay, no_chances, corrected (SQL refused what the hot store gave)",
                draw_metrics.draws.clone(),
            );
            r.register(
                "draw_commit_batch_size",
                "Draws made durable per SQL transaction",
                draw_metrics.batch.clone(),
            );
        });
        let (queue, jobs) = mpsc::channel(MAX_BATCH * 16);
        // One committer per process, on both backends: SQLite has one writer at a time,
        // and on Postgres a second and third committer made smaller batches that cost more
        // per draw (3 committers: 13-16% of the Lua ceiling in the load test, 1: 22-23%);
        // under more load a batch simply grows. It is a thread of its own: every batch
        // as a task handed its SQL to the blocking pool and back, two thread wake-ups on
        // the path every draw waits on. It ends when the engine (the sender) is dropped.
        let sizes = draw_metrics.batch.clone();
        let committer = std::thread::Builder::new()
            .name("draw-committer".into())
            .spawn(move || commit_loop(&db, jobs, &sizes));
        if let Err(err) = committer {
            // Draws then answer 500 ("the draw committer has stopped"); nothing else is hurt.
            tracing::error!(error = %err, "could not start the draw committer thread");
        }
        Arc::new(DrawEngine {
            metrics: draw_metrics,
            queue,
            locks: Mutex::default(),
            campaigns: Mutex::default(),
        })
    }

    fn lock(&self, quiz: i64) -> Arc<RwLock<()>> {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(quiz)
            .or_default()
            .clone()
    }

    /// A published campaign's prizes (404 for drafts and unknown ids).
    pub async fn campaign(&self, state: &AppState, quiz: i64) -> ApiResult<Arc<Campaign>> {
        if let Some(c) = self
            .campaigns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&quiz)
        {
            return Ok(c.clone());
        }
        let (q, prizes) = state
            .db
            .run(move |c| -> ApiResult<_> {
                let q = crate::quizzes::store::quiz(c, quiz)?;
                if q.status != "published" {
                    return Err(ApiError::NotFound);
                }
                Ok((q, store::prizes_of(c, quiz)?))
            })
            .await?;
        let campaign = Arc::new(Campaign {
            quiz_id: q.id,
            org_id: q.org_id,
            closes_at: utc(q.ends_at) + DRAW_GRACE,
            odds: prizes
                .iter()
                .map(|p| Odds {
                    prize: p.id,
                    ppm: u32::try_from(p.probability_ppm).unwrap_or(0),
                })
                .collect(),
            prizes,
        });
        self.campaigns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(quiz, campaign.clone());
        Ok(campaign)
    }

    /// One draw with an idempotency key: spend a chance, pick, take stock, commit, answer.
    pub async fn draw(
        &self,
        state: &AppState,
        quiz: i64,
        user: i64,
        key: String,
    ) -> ApiResult<(Drawn, bool)> {
        let campaign = self.campaign(state, quiz).await?;
        let now = state.clock.now();
        if now > campaign.closes_at {
            return Err(ApiError::Conflict {
                code: "draw.closed",
                detail: Text::new("抽奖已结束", "Draws for this campaign are closed"),
            });
        }
        let picked = rules::pick(&campaign.odds, rules::roll(&mut rand::rng()));
        let pick = picked.and_then(|id| {
            campaign.prize(id).map(|p| GatePick {
                prize: id,
                max_per_user: i64::from(p.max_per_user),
            })
        });
        let hot = state.hot.as_ref();
        let gate = gate_key(&state.keys, quiz);
        let mut reloaded = false;
        let (spend, guard) = 'gate: {
            for _ in 0..4 {
                let guard = self.lock(quiz).read_owned().await;
                match hot.gate_draw(&gate, user, pick).await? {
                    Gate::Spent(spend) => break 'gate (spend, guard),
                    Gate::Missing => {
                        drop(guard);
                        self.rebuild(state, quiz).await?;
                    }
                    Gate::UserMissing => {
                        let (granted, used, wins) = state
                            .db
                            .run(move |c| -> ApiResult<_> { Ok(store::user_gate(c, quiz, user)?) })
                            .await?;
                        hot.gate_load_user(&gate, user, granted, used, &wins)
                            .await?;
                    }
                    Gate::NoChances => {
                        drop(guard);
                        let k = key.clone();
                        let (existing, (granted, used, _)) = state
                            .db
                            .run(move |c| -> ApiResult<_> {
                                Ok((
                                    store::draw_by_key(c, quiz, user, &k)?,
                                    store::user_gate(c, quiz, user)?,
                                ))
                            })
                            .await?;
                        if let Some(record) = existing {
                            return Ok((Drawn { record, campaign }, true));
                        }
                        // SQL has chances the hot store missed (a grant whose hot update
                        // failed): reload the member once and try again.
                        if used < granted && !reloaded {
                            reloaded = true;
                            hot.gate_forget(&gate, &user_fields(&campaign, user))
                                .await?;
                            continue;
                        }
                        self.metrics.count("no_chances");
                        return Err(no_chances());
                    }
                }
            }
            return Err(busy());
        };
        let gate_won = spend == Spend::Won;
        let request = DrawRequest {
            quiz,
            user,
            key,
            picked,
            gate_won,
            max_per_user: pick.map_or(1, |p| i32::try_from(p.max_per_user).unwrap_or(1)),
            code: rules::redemption_code(&mut rand::rng()),
            now: now.naive_utc(),
        };
        let recorded = self.commit(request).await;
        let result = self
            .settle(hot, &gate, &campaign, user, picked, gate_won, recorded)
            .await;
        drop(guard);
        let (record, replay) = result?;
        Ok((Drawn { record, campaign }, replay))
    }

    async fn commit(&self, request: DrawRequest) -> ApiResult<Recorded> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { request, reply })
            .await
            .map_err(|_| ApiError::internal("the draw committer has stopped"))?;
        match tokio::time::timeout(COMMIT_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ApiError::internal("the draw committer dropped a draw")),
            Err(_) => Err(ApiError::Unavailable {
                code: "draw.commit_timeout",
                detail: Text::new(
                    "抽奖结果保存超时，请用同一请求重试",
                    "Saving the draw timed out; retry with the same Idempotency-Key",
                ),
                retry_after_secs: 1,
            }),
        }
    }

    /// Brings the hot store in line with what SQL decided, where the two differ.
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        hot: &dyn HotStore,
        gate: &str,
        campaign: &Campaign,
        user: i64,
        picked: Option<i64>,
        gate_won: bool,
        recorded: ApiResult<Recorded>,
    ) -> ApiResult<(DrawRecord, bool)> {
        // What the gate took, to give back when SQL did not take it.
        let mut undo = Vec::new();
        let taken_back = |undo: &mut Vec<(String, i64)>| {
            if let (true, Some(prize)) = (gate_won, picked) {
                undo.push((gf::stock(prize), 1));
                undo.push((gf::wins(user, prize), -1));
            }
        };
        let outcome = match recorded {
            Ok(Recorded::New(record)) => {
                self.metrics.count(if record.prize_id.is_some() {
                    "won"
                } else {
                    "lost"
                });
                if gate_won && record.prize_id.is_none() {
                    self.metrics.count("corrected");
                    tracing::warn!(
                        quiz_id = campaign.quiz_id,
                        "SQL refused a prize the hot store gave (stock or cap differ); returned it to the gate"
                    );
                    taken_back(&mut undo);
                }
                Ok((record, false))
            }
            Ok(Recorded::Replay(record)) => {
                self.metrics.count("replay");
                undo.push((gf::used(user), -1));
                taken_back(&mut undo);
                Ok((record, true))
            }
            Ok(Recorded::NoChances) => {
                self.metrics.count("no_chances");
                taken_back(&mut undo);
                hot.gate_adjust(gate, &undo).await?;
                hot.gate_forget(gate, &user_fields(campaign, user)).await?;
                return Err(no_chances());
            }
            // Unknown whether it committed: a retry with the key finds out. The member
            // reloads from SQL at the next draw.
            Err(err) => {
                if let Err(e) = hot.gate_forget(gate, &user_fields(campaign, user)).await {
                    tracing::warn!(error = %e, "could not reset a member's draw gate");
                }
                return Err(err);
            }
        };
        if !undo.is_empty() {
            hot.gate_adjust(gate, &undo).await?;
        }
        outcome
    }

    /// Builds the campaign's gate from SQL, once, while this process's draws wait.
    pub async fn rebuild(&self, state: &AppState, quiz: i64) -> ApiResult<()> {
        let lock = self.lock(quiz);
        let _exclusive = lock.write().await;
        let gate = gate_key(&state.keys, quiz);
        let hot = state.hot.as_ref();
        if hot.gate_read(&gate, &[gf::BUILT.to_owned()]).await?[0].is_some() {
            return Ok(());
        }
        let lock_key = rebuild_lock_key(&state.keys, quiz);
        let token = hex::encode(rand::random::<[u8; 8]>());
        if !hot.set_nx(&lock_key, &token, REBUILD_LOCK_TTL).await? {
            return Err(busy());
        }
        let result = async {
            let stock: Vec<(i64, i64)> = state
                .db
                .run(move |c| -> ApiResult<_> { Ok(store::prizes_of(c, quiz)?) })
                .await?
                .into_iter()
                .map(|p| (p.id, i64::from(p.remaining)))
                .collect();
            hot.gate_build(&gate, &stock).await?;
            tracing::info!(
                quiz_id = quiz,
                prizes = stock.len(),
                "draw gate built from SQL"
            );
            Ok(())
        }
        .await;
        if let Err(err) = hot.del_if_eq(&lock_key, &token).await {
            tracing::warn!(error = %err, "could not release a draw rebuild lock");
        }
        result
    }

    /// Reconciles one campaign exactly: this process's draws wait meanwhile.
    pub async fn reconcile(&self, state: &AppState, quiz: i64) -> ApiResult<Reconciliation> {
        let lock = self.lock(quiz);
        let _exclusive = lock.write().await;
        reconcile(&state.db, state.hot.as_ref(), &state.keys, quiz, None).await
    }
}

/// The gate fields holding one member's state.
fn user_fields(campaign: &Campaign, user: i64) -> Vec<String> {
    let mut fields = vec![gf::used(user), gf::granted(user)];
    fields.extend(campaign.prizes.iter().map(|p| gf::wins(user, p.id)));
    fields
}

/// Group commit: whatever draws are waiting go into one transaction. When the batch fails
/// (a rare conflict with another process), each draw is retried in its own transaction so
/// one bad draw cannot fail the others. Runs on its own thread until the queue closes.
fn commit_loop(db: &Db, mut jobs: mpsc::Receiver<Job>, sizes: &Histogram) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.blocking_recv_many(&mut batch, MAX_BATCH) > 0 {
        sizes.observe(batch.len() as f64);
        let requests: Vec<DrawRequest> = batch.iter().map(|j| j.request.clone()).collect();
        // A panic fails this batch's draws (500; their retries find what committed), not
        // every draw after it: the thread lives on, and a connection left inside a
        // transaction is discarded by the pool.
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match db.get() {
            Ok(mut conn) => commit_batch(&mut conn, &requests),
            Err(err) => {
                tracing::error!(error = %err, "draw batch could not run");
                Vec::new()
            }
        }))
        .unwrap_or_else(|_| {
            tracing::error!(draws = requests.len(), "draw batch panicked");
            Vec::new()
        });
        let mut results = results.into_iter();
        for job in batch.drain(..) {
            let result = results
                .next()
                .unwrap_or_else(|| Err(ApiError::internal("draw batch failed")));
            // The requester may have timed out; its retry finds the committed draw.
            let _ = job.reply.send(result);
        }
    }
}

fn commit_batch(conn: &mut DbConn, requests: &[DrawRequest]) -> Vec<ApiResult<Recorded>> {
    let together = store::record_batch(conn, requests).and_then(|recorded| {
        // SQL had no chance left for a member the hot store let through.
        recorded.ok_or(diesel::result::Error::RollbackTransaction)
    });
    match together {
        Ok(recorded) => recorded.into_iter().map(Ok).collect(),
        Err(err) => {
            tracing::warn!(error = %err, draws = requests.len(), "draw batch failed; committing one by one");
            requests
                .iter()
                .map(|r| write_tx(conn, |c| store::record(c, r)).map_err(ApiError::from))
                .collect()
        }
    }
}

/// What the reconciler found and did for one campaign.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Reconciliation {
    pub quiz_id: i64,
    pub prizes: usize,
    /// Prizes where SQL itself is off: quantity != remaining + wins (never repaired
    /// automatically; a person must look).
    pub ledger_errors: Vec<String>,
    /// False when the gate is not in the hot store (it is built at the next draw).
    pub gate_built: bool,
    /// (prize, hot stock, SQL remaining) set to SQL's value.
    pub stock_repaired: Vec<(i64, i64, i64)>,
    /// Members whose hot chances or wins differed; reloaded from SQL at their next draw.
    pub members_reset: Vec<i64>,
}

impl Reconciliation {
    pub fn clean(&self) -> bool {
        self.ledger_errors.is_empty()
            && self.stock_repaired.is_empty()
            && self.members_reset.is_empty()
    }
}

/// ((prize, hot stock, SQL remaining), (member, gate fields)) that differ.
type Snapshot = (Vec<(i64, i64, i64)>, Vec<(i64, Vec<String>)>);

/// Compares the hot gate with SQL and repairs it. `settle`: when draws may be in flight in
/// another process (the CLI), a difference counts only when it is still the same after
/// this pause; in-process callers hold the campaign's lock instead and pass None.
pub async fn reconcile(
    db: &Db,
    hot: &dyn HotStore,
    keys: &Keys,
    quiz: i64,
    settle: Option<Duration>,
) -> ApiResult<Reconciliation> {
    let gate = gate_key(keys, quiz);
    let mut report = Reconciliation {
        quiz_id: quiz,
        ..Reconciliation::default()
    };
    let first = differences(db, hot, &gate, quiz, &mut report).await?;
    if !report.gate_built {
        return Ok(report);
    }
    let (stock, members) = match settle {
        Some(pause) if !(first.0.is_empty() && first.1.is_empty()) => {
            tokio::time::sleep(pause).await;
            let mut again = Reconciliation::default();
            let second = differences(db, hot, &gate, quiz, &mut again).await?;
            (
                first
                    .0
                    .into_iter()
                    .filter(|d| second.0.contains(d))
                    .collect(),
                first
                    .1
                    .into_iter()
                    .filter(|d| second.1.contains(d))
                    .collect(),
            )
        }
        _ => first,
    };
    let mut writes = Vec::new();
    for (prize, hot_value, remaining) in stock {
        writes.push((gf::stock(prize), remaining));
        report.stock_repaired.push((prize, hot_value, remaining));
    }
    hot.gate_write(&gate, &writes).await?;
    for (user, fields) in members {
        hot.gate_forget(&gate, &fields).await?;
        report.members_reset.push(user);
    }
    if !report.clean() {
        tracing::warn!(quiz_id = quiz, report = ?report, "draw reconciliation repaired the hot store");
    }
    Ok(report)
}

/// Differences between the gate and SQL.
async fn differences(
    db: &Db,
    hot: &dyn HotStore,
    gate: &str,
    quiz: i64,
    report: &mut Reconciliation,
) -> ApiResult<Snapshot> {
    let (ledger, chances, wins) = db
        .run(move |c| -> ApiResult<_> {
            Ok((
                store::prize_ledger(c, quiz)?,
                store::chance_rows(c, quiz)?,
                store::wins_by_user(c, quiz)?,
            ))
        })
        .await?;
    report.prizes = ledger.len();
    report.ledger_errors = ledger
        .iter()
        .filter(|(_, quantity, remaining, won)| *quantity != remaining + won)
        .map(|(id, quantity, remaining, won)| {
            format!("prize {id}: quantity {quantity} != remaining {remaining} + wins {won}")
        })
        .collect();
    report.gate_built = hot.gate_read(gate, &[gf::BUILT.to_owned()]).await?[0].is_some();
    if !report.gate_built {
        return Ok((Vec::new(), Vec::new()));
    }
    let stock_fields: Vec<String> = ledger.iter().map(|l| gf::stock(l.0)).collect();
    let hot_stock = hot.gate_read(gate, &stock_fields).await?;
    let stock = ledger
        .iter()
        .zip(hot_stock)
        .filter(|((_, _, remaining, _), value)| *value != Some(*remaining))
        .map(|((id, _, remaining, _), value)| (*id, value.unwrap_or(-1), *remaining))
        .collect();
    let prizes: Vec<i64> = ledger.iter().map(|l| l.0).collect();
    let won: HashMap<(i64, i64), i64> = wins.into_iter().map(|(u, p, n)| ((u, p), n)).collect();
    let mut members = Vec::new();
    for chunk in chances.chunks(200) {
        let mut fields = Vec::new();
        for &(user, _, _) in chunk {
            fields.push(gf::used(user));
            fields.push(gf::granted(user));
            fields.extend(prizes.iter().map(|&p| gf::wins(user, p)));
        }
        let values = hot.gate_read(gate, &fields).await?;
        let per_user = 2 + prizes.len();
        for (i, &(user, granted, used)) in chunk.iter().enumerate() {
            let v = &values[i * per_user..(i + 1) * per_user];
            let Some(hot_used) = v[0] else {
                continue; // not loaded: it loads from SQL at the member's next draw
            };
            let mut differs = hot_used != used || v[1].is_some_and(|g| g != granted);
            for (j, &p) in prizes.iter().enumerate() {
                differs |= v[2 + j].unwrap_or(0) != won.get(&(user, p)).copied().unwrap_or(0);
            }
            if differs {
                members.push((user, fields[i * per_user..(i + 1) * per_user].to_vec()));
            }
        }
    }
    Ok((stock, members))
}

/// The periodic reconciler: every `every`, each campaign still open for draws (the
/// admin endpoint's exact, locked check is `DrawEngine::reconcile`).
pub async fn reconcile_every(state: actix_web::web::Data<AppState>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let since = (state.clock.now() - DRAW_GRACE).naive_utc();
        let quizzes = match state
            .db
            .run(move |c| -> ApiResult<_> { Ok(store::drawable_quizzes(c, since)?) })
            .await
        {
            Ok(q) => q,
            Err(err) => {
                tracing::warn!(error = %err, "draw reconciler could not list campaigns");
                continue;
            }
        };
        for quiz in quizzes {
            // Without the campaign lock, so a large campaign's check never holds up draws
            // at 8 pm; a difference counts only when it outlasts a short pause.
            let checked = reconcile(
                &state.db,
                state.hot.as_ref(),
                &state.keys,
                quiz,
                Some(Duration::from_secs(2)),
            )
            .await;
            match checked {
                Ok(r) if !r.ledger_errors.is_empty() => {
                    tracing::error!(quiz_id = quiz, errors = ?r.ledger_errors, "prize ledger does not add up")
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, quiz_id = quiz, "draw reconciliation failed")
                }
            }
        }
    }
}
