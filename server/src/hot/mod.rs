//! The hot store: fast, rebuildable state (leaderboards, gates, counters, idempotency
//! records) behind one trait, with a Redis implementation and an in-process one.

mod geo;
mod memory;
mod rebuild;
mod redis;

use std::time::Duration;

pub use self::geo::{
    DISTANCE_SLACK_M, Found, GeoIndex, MemoryGeo, RedisGeo, Stamp, geohash_score, redis_radius,
    widest_radius_within,
};
pub use self::memory::MemoryStore;
pub use self::rebuild::{ensure_built, under_lock};
pub use self::redis::{Connections, RedisStore};

/// A hot-store failure. Everything in the hot store can be rebuilt from SQL, so callers
/// answer 503 and let the client retry rather than guess.
#[derive(Debug, thiserror::Error)]
pub enum HotError {
    #[error("hot store unavailable: {0}")]
    Unavailable(String),
    #[error("hot store value at {key} is not of the expected type")]
    WrongType { key: String },
}

/// Result of [`HotStore::take_one`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// One unit was taken; this many remain.
    Taken(i64),
    /// The counter exists and is at (or below) zero: nothing taken.
    Empty,
    /// The key does not exist (never built, expired, or lost in a flush): rebuild from SQL.
    Missing,
}

/// A draw's prize pick as the gate needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatePick {
    pub prize: i64,
    pub max_per_user: i64,
}

/// What the draw gate did, in one atomic step (see [`HotStore::gate_draw`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The campaign's gate is not in the hot store (never built, or lost): rebuild it.
    Missing,
    /// The member's chances are not loaded: load them from SQL ([`HotStore::gate_load_user`]).
    UserMissing,
    /// No chance left; nothing changed.
    NoChances,
    /// One chance was spent; what became of the pick.
    Spent(Spend),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// The pick was the "no prize" part of the million.
    NoPrize,
    /// The picked prize has no stock left: a loss.
    OutOfStock,
    /// The member already holds `max_per_user` of the picked prize: a loss.
    OverCap,
    /// One unit of the picked prize was taken for the member.
    Won,
}

/// Field names inside a campaign's gate hash: `gen` marks it built; `s:{prize}` stock,
/// `g:{user}` / `u:{user}` chances granted / used, `w:{user}:{prize}` wins toward the cap.
pub mod gate_fields {
    pub const BUILT: &str = "gen";
    pub fn stock(prize: i64) -> String {
        format!("s:{prize}")
    }
    pub fn granted(user: i64) -> String {
        format!("g:{user}")
    }
    pub fn used(user: i64) -> String {
        format!("u:{user}")
    }
    pub fn wins(user: i64, prize: i64) -> String {
        format!("w:{user}:{prize}")
    }
}

/// One entry of a sorted set, highest score first.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// 0-based position, highest score first (ties: member in descending byte order, as Redis).
    pub rank: u64,
    pub member: String,
    pub score: f64,
}

/// Builds keys: `{prefix}:{{{tag}}}:{name}`, e.g. `hg:{quiz:42}:stock`. Every key of one
/// campaign shares a hash tag so one Lua script touches one Redis Cluster slot.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A key in the slot of `tag` (for instance `quiz:42`).
    pub fn key(&self, tag: &str, name: &str) -> String {
        format!("{}:{{{}}}:{}", self.prefix, tag, name)
    }
}

