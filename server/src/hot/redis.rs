//! The Redis hot store: each operation is one command or one Lua script, so every call is
//! atomic on the server and touches a single key (one Cluster slot).

use std::cell::RefCell;
use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script, cmd};
use tokio::runtime::{self, Handle, RuntimeFlavor};

use super::gate_fields as gf;
use super::{Gate, GatePick, HotError, HotStore, Ranked, Spend, Take};

/// Callers answer 503 on any hot-store error, so fail fast rather than queue requests
/// behind a Redis that is not answering.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
const RECONNECT_RETRIES: usize = 3;
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(1);

/// Lua numbers are doubles and turn into "1e+20" past 2^53; no sorted set is near this size.
const MAX_RADIUS: u64 = u32::MAX as u64;

/// A counter gets its window only when this call creates it, so later calls never extend it.
static INCR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local existed = redis.call('EXISTS', KEYS[1])
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n
",
    )
});

/// DECRBY checks the value is an integer exactly as INCR does; a refused decrement is put
/// back inside the same script, so no client ever sees it.
static DECR_FLOOR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then
    return false
end
local n = redis.call('DECRBY', KEYS[1], ARGV[1])
if n < tonumber(ARGV[2]) then
    redis.call('INCRBY', KEYS[1], ARGV[1])
    return false
end
return n
",
    )
});

/// Returns -2 when the key is missing, -1 when the stock is empty, else what remains. An
/// empty stock is answered without a write: sold-out keys are the hottest ones.
static TAKE_ONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('GET', KEYS[1])
if not v then
    return -2
end
if string.match(v, '^%-?%d+$') and tonumber(v) <= 0 then
    return -1
end
return redis.call('DECR', KEYS[1])
",
    )
});

/// The draw gate (see `HotStore::gate_draw`). Codes: -3 member not loaded, -2 gate missing,
/// -1 no chance, 0 no prize, 1 out of stock, 2 over the cap, 3 won.
static GATE_DRAW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local h = KEYS[1]
if redis.call('HEXISTS', h, 'gen') == 0 then
    return -2
end
local uid = ARGV[1]
local used = redis.call('HGET', h, 'u:' .. uid)
if not used then
    return -3
end
local granted = tonumber(redis.call('HGET', h, 'g:' .. uid) or '0')
if tonumber(used) >= granted then
    return -1
end
redis.call('HINCRBY', h, 'u:' .. uid, 1)
local pid = ARGV[2]
if pid == '' then
    return 0
end
local stock = tonumber(redis.call('HGET', h, 's:' .. pid) or '0')
if stock <= 0 then
    return 1
end
local wf = 'w:' .. uid .. ':' .. pid
if tonumber(redis.call('HGET', h, wf) or '0') >= tonumber(ARGV[3]) then
    return 2
end
redis.call('HINCRBY', h, 's:' .. pid, -1)
redis.call('HINCRBY', h, wf, 1)
return 3
",
    )
});

/// ARGV: user, granted, used, then prize/wins pairs.
static GATE_LOAD_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local h = KEYS[1]
if redis.call('HEXISTS', h, 'gen') == 0 then
    return 0
end
local uid = ARGV[1]
local g = tonumber(ARGV[2])
if g > tonumber(redis.call('HGET', h, 'g:' .. uid) or '-1') then
    redis.call('HSET', h, 'g:' .. uid, g)
end
if redis.call('HSETNX', h, 'u:' .. uid, ARGV[3]) == 0 then
    return 0
end
for i = 4, #ARGV, 2 do
    redis.call('HSET', h, 'w:' .. uid .. ':' .. ARGV[i], ARGV[i + 1])
end
return 1
",
    )
});

static GATE_GRANT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HEXISTS', KEYS[1], 'gen') == 0 then
    return 0
end
local f = 'g:' .. ARGV[1]
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[1], f) or '-1') then
    redis.call('HSET', KEYS[1], f, ARGV[2])
end
return 1
",
    )
});

/// ARGV: field/value pairs; ARGV[1] says whether to add (`incr`) or set (`set`).
static GATE_UPDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HEXISTS', KEYS[1], 'gen') == 0 then
    return 0
end
local op = ARGV[1] == 'incr' and 'HINCRBY' or 'HSET'
for i = 2, #ARGV, 2 do
    redis.call(op, KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
",
    )
});

static DEL_IF_EQ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// ZREVRANK WITHSCORE needs Redis 7.2; this answers both in one atomic call on 7.0.
static ZRANK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local r = redis.call('ZREVRANK', KEYS[1], ARGV[1])
if not r then
    return false
