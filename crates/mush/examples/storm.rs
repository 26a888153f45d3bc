//! Crowd driver: login and disconnect storms and a crowded room, against a mush-on-kube
//! shard (as `mush dev` runs it) and TinyMUX (Debian's `tinymux`), in one run.
//!
//! ```text
//! scripts/bench-storm                  # builds release binaries, then runs this
//! scripts/bench-storm --players 500    # a smaller storm
//! scripts/bench-storm --players 2000 --no-tinymux   # beyond TinyMUX's socket limit
//! ```
//!
//! Per server: `--players` characters created and logged in `--wave` at a time, all in
//! Limbo (login storm time); then every socket closed at once (what a gateway restart or
//! a network blip does) and, at the same moment, a new player connects: the time until
//! it is answered, and the time until `WHO` lists it alone (the disconnect storm is
//! worked through). Then failures (ours: disconnect cleanups that failed after their
//! retries, from every pod's metrics), and each process's peak and settled resident
//! memory (settled: `--settle` seconds after the storm). Last, a crowded room:
//! `--crowd` players in one room, one `say`s, time until the last listener has it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
#[path = "common/bench.rs"]
mod bench;
use bench::{Client, TinyMux, bench_shard, rss_kib};
use tokio::io::AsyncReadExt;

#[derive(Parser)]
struct Args {
    /// Players in the login and disconnect storms. Debian's TinyMUX 2.12 stops answering
    /// new connections at about 1,012 open sockets (select()'s descriptor limit), so
    /// larger storms need `--no-tinymux`.
    #[arg(long, default_value_t = 1000)]
    players: usize,
    /// Players logging in at once.
    #[arg(long, default_value_t = 20)]
    wave: usize,
    /// Seconds after the disconnect storm when memory counts as settled.
    #[arg(long, default_value_t = 10)]
    settle: u64,
    /// Players in the crowded room (0: skip it).
    #[arg(long, default_value_t = 1000)]
    crowd: usize,
    /// Longest wait for a server to answer after the storm (TinyMUX can take minutes).
    #[arg(long, default_value_t = 600)]
    patience: u64,
    /// Skip TinyMUX.
    #[arg(long)]
    no_tinymux: bool,
    /// Also run the storm through a gateway SIGKILL (ours only): the players reconnect,
    /// retrying as real clients do, and the shard must settle with 0 failed cleanups.
    #[arg(long)]
    gateway_kill: bool,
}

/// One server and the processes whose memory counts.
struct Target {
    name: &'static str,
    addr: SocketAddr,
    processes: Vec<(String, u32)>,
    /// What else serves the game and counts for CPU only (ours: Redis and NATS), each
    /// group summed.
    helpers: Vec<(String, Vec<u32>)>,
    /// Where to read disconnect-cleanup failures (game pods' metrics).
    metrics: Vec<SocketAddr>,
}

/// What one storm measured.
struct Storm {
    /// CPU each process spent during the login storm.
    login_cpu: Vec<(String, Duration)>,
    login: Duration,
    answered: Duration,
    settled: Duration,
    failures: Option<u64>,
    memory: Vec<(String, u64, u64)>,
}

