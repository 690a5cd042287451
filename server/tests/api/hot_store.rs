//! The hot-store contract: each case is written once and runs against the in-process store,
//! and against Redis when `HUIGONG_TEST_REDIS_URL` is set (skipped otherwise).

// A failed unwrap is a failed assertion here.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use huigong::domain::Coord;
use huigong::hot::{
    Connections, Gate, GatePick, HotError, HotStore, Keys, MemoryStore, Ranked, RedisStore, Spend,
    Take, gate_fields as gf, geohash_score,
};

const REDIS_URL_VAR: &str = "HUIGONG_TEST_REDIS_URL";

/// Short enough to keep the suite fast, long enough to survive a slow CI machine between
/// two calls.
const TTL: Duration = Duration::from_millis(300);
const PAST_TTL: Duration = Duration::from_millis(400);

macro_rules! contract {
    ($($case:ident => $memory:ident, $redis:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $memory() {
            let t = Ctx::new(Arc::new(MemoryStore::new()));
            $case(&t).await;
            t.cleanup().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $redis() {
            let Some(store) = redis_store(stringify!($redis)).await else {
                return;
            };
            let t = Ctx::new(store);
            $case(&t).await;
            t.cleanup().await;
        }
    )*};
}

contract! {
    set_get_del_ttl => memory_set_get_del_ttl, redis_set_get_del_ttl;
    set_nx_first_wins => memory_set_nx_first_wins, redis_set_nx_first_wins;
    del_if_eq_only_matching => memory_del_if_eq_only_matching, redis_del_if_eq_only_matching;
    incr_fixed_window => memory_incr_fixed_window, redis_incr_fixed_window;
    decr_floor_refuses => memory_decr_floor_refuses, redis_decr_floor_refuses;
    take_one_sequence => memory_take_one_sequence, redis_take_one_sequence;
    take_one_concurrent => memory_take_one_concurrent, redis_take_one_concurrent;
    zset_if_higher_only_raises => memory_zset_if_higher_only_raises, redis_zset_if_higher_only_raises;
    zincr_adds => memory_zincr_adds, redis_zincr_adds;
    ztop_order_and_ties => memory_ztop_order_and_ties, redis_ztop_order_and_ties;
    zrank_present_absent => memory_zrank_present_absent, redis_zrank_present_absent;
    zaround_edges => memory_zaround_edges, redis_zaround_edges;
    zcard_counts => memory_zcard_counts, redis_zcard_counts;
    wrong_type => memory_wrong_type, redis_wrong_type;
    draw_gate => memory_draw_gate, redis_draw_gate;
}

/// One case's store and keys. Every key a case uses comes from [`Ctx::key`], which
/// remembers it so the case deletes exactly its own keys afterwards.
struct Ctx {
    store: Arc<dyn HotStore>,
    keys: Keys,
    made: Mutex<Vec<String>>,
}

impl Ctx {
    fn new(store: Arc<dyn HotStore>) -> Self {
        let prefix = format!("hgtest-{:016x}", rand::random::<u64>());
        Self {
            store,
            keys: Keys::new(prefix),
            made: Mutex::new(Vec::new()),
        }
    }

    fn key(&self, name: &str) -> String {
        let key = self.keys.key("contract", name);
        self.made.lock().unwrap().push(key.clone());
        key
    }

    async fn cleanup(&self) {
        let made = self.made.lock().unwrap().clone();
        self.store.del(&made).await.unwrap();
    }
}

async fn redis_store(test: &str) -> Option<Arc<dyn HotStore>> {
    let Ok(url) = std::env::var(REDIS_URL_VAR) else {
        println!("{test}: skipped, {REDIS_URL_VAR} is not set");
        return None;
    };
    let store = RedisStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{REDIS_URL_VAR}={url}: {e}"));
    store.ping().await.unwrap();
    Some(Arc::new(store))
}

/// The test Redis's URL and connections to it; None (and the test skipped) when there is
/// none.
async fn redis_connections() -> Option<(String, Connections)> {
    let Ok(url) = std::env::var(REDIS_URL_VAR) else {
        println!("skipped, {REDIS_URL_VAR} is not set");
        return None;
    };
    let conns = Connections::connect(&url).await.unwrap();
    Some((url, conns))
}

/// The nearby index is filled in the order of Redis's own scores (so that a search walks
/// neighbouring memory): ours must be the ones Redis gives, everywhere on the map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_geohash_scores_are_ours() {
    use rand::Rng;
    let Some((_, conns)) = redis_connections().await else {
        return;
    };
    let key = Keys::new(format!("hgtest{}", rand::random::<u32>())).key("contract", "geo");
    let mut rng = rand::rng();
    let points: Vec<Coord> = (0..2_000)
        .map(|_| Coord {
            lat: rng.random_range(-85.05..85.05),
            lng: rng.random_range(-180.0..180.0),
        })
        .chain([
            Coord { lat: 0.0, lng: 0.0 },
            Coord {
                lat: 39.908_722,
                lng: 116.397_499,
            },
        ])
        .collect();
    let mut add = redis::cmd("GEOADD");
    add.arg(&key);
    for (i, at) in points.iter().enumerate() {
        add.arg(at.lng).arg(at.lat).arg(i);
    }
    add.query_async::<()>(&mut conns.get()).await.unwrap();
    let scores: Vec<u64> = redis::cmd("ZMSCORE")
        .arg(&key)
        .arg((0..points.len()).collect::<Vec<_>>())
        .query_async(&mut conns.get())
        .await
        .unwrap();
    redis::cmd("DEL")
        .arg(&key)
        .query_async::<()>(&mut conns.get())
        .await
        .unwrap();
    for (at, score) in points.iter().zip(scores) {
        assert_eq!(geohash_score(*at), score, "{at:?}");
    }
}

