//! The in-process hot store: the same contract as Redis for a single server process, kept
//! in one mutex-guarded map with lazy expiry and an occasional sweep.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::gate_fields as gf;
use super::{Gate, GatePick, HotError, HotStore, Ranked, Spend, Take};

/// Expired keys nobody reads again are swept after this many writes, or after as many
/// writes as there are keys when that is more, so sweeping costs O(1) per write amortized.
const SWEEP_EVERY: usize = 1024;

/// The in-process [`HotStore`]. Ranks are found by walking the ordered set, so `zrank` and
/// `zaround` cost O(rank): fine for one process's leaderboards, not for millions of members.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    writes_since_sweep: usize,
}

struct Entry {
    value: Value,
    expires: Option<Instant>,
}

enum Value {
    Str(String),
    Int(i64),
    ZSet(ZSet),
    Hash(HashMap<String, i64>),
}

#[derive(Default)]
struct ZSet {
    scores: HashMap<String, f64>,
    order: BTreeSet<ByRank>,
}

/// A sorted-set member in leaderboard order: score descending, then member in descending
/// byte order, which is how Redis's ZREVRANGE breaks ties.
#[derive(Clone)]
struct ByRank {
    score: f64,
    member: String,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A panic elsewhere while holding the lock must not take the store down with it: every
    /// operation leaves the map consistent before it can panic, so the data is still good.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl HotStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), HotError> {
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, HotError> {
        let mut inner = self.lock();
        match inner.live(key, Instant::now()).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(Value::Int(n)) => Ok(Some(n.to_string())),
            Some(Value::ZSet(_) | Value::Hash(_)) => Err(wrong_type(key)),
        }
    }

    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), HotError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        inner.put(key, Value::Str(value.to_owned()), ttl, now);
        Ok(())
    }

    async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, HotError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        inner.put(key, Value::Str(value.to_owned()), Some(ttl), now);
        Ok(true)
    }

    async fn del(&self, keys: &[String]) -> Result<u64, HotError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        let mut existed = 0;
        for key in keys {
            if inner.live(key, now).is_some() {
                inner.map.remove(key);
                existed += 1;
            }
        }
        Ok(existed)
    }

    async fn del_if_eq(&self, key: &str, value: &str) -> Result<bool, HotError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        let equal = match inner.live(key, now).map(|e| &e.value) {
            None => false,
            Some(Value::Str(s)) => s == value,
            Some(Value::Int(n)) => n.to_string() == value,
            Some(Value::ZSet(_) | Value::Hash(_)) => return Err(wrong_type(key)),
        };
        if equal {
            inner.map.remove(key);
        }
        Ok(equal)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, HotError> {
        let now = Instant::now();
        let mut inner = self.lock();
        Ok(inner
            .live(key, now)
            .and_then(|e| e.expires)
            .map(|at| at.saturating_duration_since(now)))
    }

    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, HotError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        let Some(entry) = inner.live(key, now) else {
            inner.put(key, Value::Int(delta), ttl, now);
            return Ok(delta);
        };
        let next = entry.int(key)?.checked_add(delta).ok_or_else(overflow)?;
        entry.value = Value::Int(next);
        Ok(next)
    }

    async fn decr_floor(&self, key: &str, delta: i64, floor: i64) -> Result<Option<i64>, HotError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        let Some(entry) = inner.live(key, now) else {
            return Ok(None);
        };
        match entry.int(key)?.checked_sub(delta).ok_or_else(overflow)? {
            next if next >= floor => {
                entry.value = Value::Int(next);
                Ok(Some(next))
            }
            _ => Ok(None),
        }
    }

    async fn take_one(&self, key: &str) -> Result<Take, HotError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        let Some(entry) = inner.live(key, now) else {
            return Ok(Take::Missing);
        };
        match entry.int(key)? {
            n if n <= 0 => Ok(Take::Empty),
            n => {
                entry.value = Value::Int(n - 1);
                Ok(Take::Taken(n - 1))
            }
        }
    }

    async fn zset_if_higher(&self, key: &str, member: &str, score: f64) -> Result<bool, HotError> {
        let score = valid_score(score)?;
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        let zset = inner.zset_mut(key, now)?;
        if zset.scores.get(member).is_some_and(|&old| score <= old) {
            return Ok(false);
        }
        zset.put(member, score);
        Ok(true)
    }

    async fn zincr(&self, key: &str, member: &str, delta: f64) -> Result<f64, HotError> {
        let delta = valid_score(delta)?;
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        let zset = inner.zset_mut(key, now)?;
        let score = valid_score(zset.scores.get(member).copied().unwrap_or(0.0) + delta)?;
        zset.put(member, score);
        Ok(score)
    }

    async fn ztop(&self, key: &str, n: u64) -> Result<Vec<Ranked>, HotError> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let mut inner = self.lock();
        let Some(zset) = inner.zset(key, Instant::now())? else {
            return Ok(Vec::new());
        };
        Ok(ranked(0, zset.order.iter().take(n)))
    }

    async fn zrank(&self, key: &str, member: &str) -> Result<Option<Ranked>, HotError> {
        let mut inner = self.lock();
        let Some(zset) = inner.zset(key, Instant::now())? else {
            return Ok(None);
        };
        Ok(zset.probe(member).map(|probe| Ranked {
            rank: zset.order.range(..&probe).count() as u64,
            member: probe.member,
            score: probe.score,
        }))
    }

    async fn zaround(&self, key: &str, member: &str, radius: u64) -> Result<Vec<Ranked>, HotError> {
        let radius = usize::try_from(radius).unwrap_or(usize::MAX);
        let mut inner = self.lock();
        let Some(zset) = inner.zset(key, Instant::now())? else {
            return Ok(Vec::new());
        };
        let Some(probe) = zset.probe(member) else {
            return Ok(Vec::new());
        };
        let rank = zset.order.range(..&probe).count();
        let mut above: Vec<&ByRank> = zset.order.range(..&probe).rev().take(radius).collect();
        above.reverse();
        let start = rank - above.len();
        let from_member = zset.order.range(&probe..).take(radius.saturating_add(1));
        Ok(ranked(start, above.into_iter().chain(from_member)))
    }

    async fn zcard(&self, key: &str) -> Result<u64, HotError> {
        let mut inner = self.lock();
        let zset = inner.zset(key, Instant::now())?;
        Ok(zset.map_or(0, |z| z.scores.len() as u64))
    }
    async fn gate_build(&self, key: &str, stock: &[(i64, i64)]) -> Result<(), HotError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.wrote(now);
        let mut hash: HashMap<String, i64> =
            stock.iter().map(|&(p, n)| (gf::stock(p), n)).collect();
        hash.insert(gf::BUILT.to_owned(), 1);
        inner.put(key, Value::Hash(hash), None, now);
        Ok(())
    }

    async fn gate_draw(
        &self,
        key: &str,
        user: i64,
        pick: Option<GatePick>,
    ) -> Result<Gate, HotError> {
        let mut inner = self.lock();
        let Some(h) = inner.gate(key, Instant::now())? else {
            return Ok(Gate::Missing);
        };
        let Some(&used) = h.get(&gf::used(user)) else {
            return Ok(Gate::UserMissing);
        };
        if used >= h.get(&gf::granted(user)).copied().unwrap_or(0) {
            return Ok(Gate::NoChances);
        }
        h.insert(gf::used(user), used + 1);
        let Some(pick) = pick else {
            return Ok(Gate::Spent(Spend::NoPrize));
        };
        let stock = h.get(&gf::stock(pick.prize)).copied().unwrap_or(0);
        if stock <= 0 {
            return Ok(Gate::Spent(Spend::OutOfStock));
        }
        let wins = h.get(&gf::wins(user, pick.prize)).copied().unwrap_or(0);
        if wins >= pick.max_per_user {
            return Ok(Gate::Spent(Spend::OverCap));
        }
        h.insert(gf::stock(pick.prize), stock - 1);
        h.insert(gf::wins(user, pick.prize), wins + 1);
        Ok(Gate::Spent(Spend::Won))
    }

    async fn gate_load_user(
        &self,
        key: &str,
        user: i64,
        granted: i64,
        used: i64,
        wins: &[(i64, i64)],
    ) -> Result<bool, HotError> {
        let mut inner = self.lock();
        let Some(h) = inner.gate(key, Instant::now())? else {
            return Ok(false);
        };
        raise(h, gf::granted(user), granted);
        if h.contains_key(&gf::used(user)) {
            return Ok(false);
        }
        h.insert(gf::used(user), used);
        for &(prize, n) in wins {
            h.insert(gf::wins(user, prize), n);
        }
        Ok(true)
    }

    async fn gate_grant(&self, key: &str, user: i64, granted: i64) -> Result<(), HotError> {
        let mut inner = self.lock();
        if let Some(h) = inner.gate(key, Instant::now())? {
            raise(h, gf::granted(user), granted);
        }
        Ok(())
    }

    async fn gate_adjust(&self, key: &str, deltas: &[(String, i64)]) -> Result<(), HotError> {
        let mut inner = self.lock();
        if let Some(h) = inner.gate(key, Instant::now())? {
            for (field, delta) in deltas {
                *h.entry(field.clone()).or_insert(0) += delta;
            }
        }
        Ok(())
    }

    async fn gate_read(&self, key: &str, fields: &[String]) -> Result<Vec<Option<i64>>, HotError> {
        let mut inner = self.lock();
        let h = inner.gate(key, Instant::now())?;
        Ok(fields
            .iter()
            .map(|f| h.as_ref().and_then(|h| h.get(f).copied()))
            .collect())
    }

    async fn gate_write(&self, key: &str, values: &[(String, i64)]) -> Result<(), HotError> {
        let mut inner = self.lock();
        if let Some(h) = inner.gate(key, Instant::now())? {
            for (field, value) in values {
                h.insert(field.clone(), *value);
            }
        }
        Ok(())
    }

    async fn gate_forget(&self, key: &str, fields: &[String]) -> Result<(), HotError> {
        let mut inner = self.lock();
        if let Some(h) = inner.gate(key, Instant::now())? {
            for field in fields {
                h.remove(field);
            }
        }
        Ok(())
    }
}

