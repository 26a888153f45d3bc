//! Soak: players, `$`-commands and the queue over three game pods for a while, then every
//! pod's cache compared with Redis.
//!
//! ```text
//! scripts/soak                 # 10 minutes; builds release binaries, then runs this
//! scripts/soak --seconds 60
//! ```
//!
//! A shard as `mush dev` runs it plus a third game pod. A global object in the master room
//! serves `+bump` (increments the player's own counter and says its new value), `+later
//! <token>` (answers through `@wait 1`) and `+chain <n>` (an `@trigger` chain of `n`
//! steps, each adding to the player's chain counter). Players type those and `say` in a
//! closed loop. Every `+bump` answer must be exactly one more than the last (nothing lost,
//! nothing run twice); every `+later` answer's lateness beyond its one second is recorded.
//! At the end, after a quiet moment: each player's counters are read back and checked,
//! then every pod's `/debug/cache` (everything its cache would serve, compared with Redis)
//! and its write-behind failures from `/metrics` are printed. Exits non-zero if anything
//! differs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
#[path = "common/bench.rs"]
mod bench;
use bench::{Client, bench_shard, create_players, percentile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// How long players play.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Players bumping counters, running chains and talking.
    #[arg(long, default_value_t = 24)]
    players: usize,
    /// Of those, players that also time `+later` answers.
    #[arg(long, default_value_t = 6)]
    timers: usize,
}

/// Steps of each `+chain`.
const CHAIN: u64 = 3;

/// What one player did.
#[derive(Default)]
struct Played {
    bumps: u64,
    chains: u64,
    late: Vec<Duration>,
    errors: Vec<String>,
}

async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    Ok(body
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(body))
}

/// Sends a line and returns the text up to and including `end`.
async fn ask(client: &mut Client, line: &str, end: &str) -> std::io::Result<()> {
    client.send(&format!("{line}\r\n")).await?;
    client
        .wait_for(end.as_bytes(), Duration::from_secs(60))
        .await
}

async fn play(
    mut client: Client,
    name: String,
    until: Instant,
    timer: bool,
) -> (Client, String, Played) {
    let mut played = Played::default();
    let mut round = 0u64;
    while Instant::now() < until {
        round += 1;
        // Each bump must answer exactly one more than the last.
        let want = played.bumps + 1;
        match ask(&mut client, "+bump", &format!("bumped {want}\r\n")).await {
            Ok(()) => played.bumps = want,
            Err(error) => {
                played.errors.push(format!("{name} +bump {want}: {error}"));
                break;
            }
        }
        if round.is_multiple_of(5) {
            if let Err(error) = ask(&mut client, "+chain", "chained\r\n").await {
                played.errors.push(format!("{name} +chain: {error}"));
                break;
            }
            played.chains += 1;
        }
        if round.is_multiple_of(3) {
            let said = format!("say round {round}");
            if let Err(error) = ask(&mut client, &said, &format!("round {round}\"\r\n")).await {
                played.errors.push(format!("{name} say: {error}"));
                break;
            }
        }
        if timer && round.is_multiple_of(4) {
            let token = format!("{name}-{round}");
            let started = Instant::now();
            match ask(
                &mut client,
                &format!("+later {token}"),
                &format!("late {token}\r\n"),
            )
            .await
            {
                Ok(()) => played
                    .late
                    .push(started.elapsed().saturating_sub(Duration::from_secs(1))),
                Err(error) => {
                    played.errors.push(format!("{name} +later: {error}"));
                    break;
                }
            }
        }
    }
    (client, name, played)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let (mut shard, _dir) = bench_shard("mush-soak-").await?;
    tokio::task::block_in_place(|| shard.start_pod())?;
    let addr = shard.telnet_addr();

    let mut wizard = Client::connect(addr).await?;
    wizard.wait_banner().await?;
    wizard.send("connect Wizard potrzebie\r\n").await?;
    let setup = [
        "@create Soak",
        "@set Soak=INHERIT",
        "&bump Soak=$+bump:&n %#=[add(get(%#/n),1)];@pemit %#=bumped [get(%#/n)]",
        "&later Soak=$+later *:@wait 1=@pemit %#=late %0",
        &format!("&chain Soak=$+chain:@trigger me/step=%#,{CHAIN}"),
        "&step Soak=&c %0=[add(get(%0/c),1)];@switch [gt(%1,1)]=1,{@trigger me/step=%0,[sub(%1,1)]},{@pemit %0=chained}",
        "@tel Soak=#2",
        "think soak-ready",
    ];
    for line in setup {
        wizard.send(&format!("{line}\r\n")).await?;
    }
    wizard
        .wait_for(b"soak-ready\r\n", Duration::from_secs(30))
        .await?;

    let clients = create_players(addr, "Soak", args.players).await?;
    println!(
        "soak: {} players over {} game pods for {} s",
        args.players,
        shard.pod_names().len(),
        args.seconds
    );
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| tokio::spawn(play(client, format!("Soak{i}"), until, i < args.timers)))
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await?);
    }

    // Let the last chains and timers finish, then read the counters back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut failures: Vec<String> = Vec::new();
    let (mut bumps, mut chains, mut late) = (0, 0, Vec::new());
    for (client, name, played) in &mut results {
        failures.append(&mut played.errors);
        bumps += played.bumps;
        chains += played.chains;
        late.append(&mut played.late);
        let token = format!("count-{name}");
        client
            .send(&format!("think {token} [get(me/n)] [get(me/c)]\r\n"))
            .await?;
        let want = format!("{token} {} {}\r\n", played.bumps, played.chains * CHAIN);
        if let Err(error) = client
            .wait_for(want.as_bytes(), Duration::from_secs(30))
            .await
        {
            failures.push(format!("{name}: counters are not {want:?}: {error}"));
        }
    }
    late.sort_unstable();
    println!("soak: {bumps} +bump answered in order, {chains} +chain of {CHAIN} steps");
    println!(
        "soak: +later (a 1 s @wait) late by p50 {:?}, p99 {:?}, max {:?} over {} timers",
        percentile(&late, 50.0),
        percentile(&late, 99.0),
        late.last().copied().unwrap_or_default(),
        late.len()
    );

    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("pod        cached objects (differ)   cached lists (differ)   write-behind failed");
    for pod in shard.pod_names() {
        let Some(http) = shard.pod_http(&pod) else {
            continue;
        };
        let audit = http_get(http, "/debug/cache").await?;
        let metrics = http_get(http, "/metrics").await?;
        let failed: u64 = metrics
            .lines()
            .filter(|l| {
                l.starts_with("mush_store_writebehind_total") && l.contains("result=\"failed\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum();
        // An answer that does not parse counts as a difference.
        let parsed: serde_json::Value = serde_json::from_str(&audit).unwrap_or_default();
        let field = |key: &str| parsed[key].as_u64().unwrap_or(u64::MAX);
        let (objects, objects_differ) = (field("objects"), field("objects_differ"));
        let (lists, lists_differ) = (field("lists"), field("lists_differ"));
        println!(
            "{pod:<10} {objects:>14} ({objects_differ}) {lists:>19} ({lists_differ}) {failed:>21}"
        );
        if objects_differ != 0 || lists_differ != 0 || failed != 0 {
            failures.push(format!("{pod}: {audit} write-behind failed {failed}"));
        }
    }
    if failures.is_empty() {
        println!("soak: every pod's cache agrees with Redis; nothing lost, nothing run twice");
        Ok(())
    } else {
        for failure in &failures {
            eprintln!("soak: {failure}");
        }
        Err(format!("{} failures", failures.len()).into())
    }
}
