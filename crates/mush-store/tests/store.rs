//! The store against a real 3-master Redis Cluster started by the harness.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use mush_harness::{ClusterOptions, RedisCluster};
use mush_proto::{ConnState, ConnType, GatewayId, Handle, PodId};
use mush_store::{
    ConnRecord, EnqueueError, MoveOutcome, NewConnection, PodInfo, Store, StoreConfig, StoreError,
    StoreMetrics,
};
use redis::cluster::ClusterClient;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "mush_store=info,warn".into()),
        )
        .try_init();
}

fn config(cluster: &RedisCluster) -> StoreConfig {
    StoreConfig {
        nodes: cluster.urls(),
        prefix: "test".into(),
        buckets: 64,
        ..StoreConfig::default()
    }
}

async fn connect(config: StoreConfig) -> Store {
    init_tracing();
    Store::connect(config, StoreMetrics::unregistered())
        .await
        .expect("connect")
}

/// `count` connections register and are listed, and the readiness probe passes: the
/// store really works over whatever it connected through.
async fn registered_and_ready(store: &Store, count: u64) {
    for h in 0..count {
        store
            .register(&new_conn(h, Some("g")))
            .await
            .expect("register");
    }
    assert_eq!(store.list_active().await.expect("list").len() as u64, count);
    assert!(probe_passes(store).await);
}

/// The readiness probe (every bucket's master answers) passes within 500 ms.
async fn probe_passes(store: &Store) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_millis(500), store.ping()).await,
        Ok(Ok(_))
    )
}

/// A plain cluster connection for looking at raw keys behind the store's back.
async fn raw(cluster: &RedisCluster) -> redis::cluster_async::ClusterConnection {
    ClusterClient::new(cluster.urls())
        .expect("client")
        .get_async_connection()
        .await
        .expect("raw connection")
}

async fn exists(conn: &mut redis::cluster_async::ClusterConnection, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<i64>(conn)
        .await
        .expect("EXISTS")
        == 1
}

async fn is_member(
    conn: &mut redis::cluster_async::ClusterConnection,
    key: &str,
    h: Handle,
) -> bool {
    redis::cmd("SISMEMBER")
        .arg(key)
        .arg(h.0)
        .query_async::<i64>(conn)
        .await
        .expect("SISMEMBER")
        == 1
}

fn pod(name: &str) -> PodId {
    PodId::new(name).expect("pod id")
}

fn new_conn(handle: u64, pod_name: Option<&str>) -> NewConnection {
    NewConnection {
        handle: Handle(handle),
        gateway: GatewayId::new("gw-0").expect("gateway id"),
        pod: pod_name.map(pod),
        address: format!("10.0.0.{}:{}", handle % 250, 40000 + handle % 20000),
        host: format!("client-{handle}.example"),
        conn_type: if handle.is_multiple_of(2) {
            ConnType::Telnet
        } else {
            ConnType::WebSocket
        },
        connected_at_ms: 1_700_000_000_000 + handle,
    }
}

fn expected_record(new: &NewConnection) -> ConnRecord {
    ConnRecord {
        handle: new.handle,
        gateway: new.gateway.clone(),
        pod: new.pod.clone(),
        player: None,
        state: ConnState::Connected,
        address: new.address.clone(),
        host: new.host.clone(),
        conn_type: new.conn_type,
        connected_at_ms: new.connected_at_ms,
        last_seen_ms: new.connected_at_ms,
        meta: BTreeMap::new(),
    }
}

