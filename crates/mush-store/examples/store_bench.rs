//! Store benchmark against a real 3-master Redis Cluster started on loopback.
//!
//! ```text
//! cargo run --release -p mush-store --example store_bench -- --sessions 100000
//! ```
//!
//! Prints register throughput, metadata enqueue latency and flush throughput, synchronous
//! bind latency, and reconciliation time. Figures, not verdicts: compare runs on one
//! machine, and expect noise on a shared 2-core box (Redis, the client and this process
//! share the cores).

use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use mush_harness::RedisCluster;
use mush_proto::{ConnType, GatewayId, Handle, PodId};
use mush_store::{NewConnection, Store, StoreConfig, StoreMetrics, WriteBehindConfig};

#[derive(Parser)]
struct Args {
    /// Sessions to register (and reconcile).
    #[arg(long, default_value_t = 100_000)]
    sessions: u64,
    /// Requests in flight during the register phase.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Sequential binds timed for the latency figures.
    #[arg(long, default_value_t = 2_000)]
    binds: u64,
    /// Reconciliation runs (the median is reported with min and max).
    #[arg(long, default_value_t = 3)]
    reconcile_runs: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let cluster = RedisCluster::start()?;
    let store = Store::connect(
        StoreConfig {
            nodes: cluster.urls(),
            prefix: "bench".into(),
            write_behind: WriteBehindConfig {
                capacity: usize::try_from(args.sessions)? * 2,
                ..WriteBehindConfig::default()
            },
            ..StoreConfig::default()
        },
        StoreMetrics::unregistered(),
    )
    .await?;
    let gateway = GatewayId::new("gw-bench")?;
    let pods: Vec<PodId> = (0..4)
        .map(|i| PodId::new(format!("game-{i}")))
        .collect::<Result<_, _>>()?;
    println!(
        "store benchmark: {} sessions, 3 masters + 3 replicas on 127.0.0.1, {} buckets",
        args.sessions,
        store.keys().buckets()
    );

    // Register: synchronous, atomic script per session, many in flight.
    let started = Instant::now();
    let failures = futures_util::stream::iter(0..args.sessions)
        .map(|h| {
            let store = store.clone();
            let new = NewConnection {
                handle: Handle(h),
                gateway: gateway.clone(),
                pod: Some(pods[(h % 4) as usize].clone()),
                address: format!("192.0.2.{}:{}", h % 250, 1024 + h % 60000),
                host: "client.example".into(),
                conn_type: ConnType::Telnet,
                connected_at_ms: mush_store::now_ms(),
            };
            async move { store.register(&new).await.is_err() }
        })
        .buffer_unordered(args.concurrency)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    let took = started.elapsed();
    println!(
        "register            {:>10.0} ops/s   ({} in {:.2?}, {} in flight, {failures} failed)",
        args.sessions as f64 / took.as_secs_f64(),
        args.sessions,
        took,
        args.concurrency
    );

    // Metadata: the caller's cost is the enqueue; the flusher's rate is fields written/s.
    let mut enqueue = Vec::with_capacity(usize::try_from(args.sessions)?);
    let started = Instant::now();
    for h in 0..args.sessions {
        let t = Instant::now();
        store.update_meta(Handle(h), "naws", "120x40")?;
        enqueue.push(t.elapsed());
    }
    store.flush_write_behind().await?;
    let took = started.elapsed();
    enqueue.sort_unstable();
    println!(
        "metadata enqueue    p50 {}  p99 {}  max {}",
        micros(percentile(&enqueue, 50.0)),
        micros(percentile(&enqueue, 99.0)),
        micros(percentile(&enqueue, 100.0))
    );
    println!(
        "metadata flushed    {:>10.0} fields/s ({} fields enqueued and written in {:.2?}; ok={} failed={})",
        args.sessions as f64 / took.as_secs_f64(),
        args.sessions,
        took,
        store.metrics().writebehind("meta", "ok"),
        store.metrics().writebehind("meta", "failed")
    );

    // Bind: one synchronous login at a time, the latency a player waits for.
    let mut binds = Vec::new();
    for h in 0..args.binds.min(args.sessions) {
        let t = Instant::now();
        store.bind_player(Handle(h), "#42").await?;
        binds.push(t.elapsed());
    }
    binds.sort_unstable();
    println!(
        "bind (sequential)   p50 {}  p99 {}  ({} binds)",
        micros(percentile(&binds, 50.0)),
        micros(percentile(&binds, 99.0)),
        binds.len()
    );

    // Reconciliation: every session with its metadata, as a restarted process reads them.
    let mut runs = Vec::new();
    for _ in 0..args.reconcile_runs.max(1) {
        let t = Instant::now();
        let records = store.list_active().await?;
        runs.push(t.elapsed());
        if records.len() as u64 != args.sessions {
            return Err(
                format!("reconciled {} of {} sessions", records.len(), args.sessions).into(),
            );
        }
    }
    runs.sort_unstable();
    println!(
        "reconcile           median {:.0?}  min {:.0?}  max {:.0?}  ({} sessions with metadata, {} runs)",
        percentile(&runs, 50.0),
        runs[0],
        runs[runs.len() - 1],
        args.sessions,
        runs.len()
    );
    let t = Instant::now();
    let on_pod = store.list_pod(&pods[0]).await?;
    println!(
        "reconcile one pod   {:.0?}  ({} sessions)",
        t.elapsed(),
        on_pod.len()
    );
    store
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await;
    Ok(())
}