/// Raises a field to `value` (creating it); never lowers it.
fn raise(h: &mut HashMap<String, i64>, field: String, value: i64) {
    let slot = h.entry(field).or_insert(value);
    *slot = (*slot).max(value);
}

impl Inner {
    /// The entry at `key` unless it has expired, in which case it is dropped now.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.map.get(key).is_some_and(|e| e.expired(now)) {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    fn put(&mut self, key: &str, value: Value, ttl: Option<Duration>, now: Instant) {
        // A TTL too large for an Instant is as good as none.
        let expires = ttl.and_then(|ttl| now.checked_add(ttl));
        self.map.insert(key.to_owned(), Entry { value, expires });
    }

    /// Counts a write and sweeps expired keys when enough writes have gone by.
    fn wrote(&mut self, now: Instant) {
        self.writes_since_sweep += 1;
        if self.writes_since_sweep >= SWEEP_EVERY.max(self.map.len()) {
            self.map.retain(|_, e| !e.expired(now));
            self.writes_since_sweep = 0;
        }
    }

    fn zset(&mut self, key: &str, now: Instant) -> Result<Option<&ZSet>, HotError> {
        match self.live(key, now).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::ZSet(zset)) => Ok(Some(zset)),
            Some(_) => Err(wrong_type(key)),
        }
    }

    /// A built draw gate (a hash holding the built marker), None when absent.
    fn gate(
        &mut self,
        key: &str,
        now: Instant,
    ) -> Result<Option<&mut HashMap<String, i64>>, HotError> {
        match self.live(key, now).map(|e| &mut e.value) {
            None => Ok(None),
            Some(Value::Hash(h)) => Ok(h.contains_key(gf::BUILT).then_some(h)),
            Some(_) => Err(wrong_type(key)),
        }
    }

    /// The sorted set at `key`, created empty (without expiry) when absent.
    fn zset_mut(&mut self, key: &str, now: Instant) -> Result<&mut ZSet, HotError> {
        if self.live(key, now).is_none() {
            self.put(key, Value::ZSet(ZSet::default()), None, now);
        }
        match self.map.get_mut(key).map(|e| &mut e.value) {
            Some(Value::ZSet(zset)) => Ok(zset),
            _ => Err(wrong_type(key)),
        }
    }
}