end
return {r, redis.call('ZSCORE', KEYS[1], ARGV[1])}
",
    )
});

/// Returns {first rank, flat member/score list}, so ranks match the slice even while
/// the set changes.
static ZAROUND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local r = redis.call('ZREVRANK', KEYS[1], ARGV[1])
if not r then
    return false
end
local radius = tonumber(ARGV[2])
local first = math.max(0, r - radius)
return {first, redis.call('ZREVRANGE', KEYS[1], first, r + radius, 'WITHSCORES')}
",
    )
});

/// Connections to one Redis: one per single-threaded runtime. A multiplexed connection's
/// reader and writer run as a task on the runtime that opened it; shared by every HTTP
/// worker, each of its replies crossed threads twice (a worker's request to the task's
/// thread, the answer back), which cost the machine more than parsing them. So each
/// single-threaded runtime (an actix worker, the main one) has its own, the one it opened
/// `connect` with or one opened lazily at its first command; a multi-threaded runtime uses
/// the first. Every one reconnects by itself.
#[derive(Clone)]
pub struct Connections(Arc<Opened>);

struct Opened {
    client: Client,
    config: ConnectionManagerConfig,
    first: ConnectionManager,
}

/// A runtime's own connection to one Redis (the `Connections` that made it, held weakly
/// so that a dropped store's connection goes at the next new one).
struct Own {
    of: Weak<Opened>,
    runtime: runtime::Id,
    conn: ConnectionManager,
}

thread_local! {
    static OWN: RefCell<Vec<Own>> = const { RefCell::new(Vec::new()) };
}

/// The current runtime, when it runs on this thread alone.
fn single_threaded_runtime() -> Option<runtime::Id> {
    Handle::try_current()
        .ok()
        .filter(|h| matches!(h.runtime_flavor(), RuntimeFlavor::CurrentThread))
        .map(|h| h.id())
}

impl Connections {
    /// Connects to `url` (`redis://…` or `rediss://…`), failing when Redis cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, HotError> {
        let client = Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(RECONNECT_MAX_DELAY);
        let first = ConnectionManager::new_with_config(client.clone(), config.clone())
            .await
            .map_err(unavailable)?;
        let conns = Self(Arc::new(Opened {
            client,
            config,
            first,
        }));
        if let Some(runtime) = single_threaded_runtime() {
            conns.keep(runtime, conns.0.first.clone());
        }
        Ok(conns)
    }

    /// The connection for this runtime (opened lazily: the first command connects).
    pub fn get(&self) -> ConnectionManager {
        let Some(runtime) = single_threaded_runtime() else {
            return self.0.first.clone();
        };
        let kept = OWN.with_borrow(|own| {
            own.iter()
                .find(|o| o.runtime == runtime && std::ptr::eq(o.of.as_ptr(), Arc::as_ptr(&self.0)))
                .map(|o| o.conn.clone())
        });
        if let Some(conn) = kept {
            return conn;
        }
        match ConnectionManager::new_lazy_with_config(self.0.client.clone(), self.0.config.clone())
        {
            Ok(conn) => {
                self.keep(runtime, conn.clone());
                conn
            }
            Err(_) => self.0.first.clone(),
        }
    }

    /// Makes `conn` this thread's connection for `runtime`, replacing one of an earlier
    /// runtime (whose task ended with it).
    fn keep(&self, runtime: runtime::Id, conn: ConnectionManager) {
        OWN.with_borrow_mut(|own| {
            own.retain(|o| {
                o.of.strong_count() > 0 && !std::ptr::eq(o.of.as_ptr(), Arc::as_ptr(&self.0))
            });
            own.push(Own {
                of: Arc::downgrade(&self.0),
                runtime,
                conn,
            });
        });
    }
}

/// The Redis [`HotStore`].
#[derive(Clone)]
pub struct RedisStore {
    conn: Connections,
}

impl RedisStore {
    /// Connects to `url` (`redis://…` or `rediss://…`), failing when Redis cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, HotError> {
        Ok(Self {
            conn: Connections::connect(url).await?,
        })
    }

    /// The store's connections, for indexes kept beside it (the nearby index).
    pub fn connections(&self) -> Connections {
        self.conn.clone()
    }
}