/// The operations every feature builds on. Both implementations pass the same contract
/// suite (`tests/api/hot_store.rs`). All operations are atomic per call.
#[async_trait::async_trait]
pub trait HotStore: Send + Sync + 'static {
    /// Which implementation this is (`redis` or `memory`), for /readyz and logs.
    fn kind(&self) -> &'static str;

    /// Answers when the store is reachable.
    async fn ping(&self) -> Result<(), HotError>;

    // --- plain values -------------------------------------------------------------------

    async fn get(&self, key: &str) -> Result<Option<String>, HotError>;
    /// Sets a value, with an expiry when `ttl` is given (otherwise it never expires).
    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), HotError>;
    /// Sets only when the key is absent; true when this call set it.
    async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, HotError>;
    /// Deletes keys; returns how many existed.
    async fn del(&self, keys: &[String]) -> Result<u64, HotError>;
    /// Deletes `key` only when it holds `value` (releasing a lock one owns).
    async fn del_if_eq(&self, key: &str, value: &str) -> Result<bool, HotError>;
    /// Remaining time to live; None when the key is absent or has no expiry.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, HotError>;

    // --- counters -----------------------------------------------------------------------

    /// Adds `delta` (may be negative) and returns the new value. When this call creates
    /// the key and `ttl` is given, the key expires after `ttl` (a fixed window counter);
    /// later calls do not extend it.
    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, HotError>;
    /// Subtracts `delta` only when the result stays >= `floor`. Returns the new value, or
    /// None when it would go below the floor (or the key is absent), changing nothing.
    async fn decr_floor(&self, key: &str, delta: i64, floor: i64) -> Result<Option<i64>, HotError>;
    /// Takes one unit from a stock counter when it is positive (a Lua script on Redis).
    async fn take_one(&self, key: &str) -> Result<Take, HotError>;

    // --- sorted sets (leaderboards) ------------------------------------------------------

    /// Sets the member's score only when it is higher than the current one (or the member
    /// is new). True when the score changed.
    async fn zset_if_higher(&self, key: &str, member: &str, score: f64) -> Result<bool, HotError>;
    /// Adds `delta` to the member's score (creating it at 0) and returns the new score.
    async fn zincr(&self, key: &str, member: &str, delta: f64) -> Result<f64, HotError>;
    /// The `n` highest entries, highest first.
    async fn ztop(&self, key: &str, n: u64) -> Result<Vec<Ranked>, HotError>;
    /// The member's rank and score, None when absent.
    async fn zrank(&self, key: &str, member: &str) -> Result<Option<Ranked>, HotError>;
    /// Up to `radius` entries above and below the member (and the member itself), highest
    /// first; empty when the member is absent.
    async fn zaround(&self, key: &str, member: &str, radius: u64) -> Result<Vec<Ranked>, HotError>;
    /// Number of members.
    async fn zcard(&self, key: &str) -> Result<u64, HotError>;

    // --- draw gates (one hash per campaign, fields in [`gate_fields`]) -------------------

    /// Replaces the gate with a freshly built one holding each prize's stock; members'
    /// chances load lazily.
    async fn gate_build(&self, key: &str, stock: &[(i64, i64)]) -> Result<(), HotError>;
    /// The draw itself, atomically: when the member has a chance left, spend it; then, when
    /// a prize was picked, take one unit if there is stock and the member is under the cap.
    async fn gate_draw(
        &self,
        key: &str,
        user: i64,
        pick: Option<GatePick>,
    ) -> Result<Gate, HotError>;
    /// Loads a member's chances and wins from SQL unless already loaded (a racing loader or
    /// draw wins); `granted` only ever raises the stored value. False when not built.
    async fn gate_load_user(
        &self,
        key: &str,
        user: i64,
        granted: i64,
        used: i64,
        wins: &[(i64, i64)],
    ) -> Result<bool, HotError>;
    /// Raises a member's granted chances to `granted` when the gate is built (a passed
    /// attempt); never lowers it, so late or repeated calls are harmless.
    async fn gate_grant(&self, key: &str, user: i64, granted: i64) -> Result<(), HotError>;
    /// Adds deltas to fields when the gate is built (undoing what a refused draw took).
    async fn gate_adjust(&self, key: &str, deltas: &[(String, i64)]) -> Result<(), HotError>;
    /// Reads fields (None when absent or when the gate is not built).
    async fn gate_read(&self, key: &str, fields: &[String]) -> Result<Vec<Option<i64>>, HotError>;
    /// Sets fields when the gate is built (the reconciler's repairs).
    async fn gate_write(&self, key: &str, values: &[(String, i64)]) -> Result<(), HotError>;
    /// Deletes fields (a member whose chances must reload from SQL).
    async fn gate_forget(&self, key: &str, fields: &[String]) -> Result<(), HotError>;
}