/// Each single-threaded runtime (an actix worker) talks to Redis over its own connection,
/// kept for its next commands; a multi-threaded runtime uses the first one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_one_connection_per_single_threaded_runtime() {
    let Some((url, conns)) = redis_connections().await else {
        return;
    };
    async fn client_id(conns: &Connections) -> i64 {
        redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut conns.get())
            .await
            .unwrap()
    }
    let first = client_id(&conns).await;
    assert_eq!(client_id(&conns).await, first);
    let on_own_runtime = || {
        let conns = conns.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async { (client_id(&conns).await, client_id(&conns).await) })
        })
    };
    let (a, b) = (on_own_runtime(), on_own_runtime());
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_eq!(a.0, a.1, "a runtime keeps its connection");
    assert_eq!(b.0, b.1);
    assert!(
        a.0 != first && b.0 != first && a.0 != b.0,
        "{first} {a:?} {b:?}"
    );

    // A later runtime on the same thread opens its own (an earlier one's connection task
    // ended with it), also where the earlier runtime is the one that connected.
    std::thread::spawn(move || {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let earlier = runtime().block_on(client_id(&conns));
        let later = runtime().block_on(client_id(&conns));
        assert!(earlier != later, "{earlier} {later}");
        let (own, connected_with) = runtime().block_on(async {
            let own = Connections::connect(&url).await.unwrap();
            let id = client_id(&own).await;
            (own, id)
        });
        let after = runtime().block_on(client_id(&own));
        assert!(connected_with != after, "{connected_with} {after}");
    })
    .join()
    .unwrap();
}

fn assert_wrong_type<T: Debug>(result: Result<T, HotError>, key: &str) {
    match result {
        Err(HotError::WrongType { key: k }) => assert_eq!(k, key),
        other => panic!("expected WrongType for {key}, got {other:?}"),
    }
}

fn ranked(rank: u64, member: &str, score: f64) -> Ranked {
    Ranked {
        rank,
        member: member.to_owned(),
        score,
    }
}

fn members(entries: &[Ranked]) -> Vec<(u64, &str)> {
    entries
        .iter()
        .map(|e| (e.rank, e.member.as_str()))
        .collect()
}

// --- cases ---------------------------------------------------------------------------------

