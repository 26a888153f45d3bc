//! Load driver: the same scripted telnet players against a mush-on-kube shard (as `mush
//! dev` runs it) and against TinyMUX (Debian's `tinymux`), in one run, side by side.
//!
//! ```text
//! scripts/bench-dataplane            # builds release binaries, then runs this
//! ```
//!
//! Figures: command round trip p50/p99 and throughput at 1, 50 and 200 clients (closed loop:
//! each client sends `think` and waits for its echo), room fan-out (one `say`, 49 listeners,
//! time until each listener sees it), login time (`connect` including the password hash,
//! up to the first answered command), and resident memory per idle session of the process
//! holding the sockets (our gateway, TinyMUX's netmux). Both servers get their input rate
//! limits raised for the run. Every socket sets TCP_NODELAY and every command is written
//! in one piece, so Nagle's algorithm does not distort either side.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
#[path = "common/bench.rs"]
mod bench;
use bench::{Client, TinyMux, bench_shard, create_players, percentile, rss_kib};

#[derive(Parser)]
struct Args {
    /// Client counts for the round-trip and throughput runs.
    #[arg(long, value_delimiter = ',', default_value = "1,50,200")]
    clients: Vec<usize>,
    /// Seconds each round-trip level runs.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// `say`s in the fan-out run.
    #[arg(long, default_value_t = 40)]
    fanout_rounds: usize,
    /// Idle sessions for the memory figure.
    #[arg(long, default_value_t = 1000)]
    idle_sessions: usize,
    /// Logins timed.
    #[arg(long, default_value_t = 30)]
    logins: usize,
    /// Skip TinyMUX (e.g. when it is not installed).
    #[arg(long)]
    no_tinymux: bool,
    /// Round trips timed per softcode command.
    #[arg(long, default_value_t = 200)]
    softcode_rounds: usize,
    /// Run only the softcode rows.
    #[arg(long)]
    softcode_only: bool,
}

/// Triggers queued in the queue row.
const QUEUE_RUN: usize = 1000;

/// Softcode commands timed, with the text that ends each answer.
const SOFTCODE: &[(&str, &str, &str)] = &[
    (
        "softcode: think, no functions (baseline)",
        "think sc-base",
        "sc-base\r\n",
    ),
    (
        "softcode: think [iter(lnum(1,1000),add(##,1))]",
        "think [iter(lnum(1,1000),add(##,1))]",
        "999 1000 1001\r\n",
    ),
    (
        "softcode: 10 nested u() over a parent",
        "think [u(SCC/F1,1)]-done",
        "11-done\r\n",
    ),
    (
        "softcode: a $-command (queued, then run)",
        "scping x",
        "scpong x\r\n",
    ),
];

/// Times `@dolist lnum(N)=<step>SCD/tick`: N queued jobs, each queueing one increment,
/// until the increment that reaches N reports; returns the sorted times. With `@trigger/quiet `
/// as the step the shard runs the jobs in the command's batch; with `@wait 0=@trigger/quiet `
/// every one is a timed entry, added to, claimed from and finished in the shard's queue in
/// Redis.
async fn queue_drains(
    wizard: &mut bench::Client,
    step: &str,
    n: usize,
    rounds: usize,
) -> std::io::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        wizard.send("&cnt SCD=0\r\n").await?;
        wizard.send(&format!("think sc-reset-{round}\r\n")).await?;
        wizard
            .wait_for(
                format!("sc-reset-{round}\r\n").as_bytes(),
                Duration::from_secs(30),
            )
            .await?;
        let started = Instant::now();
        wizard
            .send(&format!("@dolist lnum({n})={step}SCD/tick\r\n"))
            .await?;
        wizard
            .wait_for(
                format!("sctick {n}\r\n").as_bytes(),
                Duration::from_secs(120),
            )
            .await?;
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    Ok(samples)
}