async fn wait_for(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_lifecycle_register_bind_state_remove() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let mut raw = raw(&cluster).await;
    let new = new_conn(42, Some("game-0"));

    store.register(&new).await.expect("register");
    let record = store.get(Handle(42)).await.expect("get").expect("exists");
    assert_eq!(record, expected_record(&new));

    store.bind_player(Handle(42), "#7").await.expect("bind");
    let record = store.get(Handle(42)).await.expect("get").expect("exists");
    assert_eq!(record.player.as_deref(), Some("#7"));
    assert_eq!(record.state, ConnState::LoggedIn);

    store
        .set_state(Handle(42), ConnState::Connected)
        .await
        .expect("logout");
    let record = store.get(Handle(42)).await.expect("get").expect("exists");
    assert_eq!((record.state, record.player), (ConnState::Connected, None));

    store
        .update_meta(Handle(42), "ttype", "MUDLET")
        .expect("enqueue");
    store.flush_write_behind().await.expect("flush");
    let keys = store.keys().clone();
    let bucket = keys.bucket(Handle(42));
    assert!(exists(&mut raw, &keys.meta(Handle(42))).await);
    assert!(is_member(&mut raw, &keys.active(bucket), Handle(42)).await);
    assert!(is_member(&mut raw, &keys.pod_set(bucket, &pod("game-0")), Handle(42)).await);

    assert!(store.remove(Handle(42)).await.expect("remove"));
    assert_eq!(store.get(Handle(42)).await.expect("get"), None);
    assert!(
        !exists(&mut raw, &keys.conn(Handle(42))).await,
        "record left behind"
    );
    assert!(
        !exists(&mut raw, &keys.meta(Handle(42))).await,
        "metadata left behind"
    );
    assert!(
        !is_member(&mut raw, &keys.active(bucket), Handle(42)).await,
        "index entry left"
    );
    assert!(!is_member(&mut raw, &keys.pod_set(bucket, &pod("game-0")), Handle(42)).await);
    assert!(!store.remove(Handle(42)).await.expect("second remove"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_keeps_unacknowledged_replies_and_goes_with_the_record() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let mut raw = raw(&cluster).await;
    let handle = Handle(7);
    assert!(matches!(
        store
            .commit_commands(handle, 1, &[(1, "no record")], &[], 0)
            .await,
        Err(StoreError::NotFound(Handle(7)))
    ));
    assert!(
        !exists(&mut raw, &store.keys().journal(handle)).await,
        "a commit for a missing connection wrote a journal"
    );

    store.register(&new_conn(7, None)).await.expect("register");
    assert_eq!(store.last_committed(handle).await.expect("read"), 0);
    store
        .commit_commands(handle, 1, &[(1, "one")], &[], 0)
        .await
        .expect("commit 1");
    store
        .commit_commands(handle, 2, &[(2, "two\nlines")], b"to others", 0)
        .await
        .expect("commit 2");
    // A retry after an unknown outcome is harmless.
    store
        .commit_commands(handle, 2, &[(2, "two\nlines")], &[], 0)
        .await
        .expect("again");
    assert_eq!(store.last_committed(handle).await.expect("read"), 2);
    assert_eq!(
        store
            .committed_reply(handle, 2)
            .await
            .expect("read")
            .as_deref(),
        Some("two\nlines")
    );
    // Output to others is kept with the command's reply, and is empty for a command without.
    assert_eq!(
        store.committed_others(handle, 2).await.expect("read"),
        b"to others"
    );
    assert!(
        store
            .committed_others(handle, 1)
            .await
            .expect("read")
            .is_empty()
    );
    // The gateway saw 1 and 2 acknowledged: their replies are forgotten with the next commit.
    store
        .commit_commands(handle, 3, &[(3, "")], &[], 2)
        .await
        .expect("commit 3");
    assert_eq!(store.committed_reply(handle, 1).await.expect("read"), None);
    assert_eq!(store.committed_reply(handle, 2).await.expect("read"), None);
    assert!(
        store
            .committed_others(handle, 2)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store
            .committed_reply(handle, 3)
            .await
            .expect("read")
            .as_deref(),
        Some("")
    );
    // Earlier effect-free commands' replies travel with the next journalled command.
    store
        .commit_commands(handle, 6, &[(4, "four"), (6, "six")], &[], 3)
        .await
        .expect("commit 4 and 6");
    assert_eq!(store.last_committed(handle).await.expect("read"), 6);
    assert_eq!(
        store
            .committed_reply(handle, 4)
            .await
            .expect("read")
            .as_deref(),
        Some("four")
    );
    assert_eq!(store.committed_reply(handle, 3).await.expect("read"), None);
    // An older commit arriving late never moves the marker back.
    store
        .commit_commands(handle, 1, &[(1, "late")], &[], 2)
        .await
        .expect("late");
    assert_eq!(store.last_committed(handle).await.expect("read"), 6);

    assert!(store.remove(handle).await.expect("remove"));
    assert!(
        !exists(&mut raw, &store.keys().journal(handle)).await,
        "journal left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronous_writes_refuse_missing_and_duplicate_handles() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    store.register(&new_conn(1, None)).await.expect("register");
    assert!(matches!(
        store.register(&new_conn(1, None)).await,
        Err(StoreError::AlreadyExists(Handle(1)))
    ));
    assert!(matches!(
        store.bind_player(Handle(99), "#1").await,
        Err(StoreError::NotFound(Handle(99)))
    ));
    assert!(matches!(
        store.set_state(Handle(99), ConnState::LoggedIn).await,
        Err(StoreError::NotFound(Handle(99)))
    ));
    assert!(matches!(
        store.assign(Handle(99), &pod("game-0")).await,
        Err(StoreError::NotFound(Handle(99)))
    ));
    assert_eq!(
        store
            .move_handle(Handle(99), &pod("a"), &pod("b"))
            .await
            .expect("move"),
        MoveOutcome::Missing
    );
    assert_eq!(store.get(Handle(99)).await.expect("get"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_touch_are_written_behind_and_coalesced() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    store.register(&new_conn(7, None)).await.expect("register");
    for cols in 1..=100 {
        store
            .update_meta(Handle(7), "naws", format!("{cols}x24"))
            .expect("enqueue");
        store.touch(Handle(7)).expect("touch");
    }
    store
        .update_meta(Handle(7), "ttype", "TINTIN++")
        .expect("enqueue");
    store.flush_write_behind().await.expect("flush");

    let record = store.get(Handle(7)).await.expect("get").expect("exists");
    assert_eq!(record.meta.get("naws").map(String::as_str), Some("100x24"));
    assert_eq!(
        record.meta.get("ttype").map(String::as_str),
        Some("TINTIN++")
    );
    assert!(
        record.last_seen_ms > record.connected_at_ms,
        "touch not written"
    );

    let m = store.metrics();
    let meta_total = m.writebehind("meta", "ok") + m.writebehind("meta", "coalesced");
    assert_eq!(meta_total, 101, "every metadata update accounted for");
    assert_eq!(
        m.writebehind("touch", "ok") + m.writebehind("touch", "coalesced"),
        100
    );
    assert!(
        m.writebehind("meta", "coalesced") > 0,
        "no coalescing happened"
    );
    assert_eq!(m.queue_depth(), 0);

    let err = store.update_meta(Handle(7), "x".repeat(65), "v");
    assert!(matches!(err, Err(EnqueueError::TooLarge { .. })), "{err:?}");
    let err = store.update_meta(Handle(7), "big", "v".repeat(1025));
    assert!(matches!(err, Err(EnqueueError::TooLarge { .. })), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_for_a_missing_handle_is_counted_and_creates_nothing() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let mut raw = raw(&cluster).await;
    store
        .update_meta(Handle(555), "ttype", "ghost")
        .expect("enqueue");
    store.touch(Handle(555)).expect("touch");
    store.flush_write_behind().await.expect("flush");
    assert_eq!(store.metrics().writebehind("meta", "missing"), 1);
    assert_eq!(store.metrics().writebehind("touch", "missing"), 1);
    assert!(!exists(&mut raw, &store.keys().meta(Handle(555))).await);
    assert!(!exists(&mut raw, &store.keys().conn(Handle(555))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_expire_unless_touched_and_the_index_is_repaired() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(StoreConfig {
        session_ttl: Duration::from_millis(1200),
        ..config(&cluster)
    })
    .await;
    let mut raw = raw(&cluster).await;
    store
        .register(&new_conn(10, Some("p1")))
        .await
        .expect("register");
    store
        .register(&new_conn(11, Some("p1")))
        .await
        .expect("register");
    store
        .update_meta(Handle(11), "ttype", "xterm")
        .expect("enqueue");
    store.flush_write_behind().await.expect("flush");

    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        store.touch(Handle(10)).expect("touch");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    store.flush_write_behind().await.expect("flush");

    assert!(
        store.get(Handle(10)).await.expect("get").is_some(),
        "touched record expired"
    );
    assert_eq!(
        store.get(Handle(11)).await.expect("get"),
        None,
        "untouched record lived"
    );
    assert!(
        !exists(&mut raw, &store.keys().meta(Handle(11))).await,
        "metadata outlived record"
    );

    let bucket = store.keys().bucket(Handle(11));
    assert!(is_member(&mut raw, &store.keys().active(bucket), Handle(11)).await);
    let active: Vec<Handle> = store
        .list_active()
        .await
        .expect("list")
        .iter()
        .map(|r| r.handle)
        .collect();
    assert_eq!(active, vec![Handle(10)]);
    assert!(
        !is_member(&mut raw, &store.keys().active(bucket), Handle(11)).await,
        "not repaired"
    );
    let on_pod: Vec<Handle> = store
        .list_pod(&pod("p1"))
        .await
        .expect("list pod")
        .iter()
        .map(|r| r.handle)
        .collect();
    assert_eq!(on_pod, vec![Handle(10)]);
    assert_eq!(
        store.pod_handles(&pod("p1")).await.expect("handles"),
        vec![Handle(10)]
    );
    assert_eq!(
        store.metrics().index_repaired(),
        2,
        "active + pod set entry of handle 11"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_heartbeats_and_session_counts() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let (a, b) = (pod("game-a"), pod("game-b"));
    let ttl = Duration::from_millis(800);
    for id in [&a, &b] {
        let info = PodInfo {
            id: id.clone(),
            addr: format!("{id}:50051"),
            draining: false,
        };
        store.heartbeat(&info, ttl).await.expect("heartbeat");
    }
    for handle in 0..30 {
        store
            .register(&new_conn(handle, Some("game-a")))
            .await
            .expect("register");
    }
    for handle in 30..40 {
        store
            .register(&new_conn(handle, None))
            .await
            .expect("register");
        store.assign(Handle(handle), &b).await.expect("assign");
    }
    assert_eq!(
        store.move_handle(Handle(0), &a, &b).await.expect("move"),
        MoveOutcome::Moved
    );
    assert_eq!(
        store.move_handle(Handle(0), &a, &b).await.expect("move"),
        MoveOutcome::NotOnSource {
            current: Some(b.clone())
        }
    );
    store.assign(Handle(1), &b).await.expect("reassign");

    let counts: Vec<(String, u64, bool)> = store
        .pods()
        .await
        .expect("pods")
        .into_iter()
        .map(|p| (p.info.id.to_string(), p.sessions, p.alive))
        .collect();
    assert_eq!(
        counts,
        vec![("game-a".into(), 28, true), ("game-b".into(), 12, true)]
    );
    let mut on_b: Vec<u64> = store
        .pod_handles(&b)
        .await
        .expect("handles")
        .iter()
        .map(|h| h.0)
        .collect();
    on_b.sort_unstable();
    assert_eq!(on_b, [0, 1].into_iter().chain(30..40).collect::<Vec<_>>());
    let records = store.list_pod(&b).await.expect("records");
    assert!(records.iter().all(|r| r.pod.as_ref() == Some(&b)));
    assert_eq!(records.len(), 12);

    // game-b stops beating: it is reported dead with its orphans still counted.
    let beat_a = PodInfo {
        id: a.clone(),
        addr: "a:1".into(),
        draining: true,
    };
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        store.heartbeat(&beat_a, ttl).await.expect("heartbeat");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pods = store.pods().await.expect("pods");
    assert!(pods[0].alive && pods[0].info.draining);
    assert!(!pods[1].alive, "expired heartbeat still alive");
    assert_eq!(pods[1].sessions, 12);
    let live: Vec<PodId> = store
        .live_pods()
        .await
        .expect("live")
        .into_iter()
        .map(|p| p.info.id)
        .collect();
    assert_eq!(live, vec![a.clone()]);
    store.deregister_pod(&b).await.expect("deregister");
    assert_eq!(store.pods().await.expect("pods").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_movers_exactly_one_wins() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let (a, b, c) = (pod("a"), pod("b"), pod("c"));
    let handles: Vec<u64> = (1000..1200).collect();
    for &h in &handles {
        store
            .register(&new_conn(h, Some("a")))
            .await
            .expect("register");
    }
    let mut races = Vec::new();
    for &h in &handles {
        let (s1, s2) = (store.clone(), store.clone());
        let (a1, a2, b1, c1) = (a.clone(), a.clone(), b.clone(), c.clone());
        races.push(tokio::spawn(async move {
            let to_b = tokio::spawn(async move { s1.move_handle(Handle(h), &a1, &b1).await });
            let to_c = tokio::spawn(async move { s2.move_handle(Handle(h), &a2, &c1).await });
            (
                h,
                to_b.await.expect("join").expect("move"),
                to_c.await.expect("join").expect("move"),
            )
        }));
    }
    let (mut won_b, mut won_c) = (BTreeSet::new(), BTreeSet::new());
    for race in races {
        let (h, to_b, to_c) = race.await.expect("join");
        match (to_b, to_c) {
            (MoveOutcome::Moved, MoveOutcome::NotOnSource { current }) => {
                assert_eq!(current, Some(b.clone()));
                won_b.insert(h);
            }
            (MoveOutcome::NotOnSource { current }, MoveOutcome::Moved) => {
                assert_eq!(current, Some(c.clone()));
                won_c.insert(h);
            }
            other => panic!("handle {h}: not exactly one winner: {other:?}"),
        }
    }
    let set = |handles: Vec<Handle>| handles.into_iter().map(|h| h.0).collect::<BTreeSet<_>>();
    assert_eq!(set(store.pod_handles(&b).await.expect("b")), won_b);
    assert_eq!(set(store.pod_handles(&c).await.expect("c")), won_c);
    assert!(store.pod_handles(&a).await.expect("a").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_returns_exactly_what_was_written() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(StoreConfig {
        buckets: 256,
        ..config(&cluster)
    })
    .await;
    let mut expected = BTreeMap::new();
    let writes = (0..10_000u64).map(|h| {
        let store = store.clone();
        async move {
            let new = new_conn(h, Some(["g0", "g1", "g2"][(h % 3) as usize]));
            store.register(&new).await.expect("register");
            if h.is_multiple_of(5) {
                store
                    .update_meta(Handle(h), "client", format!("c{h}"))
                    .expect("enqueue");
            }
            new
        }
    });
    use futures_util::StreamExt;
    let written: Vec<NewConnection> = futures_util::stream::iter(writes)
        .buffer_unordered(128)
        .collect()
        .await;
    store.flush_write_behind().await.expect("flush");
    for new in &written {
        let mut record = expected_record(new);
        if new.handle.0.is_multiple_of(5) {
            record
                .meta
                .insert("client".into(), format!("c{}", new.handle));
        }
        expected.insert(new.handle, record);
    }
    let listed: BTreeMap<Handle, ConnRecord> = store
        .list_active()
        .await
        .expect("reconcile")
        .into_iter()
        .map(|r| (r.handle, r))
        .collect();
    assert_eq!(listed.len(), 10_000);
    assert!(
        listed == expected,
        "reconciled records differ from what was written"
    );
    let on_g1 = store.list_pod(&pod("g1")).await.expect("pod reconcile");
    assert_eq!(on_g1.len(), 3333);
    assert!(on_g1.iter().all(|r| expected[&r.handle] == *r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_fails_sync_writes_counts_write_behind_and_drains_after() {
    let cluster = RedisCluster::start_with(ClusterOptions {
        node_timeout: Duration::from_secs(10),
        ..ClusterOptions::default()
    })
    .expect("cluster");
    let mut cfg = config(&cluster);
    cfg.response_timeout = Duration::from_millis(500);
    cfg.write_behind.capacity = 10;
    cfg.write_behind.retry_max = Duration::from_millis(300);
    let store = connect(cfg).await;
    for h in 0..20 {
        store.register(&new_conn(h, None)).await.expect("register");
    }

    cluster.pause_all().expect("pause");
    let started = Instant::now();
    let err = store
        .register(&new_conn(100, None))
        .await
        .expect_err("register while down");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, StoreError::Redis { op: "register", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("register for 100"), "{err}");
    assert!(
        err.outcome_unknown(),
        "a timeout leaves the outcome unknown: {err}"
    );
    assert!(store.bind_player(Handle(1), "#1").await.is_err());
    assert!(store.metrics().sync_errors("register") >= 1);

    for h in 0..5 {
        store
            .update_meta(Handle(h), "during", "outage")
            .expect("enqueue");
    }
    let m = store.metrics().clone();
    wait_for("a failed flush", Duration::from_secs(10), async || {
        m.writebehind("meta", "failed") >= 5
    })
    .await;
    let mut refused = 0;
    for h in 5..20 {
        match store.update_meta(Handle(h), "during", "outage") {
            Ok(()) => {}
            Err(EnqueueError::Full { capacity: 10, .. }) => refused += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(refused, 5, "10 fit in the queue, 5 are refused");
    assert_eq!(m.writebehind("meta", "rejected"), 5);
    assert!(m.queue_depth() >= 10, "depth {}", m.queue_depth());

    cluster.resume_all().expect("resume");
    tokio::time::timeout(Duration::from_secs(20), store.flush_write_behind())
        .await
        .expect("queue drained after Redis returned")
        .expect("flush");
    assert_eq!(m.writebehind("meta", "ok"), 15);
    for h in 0..15 {
        let record = store.get(Handle(h)).await.expect("get").expect("exists");
        assert_eq!(
            record.meta.get("during").map(String::as_str),
            Some("outage"),
            "handle {h}"
        );
    }
    // The timed-out register was already in the socket; Redis may run it on waking. A retry
    // either registers it now or finds it done: both leave the same record.
    match store.register(&new_conn(100, None)).await {
        Ok(()) | Err(StoreError::AlreadyExists(Handle(100))) => {}
        Err(other) => panic!("retry after recovery: {other}"),
    }
    let record = store
        .get(Handle(100))
        .await
        .expect("get")
        .expect("registered");
    assert_eq!(record, expected_record(&new_conn(100, None)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_abandons_only_after_its_deadline_and_counts_it() {
    let cluster = RedisCluster::start_with(ClusterOptions {
        node_timeout: Duration::from_secs(10),
        ..ClusterOptions::default()
    })
    .expect("cluster");
    let mut cfg = config(&cluster);
    cfg.response_timeout = Duration::from_millis(300);
    let store = connect(cfg).await;
    store.register(&new_conn(1, None)).await.expect("register");
    cluster.pause_all().expect("pause");
    store.update_meta(Handle(1), "a", "1").expect("enqueue");
    store.touch(Handle(1)).expect("touch");
    let abandoned = store
        .shutdown(Instant::now() + Duration::from_millis(800))
        .await;
    cluster.resume_all().expect("resume");
    assert_eq!(abandoned, 2);
    assert_eq!(store.metrics().writebehind("meta", "abandoned"), 1);
    assert_eq!(store.metrics().writebehind("touch", "abandoned"), 1);
    assert!(matches!(
        store.touch(Handle(1)),
        Err(EnqueueError::Closed { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_recovers_after_a_master_fails_over() {
    let mut cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    for h in 0..300 {
        store
            .register(&new_conn(h, Some("g")))
            .await
            .expect("register");
    }
    // Let the replicas catch up before the crash (replication is asynchronous).
    tokio::time::sleep(Duration::from_millis(500)).await;
    store.ping().await.expect("every master answers");
    let killed = cluster.kill_a_master().expect("kill");
    // A plain PING would still be answered by the survivors; the probe is not.
    assert!(
        !probe_passes(&store).await,
        "readiness probe passed with a master dead"
    );

    let started = Instant::now();
    let mut next = 1000;
    wait_for(
        "writes to work again after failover",
        Duration::from_secs(30),
        async || {
            next += 1;
            // Every bucket must be writable again, including the killed master's.
            let mut ok = true;
            for offset in 0..64 {
                ok &= store
                    .register(&new_conn(next * 64 + offset, Some("g")))
                    .await
                    .is_ok();
            }
            ok
        },
    )
    .await;
    eprintln!(
        "master on port {killed} killed; store writable again after {:?}",
        started.elapsed()
    );
    wait_for(
        "the probe to pass again",
        Duration::from_secs(10),
        async || probe_passes(&store).await,
    )
    .await;

    let listed = store.list_active().await.expect("reconcile after failover");
    let old: BTreeSet<u64> = listed
        .iter()
        .map(|r| r.handle.0)
        .filter(|&h| h < 300)
        .collect();
    assert_eq!(
        old.len(),
        300,
        "records written before the crash survive on the replicas"
    );
    store
        .update_meta(Handle(5), "after", "failover")
        .expect("enqueue");
    store.flush_write_behind().await.expect("flush");
    let record = store.get(Handle(5)).await.expect("get").expect("exists");
    assert_eq!(
        record.meta.get("after").map(String::as_str),
        Some("failover")
    );
}

/// redis-rs' cluster connection can wedge for good when a master dies under load (every
/// request queues behind a slot refresh stuck on the dead node); the store replaces a
/// connection that stops answering, so work resumes once the replica is promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_store_recovers_after_a_master_fails_over() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let mut cluster = RedisCluster::start().expect("cluster");
    let store = connect(StoreConfig {
        buckets: 256,
        ..config(&cluster)
    })
    .await;
    for h in 0..50 {
        store
            .register(&new_conn(h, Some("g")))
            .await
            .expect("register");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let busy: Vec<_> = (0..50u64)
        .map(|h| {
            let (store, stop, done) = (store.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    seq += 1;
                    if store
                        .commit_commands(Handle(h), seq, &[(seq, "x")], &[], seq - 1)
                        .await
                        .is_ok()
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.kill_a_master().expect("kill");
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = done.load(Ordering::Relaxed);
    wait_for(
        "every master to answer again",
        Duration::from_secs(20),
        async || probe_passes(&store).await,
    )
    .await;
    let recovered = killed_at.elapsed();
    wait_for(
        "busy writers to succeed again",
        Duration::from_secs(5),
        async || done.load(Ordering::Relaxed) > before + 50,
    )
    .await;
    eprintln!(
        "busy store answering on every master {recovered:?} after the kill ({} reconnects)",
        store.metrics().reconnects(true)
    );
    stop.store(true, Ordering::Relaxed);
    for task in busy {
        task.await.expect("writer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_deletes_every_key_of_the_prefix_and_nothing_else() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let other = connect(StoreConfig {
        prefix: "other".into(),
        ..config(&cluster)
    })
    .await;
    for h in 0..300 {
        store
            .register(&new_conn(h, Some("g")))
            .await
            .expect("register");
    }
    other
        .register(&new_conn(1, Some("g")))
        .await
        .expect("register other");
    // The prefix is claimed by its shard; another claimant is told whose it is.
    assert_eq!(store.claim_owner("uid-a").await.expect("claim"), None);
    assert_eq!(store.claim_owner("uid-a").await.expect("again"), None);
    assert_eq!(
        store.claim_owner("uid-b").await.expect("taken"),
        Some("uid-a".to_owned())
    );
    assert_eq!(
        store.owner().await.expect("owner").as_deref(),
        Some("uid-a")
    );
    // Released (data kept), only by its holder; then a new shard may claim it.
    assert!(!store.release_owner("uid-b").await.expect("not b's"));
    assert!(store.release_owner("uid-a").await.expect("release"));
    assert_eq!(store.owner().await.expect("owner"), None);
    assert_eq!(store.claim_owner("uid-c").await.expect("claim c"), None);
    assert!(store.release_owner("uid-c").await.expect("release c"));
    assert_eq!(store.claim_owner("uid-a").await.expect("claim a"), None);
    let deleted = store.purge().await.expect("purge");
    assert!(deleted >= 301, "deleted {deleted}");
    assert_eq!(store.owner().await.expect("owner"), None, "marker left");
    assert!(store.list_active().await.expect("list").is_empty());
    let mut raw = raw(&cluster).await;
    for h in [0, 150, 299] {
        assert!(!exists(&mut raw, &store.keys().conn(Handle(h))).await);
    }
    assert_eq!(
        other.list_active().await.expect("list other").len(),
        1,
        "another shard's keys were touched"
    );
    assert_eq!(store.purge().await.expect("again"), 0, "idempotent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_writes_check_the_version_read_and_apply_each_command_once() {
    use mush_store::{FieldChange, Kind};
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let id = store
        .create_object(&new_object(Kind::Thing, "Counter", None))
        .await
        .expect("create")
        .expect("created");
    let read = store
        .object(id)
        .await
        .expect("read")
        .expect("exists")
        .version;
    let set = |v: &str| vec![FieldChange::Set("a:N".into(), v.into())];
    let value = async || {
        let object = store.object(id).await.expect("read").expect("exists");
        (object.attributes.get("N").cloned(), object.version)
    };

    let first = Some("7:1");
    assert!(
        store
            .write_if_version(id, read, first, &set("1"))
            .await
            .expect("write")
    );
    let (n, after_first) = value().await;
    assert_eq!(n.as_deref(), Some("1"));
    assert!(after_first > read, "a write moves the version on");

    // The same command again (its pod died before it answered): already applied, nothing
    // written twice, even with the stale version it read before.
    assert!(
        store
            .write_if_version(id, read, first, &set("2"))
            .await
            .expect("replay")
    );
    assert_eq!(value().await, (Some("1".into()), after_first));

    // Another command that read before the first write loses and must read again.
    let other = Some("8:1");
    assert!(
        !store
            .write_if_version(id, read, other, &set("2"))
            .await
            .expect("stale")
    );
    assert_eq!(value().await.0.as_deref(), Some("1"));
    assert!(
        store
            .write_if_version(id, after_first, other, &set("2"))
            .await
            .expect("fresh")
    );
    assert_eq!(value().await.0.as_deref(), Some("2"));

    // Every other writer moves the version too, so a reader of the old one loses.
    let (_, before) = value().await;
    store.set_attribute(id, "X", "y").await.expect("set");
    store.set_attribute(id, "X", "").await.expect("clear");
    let (_, now) = value().await;
    assert!(now >= before + 2, "set and clear each bump the version");
    let late = Some("9:1");
    assert!(
        !store
            .write_if_version(id, before, late, &set("3"))
            .await
            .expect("late")
    );

    // Clearing an attribute of an object destroyed meanwhile does not bring it back.
    let object = store.object(id).await.expect("read").expect("exists");
    store.destroy_object(&object).await.expect("destroy");
    assert!(store.set_attribute(id, "X", "").await.is_err());
    assert!(store.object(id).await.expect("read").is_none());

    // A command that creates gets the same object numbers however often it runs, and
    // creates each object once, as its first run made it.
    let first = store.allocate_for(Some("5:2"), 0).await.expect("allocate");
    let second = store.allocate_for(Some("5:2"), 1).await.expect("allocate");
    assert_ne!(first, second);
    assert_eq!(
        store.allocate_for(Some("5:2"), 0).await.expect("again"),
        first
    );
    assert_eq!(
        store.allocate_for(Some("5:2"), 1).await.expect("again"),
        second
    );
    let unmarked = store.allocate_for(None, 0).await.expect("allocate");
    assert_ne!(
        store.allocate_for(None, 0).await.expect("allocate"),
        unmarked
    );
    let named = |name: &str| {
        vec![
            FieldChange::Set("type".into(), "thing".into()),
            FieldChange::Set("name".into(), name.into()),
        ]
    };
    let mark = Some("5:2");
    let create = |name: &str| mush_store::Commit {
        mark: mark.map(str::to_string),
        creates: vec![(first, named(name))],
        ..mush_store::Commit::default()
    };
    assert_eq!(
        store.commit(&create("Made")).await.expect("create"),
        mush_store::Committed::Applied
    );
    assert_eq!(
        store.commit(&create("Again")).await.expect("again"),
        mush_store::Committed::AlreadyApplied
    );
    let made = store.object(first).await.expect("read").expect("made");
    assert_eq!(
        (made.name.as_str(), made.kind, made.version),
        ("Made", Kind::Thing, 1)
    );
    // The creating command's mark is on it, so that command running again writes
    // nothing more to it (everything it set went into the creation).
    assert!(
        store
            .write_if_version(first, 1, mark, &set("1"))
            .await
            .expect("replay")
    );
    let made = store.object(first).await.expect("read").expect("made");
    assert_eq!((made.attributes.get("N"), made.version), (None, 1));
}

/// The outbox: a parcel is written only with a finish that applies, waits out its lease
/// for its confirmation, is then handed to another pod (and leased again), and is gone
/// once done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_parcels_stay_until_done_and_come_back_after_their_lease() {
    use mush_store::{NewEntry, PARCEL_LEASE_MS, QueueChange};
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let add = |id: &str| {
        QueueChange::Add(NewEntry {
            id: id.into(),
            executor: 20,
            owner: 5,
            delay_ms: Some(0),
            semaphore: None,
            body: String::new(),
            quota: 100,
            after: Vec::new(),
        })
    };
    let parcel = |id: &str| QueueChange::Parcel {
        id: id.into(),
        body: format!("output of {id}"),
    };
    store.queue_apply(&[add("a")]).await.expect("add");
    assert_eq!(store.queue_claim(10, 5_000).await.expect("claim").len(), 1);
    let finished = store
        .queue_finish("a", &[parcel("q:a")])
        .await
        .expect("finish");
    assert!(finished.finished);
    // Finished again (a pod whose lease ran out): the finish does not apply, nor its parcel.
    store
        .queue_finish("a", &[parcel("q:again")])
        .await
        .expect("finish again");
    assert_eq!(store.outbox_len().await.expect("len"), 1);
    // Within its lease nobody else takes it.
    assert!(store.outbox_claim(10).await.expect("claim").is_empty());
    tokio::time::sleep(Duration::from_millis(PARCEL_LEASE_MS + 200)).await;
    let claimed = store.outbox_claim(10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].id.as_str(), claimed[0].body.as_str()),
        ("q:a", "output of q:a")
    );
    assert!(claimed[0].age_ms >= PARCEL_LEASE_MS, "{claimed:?}");
    // Leased again to the pod that took it.
    assert!(store.outbox_claim(10).await.expect("claim").is_empty());
    store.outbox_done(&["q:a".into()]).await.expect("done");
    assert_eq!(store.outbox_len().await.expect("len"), 0);
}

/// The queue's promises against a real cluster: an entry added twice is queued once (and
/// once finished, not again); a claimed entry is nobody else's until its lease runs out,
/// then it is claimed again; finishing is all or nothing and happens once; semaphores
/// release oldest first and drain; halts and the per-owner quota remove entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_entries_are_added_once_leased_and_finished_once() {
    use mush_store::{NewEntry, QueueChange};
    const QUOTA: u64 = 100;
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let entry = |id: &str, delay: Option<u64>, sem: Option<&str>| {
        QueueChange::Add(NewEntry {
            id: id.into(),
            executor: 20,
            owner: 5,
            delay_ms: delay,
            semaphore: sem.map(|a| (20, a.to_string())),
            body: format!("body of {id}"),
            quota: QUOTA,
            after: Vec::new(),
        })
    };
    let ids =
        |claimed: &[mush_store::Claimed]| claimed.iter().map(|c| c.id.clone()).collect::<Vec<_>>();

    // Added twice (a producer that ran again): queued once.
    store
        .queue_apply(&[entry("a", Some(0), None), entry("a", Some(0), None)])
        .await
        .expect("add");
    assert_eq!(store.queue_len().await.expect("len"), 1);
    let claimed = store.queue_claim(10, 300).await.expect("claim");
    assert_eq!(ids(&claimed), ["a"]);
    assert_eq!(claimed[0].body, "body of a");
    // Leased: nobody else gets it meanwhile; after the lease it comes back.
    assert!(store.queue_claim(10, 300).await.expect("claim").is_empty());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        ids(&store.queue_claim(10, 5_000).await.expect("reclaim")),
        ["a"]
    );
    // Finished with what it queued, once; a second finish applies nothing.
    let done = store
        .queue_finish("a", &[entry("a/0", Some(0), None)])
        .await
        .expect("finish");
    assert!(done.finished);
    let again = store
        .queue_finish("a", &[entry("a/1", Some(0), None)])
        .await
        .expect("finish again");
    assert!(!again.finished);
    assert_eq!(
        ids(&store.queue_claim(10, 5_000).await.expect("claim")),
        ["a/0"]
    );
    // Several finishes in one script: each entry's changes apply only if it was still
    // there ("a" is long finished: its halt is not applied and its add not made).
    let halt_all = QueueChange::Halt {
        executor: None,
        owner: None,
    };
    let a_late = [entry("a/2", Some(60_000), None), halt_all.clone()];
    let a0_done = [entry("a/0/0", Some(60_000), None)];
    let batch = store
        .queue_finish_many(&[("a", &a_late[..]), ("a/0", &a0_done[..])])
        .await
        .expect("finish many");
    assert!(!batch.finished, "one of them was already finished");
    assert_eq!(batch.halted, [None]);
    let listing = store.queue_list(10).await.expect("list");
    let bodies: Vec<&str> = listing.entries.iter().map(|e| e.body.as_str()).collect();
    assert_eq!(bodies, ["body of a/0/0"]);
    store.queue_apply(&[halt_all]).await.expect("clear");
    // A finished id is not queued again by a late producer.
    store
        .queue_apply(&[entry("a", Some(0), None)])
        .await
        .expect("late");
    assert_eq!(store.queue_len().await.expect("len"), 0);

    // Timed entries wait for their time.
    store
        .queue_apply(&[entry("t", Some(300), None)])
        .await
        .expect("add");
    assert!(
        store
            .queue_claim(10, 5_000)
            .await
            .expect("claim")
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        ids(&store.queue_claim(10, 5_000).await.expect("claim")),
        ["t"]
    );
    store.queue_finish("t", &[]).await.expect("finish");

    // Semaphores: released oldest first, a timed-out waiter says so, drains discard.
    store
        .queue_apply(&[
            entry("s1", None, Some("SEMAPHORE")),
            entry("s2", None, Some("SEMAPHORE")),
            entry("s3", Some(200), Some("SEMAPHORE")),
        ])
        .await
        .expect("wait");
    assert!(
        store
            .queue_claim(10, 5_000)
            .await
            .expect("claim")
            .is_empty()
    );
    store
        .queue_apply(&[QueueChange::Notify {
            object: 20,
            attr: Some("SEMAPHORE".into()),
            count: Some(1),
            drain: false,
        }])
        .await
        .expect("notify");
    let released = store.queue_claim(10, 5_000).await.expect("claim");
    assert_eq!(ids(&released), ["s1"]);
    assert_eq!(released[0].timed_out, None);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let timed = store.queue_claim(10, 5_000).await.expect("claim");
    assert_eq!(ids(&timed), ["s3"]);
    assert_eq!(timed[0].timed_out, Some((20, "SEMAPHORE".to_string())));
    store
        .queue_apply(&[QueueChange::Notify {
            object: 20,
            attr: None,
            count: None,
            drain: true,
        }])
        .await
        .expect("drain");
    for id in ["s1", "s3"] {
        store.queue_finish(id, &[]).await.expect("finish");
    }
    assert_eq!(store.queue_len().await.expect("len"), 0, "s2 drained");

    // @halt of an executor, and the quota: one more than allowed halts the owner.
    let many: Vec<QueueChange> = (0..QUOTA)
        .map(|n| entry(&format!("q{n}"), Some(60_000), None))
        .collect();
    store.queue_apply(&many).await.expect("fill");
    assert_eq!(store.queue_len().await.expect("len"), QUOTA);
    // The object that goes over is another of the owner's (21).
    let mut last = entry("over", Some(0), None);
    if let QueueChange::Add(e) = &mut last {
        e.executor = 21;
    }
    let over = store.queue_apply(&[last.clone()]).await.expect("over");
    assert_eq!(
        over.runaway,
        [(5, 21)],
        "the owner, and the object that went over"
    );
    assert_eq!(store.queue_len().await.expect("len"), 0);
    // For a moment its new entries are refused (pods still running its claimed entries
    // may not have seen its HALT flag yet); the owner's other objects queue as before.
    if let QueueChange::Add(e) = &mut last {
        e.id = "after".into();
    }
    store.queue_apply(&[last]).await.expect("refused");
    assert_eq!(store.queue_len().await.expect("len"), 0);
    store
        .queue_apply(&[
            entry("h1", Some(60_000), None),
            entry("h2", None, Some("sem")),
        ])
        .await
        .expect("add");
    // @ps lists them, oldest first, with what they wait for.
    let listing = store.queue_list(10).await.expect("list");
    assert_eq!((listing.waiting, listing.semaphores), (1, 1));
    let bodies: Vec<&str> = listing.entries.iter().map(|e| e.body.as_str()).collect();
    assert_eq!(bodies, ["body of h1", "body of h2"]);
    let due = listing.entries[0].due_ms.expect("h1 is timed");
    assert!(
        (59_000..=60_000).contains(&(due - listing.now_ms)),
        "{listing:?}"
    );
    assert_eq!(listing.entries[1].semaphore, Some(20));
    assert_eq!(listing.entries[1].due_ms, None);
    assert_eq!(store.queue_list(1).await.expect("list").entries.len(), 1);
    let halted = store
        .queue_apply(&[
            QueueChange::Halt {
                executor: Some(20),
                owner: None,
            },
            QueueChange::Halt {
                executor: None,
                owner: None,
            },
        ])
        .await
        .expect("halt");
    assert_eq!(
        halted.halted,
        [Some(2), Some(0)],
        "each @halt counts what it removed"
    );
    assert_eq!(store.queue_len().await.expect("len"), 0);
    // Purging the shard takes its queue with it.
    store
        .queue_apply(&[entry("p", Some(60_000), None)])
        .await
        .expect("add");
    assert!(store.purge().await.expect("purge") > 0);
    assert_eq!(store.queue_len().await.expect("len"), 0);
}

/// A command's writes to several objects, their indexes and player names land together or
/// not at all, once; a reader that fills its copies one object at a time can tell when it
/// holds half of a commit (`torn`), and after reading again never sees one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_apply_several_objects_at_once_or_not_at_all() {
    use mush_store::{
        Commit, Committed, Dbref, FieldChange, Index, IndexChange, Kind, NameChange, torn,
    };
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let make = async |kind: Kind, name: &str, location: Option<Dbref>| {
        store
            .create_object(&new_object(kind, name, location))
            .await
            .expect("create")
            .expect("created")
    };
    let here = make(Kind::Room, "Here", None).await;
    let there = make(Kind::Room, "There", None).await;
    let ball = make(Kind::Thing, "Ball", Some(here)).await;
    let ann = make(Kind::Player, "Ann", Some(here)).await;
    assert_eq!(store.contents(here).await.expect("list"), vec![ball, ann]);
    let read = async |id: Dbref| store.object(id).await.expect("read").expect("exists");
    let set = |field: &str, value: &str| FieldChange::Set(field.into(), value.into());

    // The ball goes there and the room notes it: both objects, both lists, at once.
    let (ball0, there0) = (read(ball).await, read(there).await);
    let carry = Commit {
        mark: Some("3:1".into()),
        reads: vec![(ball, ball0.version), (there, there0.version)],
        writes: vec![
            (ball, vec![set("loc", &there.0.to_string())]),
            (there, vec![set("a:LAST", "Ball")]),
        ],
        indexes: vec![
            (IndexChange::Remove, Index::Contents(here), ball),
            (IndexChange::Add, Index::Contents(there), ball),
        ],
        ..Commit::default()
    };
    assert_eq!(
        store.commit(&carry).await.expect("commit"),
        Committed::Applied
    );
    let (ball1, there1) = (read(ball).await, read(there).await);
    assert_eq!(ball1.location, Some(there));
    assert_eq!(
        there1.attributes.get("LAST").map(String::as_str),
        Some("Ball")
    );
    assert_eq!(store.contents(here).await.expect("list"), vec![ann]);
    assert_eq!(store.contents(there).await.expect("list"), vec![ball]);
    assert!(ball1.commit > 0 && ball1.commit == there1.commit);
    assert_eq!(ball1.requires, vec![(there, ball1.commit)]);
    assert_eq!(there1.requires, vec![(ball, there1.commit)]);

    // The same command again after its pod died: already there, nothing written twice.
    assert_eq!(
        store.commit(&carry).await.expect("replay"),
        Committed::AlreadyApplied
    );
    assert_eq!(read(ball).await.version, ball1.version);

    // A command that read the ball before it moved changes nothing, not even the room it
    // writes first.
    let stale = Commit {
        mark: Some("4:1".into()),
        reads: vec![(there, there1.version), (ball, ball0.version)],
        writes: vec![
            (there, vec![set("a:LAST", "Nobody")]),
            (ball, vec![set("loc", &here.0.to_string())]),
        ],
        ..Commit::default()
    };
    assert_eq!(
        store.commit(&stale).await.expect("stale"),
        Committed::Stale(ball)
    );
    assert_eq!(read(there).await.version, there1.version);

    // Taking a name another player holds changes nothing either.
    let bob = make(Kind::Player, "Bob", Some(here)).await;
    let bob0 = read(bob).await;
    let rename = Commit {
        mark: Some("5:1".into()),
        reads: vec![(bob, bob0.version)],
        writes: vec![
            (bob, vec![set("name", "ANN")]),
            (there, vec![set("a:LAST", "Bob")]),
        ],
        names: vec![
            (NameChange::Claim, "ANN".into(), bob),
            (NameChange::Free, "Bob".into(), bob),
        ],
        ..Commit::default()
    };
    assert_eq!(
        store.commit(&rename).await.expect("rename"),
        Committed::NameTaken("ann".into())
    );
    assert_eq!(read(bob).await.name, "Bob");
    assert_eq!(store.player_by_name("bob").await.expect("find"), Some(bob));

    // A reader holding the moved ball and the room as it was before holds half a commit.
    assert_eq!(
        torn([&ball1, &there0], |id| pick(id, &[&ball1, &there0])),
        Some(there)
    );
    assert_eq!(
        torn([&ball1, &there1], |id| pick(id, &[&ball1, &there1])),
        None
    );
    // One that never read the room cannot disagree with it.
    assert_eq!(torn([&ball1], |id| pick(id, &[&ball1])), None);

    // Transfers between two accounts from two writers; a reader that reads the two one
    // at a time, and again when `torn` says so, always finds the same total.
    let (from, to) = (
        make(Kind::Thing, "A", None).await,
        make(Kind::Thing, "B", None).await,
    );
    for id in [from, to] {
        store.set_attribute(id, "N", "100").await.expect("seed");
    }
    let n = |o: &mush_store::Object| -> i64 {
        o.attributes
            .get("N")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let transfer = async |writer: u64| {
        for i in 0..100 {
            loop {
                let (a, b) = (read(from).await, read(to).await);
                let commit = Commit {
                    mark: Some(format!("{writer}:{i}")),
                    reads: vec![(from, a.version), (to, b.version)],
                    writes: vec![
                        (from, vec![set("a:N", &(n(&a) - 1).to_string())]),
                        (to, vec![set("a:N", &(n(&b) + 1).to_string())]),
                    ],
                    ..Commit::default()
                };
                match store.commit(&commit).await.expect("transfer") {
                    Committed::Stale(_) => continue,
                    other => {
                        assert_eq!(other, Committed::Applied);
                        break;
                    }
                }
            }
        }
    };
    let audit = async || {
        let mut checked = 0;
        let mut torn_seen = 0;
        for _ in 0..300 {
            let mut a = read(from).await;
            tokio::task::yield_now().await;
            let mut b = read(to).await;
            while let Some(old) = torn([&a, &b], |id| pick(id, &[&a, &b])) {
                torn_seen += 1;
                if old == from {
                    a = read(from).await;
                } else {
                    b = read(to).await;
                }
            }
            assert_eq!(n(&a) + n(&b), 200, "a reader saw half of a transfer");
            checked += 1;
        }
        (checked, torn_seen)
    };
    let ((), (), (checked, torn_seen)) = tokio::join!(transfer(7), transfer(8), audit());
    assert_eq!(checked, 300);
    tracing::info!(torn_seen, "torn reads detected and read again");
    let (a, b) = (read(from).await, read(to).await);
    assert_eq!((n(&a), n(&b)), (-100, 300));
}

/// The copy of `id` among `held`, as a reader that holds exactly those would answer.
fn pick<'a>(
    id: mush_store::Dbref,
    held: &[&'a mush_store::Object],
) -> Option<Option<&'a mush_store::Object>> {
    held.iter().find(|o| o.id == id).map(|o| Some(*o))
}

/// A pod that claimed more than it can run gives the rest back: they are due again at
/// once, ahead of what came since, for any pod; an entry finished or no longer leased is
/// left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimed_entries_given_back_are_due_again_first() {
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let entry = |id: &str| due_entry(id, 20, 100);
    let ids =
        |claimed: &[mush_store::Claimed]| claimed.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    store
        .queue_apply(&[entry("a"), entry("b"), entry("c")])
        .await
        .expect("add");
    let claimed = store.queue_claim(10, 5_000).await.expect("claim");
    assert_eq!(ids(&claimed), ["a", "b", "c"]);
    store.queue_finish("a", &[]).await.expect("finish");
    tokio::time::sleep(Duration::from_millis(5)).await;
    store.queue_apply(&[entry("d")]).await.expect("add later");
    assert_eq!(
        store
            .queue_release(&["a", "b", "c"])
            .await
            .expect("release"),
        2,
        "a is finished"
    );
    assert_eq!(
        ids(&store.queue_claim(10, 5_000).await.expect("claim")),
        ["b", "c", "d"]
    );
}

/// Work that ran on a pod without passing through the queue (a command's queued jobs run
/// at once) leaves what it could not run as adds marked with when it began: an add whose
/// executor, owner or whole queue was halted since is dropped, as the halt would have
/// removed it; work that began after the halt, and plain adds, are queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_of_work_begun_before_a_halt_are_dropped() {
    use mush_store::QueueChange;
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let entry = |id: &str, executor: u64| due_entry(id, executor, 100);
    let since = |elapsed_ms| QueueChange::Since { elapsed_ms };
    let halt = |executor, owner| QueueChange::Halt { executor, owner };
    let queued = async || {
        let listing = store.queue_list(100).await.expect("list");
        let mut bodies: Vec<String> = listing.entries.into_iter().map(|e| e.body).collect();
        bodies.sort();
        bodies
    };

    store
        .queue_apply(&[halt(Some(20), None)])
        .await
        .expect("halt");
    store
        .queue_apply(&[since(5_000), entry("before", 20), entry("other", 21)])
        .await
        .expect("adds");
    store.queue_apply(&[entry("plain", 20)]).await.expect("add");
    tokio::time::sleep(Duration::from_millis(50)).await;
    store
        .queue_apply(&[since(10), entry("after", 20)])
        .await
        .expect("adds");
    assert_eq!(
        queued().await,
        ["body of after", "body of other", "body of plain"]
    );
    // A halt applied in the same changes as the adds after it: those came after it, and
    // stay (`@halt me;@trigger me/restart`).
    store
        .queue_apply(&[since(5_000), halt(Some(30), None), entry("restart", 30)])
        .await
        .expect("halt then add");
    assert_eq!(
        queued().await,
        [
            "body of after",
            "body of other",
            "body of plain",
            "body of restart"
        ]
    );

    // An owner's halt and a halt of everything are remembered the same way.
    store
        .queue_apply(&[halt(None, Some(5))])
        .await
        .expect("halt owner");
    store
        .queue_apply(&[since(5_000), entry("owner's", 22)])
        .await
        .expect("adds");
    assert!(queued().await.is_empty());
    store
        .queue_apply(&[entry("next", 22), halt(None, None)])
        .await
        .expect("halt all");
    store
        .queue_apply(&[since(5_000), entry("anyone's", 23)])
        .await
        .expect("adds");
    assert!(queued().await.is_empty());
}

/// A batch of queued entries finishes together with the world writes of their runs, in
/// one script: all of it or none of it. An entry gone meanwhile, or an object changed
/// since the batch read it, leaves both the world and the queue as they were; what the
/// queue reports (a run-away owner and object) comes back as numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_its_writes_and_finishes_its_entries_together() {
    use mush_store::{BatchFinished, Commit, FieldChange, Kind, QueueChange};
    let cluster = RedisCluster::start().expect("cluster");
    let store = connect(config(&cluster)).await;
    let counter = store
        .create_object(&new_object(Kind::Thing, "Counter", None))
        .await
        .expect("create")
        .expect("created");
    let entry = |id: &str, quota: u64| due_entry(id, 20, quota);
    let read = async || store.object(counter).await.expect("read").expect("exists");
    let write = |version: u64, value: &str| Commit {
        reads: vec![(counter, version)],
        writes: vec![(counter, vec![FieldChange::Set("a:N".into(), value.into())])],
        ..Commit::default()
    };
    store
        .queue_apply(&[entry("a", 100), entry("b", 100)])
        .await
        .expect("add");
    let claimed = store.queue_claim(10, 5_000).await.expect("claim");
    assert_eq!(claimed.len(), 2);

    // Both entries run, one of them queued a child: one script writes, finishes, adds.
    let v0 = read().await.version;
    // The child carries what the batch wrote, for the pod that runs it.
    let mut child = [entry("a/0", 100)];
    if let QueueChange::Add(new) = &mut child[0] {
        new.after = vec![(counter.0, v0 + 1)];
    }
    let done = store
        .queue_finish_batch(
            &write(v0, "1"),
            &[(Some("a"), &child[..]), (Some("b"), &[])],
        )
        .await
        .expect("batch");
    let BatchFinished::Done(applied) = done else {
        panic!("not applied: {done:?}");
    };
    assert!(applied.finished);
    assert_eq!(
        read().await.attributes.get("N").map(String::as_str),
        Some("1")
    );
    let claimed = store.queue_claim(10, 5_000).await.expect("claim");
    let ids: Vec<&str> = claimed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a/0"]);
    assert_eq!(claimed[0].after, [(counter.0, v0 + 1)]);
    assert_eq!(read().await.version, v0 + 1);

    // The same batch again (a pod whose lease ran out): its entries are gone, nothing
    // is written.
    let v1 = read().await.version;
    assert_eq!(
        store
            .queue_finish_batch(&write(v1, "2"), &[(Some("a"), &[]), (Some("b"), &[])])
            .await
            .expect("again"),
        BatchFinished::Gone("a".into())
    );
    assert_eq!(read().await.version, v1);

    // A batch that read the counter before another writer: nothing written, the entry
    // still queued for the batch's next try.
    store
        .set_attribute(counter, "X", "elsewhere")
        .await
        .expect("other writer");
    assert_eq!(
        store
            .queue_finish_batch(&write(v1, "3"), &[(Some("a/0"), &[])])
            .await
            .expect("stale"),
        BatchFinished::Stale(counter)
    );
    assert_eq!(store.queue_len().await.expect("len"), 1);
    let v2 = read().await.version;
    let over: Vec<QueueChange> = (0..3).map(|n| entry(&format!("a/0/{n}"), 2)).collect();
    let done = store
        .queue_finish_batch(&write(v2, "3"), &[(Some("a/0"), &over[..])])
        .await
        .expect("runaway");
    let BatchFinished::Done(applied) = done else {
        panic!("not applied: {done:?}");
    };
    assert_eq!(applied.runaway, [(5, 20)], "owner 5's object 20 ran away");
    assert_eq!(
        read().await.attributes.get("N").map(String::as_str),
        Some("3")
    );

    // A command's batch has no entry: it commits under its mark, once. Run again (its
    // pod died before the command was answered) it applies nothing, though it writes
    // nothing the mark could be found on.
    let marked = Commit {
        mark: Some("7:1/d/now".into()),
        ..Commit::default()
    };
    let left = [entry("7:1/d/0/0", 1_000)];
    assert!(!store.batch_committed("7:1/d/now").await.expect("mark"));
    let first = store
        .queue_finish_batch(&marked, &[(None, &left[..])])
        .await
        .expect("first");
    assert!(matches!(first, BatchFinished::Done(_)), "{first:?}");
    assert!(store.batch_committed("7:1/d/now").await.expect("mark"));
    let len = store.queue_len().await.expect("len");
    let again = store
        .queue_finish_batch(&marked, &[(None, &left[..])])
        .await
        .expect("again");
    assert_eq!(again, BatchFinished::AlreadyApplied);
    assert_eq!(store.queue_len().await.expect("len"), len);
}

/// An entry of owner 5's due at once, its body naming it.
fn due_entry(id: &str, executor: u64, quota: u64) -> mush_store::QueueChange {
    mush_store::QueueChange::Add(mush_store::NewEntry {
        id: id.into(),
        executor,
        owner: 5,
        delay_ms: Some(0),
        semaphore: None,
        body: format!("body of {id}"),
        quota,
        after: Vec::new(),
    })
}

/// A new object owned by #1, with nothing else set.
fn new_object(
    kind: mush_store::Kind,
    name: &str,
    location: Option<mush_store::Dbref>,
) -> mush_store::NewObject {
    mush_store::NewObject {
        kind,
        name: name.into(),
        owner: Some(mush_store::Dbref(1)),
        location,
        home: None,
        destination: None,
        flags: Vec::new(),
        password_hash: String::new(),
    }
}

/// A Redis Cluster whose only user is an ACL user: the store logs in with the user and
/// password from its URLs (as a Secret would give them), on every node it is sent to, and
/// a wrong or missing password is refused with an error that names neither password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_from_the_urls_is_used_and_no_password_is_ever_printed() {
    let password = "acl-s3cret-pw";
    let cluster = RedisCluster::start_with(ClusterOptions {
        acl: Some(("mush".into(), password.into())),
        ..ClusterOptions::default()
    })
    .expect("cluster with an ACL user");
    assert!(cluster.urls()[0].starts_with("redis://mush:acl-s3cret-pw@"));
    let store = connect(config(&cluster)).await;
    registered_and_ready(&store, 50).await;

    let wrong = "not-the-password";
    for (urls, what) in [
        (
            cluster
                .urls()
                .iter()
                .map(|u| u.replace(password, wrong))
                .collect::<Vec<_>>(),
            "wrong password",
        ),
        (
            cluster
                .urls()
                .iter()
                .map(|u| u.replace(&format!("mush:{password}@"), ""))
                .collect(),
            "no login",
        ),
    ] {
        let refused = Store::connect(
            StoreConfig {
                nodes: urls,
                connect_timeout: Duration::from_secs(3),
                ..config(&cluster)
            },
            StoreMetrics::unregistered(),
        )
        .await;
        let error = match refused {
            Err(error) => error.to_string(),
            Ok(store) => match store.list_active().await {
                Err(error) => error.to_string(),
                Ok(_) => panic!("{what}: the cluster let the store in"),
            },
        };
        assert!(
            !error.contains(password) && !error.contains(wrong),
            "{what}: a password in the error: {error}"
        );
        println!("{what}: {error}");
    }
}

/// TLS to Redis with a private CA: a cluster that speaks only TLS (client port,
/// replication and bus) and verifies clients takes the store with the CA and a client
/// certificate, and refuses it without the certificate, with another CA's, or trusting
/// another CA; a CA given for plain seeds is an error, not silently unused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls_takes_the_shards_ca_and_client_certificate_only() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = mush_harness::Pki::new(&dir.path().join("ca"), "redis-ca").expect("ca");
    let other = mush_harness::Pki::new(&dir.path().join("other"), "other-ca").expect("ca");
    let files = mush_harness::ClusterTls::issued_by(&pki, ClusterOptions::default().bind)
        .expect("certificates");
    let (client, client_key) = files.cli_client.clone().expect("a client certificate");
    let (stranger, stranger_key) = other.client("mush", "/CN=mush").expect("cert");
    let cluster = RedisCluster::start_with(ClusterOptions {
        tls: Some(files),
        ..ClusterOptions::default()
    })
    .expect("TLS cluster");
    assert!(cluster.urls()[0].starts_with("rediss://"));
    let read = |path: &std::path::Path| std::fs::read(path).expect("read pem");
    let tls = |ca: &std::path::Path, client: Option<(&std::path::Path, &std::path::Path)>| {
        mush_store::RedisTls {
            ca: read(ca),
            client: client.map(|(c, k)| (read(c), read(k))),
        }
    };
    let store = connect(StoreConfig {
        tls: Some(tls(&pki.ca(), Some((&client, &client_key)))),
        ..config(&cluster)
    })
    .await;
    registered_and_ready(&store, 50).await;

    for (what, given) in [
        ("no client certificate", tls(&pki.ca(), None)),
        (
            "another CA's client certificate",
            tls(&pki.ca(), Some((&stranger, &stranger_key))),
        ),
        (
            "trusting another CA",
            tls(&other.ca(), Some((&client, &client_key))),
        ),
    ] {
        let refused = Store::connect(
            StoreConfig {
                tls: Some(given),
                connect_timeout: Duration::from_secs(3),
                ..config(&cluster)
            },
            StoreMetrics::unregistered(),
        )
        .await;
        match refused {
            Err(error) => println!("{what}: {error}"),
            Ok(store) => assert!(
                store.list_active().await.is_err(),
                "{what}: the cluster let the store in"
            ),
        }
    }
    let plain = Store::connect(
        StoreConfig {
            nodes: cluster
                .urls()
                .iter()
                .map(|u| u.replace("rediss://", "redis://"))
                .collect(),
            tls: Some(tls(&pki.ca(), Some((&client, &client_key)))),
            ..config(&cluster)
        },
        StoreMetrics::unregistered(),
    )
    .await;
    let error = plain.err().expect("a CA for plain seeds was accepted");
    assert!(error.to_string().contains("not rediss://"), "{error}");
}