async fn set_get_del_ttl(t: &Ctx) {
    let s = &*t.store;
    let (a, b, c, absent) = (t.key("a"), t.key("b"), t.key("c"), t.key("absent"));

    assert_eq!(s.get(&a).await.unwrap(), None);
    s.set(&a, "1", None).await.unwrap();
    s.set(&a, "one", None).await.unwrap();
    assert_eq!(s.get(&a).await.unwrap().as_deref(), Some("one"));
    assert_eq!(
        s.ttl(&a).await.unwrap(),
        None,
        "no ttl given: never expires"
    );
    assert_eq!(s.ttl(&absent).await.unwrap(), None);

    s.set(&b, "two", Some(TTL)).await.unwrap();
    let left = s.ttl(&b).await.unwrap().unwrap();
    assert!(left > Duration::ZERO && left <= TTL, "{left:?}");
    s.set(&b, "two again", None).await.unwrap();
    assert_eq!(
        s.ttl(&b).await.unwrap(),
        None,
        "a plain set clears the expiry"
    );

    assert_eq!(s.del(&[a.clone(), b.clone(), absent]).await.unwrap(), 2);
    assert_eq!(s.get(&a).await.unwrap(), None);
    assert_eq!(s.get(&b).await.unwrap(), None);
    assert_eq!(s.del(&[]).await.unwrap(), 0);

    s.set(&c, "short", Some(TTL)).await.unwrap();
    assert_eq!(s.get(&c).await.unwrap().as_deref(), Some("short"));
    tokio::time::sleep(PAST_TTL).await;
    assert_eq!(s.get(&c).await.unwrap(), None);
    assert_eq!(s.ttl(&c).await.unwrap(), None);
    assert_eq!(s.del(std::slice::from_ref(&c)).await.unwrap(), 0);
}

async fn set_nx_first_wins(t: &Ctx) {
    let s = &*t.store;
    let lock = t.key("lock");

    assert!(s.set_nx(&lock, "first", TTL).await.unwrap());
    assert!(!s.set_nx(&lock, "second", TTL).await.unwrap());
    assert_eq!(s.get(&lock).await.unwrap().as_deref(), Some("first"));
    assert!(s.ttl(&lock).await.unwrap().is_some_and(|d| d <= TTL));

    tokio::time::sleep(PAST_TTL).await;
    assert!(
        s.set_nx(&lock, "third", TTL).await.unwrap(),
        "expired keys are free"
    );
    assert_eq!(s.get(&lock).await.unwrap().as_deref(), Some("third"));
}