impl Entry {
    fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }

    /// The value as a counter. As in Redis, a string is an integer only in its canonical
    /// decimal form (no sign `+`, no leading zeros, no spaces).
    fn int(&self, key: &str) -> Result<i64, HotError> {
        match &self.value {
            Value::Int(n) => Ok(*n),
            Value::Str(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| n.to_string() == *s)
                .ok_or_else(|| wrong_type(key)),
            Value::ZSet(_) | Value::Hash(_) => Err(wrong_type(key)),
        }
    }
}

impl ZSet {
    fn put(&mut self, member: &str, score: f64) {
        if let Some(old) = self.scores.insert(member.to_owned(), score) {
            self.order.remove(&ByRank {
                score: old,
                member: member.to_owned(),
            });
        }
        self.order.insert(ByRank {
            score,
            member: member.to_owned(),
        });
    }

    /// The member's own position in `order`, to range from.
    fn probe(&self, member: &str) -> Option<ByRank> {
        self.scores.get(member).map(|&score| ByRank {
            score,
            member: member.to_owned(),
        })
    }
}

impl Ord for ByRank {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| other.member.as_bytes().cmp(self.member.as_bytes()))
    }
}

impl PartialOrd for ByRank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ByRank {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ByRank {}

fn ranked<'a>(start: usize, entries: impl Iterator<Item = &'a ByRank>) -> Vec<Ranked> {
    entries
        .enumerate()
        .map(|(i, e)| Ranked {
            rank: (start + i) as u64,
            member: e.member.clone(),
            score: e.score,
        })
        .collect()
}

/// Redis refuses NaN scores, and its comparisons treat -0 as 0; `total_cmp` does not, so
/// -0 is stored as 0 to keep ties where Redis has them.
fn valid_score(score: f64) -> Result<f64, HotError> {
    if score.is_nan() {
        return Err(HotError::Unavailable("score is not a number".into()));
    }
    Ok(score + 0.0)
}

fn overflow() -> HotError {
    HotError::Unavailable("increment or decrement would overflow".into())
}

fn wrong_type(key: &str) -> HotError {
    HotError::WrongType {
        key: key.to_owned(),
    }
}