/// Logs in as God and builds the objects the softcode rows use: a parent with ten
/// attributes, each calling the next through `u()`, and a child that inherits them.
async fn softcode_setup(addr: SocketAddr) -> std::io::Result<bench::Client> {
    let mut wizard = bench::Client::connect(addr).await?;
    wizard.wait_banner().await?;
    wizard.send("connect Wizard potrzebie\r\n").await?;
    let mut lines = vec!["@create SCP".to_string(), "@create SCC".to_string()];
    for i in 1..10 {
        lines.push(format!("&F{i} SCP=[u(me/F{},add(%0,1))]", i + 1));
    }
    lines.push("&F10 SCP=[add(%0,1)]".into());
    lines.push("@parent SCC=SCP".into());
    // A $-command, and a counter that says when it reaches the size of a queue run.
    lines.push("@create SCD".into());
    lines.push("&ping SCD=$scping *:@pemit %#=scpong %0".into());
    lines.push(
        "&tick SCD=&cnt me=[add(v(cnt),1)];@switch [v(cnt)]=[v(goal)],@pemit *Wizard=sctick [v(cnt)]"
            .into(),
    );
    lines.push(format!("&goal SCD={QUEUE_RUN}"));
    // Both servers limit a player's queue to 100 entries unless its QueueMax says more.
    lines.push(format!("&queuemax me={}", 3 * QUEUE_RUN));
    for line in lines {
        wizard.send(&format!("{line}\r\n")).await?;
    }
    wizard.send("think setup-[u(SCC/F1,1)]-done\r\n").await?;
    wizard
        .wait_for(b"setup-11-done\r\n", Duration::from_secs(30))
        .await?;
    Ok(wizard)
}

/// Round trips of one softcode command, sorted.
async fn softcode_round_trips(
    wizard: &mut bench::Client,
    command: &str,
    end: &str,
    rounds: usize,
) -> std::io::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        wizard.send(&format!("{command}\r\n")).await?;
        wizard
            .wait_for(end.as_bytes(), Duration::from_secs(30))
            .await?;
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    Ok(samples)
}