async fn del_if_eq_only_matching(t: &Ctx) {
    let s = &*t.store;
    let (lock, absent) = (t.key("lock"), t.key("absent"));

    s.set(&lock, "owner-1", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(!s.del_if_eq(&lock, "owner-2").await.unwrap());
    assert_eq!(s.get(&lock).await.unwrap().as_deref(), Some("owner-1"));
    assert!(s.del_if_eq(&lock, "owner-1").await.unwrap());
    assert_eq!(s.get(&lock).await.unwrap(), None);
    assert!(!s.del_if_eq(&lock, "owner-1").await.unwrap());
    assert!(!s.del_if_eq(&absent, "").await.unwrap());
}

async fn incr_fixed_window(t: &Ctx) {
    let s = &*t.store;
    let (window, plain, from_set) = (t.key("window"), t.key("plain"), t.key("from-set"));

    assert_eq!(s.incr(&window, 1, Some(TTL)).await.unwrap(), 1);
    let first = s.ttl(&window).await.unwrap().unwrap();
    assert!(first <= TTL, "{first:?}");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(s.incr(&window, 2, Some(TTL)).await.unwrap(), 3);
    let later = s.ttl(&window).await.unwrap().unwrap();
    assert!(
        later <= TTL - Duration::from_millis(100),
        "window was extended: {later:?}"
    );

    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(s.get(&window).await.unwrap(), None, "window is over");
    assert_eq!(
        s.incr(&window, 1, Some(TTL)).await.unwrap(),
        1,
        "a new window"
    );

    assert_eq!(s.incr(&plain, -4, None).await.unwrap(), -4);
    assert_eq!(s.incr(&plain, 10, Some(TTL)).await.unwrap(), 6);
    assert_eq!(
        s.ttl(&plain).await.unwrap(),
        None,
        "ttl applies only on creation"
    );
    assert_eq!(s.get(&plain).await.unwrap().as_deref(), Some("6"));

    s.set(&from_set, "41", None).await.unwrap();
    assert_eq!(s.incr(&from_set, 1, None).await.unwrap(), 42);
    assert_eq!(s.get(&from_set).await.unwrap().as_deref(), Some("42"));
}

async fn decr_floor_refuses(t: &Ctx) {
    let s = &*t.store;
    let (balance, absent, timed) = (t.key("balance"), t.key("absent"), t.key("timed"));

    assert_eq!(s.decr_floor(&absent, 1, 0).await.unwrap(), None);
    assert_eq!(s.get(&absent).await.unwrap(), None, "absent stays absent");

    s.set(&balance, "5", None).await.unwrap();
    assert_eq!(s.decr_floor(&balance, 3, 0).await.unwrap(), Some(2));
    assert_eq!(s.decr_floor(&balance, 3, 0).await.unwrap(), None);
    assert_eq!(
        s.get(&balance).await.unwrap().as_deref(),
        Some("2"),
        "unchanged"
    );
    assert_eq!(s.decr_floor(&balance, 2, 0).await.unwrap(), Some(0));
    assert_eq!(s.decr_floor(&balance, 5, -5).await.unwrap(), Some(-5));
    assert_eq!(s.decr_floor(&balance, 1, -5).await.unwrap(), None);
    assert_eq!(
        s.decr_floor(&balance, -7, 0).await.unwrap(),
        Some(2),
        "negative delta adds"
    );

    s.incr(&timed, 10, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(s.decr_floor(&timed, 4, 0).await.unwrap(), Some(6));
    assert!(s.ttl(&timed).await.unwrap().is_some(), "expiry is kept");
}

async fn take_one_sequence(t: &Ctx) {
    let s = &*t.store;
    let (stock, negative) = (t.key("stock"), t.key("negative"));

    assert_eq!(s.take_one(&stock).await.unwrap(), Take::Missing);
    s.set(&stock, "2", None).await.unwrap();
    assert_eq!(s.take_one(&stock).await.unwrap(), Take::Taken(1));
    assert_eq!(s.take_one(&stock).await.unwrap(), Take::Taken(0));
    assert_eq!(s.take_one(&stock).await.unwrap(), Take::Empty);
    assert_eq!(s.take_one(&stock).await.unwrap(), Take::Empty);
    assert_eq!(s.get(&stock).await.unwrap().as_deref(), Some("0"));

    s.set(&negative, "-3", None).await.unwrap();
    assert_eq!(s.take_one(&negative).await.unwrap(), Take::Empty);
    assert_eq!(s.get(&negative).await.unwrap().as_deref(), Some("-3"));
}

async fn take_one_concurrent(t: &Ctx) {
    let stock = t.key("stock");
    t.store.set(&stock, "50", None).await.unwrap();

    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (store, stock) = (Arc::clone(&t.store), stock.clone());
            tokio::spawn(async move { store.take_one(&stock).await.unwrap() })
        })
        .collect();
    let mut remaining = Vec::new();
    let mut empty = 0;
    for task in tasks {
        match task.await.unwrap() {
            Take::Taken(n) => remaining.push(n),
            Take::Empty => empty += 1,
            Take::Missing => panic!("stock vanished"),
        }
    }
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        (0..50).collect::<Vec<i64>>(),
        "each unit taken once"
    );
    assert_eq!(empty, 150);
    assert_eq!(t.store.get(&stock).await.unwrap().as_deref(), Some("0"));
}

