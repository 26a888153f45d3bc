//! Chaos suite: one scenario per failure the data plane promises to survive, each with 50
//! scripted telnet players typing numbered commands against real processes (Redis Cluster,
//! NATS, game pods, a gateway).
//!
//! Every player sends `think chaos-<player>-<n>` every [`INTERVAL`] and reads everything
//! back. Afterwards, per player: was the connection closed, was every accepted command
//! answered exactly once and in order. Each scenario prints a summary row:
//!
//! ```text
//! cargo test -p mush --test chaos -- --nocapture
//! ```
//!
//! Scenarios run one at a time (a lock), since each starts a whole shard on a 2-core machine.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mush::shard::Shard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

#[path = "../tests/support/mod.rs"]
mod support;
use support::{Player, http_get, start_shard_with, store_of, strip_telnet};

/// Players per scenario.
const PLAYERS: usize = 50;
/// Pause between one player's commands.
const INTERVAL: Duration = Duration::from_millis(100);
/// Typing before the fault.
const WARM_UP: Duration = Duration::from_secs(2);
/// How long after typing stops every accepted command must have been answered.
const SETTLE: Duration = Duration::from_secs(30);
/// The password of every scripted player.
const PASSWORD: &str = "chaospw";

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What one player saw.
#[derive(Default)]
struct Seen {
    /// Commands written to the socket.
    sent: u64,
    /// Times each command's answer arrived, by command number.
    answers: BTreeMap<u64, Vec<Instant>>,
    /// Answers that arrived after a later command's answer.
    out_of_order: u64,
    /// The highest command number answered so far.
    highest: u64,
    /// Pages received from other players, by their token: a page delivered twice means
    /// the sender's command ran twice.
    pages: HashMap<String, u32>,
    /// Commands refused with [`mush_game::WORLD_DOWN`].
    refused: u64,
    /// When the gateway closed the connection, if it did.
    closed_at: Option<Instant>,
}

impl Seen {
    fn answered(&self) -> u64 {
        self.answers.len() as u64
    }

    fn duplicates(&self) -> u64 {
        self.answers
            .values()
            .map(|t| t.len() as u64 - 1)
            .sum::<u64>()
            + self.pages.values().map(|n| u64::from(n - 1)).sum::<u64>()
    }

    /// The first answer that arrived at or after `at`.
    fn first_answer_after(&self, at: Instant) -> Option<Instant> {
        self.answers
            .values()
            .flatten()
            .filter(|t| **t >= at)
            .min()
            .copied()
    }

    /// Files one line of output.
    fn read_line(&mut self, line: &str, own: &str, now: Instant) {
        if let Some(at) = line.find(own) {
            // `think` echoes the token; a page's confirmation quotes it.
            let digits: String = line[at + own.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse::<u64>() {
                if n < self.highest {
                    self.out_of_order += 1;
                }
                self.highest = self.highest.max(n);
                self.answers.entry(n).or_default().push(now);
            }
        } else if line == mush_game::WORLD_DOWN {
            self.refused += 1;
        } else if let Some((_, token)) = line.split_once(" pages: ") {
            *self.pages.entry(token.trim().to_owned()).or_default() += 1;
        }
    }
}

/// A player typing numbered commands until told to stop: two `think`s (only a reply) and
/// then a `page` to the next player (an effect on someone else, so journalled), over and
/// over.
struct Typist {
    seen: Arc<Mutex<Seen>>,
    name: String,
}

/// When the typists may start (everyone logged in, so pages find their targets) and when
/// they must stop.
#[derive(Clone)]
struct Signals {
    go: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
}

impl Typist {
    /// Creates the character and starts typing once `signals.go` turns true.
    async fn start(addr: SocketAddr, index: usize, signals: Signals) -> Self {
        let player = Player::connect(addr).await;
        let login = format!("create {} {PASSWORD}", name(index));
        Self::start_on(player, &login, index, signals).await
    }

