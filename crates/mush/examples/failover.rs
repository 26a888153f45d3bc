//! Failover driver: how long sessions stall when their game pod is killed (SIGKILL) or
//! drained (SIGTERM), with many sessions connected and typing.
//!
//! ```text
//! scripts/bench-failover            # builds release binaries, then runs this
//! ```
//!
//! Every session sends one `think` every `--interval-ms` and waits for its echo. For each
//! session on the victim pod the driver records the worst round trip in the window after
//! the fault: the time until that session was served again. It also counts answers, so a
//! lost or duplicated command shows.

use std::time::{Duration, Instant};

use clap::Parser;
#[path = "common/bench.rs"]
mod bench;
use bench::{Client, bench_shard, create_players, percentile};
use mush::shard::Shard;
use mush_store::{Store, StoreConfig, StoreMetrics};

#[derive(Parser)]
struct Args {
    /// Sessions connected and typing.
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// Pause between one session's commands.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    /// Seconds measured after each fault.
    #[arg(long, default_value_t = 6.0)]
    window: f64,
}

/// Per session: worst round trip in the window, and commands answered.
async fn type_through(
    clients: Vec<(String, Client)>,
    interval: Duration,
    until: Instant,
) -> std::io::Result<Vec<(String, Duration, usize)>> {
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(name, mut client)| {
            tokio::spawn(async move {
                let mut worst = Duration::ZERO;
                let mut n = 0;
                while Instant::now() < until {
                    worst = worst.max(client.round_trip(&format!("{name}.{n}.")).await?);
                    n += 1;
                    tokio::time::sleep(interval).await;
                }
                Ok::<_, std::io::Error>((name, worst, n))
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.map_err(std::io::Error::other)??);
    }
    Ok(results)
}

/// Which pod each player's session is on.
async fn pods_of(
    store: &Store,
) -> Result<std::collections::HashMap<String, String>, Box<dyn std::error::Error>> {
    let mut by_dbref = std::collections::HashMap::new();
    for record in store.list_active().await? {
        if let (Some(player), Some(pod)) = (record.player, record.pod) {
            by_dbref.insert(player, pod.to_string());
        }
    }
    Ok(by_dbref)
}

fn report(
    label: &str,
    results: &[(String, Duration, usize)],
    on_victim: &std::collections::HashSet<String>,
) {
    let mut stalls: Vec<Duration> = results
        .iter()
        .filter(|(name, _, _)| on_victim.contains(name))
        .map(|(_, worst, _)| *worst)
        .collect();
    stalls.sort_unstable();
    let answered: usize = results.iter().map(|(_, _, n)| n).sum();
    println!(
        "{label:<8} {:>5} sessions moved: served again within p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms; {answered} commands answered (a lost one stops the run)",
        stalls.len(),
        percentile(&stalls, 50.0).as_secs_f64() * 1e3,
        percentile(&stalls, 99.0).as_secs_f64() * 1e3,
        percentile(&stalls, 100.0).as_secs_f64() * 1e3,
    );
}

async fn scenario(
    label: &str,
    shard: &mut Option<Shard>,
    store: &Store,
    prefix: &str,
    args: &Args,
    fault: impl FnOnce(&mut Shard, &str) + Send + 'static,
) -> Result<(), Box<dyn std::error::Error>> {
    let addr = shard.as_ref().ok_or("no shard")?.telnet_addr();
    // Logged in a hundred at a time, as a crowd arrives, not all at once.
    let mut names = Vec::new();
    let mut clients = Vec::new();
    for chunk in 0..args.sessions.div_ceil(100) {
        let count = (args.sessions - chunk * 100).min(100);
        let chunk_prefix = format!("{prefix}{chunk}x");
        for (i, client) in create_players(addr, &chunk_prefix, count)
            .await?
            .into_iter()
            .enumerate()
        {
            names.push(format!("{chunk_prefix}{i}"));
            clients.push((format!("{chunk_prefix}{i}"), client));
        }
    }
    let pods = pods_of(store).await?;
    let mut dbrefs = std::collections::HashMap::new();
    for name in &names {
        if let Some(id) = store.player_by_name(name).await? {
            dbrefs.insert(name.clone(), id.0.to_string());
        }
    }
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for name in &names {
        if let Some(pod) = dbrefs.get(name).and_then(|d| pods.get(d)) {
            *counts.entry(pod.as_str()).or_default() += 1;
        }
    }
    let victim = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(p, _)| (*p).to_owned())
        .ok_or("no sessions")?;
    let on_victim: std::collections::HashSet<String> = names
        .iter()
        .filter(|n| dbrefs.get(*n).and_then(|d| pods.get(d)) == Some(&victim))
        .cloned()
        .collect();

    let until = Instant::now() + Duration::from_secs_f64(args.window + 1.0);
    let typing = tokio::spawn(type_through(
        clients,
        Duration::from_millis(args.interval_ms),
        until,
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut taken = shard.take().ok_or("no shard")?;
    let victim_name = victim.clone();
    let taken = tokio::task::spawn_blocking(move || {
        fault(&mut taken, &victim_name);
        taken
    })
    .await?;
    *shard = Some(taken);
    let results = typing.await??;
    report(label, &results, &on_victim);
    Ok(())
}

async fn start() -> Result<(Shard, Store, tempfile::TempDir), Box<dyn std::error::Error>> {
    let (shard, dir) = bench_shard("mush-failover-").await?;
    let store = Store::connect(
        StoreConfig {
            nodes: shard.redis().urls(),
            ..StoreConfig::default()
        },
        StoreMetrics::unregistered(),
    )
    .await?;
    Ok((shard, store, dir))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    println!(
        "failover: {} sessions typing every {} ms, 2 game pods, a fresh shard per scenario",
        args.sessions, args.interval_ms
    );
    let (shard, store, _dir) = start().await?;
    let mut shard = Some(shard);
    scenario("kill", &mut shard, &store, "k", &args, |shard, victim| {
        let _ = shard.kill_pod(victim);
        let _ = shard.start_pod();
    })
    .await?;
    if let Some(shard) = shard.take() {
        tokio::task::block_in_place(|| shard.stop());
    }
    let (shard, store, _dir) = start().await?;
    let mut shard = Some(shard);
    scenario("drain", &mut shard, &store, "d", &args, |shard, victim| {
        let _ = shard.terminate_pod(victim, Duration::from_secs(30));
        let _ = shard.start_pod();
    })
    .await?;
    if let Some(shard) = shard {
        tokio::task::block_in_place(|| shard.stop());
    }
    Ok(())
}