/// One server under test.
struct Target {
    name: &'static str,
    addr: SocketAddr,
    pid: u32,
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Closed-loop round trips for `seconds`; returns sorted latencies and commands/s.
async fn round_trips(clients: Vec<Client>, seconds: f64) -> std::io::Result<(Vec<Duration>, f64)> {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(c, mut client)| {
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut n = 0u64;
                while Instant::now() < until {
                    samples.push(client.round_trip(&format!("rt{c}x{n}")).await?);
                    n += 1;
                }
                Ok::<_, std::io::Error>(samples)
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.map_err(std::io::Error::other)??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let rate = all.len() as f64 / elapsed;
    Ok((all, rate))
}

/// One speaker, `listeners` listeners in the same room; time from `say` until each
/// listener has the line.
async fn fanout(
    addr: SocketAddr,
    prefix: &str,
    listeners: usize,
    rounds: usize,
) -> std::io::Result<Vec<Duration>> {
    let mut clients = create_players(addr, prefix, listeners + 1).await?;
    let mut speaker = clients.remove(0);
    // Let connect announcements settle, then drain them.
    speaker.round_trip("settle").await?;
    for (i, client) in clients.iter_mut().enumerate() {
        client.round_trip(&format!("settle{i}")).await?;
    }
    let mut samples: Vec<Duration> =
        bench::say_rounds(&mut speaker, &mut clients, rounds, Duration::from_secs(30))
            .await?
            .into_iter()
            .flatten()
            .collect();
    samples.sort_unstable();
    Ok(samples)
}

/// `connect` of existing players, each on a fresh socket, until the first command answers.
async fn logins(addr: SocketAddr, prefix: &str, count: usize) -> std::io::Result<Vec<Duration>> {
    drop(create_players(addr, prefix, count).await?);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut samples = Vec::new();
    for i in 0..count {
        let mut client = Client::connect(addr).await?;
        client.wait_banner().await?;
        let started = Instant::now();
        client
            .send(&format!("connect {prefix}{i} benchpw\r\nthink in-{i}q\r\n"))
            .await?;
        client
            .wait_for(format!("in-{i}q\r\n").as_bytes(), Duration::from_secs(30))
            .await?;
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    Ok(samples)
}

/// Memory per idle session: RSS of the socket-holding process before and after.
async fn memory_per_session(target: &Target, count: usize) -> std::io::Result<f64> {
    let before = rss_kib(target.pid).unwrap_or(0);
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(Client::connect(target.addr).await?);
    }
    for client in &mut clients {
        client.wait_banner().await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(target.pid).unwrap_or(0);
    drop(clients);
    Ok(after.saturating_sub(before) as f64 * 1024.0 / count as f64)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let run = std::process::id() % 1000;
    let (shard, _dir) = bench_shard("mush-bench-").await?;
    let mut targets = vec![Target {
        name: "mush-on-kube",
        addr: shard.telnet_addr(),
        pid: shard.gateway_pid().ok_or("gateway not running")?,
    }];
    // Let the gateway attach to both pods.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let _tinymux = if args.no_tinymux {
        None
    } else {
        let (mux, addr) = TinyMux::listening().await?;
        targets.push(Target {
            name: "TinyMUX",
            addr,
            pid: mux.child.id(),
        });
        Some(mux)
    };

    println!(
        "load driver: same clients, same run; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut table: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: String, values: Vec<String>| table.push((label, values));
    let mut wizards = Vec::new();
    for target in &targets {
        wizards.push(softcode_setup(target.addr).await?);
    }
    for (label, command, end) in SOFTCODE {
        let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
        for wizard in &mut wizards {
            let samples = softcode_round_trips(wizard, command, end, args.softcode_rounds).await?;
            p50s.push(format!("{:.0} us", us(percentile(&samples, 50.0))));
            p99s.push(format!("{:.0} us", us(percentile(&samples, 99.0))));
        }
        row(format!("{label} p50"), p50s);
        row(format!("{label} p99"), p99s);
    }
    for (step, label) in [
        ("@trigger/quiet ", "@triggers queued and drained"),
        (
            "@wait 0=@trigger/quiet ",
            "@wait 0 entries, each a @trigger",
        ),
    ] {
        let mut drains = Vec::new();
        for wizard in &mut wizards {
            let samples = queue_drains(wizard, step, QUEUE_RUN, 3).await?;
            drains.push(format!(
                "{:.0} ms",
                percentile(&samples, 50.0).as_secs_f64() * 1e3
            ));
        }
        row(
            format!("softcode: {QUEUE_RUN} {label}, median of 3"),
            drains,
        );
    }
    drop(wizards);
    if args.softcode_only {
        print_table(&targets, &table);
        tokio::task::block_in_place(|| shard.stop());
        return Ok(());
    }
    // Memory first, before the other phases grow and fragment the heaps.
    let mut memory = Vec::new();
    for target in &targets {
        let bytes = memory_per_session(target, args.idle_sessions).await?;
        memory.push(format!("{:.1} KB", bytes / 1000.0));
    }
    row(
        format!("memory per idle session ({} sessions)", args.idle_sessions),
        memory,
    );
    for &clients in &args.clients {
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        let mut rates = Vec::new();
        for (t, target) in targets.iter().enumerate() {
            let players =
                create_players(target.addr, &format!("r{run}t{t}c{clients}x"), clients).await?;
            let (samples, rate) = round_trips(players, args.seconds).await?;
            p50s.push(format!("{:.0} us", us(percentile(&samples, 50.0))));
            p99s.push(format!("{:.0} us", us(percentile(&samples, 99.0))));
            rates.push(format!("{rate:.0} cmd/s"));
        }
        row(format!("round trip p50, {clients} client(s)"), p50s);
        row(format!("round trip p99, {clients} client(s)"), p99s);
        row(format!("throughput, {clients} client(s)"), rates);
    }
    let (mut fan50, mut fan99) = (Vec::new(), Vec::new());
    for (t, target) in targets.iter().enumerate() {
        let samples = fanout(target.addr, &format!("f{run}t{t}x"), 49, args.fanout_rounds).await?;
        fan50.push(format!("{:.0} us", us(percentile(&samples, 50.0))));
        fan99.push(format!("{:.0} us", us(percentile(&samples, 99.0))));
    }
    row("fan-out p50 (say, 49 listeners)".into(), fan50);
    row("fan-out p99 (say, 49 listeners)".into(), fan99);
    let (mut login50, mut login99) = (Vec::new(), Vec::new());
    for (t, target) in targets.iter().enumerate() {
        let samples = logins(target.addr, &format!("l{run}t{t}x"), args.logins).await?;
        login50.push(format!(
            "{:.2} ms",
            percentile(&samples, 50.0).as_secs_f64() * 1e3
        ));
        login99.push(format!(
            "{:.2} ms",
            percentile(&samples, 99.0).as_secs_f64() * 1e3
        ));
    }
    row("login p50 (connect + 1 command)".into(), login50);
    row("login p99".into(), login99);
    print_table(&targets, &table);
    tokio::task::block_in_place(|| shard.stop());
    Ok(())
}

fn print_table(targets: &[Target], table: &[(String, Vec<String>)]) {
    let width = table
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    print!("{:width$}", "");
    for target in targets {
        print!("  {:>16}", target.name);
    }
    println!();
    for (label, values) in table {
        print!("{label:width$}");
        for value in values {
            print!("  {value:>16}");
        }
        println!();
    }
}