#[async_trait::async_trait]
impl HotStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), HotError> {
        cmd("PING")
            .query_async::<()>(&mut self.conn.get())
            .await
            .map_err(unavailable)
    }

    async fn get(&self, key: &str) -> Result<Option<String>, HotError> {
        cmd("GET")
            .arg(key)
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(key))
    }

    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), HotError> {
        let mut set = cmd("SET");
        set.arg(key).arg(value);
        if let Some(ttl) = ttl {
            set.arg("PX").arg(millis(ttl));
        }
        set.query_async::<()>(&mut self.conn.get())
            .await
            .map_err(on(key))
    }

    async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, HotError> {
        let reply: Option<String> = cmd("SET")
            .arg(key)
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        Ok(reply.is_some())
    }

    async fn del(&self, keys: &[String]) -> Result<u64, HotError> {
        if keys.is_empty() {
            return Ok(0);
        }
        cmd("DEL")
            .arg(keys)
            .query_async(&mut self.conn.get())
            .await
            .map_err(unavailable)
    }

    async fn del_if_eq(&self, key: &str, value: &str) -> Result<bool, HotError> {
        DEL_IF_EQ
            .key(key)
            .arg(value)
            .invoke_async(&mut self.conn.get())
            .await
            .map_err(on(key))
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, HotError> {
        let ms: i64 = cmd("PTTL")
            .arg(key)
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        // -2: no such key; -1: no expiry.
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }

    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, HotError> {
        let ttl = ttl.map(|ttl| millis(ttl).to_string()).unwrap_or_default();
        INCR.key(key)
            .arg(delta)
            .arg(ttl)
            .invoke_async(&mut self.conn.get())
            .await
            .map_err(on(key))
    }

    async fn decr_floor(&self, key: &str, delta: i64, floor: i64) -> Result<Option<i64>, HotError> {
        DECR_FLOOR
            .key(key)
            .arg(delta)
            .arg(floor)
            .invoke_async(&mut self.conn.get())
            .await
            .map_err(on(key))
    }

    async fn take_one(&self, key: &str) -> Result<Take, HotError> {
        let n: i64 = TAKE_ONE
            .key(key)
            .invoke_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        Ok(match n {
            -2 => Take::Missing,
            -1 => Take::Empty,
            n => Take::Taken(n),
        })
    }

    async fn zset_if_higher(&self, key: &str, member: &str, score: f64) -> Result<bool, HotError> {
        // GT still adds new members; CH makes the reply count updates as well as additions.
        let changed: u64 = cmd("ZADD")
            .arg(key)
            .arg("GT")
            .arg("CH")
            .arg(score)
            .arg(member)
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        Ok(changed > 0)
    }

    async fn zincr(&self, key: &str, member: &str, delta: f64) -> Result<f64, HotError> {
        cmd("ZINCRBY")
            .arg(key)
            .arg(delta)
            .arg(member)
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(key))
    }

    async fn ztop(&self, key: &str, n: u64) -> Result<Vec<Ranked>, HotError> {
        // A stop of -1 would mean "to the end", so n = 0 never reaches Redis.
        let Some(stop) = n.checked_sub(1) else {
            return Ok(Vec::new());
        };
        let entries: Vec<(String, f64)> = cmd("ZREVRANGE")
            .arg(key)
            .arg(0)
            .arg(i64::try_from(stop).unwrap_or(i64::MAX))
            .arg("WITHSCORES")
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        Ok(ranked(0, entries))
    }

    async fn zrank(&self, key: &str, member: &str) -> Result<Option<Ranked>, HotError> {
        let found: Option<(u64, f64)> = ZRANK
            .key(key)
            .arg(member)
            .invoke_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        Ok(found.map(|(rank, score)| Ranked {
            rank,
            member: member.to_owned(),
            score,
        }))
    }

    async fn zaround(&self, key: &str, member: &str, radius: u64) -> Result<Vec<Ranked>, HotError> {
        let found: Option<(u64, Vec<(String, f64)>)> = ZAROUND
            .key(key)
            .arg(member)
            .arg(radius.min(MAX_RADIUS))
            .invoke_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        Ok(found.map_or_else(Vec::new, |(first, entries)| ranked(first, entries)))
    }

    async fn zcard(&self, key: &str) -> Result<u64, HotError> {
        cmd("ZCARD")
            .arg(key)
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(key))
    }
    async fn gate_build(&self, key: &str, stock: &[(i64, i64)]) -> Result<(), HotError> {
        let mut fields: Vec<(String, i64)> = vec![(gf::BUILT.to_owned(), 1)];
        fields.extend(stock.iter().map(|&(p, n)| (gf::stock(p), n)));
        redis::pipe()
            .atomic()
            .del(key)
            .ignore()
            .hset_multiple(key, &fields)
            .ignore()
            .query_async::<()>(&mut self.conn.get())
            .await
            .map_err(on(key))
    }

    async fn gate_draw(
        &self,
        key: &str,
        user: i64,
        pick: Option<GatePick>,
    ) -> Result<Gate, HotError> {
        let mut call = GATE_DRAW.key(key);
        call.arg(user);
        match pick {
            Some(p) => call.arg(p.prize).arg(p.max_per_user),
            None => call.arg("").arg(0),
        };
        let code: i64 = call
            .invoke_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        Ok(match code {
            -3 => Gate::UserMissing,
            -2 => Gate::Missing,
            -1 => Gate::NoChances,
            0 => Gate::Spent(Spend::NoPrize),
            1 => Gate::Spent(Spend::OutOfStock),
            2 => Gate::Spent(Spend::OverCap),
            _ => Gate::Spent(Spend::Won),
        })
    }

    async fn gate_load_user(
        &self,
        key: &str,
        user: i64,
        granted: i64,
        used: i64,
        wins: &[(i64, i64)],
    ) -> Result<bool, HotError> {
        let mut call = GATE_LOAD_USER.key(key);
        call.arg(user).arg(granted).arg(used);
        for &(prize, n) in wins {
            call.arg(prize).arg(n);
        }
        let loaded: i64 = call
            .invoke_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        Ok(loaded == 1)
    }

    async fn gate_grant(&self, key: &str, user: i64, granted: i64) -> Result<(), HotError> {
        GATE_GRANT
            .key(key)
            .arg(user)
            .arg(granted)
            .invoke_async::<i64>(&mut self.conn.get())
            .await
            .map(drop)
            .map_err(on(key))
    }

    async fn gate_adjust(&self, key: &str, deltas: &[(String, i64)]) -> Result<(), HotError> {
        self.gate_update(key, "incr", deltas).await
    }

    async fn gate_read(&self, key: &str, fields: &[String]) -> Result<Vec<Option<i64>>, HotError> {
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let mut names = vec![gf::BUILT.to_owned()];
        names.extend_from_slice(fields);
        let values: Vec<Option<i64>> = cmd("HMGET")
            .arg(key)
            .arg(&names)
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(key))?;
        if values.first().copied().flatten().is_none() {
            return Ok(vec![None; fields.len()]);
        }
        Ok(values.into_iter().skip(1).collect())
    }

    async fn gate_write(&self, key: &str, values: &[(String, i64)]) -> Result<(), HotError> {
        self.gate_update(key, "set", values).await
    }

    async fn gate_forget(&self, key: &str, fields: &[String]) -> Result<(), HotError> {
        if fields.is_empty() {
            return Ok(());
        }
        cmd("HDEL")
            .arg(key)
            .arg(fields)
            .query_async::<i64>(&mut self.conn.get())
            .await
            .map(drop)
            .map_err(on(key))
    }
}