    async fn start_on(mut player: Player, login: &str, index: usize, signals: Signals) -> Self {
        let name = name(index);
        let partner = self::name((index + 1) % PLAYERS);
        player.send(login).await;
        player.expect("Limbo").await;
        let (mut reader, mut writer) = player.into_stream().into_split();
        let seen = Arc::new(Mutex::new(Seen::default()));

        let token = format!("chaos-{name}-");
        let reading = seen.clone();
        let own = token.clone();
        tokio::spawn(async move {
            let mut text = String::new();
            let mut buf = vec![0u8; 16384];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        lock(&reading).closed_at = Some(Instant::now());
                        return;
                    }
                    Ok(n) => text.push_str(&strip_telnet(&buf[..n])),
                }
                let now = Instant::now();
                while let Some(end) = text.find('\n') {
                    let line: String = text.drain(..=end).collect();
                    lock(&reading).read_line(line.trim_end(), &own, now);
                }
            }
        });

        let writing = seen.clone();
        tokio::spawn(async move {
            let Signals { mut go, mut stop } = signals;
            let _ = go.wait_for(|go| *go).await;
            let mut n = 0;
            while !*stop.borrow() {
                n += 1;
                let line = if n % 3 == 0 {
                    format!("page {partner}={token}{n}\r\n")
                } else {
                    format!("think {token}{n}\r\n")
                };
                if writer.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                lock(&writing).sent = n;
                tokio::time::sleep(INTERVAL).await;
            }
            // Dropping the write half would half-close the socket, and the gateway would
            // hang up: keep it until the scenario is over.
            while stop.changed().await.is_ok() {}
            drop(writer);
        });
        Self { seen, name }
    }
}

fn name(index: usize) -> String {
    format!("c{index}")
}

/// Logs in every player with `connect` (one future per index), then lets them type.
async fn type_together<F, Fut>(connect: F) -> (Vec<Typist>, watch::Sender<bool>)
where
    F: Fn(usize, Signals) -> Fut,
    Fut: std::future::Future<Output = Typist>,
{
    let (go, go_rx) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let signals = Signals {
        go: go_rx,
        stop: stop_rx,
    };
    let typists =
        futures_util::future::join_all((0..PLAYERS).map(|i| connect(i, signals.clone()))).await;
    go.send_replace(true);
    (typists, stop)
}

/// A scenario's players and its clock.
struct Run {
    name: &'static str,
    typists: Vec<Typist>,
    stop: watch::Sender<bool>,
    fault_at: Option<Instant>,
}

impl Run {
    /// Logs in [`PLAYERS`] players and lets them type for [`WARM_UP`].
    async fn start(name: &'static str, shard: &Shard) -> Self {
        let addr = shard.telnet_addr();
        let (typists, stop) = type_together(|i, signals| Typist::start(addr, i, signals)).await;
        tokio::time::sleep(WARM_UP).await;
        Self {
            name,
            typists,
            stop,
            fault_at: None,
        }
    }

    fn fault(&mut self) {
        self.fault_at = Some(Instant::now());
    }