async fn zset_if_higher_only_raises(t: &Ctx) {
    let s = &*t.store;
    let board = t.key("board");

    assert!(
        s.zset_if_higher(&board, "ann", 10.0).await.unwrap(),
        "new member"
    );
    assert!(
        !s.zset_if_higher(&board, "ann", 5.0).await.unwrap(),
        "lower"
    );
    assert!(
        !s.zset_if_higher(&board, "ann", 10.0).await.unwrap(),
        "equal"
    );
    assert_eq!(s.zrank(&board, "ann").await.unwrap().unwrap().score, 10.0);
    assert!(
        s.zset_if_higher(&board, "ann", 12.5).await.unwrap(),
        "higher"
    );
    assert_eq!(s.zrank(&board, "ann").await.unwrap().unwrap().score, 12.5);
    assert!(s.zset_if_higher(&board, "bob", -1.0).await.unwrap());
    assert_eq!(s.zcard(&board).await.unwrap(), 2);
}

async fn zincr_adds(t: &Ctx) {
    let s = &*t.store;
    let board = t.key("board");

    assert_eq!(
        s.zincr(&board, "ann", 1.5).await.unwrap(),
        1.5,
        "created at 0"
    );
    assert_eq!(s.zincr(&board, "ann", 2.0).await.unwrap(), 3.5);
    assert_eq!(s.zincr(&board, "ann", -4.0).await.unwrap(), -0.5);
    assert_eq!(s.zincr(&board, "bob", 1.0).await.unwrap(), 1.0);
    assert_eq!(
        s.zrank(&board, "bob").await.unwrap(),
        Some(ranked(0, "bob", 1.0))
    );
    assert_eq!(
        s.zrank(&board, "ann").await.unwrap(),
        Some(ranked(1, "ann", -0.5))
    );
}

async fn ztop_order_and_ties(t: &Ctx) {
    let s = &*t.store;
    let (board, absent) = (t.key("board"), t.key("absent"));

    // Ties go to the member later in byte order, as ZREVRANGE: "b" > "a" > "B" and "ab" > "a".
    for (member, score) in [("a", 20.0), ("low", 5.0), ("b", 20.0), ("mid", 10.0)] {
        s.zset_if_higher(&board, member, score).await.unwrap();
    }
    for (member, score) in [("B", 20.0), ("ab", 20.0)] {
        s.zset_if_higher(&board, member, score).await.unwrap();
    }

    assert_eq!(
        s.ztop(&board, 3).await.unwrap(),
        vec![
            ranked(0, "b", 20.0),
            ranked(1, "ab", 20.0),
            ranked(2, "a", 20.0)
        ]
    );
    let all = s.ztop(&board, 100).await.unwrap();
    assert_eq!(
        members(&all),
        [
            (0, "b"),
            (1, "ab"),
            (2, "a"),
            (3, "B"),
            (4, "mid"),
            (5, "low")
        ]
    );
    assert_eq!(all[4].score, 10.0);
    assert_eq!(s.ztop(&board, 0).await.unwrap(), vec![]);
    assert_eq!(s.ztop(&absent, 10).await.unwrap(), vec![]);
}

async fn zrank_present_absent(t: &Ctx) {
    let s = &*t.store;
    let (board, absent) = (t.key("board"), t.key("absent"));

    for (member, score) in [("ann", 3.0), ("bob", 7.0), ("cy", 5.0)] {
        s.zset_if_higher(&board, member, score).await.unwrap();
    }
    assert_eq!(
        s.zrank(&board, "bob").await.unwrap(),
        Some(ranked(0, "bob", 7.0))
    );
    assert_eq!(
        s.zrank(&board, "cy").await.unwrap(),
        Some(ranked(1, "cy", 5.0))
    );
    assert_eq!(
        s.zrank(&board, "ann").await.unwrap(),
        Some(ranked(2, "ann", 3.0))
    );
    assert_eq!(s.zrank(&board, "dan").await.unwrap(), None);
    assert_eq!(s.zrank(&absent, "ann").await.unwrap(), None);
}