/// Peak resident memory of each process while `running` holds, sampled every 50 ms.
fn watch_memory(
    processes: &[(String, u32)],
    running: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<u64>> {
    let pids: Vec<u32> = processes.iter().map(|(_, pid)| *pid).collect();
    tokio::spawn(async move {
        let mut peaks = vec![0u64; pids.len()];
        while running.load(Ordering::Relaxed) {
            for (peak, pid) in peaks.iter_mut().zip(&pids) {
                *peak = (*peak).max(rss_kib(*pid).unwrap_or(0));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peaks
    })
}

/// Logs in `count` new players, `wave` at a time; returns their clients.
async fn login_wave(
    addr: SocketAddr,
    prefix: &str,
    count: usize,
    wave: usize,
) -> std::io::Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(count);
    let mut next = 0;
    while next < count {
        let batch = bench::create_named(addr, prefix, next..(next + wave).min(count)).await?;
        next += batch.len();
        clients.extend(batch);
    }
    Ok(clients)
}

/// Keeps reading a socket (and dropping what comes) until aborted, as a real client does:
/// a client that stops reading is closed by either server.
fn drain(client: Client) -> tokio::task::JoinHandle<()> {
    let mut stream = client.into_stream();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16384];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
}

/// The count in WHO's last line ("N Players logged in." / "One player is connected.").
async fn who_count(client: &mut Client, n: usize) -> std::io::Result<usize> {
    client
        .send(&format!("WHO\r\nthink who-end-{n}\r\n"))
        .await?;
    let text = client
        .read_until(
            format!("who-end-{n}\r\n").as_bytes(),
            Duration::from_secs(60),
        )
        .await?;
    let text = String::from_utf8_lossy(&text);
    for line in text.lines().rev() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(at) = words.iter().position(|w| w.starts_with("Player"))
            && at > 0
        {
            return Ok(match words[at - 1] {
                "One" | "one" => 1,
                other => other.parse().unwrap_or(usize::MAX),
            });
        }
    }
    Ok(usize::MAX)
}