    /// Stops typing and waits until every command sent is answered (or [`SETTLE`] passes,
    /// or every connection that is still open has nothing outstanding).
    async fn finish(self) -> Summary {
        self.stop.send_replace(true);
        tokio::time::sleep(INTERVAL * 2).await;
        let deadline = Instant::now() + SETTLE;
        while Instant::now() < deadline {
            let pending = self.typists.iter().any(|t| {
                let seen = lock(&t.seen);
                seen.closed_at.is_none() && seen.answered() < seen.sent
            });
            if !pending {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Late duplicates would arrive now.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let summary = Summary::of(self.name, &self.typists, self.fault_at);
        summary.print();
        summary
    }
}

/// The row a scenario prints.
#[derive(Debug)]
struct Summary {
    scenario: &'static str,
    players: usize,
    sent: u64,
    answered: u64,
    /// Commands refused with the "world is unavailable, please retry" message (Redis
    /// failing over): the player was told, nothing was silently dropped.
    refused: u64,
    duplicates: u64,
    /// Commands neither answered nor refused.
    losses: u64,
    out_of_order: u64,
    disconnects: usize,
    /// Pages delivered to their targets (each page is a journalled command).
    pages: u64,
    /// Pages whose sender was answered but which never reached their target (output to
    /// another player, lost if a pod died between its journal and its output and the
    /// journal did not send it again).
    pages_lost: u64,
    /// Fault to each player's first answer after it: p50, p99, max.
    recovery: Option<(Duration, Duration, Duration)>,
    /// Players who lost commands, with the numbers lost (first few).
    lost_by: Vec<(String, Vec<u64>)>,
}

impl Summary {
    fn of(scenario: &'static str, typists: &[Typist], fault_at: Option<Instant>) -> Self {
        let mut summary = Summary {
            scenario,
            players: typists.len(),
            sent: 0,
            answered: 0,
            refused: 0,
            duplicates: 0,
            losses: 0,
            out_of_order: 0,
            disconnects: 0,
            pages: 0,
            pages_lost: 0,
            recovery: None,
            lost_by: Vec::new(),
        };
        let mut recoveries = Vec::new();
        for (i, typist) in typists.iter().enumerate() {
            let partner = lock(&typists[(i + 1) % typists.len()].seen).pages.clone();
            let seen = lock(&typist.seen);
            summary.pages_lost += seen
                .answers
                .keys()
                .filter(|n| *n % 3 == 0)
                .filter(|n| !partner.contains_key(&format!("chaos-{}-{n}", typist.name)))
                .count() as u64;
        }
        for typist in typists {
            let seen = lock(&typist.seen);
            summary.sent += seen.sent;
            summary.answered += seen.answered();
            summary.refused += seen.refused;
            summary.duplicates += seen.duplicates();
            summary.out_of_order += seen.out_of_order;
            summary.disconnects += usize::from(seen.closed_at.is_some());
            summary.pages += seen.pages.values().map(|n| u64::from(*n)).sum::<u64>();
            let missing: Vec<u64> = (1..=seen.sent)
                .filter(|n| !seen.answers.contains_key(n))
                .collect();
            let lost = (missing.len() as u64).saturating_sub(seen.refused);
            summary.losses += lost;
            if lost > 0 {
                summary
                    .lost_by
                    .push((typist.name.clone(), missing.into_iter().take(5).collect()));
            }
            if let Some(at) = fault_at
                && let Some(first) = seen.first_answer_after(at)
            {
                recoveries.push(first - at);
            }
        }
        if !recoveries.is_empty() {
            recoveries.sort();
            let pick = |p: f64| {
                let rank = ((p / 100.0) * (recoveries.len() - 1) as f64).round() as usize;
                recoveries[rank.min(recoveries.len() - 1)]
            };
            summary.recovery = Some((pick(50.0), pick(99.0), recoveries[recoveries.len() - 1]));
        }
        summary
    }

    fn print(&self) {
        let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
        let recovery = self.recovery.map_or("-".into(), |(p50, p99, max)| {
            format!("{}/{}/{}", ms(p50), ms(p99), ms(max))
        });
        println!(
            "\n| scenario | players | sent | answered | refused (told to retry) | duplicates | losses | out of order | disconnects | pages delivered | fault -> first answer p50/p99/max ms |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n\
             | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({} lost) | {} |",
            self.scenario,
            self.players,
            self.sent,
            self.answered,
            self.refused,
            self.duplicates,
            self.losses,
            self.out_of_order,
            self.disconnects,
            self.pages,
            self.pages_lost,
            recovery
        );
    }

    /// The promise of every scenario but a gateway kill: nothing closed, lost, repeated or
    /// reordered, and nothing refused unless the scenario takes storage away.
    fn assert_nothing_lost(&self, refusals_allowed: bool) {
        assert!(self.players >= PLAYERS, "{self:?}");
        assert!(
            self.sent >= (PLAYERS * 20) as u64,
            "too little typed: {self:?}"
        );
        assert_eq!(self.disconnects, 0, "connections closed: {self:?}");
        assert_eq!(self.losses, 0, "commands lost: {self:?}");
        assert_eq!(self.duplicates, 0, "commands run twice: {self:?}");
        assert_eq!(self.out_of_order, 0, "answers out of order: {self:?}");
        if !refusals_allowed {
            assert_eq!(self.refused, 0, "commands refused: {self:?}");
        }
        assert_eq!(self.answered + self.refused, self.sent, "{self:?}");
        assert!(
            self.recovery.is_some(),
            "nobody was answered after the fault"
        );
        assert!(
            self.pages > 0,
            "no page arrived: the journalled path was not exercised"
        );
        assert_eq!(self.pages_lost, 0, "pages lost: {self:?}");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn shard(name: &str, pods: usize) -> (Shard, tempfile::TempDir) {
    tokio::task::block_in_place(|| {
        start_shard_with(name, |options| {
            options.game_pods = pods;
            options.log = "info".into();
            // The players type faster than people; the rate limiter is not under test.
            options
                .gateway_args
                .extend(["--input-rate", "1000", "--input-burst", "1000"].map(String::from));
        })
    })
}

/// Which pod serves each live connection, by handle.
async fn assignments(shard: &Shard) -> HashMap<u64, String> {
    store_of(shard)
        .await
        .list_active()
        .await
        .expect("records")
        .into_iter()
        .filter_map(|r| Some((r.handle.0, r.pod?.to_string())))
        .collect()
}

fn terminate(shard: &mut Shard, pod: &str) {
    let status = tokio::task::block_in_place(|| shard.terminate_pod(pod, Duration::from_secs(20)))
        .expect("pod exists");
    match status {
        Some(status) => assert!(status.success(), "{pod} drained with {status}"),
        None => panic!("{pod} did not exit within its grace period"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_killed_sessions_move_and_nothing_runs_twice() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mut shard, _dir) = shard("chaos-kill", 3);
    let mut run = Run::start("game pod SIGKILL", &shard).await;
    run.fault();
    shard.kill_pod("game-0").expect("kill");
    // As a Deployment would: a replacement starts while the survivors serve.
    tokio::time::sleep(Duration::from_secs(1)).await;
    // start_pod returns once the gateway streams to the replacement.
    tokio::task::block_in_place(|| shard.start_pod()).expect("replacement");
    tokio::time::sleep(Duration::from_secs(3)).await;
    run.finish().await.assert_nothing_lost(false);
    // How many re-sent commands the dead pod had already run (answered from the journal,
    // not run again): depends on where the kill fell, so reported, not asserted.
    let mut from_journal = 0.0;
    for pod in shard.pod_names() {
        let (_, metrics) = http_get(shard.pod_http(&pod).expect("pod"), "/metrics").await;
        from_journal += metrics
            .lines()
            .find_map(|l| l.strip_prefix("mush_game_journal_answers_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    println!("re-sent commands answered from the journal: {from_journal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drained_pod_hands_over_and_exits_zero() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mut shard, _dir) = shard("chaos-drain", 3);
    let mut run = Run::start("game pod drain (SIGTERM)", &shard).await;
    run.fault();
    terminate(&mut shard, "game-0");
    tokio::time::sleep(Duration::from_secs(3)).await;
    run.finish().await.assert_nothing_lost(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_of_every_pod() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mut shard, _dir) = shard("chaos-roll", 3);
    let mut run = Run::start("rolling restart (3 pods)", &shard).await;
    run.fault();
    // maxSurge 1, maxUnavailable 0: a new pod is live before an old one drains.
    for old in shard.pod_names() {
        tokio::task::block_in_place(|| shard.start_pod()).expect("new pod");
        terminate(&mut shard, &old);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    run.finish().await.assert_nothing_lost(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_master_failover_stalls_then_resumes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mut shard, _dir) = shard("chaos-redis", 2);
    let probe = shard.pod_http("game-0").expect("pod");
    let mut run = Run::start("Redis master failover", &shard).await;
    run.fault();
    let killed = shard.redis_mut().kill_a_master().expect("kill a master");
    // Readiness turns false while a master is gone, and true again after the promotion.
    let mut saw_unready = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = http_get(probe, "/readyz").await;
        saw_unready |= status == 503;
        if saw_unready && status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readiness never went false and back (last {status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let summary = run.finish().await;
    summary.assert_nothing_lost(true);
    // The old master comes back as a replica; the shard keeps working.
    tokio::task::block_in_place(|| shard.redis_mut().restart_node(killed)).expect("restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_outage_keeps_serving_and_bounds_stale_reads() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mut shard, dir) = shard("chaos-nats", 2);
    let addr = shard.telnet_addr();
    let store = store_of(&shard).await;
    // A writer and a reader on different pods: the reader's pod caches the writer's object.
    let mut writer = Player::login(addr, "Scribe").await;
    let writer_pod = support::pod_of(&store, "Scribe").await;
    let (mut reader, _) =
        support::login_elsewhere(addr, &store, &writer_pod, "Reader", dir.path()).await;
    writer.send("@desc me=first words").await;
    writer.expect("Set.").await;
    reader.send("look Scribe").await;
    reader.expect("first words").await;

    let mut run = Run::start("NATS outage", &shard).await;
    run.fault();
    shard.nats_mut().stop();
    let pod = shard.pod_http("game-0").expect("pod");
    support::wait_status(pod, "/readyz", 503).await;
    // The reader's pod caches Scribe again, now that no invalidation can reach it...
    reader.send("look Scribe").await;
    reader.expect("first words").await;
    // ...so after the change only its short TTL bounds how long it reads the old text.
    let stale_for = change_seen_after(&mut writer, &mut reader, "second words").await;
    assert!(
        stale_for < Duration::from_millis(3_500),
        "stale read for {stale_for:?} with NATS down (short TTL is 2 s)"
    );

    tokio::task::block_in_place(|| shard.nats_mut().start_again()).expect("nats back");
    support::wait_status(pod, "/readyz", 200).await;
    support::wait_status(shard.pod_http("game-1").expect("pod"), "/readyz", 200).await;
    // Invalidations flow again: the change shows at once, not after the long TTL.
    reader.send("look Scribe").await;
    reader.expect("second words").await;
    let fresh_after = change_seen_after(&mut writer, &mut reader, "third words").await;
    assert!(
        fresh_after < Duration::from_secs(1),
        "invalidation took {fresh_after:?} after NATS came back"
    );
    println!(
        "NATS outage: stale read for {stale_for:?} while down, change seen after {fresh_after:?} once back"
    );
    run.finish().await.assert_nothing_lost(false);
}

/// The writer (Scribe) describes itself as `text`; returns how long until the reader,
/// looking every 100 ms, sees it.
async fn change_seen_after(writer: &mut Player, reader: &mut Player, text: &str) -> Duration {
    writer.send(&format!("@desc me={text}")).await;
    writer.expect("Set.").await;
    let changed = Instant::now();
    read_until(reader, text).await - changed
}

/// Looks at Scribe every 100 ms until `text` shows; returns when it did.
async fn read_until(reader: &mut Player, text: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(10);
    for round in 0.. {
        reader.send("look Scribe").await;
        reader.send(&format!("think looked-{round}")).await;
        if reader
            .expect(&format!("looked-{round}"))
            .await
            .contains(text)
        {
            break;
        }
        assert!(Instant::now() < deadline, "never saw {text:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Instant::now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_killed_players_reconnect_and_records_are_reaped() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mut shard, _dir) = shard("chaos-gateway", 2);
    let store = store_of(&shard).await;
    let mut run = Run::start("gateway SIGKILL", &shard).await;
    run.fault();
    let killed_at = Instant::now();
    shard.kill_gateway();
    // Their TCP lived in the gateway: every player is disconnected.
    let deadline = Instant::now() + Duration::from_secs(10);
    while run
        .typists
        .iter()
        .any(|t| lock(&t.seen).closed_at.is_none())
    {
        assert!(
            Instant::now() < deadline,
            "a connection outlived its gateway"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let summary = run.finish().await;
    assert_eq!(summary.disconnects, PLAYERS, "{summary:?}");
    assert_eq!(summary.duplicates, 0, "{summary:?}");
    assert_eq!(summary.out_of_order, 0, "{summary:?}");

    // A new gateway starts; the dead one's records, assignments and indexes are reaped.
    tokio::task::block_in_place(|| shard.start_gateway()).expect("gateway");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = store.list_active().await.expect("records");
        // A gateway's id is its name and its start time.
        if left
            .iter()
            .all(|r| !r.gateway.as_str().starts_with("gateway-0-"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} records of the dead gateway were not reaped",
            left.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reaped_after = killed_at.elapsed();

    // The players come back, log in again and play.
    let addr = shard.telnet_addr();
    let (back, stop) = type_together(|i, signals| async move {
        let player = Player::connect(addr).await;
        let login = format!("connect {} {PASSWORD}", name(i));
        Typist::start_on(player, &login, i, signals).await
    })
    .await;
    let again = Run {
        name: "gateway SIGKILL: players back",
        typists: back,
        stop,
        fault_at: Some(killed_at),
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let summary = again.finish().await;
    println!("dead gateway's records reaped {reaped_after:?} after the kill");
    assert_eq!(summary.disconnects, 0, "{summary:?}");
    assert_eq!(summary.losses, 0, "{summary:?}");
    assert_eq!(summary.duplicates, 0, "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_pod_takes_new_sessions_and_old_ones_stay_until_rebalanced() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mut shard, _dir) = shard("chaos-join", 2);
    let mut run = Run::start("new game pod joins, then @rebalance", &shard).await;
    let before = assignments(&shard).await;
    run.fault();
    let new = tokio::task::block_in_place(|| shard.start_pod()).expect("new pod");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Newcomers go to the new pod (it has the fewest sessions)...
    let addr = shard.telnet_addr();
    let mut newcomers = Vec::new();
    for i in 0..10 {
        let mut newcomer = Player::login(addr, &format!("late{i}")).await;
        newcomer.send("think here").await;
        newcomer.expect("here").await;
        newcomers.push(newcomer);
    }
    let after = assignments(&shard).await;
    let on_new = after
        .iter()
        .filter(|(h, pod)| !before.contains_key(h) && **pod == new)
        .count();
    assert_eq!(on_new, 10, "newcomers not on the new pod: {after:?}");
    // ...and every session that was there stays where it was (sticky).
    for (handle, pod) in &before {
        assert_eq!(after.get(handle), Some(pod), "session {handle} moved");
    }

    // A wizard asks for a rebalance: the old pods hand their surplus to the new one while
    // everybody keeps typing.
    let mut wizard = Player::connect(addr).await;
    wizard.send("connect Wizard potrzebie").await;
    wizard.expect("Limbo").await;
    newcomers[0].send("@rebalance").await;
    newcomers[0].expect("Permission denied.").await;
    wizard.send("@rebalance").await;
    let asked = Instant::now();
    let said = wizard.expect("each keeps at most ").await;
    assert!(said.contains("over 3 game pods"), "{said}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let spread = loop {
        let mut per_pod: HashMap<String, usize> = HashMap::new();
        for pod in assignments(&shard).await.into_values() {
            *per_pod.entry(pod).or_default() += 1;
        }
        let sessions: usize = per_pod.values().sum();
        let target = sessions.div_ceil(3);
        if per_pod.len() == 3 && per_pod.values().all(|&n| n <= target) {
            break per_pod;
        }
        assert!(Instant::now() < deadline, "never balanced: {per_pod:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "balanced {:?} after @rebalance: {spread:?}",
        asked.elapsed()
    );
    // The moved players still play.
    for player in newcomers.iter_mut().chain([&mut wizard]) {
        player.send("think still here").await;
        player.expect("still here").await;
    }
    run.finish().await.assert_nothing_lost(false);
}