async fn zaround_edges(t: &Ctx) {
    let s = &*t.store;
    let (board, absent) = (t.key("board"), t.key("absent"));

    // m9 is rank 0 ... m0 is rank 9.
    for i in 0..10 {
        s.zset_if_higher(&board, &format!("m{i}"), f64::from(i))
            .await
            .unwrap();
    }

    let top = s.zaround(&board, "m9", 2).await.unwrap();
    assert_eq!(members(&top), [(0, "m9"), (1, "m8"), (2, "m7")]);
    assert_eq!(top[0].score, 9.0);

    let middle = s.zaround(&board, "m5", 2).await.unwrap();
    assert_eq!(
        members(&middle),
        [(2, "m7"), (3, "m6"), (4, "m5"), (5, "m4"), (6, "m3")]
    );
    assert_eq!(middle[2], ranked(4, "m5", 5.0));

    let bottom = s.zaround(&board, "m0", 2).await.unwrap();
    assert_eq!(members(&bottom), [(7, "m2"), (8, "m1"), (9, "m0")]);

    assert_eq!(
        members(&s.zaround(&board, "m4", 0).await.unwrap()),
        [(5, "m4")]
    );
    assert_eq!(s.zaround(&board, "m4", u64::MAX).await.unwrap().len(), 10);
    assert_eq!(s.zaround(&board, "nobody", 2).await.unwrap(), vec![]);
    assert_eq!(s.zaround(&absent, "m4", 2).await.unwrap(), vec![]);
}

async fn zcard_counts(t: &Ctx) {
    let s = &*t.store;
    let (board, absent) = (t.key("board"), t.key("absent"));

    assert_eq!(s.zcard(&absent).await.unwrap(), 0);
    s.zset_if_higher(&board, "ann", 1.0).await.unwrap();
    s.zincr(&board, "bob", 1.0).await.unwrap();
    s.zset_if_higher(&board, "ann", 2.0).await.unwrap();
    s.zincr(&board, "bob", 1.0).await.unwrap();
    assert_eq!(s.zcard(&board).await.unwrap(), 2);
}

async fn wrong_type(t: &Ctx) {
    let s = &*t.store;
    let (board, text, float) = (t.key("board"), t.key("text"), t.key("float"));

    s.zincr(&board, "ann", 1.0).await.unwrap();
    assert_wrong_type(s.get(&board).await, &board);
    assert_wrong_type(s.incr(&board, 1, None).await, &board);
    assert_wrong_type(s.decr_floor(&board, 1, 0).await, &board);
    assert_wrong_type(s.take_one(&board).await, &board);
    assert_wrong_type(s.del_if_eq(&board, "x").await, &board);
    assert_eq!(
        s.zcard(&board).await.unwrap(),
        1,
        "failed calls change nothing"
    );

    s.set(&text, "abc", None).await.unwrap();
    assert_wrong_type(s.incr(&text, 1, None).await, &text);
    assert_wrong_type(s.decr_floor(&text, 1, 0).await, &text);
    assert_wrong_type(s.take_one(&text).await, &text);
    assert_wrong_type(s.zset_if_higher(&text, "ann", 1.0).await, &text);
    assert_wrong_type(s.zincr(&text, "ann", 1.0).await, &text);
    assert_wrong_type(s.ztop(&text, 3).await, &text);
    assert_wrong_type(s.zrank(&text, "ann").await, &text);
    assert_wrong_type(s.zaround(&text, "ann", 1).await, &text);
    assert_wrong_type(s.zcard(&text).await, &text);
    assert_eq!(s.get(&text).await.unwrap().as_deref(), Some("abc"));

    s.set(&float, "1.5", None).await.unwrap();
    assert_wrong_type(s.incr(&float, 1, None).await, &float);
    assert_wrong_type(s.take_one(&float).await, &float);

    s.set(&board, "7", None).await.unwrap();
    assert_eq!(
        s.take_one(&board).await.unwrap(),
        Take::Taken(6),
        "set replaces any type"
    );
}