async fn storm(
    target: &Target,
    args: &Args,
    run: u32,
) -> Result<Storm, Box<dyn std::error::Error>> {
    let running = Arc::new(AtomicBool::new(true));
    let peaks = watch_memory(&target.processes, running.clone());
    let prefix = format!("s{run}x");
    // Every process that serves the game, the helpers' groups summed.
    let counted: Vec<(String, Vec<u32>)> = target
        .processes
        .iter()
        .map(|(name, pid)| (name.clone(), vec![*pid]))
        .chain(target.helpers.iter().cloned())
        .collect();
    let cpu = |pids: &[u32]| -> Duration {
        pids.iter()
            .map(|&pid| bench::cpu_time(pid).unwrap_or_default())
            .sum()
    };
    let cpu_before: Vec<Duration> = counted.iter().map(|(_, pids)| cpu(pids)).collect();
    let started = Instant::now();
    let clients = login_wave(target.addr, &prefix, args.players, args.wave).await?;
    let login = started.elapsed();
    let login_cpu: Vec<(String, Duration)> = counted
        .iter()
        .zip(cpu_before)
        .map(|((name, pids), before)| (name.clone(), cpu(pids).saturating_sub(before)))
        .collect();
    let drains: Vec<_> = clients.into_iter().map(drain).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Every socket closed at once, and a newcomer at the same moment.
    let closed = Instant::now();
    for drain in &drains {
        drain.abort();
    }
    let patience = Duration::from_secs(args.patience);
    let mut probe = Client::connect(target.addr).await?;
    probe.wait_greeting().await?;
    probe
        .send(&format!("create p{run}x benchpw\r\nthink probe-in\r\n"))
        .await?;
    probe.wait_for(b"probe-in\r\n", patience).await?;
    let answered = closed.elapsed();
    let mut n = 0;
    loop {
        n += 1;
        if who_count(&mut probe, n).await? <= 1 {
            break;
        }
        if closed.elapsed() > patience {
            return Err(
                format!("{}: WHO still lists others after {patience:?}", target.name).into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled = closed.elapsed();
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    running.store(false, Ordering::Relaxed);
    let peaks = peaks.await?;
    let memory = target
        .processes
        .iter()
        .zip(peaks)
        .map(|((name, pid), peak)| (name.clone(), peak, rss_kib(*pid).unwrap_or(0)))
        .collect();
    let failures = if target.metrics.is_empty() {
        None
    } else {
        let mut sum = 0;
        for addr in &target.metrics {
            sum += metric(*addr, "mush_game_departure_failures_total").await?;
        }
        Some(sum)
    };
    drop(probe);
    Ok(Storm {
        login_cpu,
        login,
        answered,
        settled,
        failures,
        memory,
    })
}

/// Logs `count` existing players (`<prefix><i>`) in again on fresh sockets, `wave` at a
/// time, each retrying every 200 ms until the gateway takes it (as a real client does
/// after its connection dropped); returns their clients.
async fn reconnect(
    addr: SocketAddr,
    prefix: &str,
    count: usize,
    wave: usize,
) -> std::io::Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(count);
    for start in (0..count).step_by(wave) {
        let tasks: Vec<_> = (start..(start + wave).min(count))
            .map(|i| {
                let name = format!("{prefix}{i}");
                tokio::spawn(async move {
                    let deadline = Instant::now() + Duration::from_secs(120);
                    loop {
                        let attempt = async {
                            let mut client = Client::connect(addr).await?;
                            client.wait_greeting().await?;
                            client
                                .send(&format!("connect {name} benchpw\r\nthink back-{name}\r\n"))
                                .await?;
                            client
                                .wait_for(
                                    format!("back-{name}\r\n").as_bytes(),
                                    Duration::from_secs(30),
                                )
                                .await?;
                            Ok::<_, std::io::Error>(client)
                        };
                        match attempt.await {
                            Ok(client) => return Ok(client),
                            Err(error) if Instant::now() > deadline => return Err(error),
                            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            clients.push(task.await.map_err(std::io::Error::other)??);
        }
    }
    Ok(clients)
}

/// The storm through a gateway SIGKILL: every socket dies with the gateway, a new one
/// starts, every player reconnects; returns the time until all are back in, and until
/// the shard settled (the dead gateway's sessions closed and reaped: WHO lists exactly
/// the players back, and their number of connection records is right).
async fn gateway_storm(
    shard: &mut mush::shard::Shard,
    target: &Target,
    args: &Args,
    run: u32,
) -> Result<(Duration, Duration, u64), Box<dyn std::error::Error>> {
    let prefix = format!("g{run}x");
    let clients = login_wave(target.addr, &prefix, args.players, args.wave).await?;
    let drains: Vec<_> = clients.into_iter().map(drain).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed = Instant::now();
    tokio::task::block_in_place(|| shard.kill_gateway());
    for drain in &drains {
        drain.abort();
    }
    tokio::task::block_in_place(|| shard.start_gateway())?;
    let back = reconnect(shard.telnet_addr(), &prefix, args.players, args.wave).await?;
    let all_back = killed.elapsed();
    let mut probe = Client::connect(shard.telnet_addr()).await?;
    probe.wait_greeting().await?;
    probe
        .send(&format!("create q{run}x benchpw\r\nthink probe-in\r\n"))
        .await?;
    probe
        .wait_for(b"probe-in\r\n", Duration::from_secs(60))
        .await?;
    let store = mush_store::Store::connect(
        mush_store::StoreConfig {
            nodes: shard.redis().urls(),
            ..mush_store::StoreConfig::default()
        },
        mush_store::StoreMetrics::unregistered(),
    )
    .await?;
    let mut n = 0;
    loop {
        n += 1;
        let records = store.list_active().await?.len();
        if who_count(&mut probe, n).await? == args.players + 1 && records == args.players + 1 {
            break;
        }
        if killed.elapsed() > Duration::from_secs(args.patience) {
            return Err(format!("not settled after the gateway kill: {records} records").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled = killed.elapsed();
    let mut failures = 0;
    for addr in &target.metrics {
        failures += metric(*addr, "mush_game_departure_failures_total").await?;
    }
    drop(back);
    Ok((all_back, settled, failures))
}

/// One counter from a Prometheus endpoint.
async fn metric(addr: SocketAddr, name: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let body = bench::http_get(addr, "/metrics").await?;
    Ok(body
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64))
}

/// `crowd` players in Limbo; one `say`s, and the time until the last listener has it.
async fn crowd(target: &Target, args: &Args, run: u32) -> std::io::Result<Vec<Duration>> {
    let mut clients = login_wave(target.addr, &format!("c{run}x"), args.crowd, args.wave).await?;
    let mut speaker = clients.remove(0);
    // Let the arrivals' announcements reach everyone, then forget them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (i, client) in clients.iter_mut().enumerate() {
        client.round_trip(&format!("quiet{i}q")).await?;
    }
    // The time until the last listener has it, per `say`.
    let mut samples: Vec<Duration> =
        bench::say_rounds(&mut speaker, &mut clients, 5, Duration::from_secs(120))
            .await?
            .into_iter()
            .map(|times| times.into_iter().max().unwrap_or_default())
            .collect();
    samples.sort_unstable();
    Ok(samples)
}

fn mb(kib: u64) -> String {
    format!("{:.0} MB", kib as f64 / 1024.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let run = std::process::id() % 1000;
    let (mut shard, _dir) = bench_shard("mush-storm-").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut processes = vec![(
        "gateway".to_string(),
        shard.gateway_pid().ok_or("gateway not running")?,
    )];
    let mut metrics = Vec::new();
    for pod in shard.pod_names() {
        processes.push((pod.clone(), shard.pod_pid(&pod).ok_or("pod not running")?));
        metrics.push(shard.pod_http(&pod).ok_or("pod has no http port")?);
    }
    let redis = shard.redis().pids();
    let helpers = vec![
        (format!("redis ({} nodes)", redis.len()), redis),
        (
            "nats".to_string(),
            shard.nats_mut().pid().into_iter().collect(),
        ),
    ];
    let mut targets = vec![Target {
        name: "mush-on-kube",
        addr: shard.telnet_addr(),
        processes,
        helpers,
        metrics,
    }];
    let _tinymux = if args.no_tinymux {
        None
    } else {
        let (mux, addr) = TinyMux::listening().await?;
        targets.push(Target {
            name: "TinyMUX",
            addr,
            processes: vec![("netmux".to_string(), mux.child.id())],
            helpers: Vec::new(),
            metrics: Vec::new(),
        });
        Some(mux)
    };
    println!(
        "storm driver: {} players logged in {} at a time, then all closed at once; {} cores",
        args.players,
        args.wave,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for target in &targets {
        let storm = storm(target, &args, run).await?;
        println!("\n{}:", target.name);
        println!(
            "  login storm ({} players)          {}",
            args.players,
            secs(storm.login)
        );
        let cpu: Vec<String> = storm
            .login_cpu
            .iter()
            .map(|(name, used)| format!("{name} {}", secs(*used)))
            .collect();
        println!("    CPU during it: {}", cpu.join(", "));
        println!(
            "  newcomer answered after the close {}",
            secs(storm.answered)
        );
        println!(
            "  WHO lists only the newcomer after {}",
            secs(storm.settled)
        );
        match storm.failures {
            Some(failures) => println!("  disconnect cleanups failed        {failures}"),
            None => println!("  disconnect cleanups failed        -"),
        }
        for (name, peak, settled) in &storm.memory {
            println!(
                "  {name:<10} resident peak {:>7}, settled {:>7}",
                mb(*peak),
                mb(*settled)
            );
        }
        if args.crowd > 0 {
            let samples = crowd(target, &args, run).await?;
            println!(
                "  say in a room of {}: last listener has it after p50 {:.1} ms, max {:.1} ms (5 says)",
                args.crowd,
                bench::percentile(&samples, 50.0).as_secs_f64() * 1e3,
                samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3
            );
        }
    }
    if args.gateway_kill {
        let (back, settled, failures) = gateway_storm(&mut shard, &targets[0], &args, run).await?;
        println!("\nmush-on-kube, the same storm through a gateway SIGKILL:");
        println!("  every player reconnected after    {}", secs(back));
        println!(
            "  settled (dead gateway's sessions closed and reaped) after {}",
            secs(settled)
        );
        println!("  disconnect cleanups failed        {failures}");
    }
    tokio::task::block_in_place(|| shard.stop());
    Ok(())
}