impl RedisStore {
    async fn gate_update(
        &self,
        key: &str,
        op: &str,
        pairs: &[(String, i64)],
    ) -> Result<(), HotError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut call = GATE_UPDATE.key(key);
        call.arg(op);
        for (field, value) in pairs {
            call.arg(field).arg(*value);
        }
        call.invoke_async::<i64>(&mut self.conn.get())
            .await
            .map(drop)
            .map_err(on(key))
    }
}

fn ranked(first: u64, entries: Vec<(String, f64)>) -> Vec<Ranked> {
    (first..)
        .zip(entries)
        .map(|(rank, (member, score))| Ranked {
            rank,
            member,
            score,
        })
        .collect()
}

/// Redis refuses a zero expiry; one millisecond expires just as surely.
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Maps an error on `key`. INCR's "not an integer" counts as a wrong type, as the in-memory
/// store reports it; everything else means Redis cannot serve the call.
pub(super) fn on(key: &str) -> impl FnOnce(RedisError) -> HotError + '_ {
    move |err| {
        let wrong_type = err.code() == Some("WRONGTYPE")
            || err.detail().is_some_and(|d| d.contains("not an integer"));
        if wrong_type {
            HotError::WrongType {
                key: key.to_owned(),
            }
        } else {
            unavailable(err)
        }
    }
}

fn unavailable(err: RedisError) -> HotError {
    HotError::Unavailable(err.to_string())
}