/// The draw gate: missing until built, members load lazily (a second load changes nothing),
/// chances are spent once each, stock and caps turn picks into losses, and grants only
/// ever raise the granted count.
async fn draw_gate(t: &Ctx) {
    let gate = t.key("draw");
    let pick = Some(GatePick {
        prize: 7,
        max_per_user: 1,
    });
    let s = &t.store;
    assert_eq!(s.gate_draw(&gate, 1, pick).await.unwrap(), Gate::Missing);
    assert!(!s.gate_load_user(&gate, 1, 3, 0, &[]).await.unwrap());
    s.gate_build(&gate, &[(7, 2)]).await.unwrap();
    assert_eq!(
        s.gate_draw(&gate, 1, pick).await.unwrap(),
        Gate::UserMissing
    );
    assert!(s.gate_load_user(&gate, 1, 3, 0, &[]).await.unwrap());
    assert!(!s.gate_load_user(&gate, 1, 3, 2, &[(7, 1)]).await.unwrap());
    assert_eq!(
        s.gate_draw(&gate, 1, pick).await.unwrap(),
        Gate::Spent(Spend::Won)
    );
    assert_eq!(
        s.gate_draw(&gate, 1, pick).await.unwrap(),
        Gate::Spent(Spend::OverCap)
    );
    assert_eq!(
        s.gate_draw(&gate, 1, None).await.unwrap(),
        Gate::Spent(Spend::NoPrize)
    );
    assert_eq!(s.gate_draw(&gate, 1, pick).await.unwrap(), Gate::NoChances);
    s.gate_grant(&gate, 1, 4).await.unwrap();
    s.gate_grant(&gate, 1, 2).await.unwrap();
    assert_eq!(
        s.gate_draw(&gate, 1, None).await.unwrap(),
        Gate::Spent(Spend::NoPrize)
    );
    assert_eq!(s.gate_draw(&gate, 1, None).await.unwrap(), Gate::NoChances);
    // Another member takes the last unit; then the stock is out.
    s.gate_load_user(&gate, 2, 5, 0, &[]).await.unwrap();
    assert_eq!(
        s.gate_draw(&gate, 2, pick).await.unwrap(),
        Gate::Spent(Spend::Won)
    );
    assert_eq!(
        s.gate_draw(&gate, 2, pick).await.unwrap(),
        Gate::Spent(Spend::OutOfStock)
    );
    assert_eq!(
        s.gate_read(
            &gate,
            &[
                gf::stock(7),
                gf::used(1),
                gf::granted(1),
                gf::wins(2, 7),
                gf::used(9)
            ]
        )
        .await
        .unwrap(),
        [Some(0), Some(4), Some(4), Some(1), None]
    );
    s.gate_adjust(&gate, &[(gf::stock(7), 1), (gf::wins(2, 7), -1)])
        .await
        .unwrap();
    s.gate_write(&gate, &[(gf::used(2), 0)]).await.unwrap();
    s.gate_forget(&gate, &[gf::used(1)]).await.unwrap();
    assert_eq!(
        s.gate_read(
            &gate,
            &[gf::stock(7), gf::wins(2, 7), gf::used(2), gf::used(1)]
        )
        .await
        .unwrap(),
        [Some(1), Some(0), Some(0), None]
    );
    assert_eq!(
        s.gate_draw(&gate, 1, None).await.unwrap(),
        Gate::UserMissing
    );
    // Concurrent draws: 100 at once for 5 members with 10 chances and 30 units, cap 100.
    s.gate_build(&gate, &[(7, 30)]).await.unwrap();
    for user in 10..15 {
        s.gate_load_user(&gate, user, 10, 0, &[]).await.unwrap();
    }
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (store, gate) = (Arc::clone(s), gate.clone());
            tokio::spawn(async move {
                let pick = Some(GatePick {
                    prize: 7,
                    max_per_user: 100,
                });
                store.gate_draw(&gate, 10 + i % 5, pick).await.unwrap()
            })
        })
        .collect();
    let mut won = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Gate::Spent(Spend::Won) => won += 1,
            Gate::Spent(Spend::OutOfStock) => {}
            Gate::NoChances => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((won, refused), (30, 50));
    // A rebuild starts over: members load again.
    assert_eq!(s.gate_draw(&gate, 10, None).await.unwrap(), Gate::NoChances);
    s.gate_build(&gate, &[]).await.unwrap();
    assert_eq!(
        s.gate_draw(&gate, 10, None).await.unwrap(),
        Gate::UserMissing
    );
}
