//! The commands players type, at the connect screen and in the world.
//!
//! The pod keeps only what belongs to a session or to the shard: the connect screen,
//! WHO, QUIT, LOGOUT, OUTPUTPREFIX/OUTPUTSUFFIX, help, `@doing` and `@rebalance`. Every
//! other line (looking, moving, building, speech, attributes, the queue, `$`-commands)
//! runs in the softcode layer over the pod's snapshot of the world (`crate::softcode`),
//! with TinyMUX's wording, so scripts and client triggers written for a classic MUSH keep
//! working.

use std::sync::Arc;

use mush_proto::{ConnState, Handle};
use mush_rpc::MAX_LINE;
use mush_softcode::hooks::Reason;
use mush_softcode::queue::QueueOp;
use mush_store::{Dbref, Door, Kind, NewObject, Object, StoreError};

use crate::engine::{Engine, Session};
use crate::help;

const HUH: &str = "Huh?  (Type \"help\" for help.)";
const NO_PERMISSION: &str = "Permission denied.";
/// A command that needed storage while Redis did not answer is refused with this; the
/// player retries (tests recognise refusals by it).
pub const WORLD_DOWN: &str =
    "The world is unavailable right now (storage is not answering); please retry in a moment.";

/// Runs one line; returns false when the session ends (QUIT).
pub(crate) async fn run(engine: &Arc<Engine>, session: &mut Session, line: &str) -> bool {
    session.last_command = std::time::Instant::now();
    let line = line.trim();
    if line.is_empty() {
        return true;
    }
    if line.len() > MAX_LINE {
        engine.tell(session.handle, "That line is too long.").await;
        return true;
    }
    let result = match session.player {
        None => connect_screen(engine, session, line).await,
        Some(player) => in_world(engine, session, player, line).await,
    };
    match result {
        Ok(keep) => keep,
        Err(error) => {
            tracing::warn!(handle = %session.handle, %error, "command failed");
            engine.tell(session.handle, WORLD_DOWN).await;
            true
        }
    }
}

/// The connection went away without QUIT: `@boot`ed (the game asked its gateway to close
/// it, `reason` says so), or the network, a timeout, the gateway gone.
pub(crate) async fn disconnected(engine: &Arc<Engine>, session: &mut Session, reason: &str) {
    // A handle is gone only once, so its departure's hooks are named by it alone.
    let producer = format!("{}:gone", session.handle.0);
    let why = if reason == mush_rpc::CLOSED_BY_GAME {
        Reason::Boot
    } else {
        Reason::Netfailure
    };
    let Some(player) = session.player.take() else {
        return;
    };
    // A closed semaphore cannot happen (it is never closed); go on without a permit.
    let _turn = engine.departures.acquire().await.ok();
    let mut step = Departure::default();
    let mut pause = DEPARTURE_RETRY;
    let mut tries = 0;
    while let Err(error) =
        leave_world(engine, session.handle, player, why, &producer, &mut step).await
    {
        tries += 1;
        if tries >= DEPARTURE_TRIES {
            engine.metrics.departure_failures.inc();
            report_departure_failure(engine, session.handle, &error);
            return;
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

/// Tries of one departure before it counts as failed, and the first pause between them
/// (doubling): a Redis Cluster failover or a moment of overload passes within them.
const DEPARTURE_TRIES: u32 = 6;
const DEPARTURE_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// How often failed departures are logged (with their count since the last line).
const DEPARTURE_REPORT: std::time::Duration = std::time::Duration::from_secs(10);

fn report_departure_failure(engine: &Engine, handle: Handle, error: &StoreError) {
    let mut failures = crate::engine::lock(&engine.departure_failures);
    failures.0 += 1;
    let due = failures.1.is_none_or(|at| at.elapsed() >= DEPARTURE_REPORT);
    if due {
        tracing::warn!(
            failed = failures.0,
            last_handle = %handle,
            last_error = %error,
            "disconnect cleanup failed after retries (count since the last report)"
        );
        *failures = (0, Some(std::time::Instant::now()));
    }
}

/// How far a departure got, so a retry does not repeat a step that took effect (the
/// room hears of it once).
#[derive(Default)]
struct Departure {
    removed: bool,
    hooked: bool,
}

type Outcome = Result<bool, StoreError>;

/// How long failed logins are remembered.
const FAILURE_WINDOW_MS: u64 = 15 * 60 * 1000;
const HOUR_MS: u64 = 60 * 60 * 1000;

/// The longest a `connect` is held back.
const LOGIN_DELAY_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// The address (IP, without the port) a connection comes from, as its gateway recorded it.
async fn address_of(engine: &Engine, handle: Handle) -> Result<String, StoreError> {
    Ok(engine
        .store
        .get(handle)
        .await?
        .map(|record| record.host)
        .unwrap_or_default())
}

/// How long a `connect` from `address` naming `name` waits before it is checked: nothing
/// for the first failures, then twice as long per failure, up to [`LOGIN_DELAY_MAX`].
///
/// The attempt counts against the address at once (and is taken back if it succeeds), so
/// an address's parallel connections wait ever longer rather than all the same. The
/// player's own failures (from any address) count only after three times as many: a
/// stranger typing a name cannot hold its owner back for long, while guessing one
/// player's password from many addresses still slows down.
async fn login_delay(
    engine: &Engine,
    address: &str,
    name: &str,
) -> Result<std::time::Duration, StoreError> {
    // Two keys in different slots: read at once rather than one round trip after the other.
    let player = name.to_lowercase();
    let (attempts, by_player) = tokio::try_join!(
        engine
            .store
            .door_count(Door::FailedFromAddress, address, FAILURE_WINDOW_MS),
        engine.store.door_seen(Door::FailedForPlayer, &player),
    )?;
    let free = engine.settings.login_free_failures;
    Ok(delay_after(attempts.saturating_sub(1), free)
        .max(delay_after(by_player, free.saturating_mul(3))))
}

/// The wait after `failures` failed logins when the first `free` cost nothing.
fn delay_after(failures: u64, free: u64) -> std::time::Duration {
    if failures < free {
        return std::time::Duration::ZERO;
    }
    let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(16);
    std::time::Duration::from_secs(1u64 << doublings).min(LOGIN_DELAY_MAX)
}

/// Counts a failed login against the player named (the address counted the attempt up
/// front), logged and counted.
async fn failed_login(engine: &Engine, address: &str, name: &str) -> Result<(), StoreError> {
    // The address counted the attempt before it was checked.
    let by_address = engine
        .store
        .door_seen(Door::FailedFromAddress, address)
        .await?;
    let by_player = engine
        .store
        .door_count(
            Door::FailedForPlayer,
            &name.to_lowercase(),
            FAILURE_WINDOW_MS,
        )
        .await?;
    engine.metrics.login_failures.inc();
    tracing::warn!(%address, player = %name, by_address, by_player, "failed login");
    Ok(())
}

async fn connect_screen(engine: &Arc<Engine>, session: &mut Session, line: &str) -> Outcome {
    let (command, rest) = split_word(line);
    match command.to_ascii_lowercase().as_str() {
        "connect" | "co" => {
            let Some((name, password)) = name_and_password(rest) else {
                engine
                    .tell(session.handle, "Usage: connect <name> <password>")
                    .await;
                return Ok(true);
            };
            let address = address_of(engine, session.handle).await?;
            // The name is looked up while the doors are read; the answer waits either way.
            let (held_back, named) = tokio::try_join!(
                login_delay(engine, &address, &name),
                engine.store.player_by_name(&name),
            )?;
            if !held_back.is_zero() {
                tokio::time::sleep(held_back).await;
            }
            let found = match named {
                Some(id) => engine.object(id).await?,
                None => None,
            };
            let verified = match &found {
                Some(player) => {
                    engine
                        .passwords
                        .verify(&password, &player.password_hash)
                        .await
                }
                None => false,
            };
            match found {
                Some(player) if verified => {
                    let lower = name.to_lowercase();
                    tokio::try_join!(
                        engine.store.door_uncount(Door::FailedFromAddress, &address),
                        engine.store.door_clear(Door::FailedForPlayer, &lower),
                    )?;
                    enter_world(engine, session, &player).await?;
                }
                _ => {
                    failed_login(engine, &address, &name).await?;
                    engine
                        .tell(
                            session.handle,
                            "Either that player does not exist, or has a different password.",
                        )
                        .await;
                }
            }
            Ok(true)
        }
        "create" | "cr" => {
            let Some((name, password)) = name_and_password(rest) else {
                engine
                    .tell(session.handle, "Usage: create <name> <password>")
                    .await;
                return Ok(true);
            };
            if let Err(reason) = valid_player_name(&name) {
                engine.tell(session.handle, reason).await;
                return Ok(true);
            }
            if password.len() < 3 {
                engine
                    .tell(
                        session.handle,
                        "Please choose a password of at least 3 characters.",
                    )
                    .await;
                return Ok(true);
            }
            let address = address_of(engine, session.handle).await?;
            let made = engine
                .store
                .door_count(Door::CreatedFromAddress, &address, HOUR_MS)
                .await?;
            if made > engine.settings.creates_per_address_hour {
                engine.metrics.creates_refused.inc();
                tracing::warn!(%address, made, "player creation refused: the address's hourly limit");
                engine
                    .tell(
                        session.handle,
                        "The limit of new players for this hour has been reached. Please try again later.",
                    )
                    .await;
                return Ok(true);
            }
            let hash = match engine.passwords.hash(&password).await {
                Ok(hash) => hash,
                Err(error) => {
                    tracing::error!(%error, "password hash failed");
                    engine
                        .tell(session.handle, "Sorry, that did not work; try again.")
                        .await;
                    return Ok(true);
                }
            };
            let start = engine.settings.start_room;
            let new = NewObject {
                kind: Kind::Player,
                name: name.clone(),
                owner: None,
                location: Some(start),
                home: Some(start),
                destination: None,
                flags: engine.settings.new_player_flags.clone(),
                password_hash: hash,
            };
            match engine.store.create_object(&new).await? {
                Some(id) => {
                    engine.changed(&[start]).await;
                    if let Some(player) = engine.object(id).await? {
                        enter_world(engine, session, &player).await?;
                    }
                }
                None => {
                    engine
                        .tell(session.handle, "That name is already taken.")
                        .await;
                }
            }
            Ok(true)
        }
        "who" => {
            who(engine, session).await?;
            Ok(true)
        }
        "quit" => {
            engine.disconnect(session, "Goodbye!").await;
            Ok(false)
        }
        "help" => {
            engine.tell(session.handle, help::CONNECT_SCREEN).await;
            Ok(true)
        }
        _ => {
            engine.tell(session.handle, help::CONNECT_SCREEN).await;
            Ok(true)
        }
    }
}

async fn enter_world(
    engine: &Arc<Engine>,
    session: &mut Session,
    player: &Object,
) -> Result<(), StoreError> {
    let handle = session.handle;
    let producer = format!("{}:{}:connect", handle.0, session.last_seq);
    let binding = player.id.0.to_string();
    // Two keys in two slots: written together, one round trip instead of two.
    tokio::try_join!(
        engine.store.bind_player(handle, &binding),
        engine.store.add_player_conn(player.id, handle),
    )?;
    engine.changed(&[player.id]).await;
    session.player = Some(player.id);
    if let Some(room) = player.location {
        engine
            .emit_room(
                room,
                &format!("{} has connected.", player.name),
                Some(player.id),
            )
            .await?;
    }
    // TinyMUX queues the `@aconnect`s, then shows the player where it is.
    let id = player.id;
    crate::queue::hook(engine, id, &producer, |ev, frame| {
        mush_softcode::hooks::connected(ev, crate::softcode::to_i64(id))?;
        mush_softcode::command::run(ev, frame, "look").map(|_| ())
    })
    .await
}

/// A player's connection leaves the world (`reason` says how); `producer` names the
/// departure, so its `@adisconnect`s queue once however often this runs.
async fn leave_world(
    engine: &Arc<Engine>,
    handle: Handle,
    player: Dbref,
    reason: Reason,
    producer: &str,
    step: &mut Departure,
) -> Result<(), StoreError> {
    if !step.removed {
        engine.store.remove_player_conn(player, handle).await?;
        engine.changed(&[player]).await;
        step.removed = true;
    }
    // Only the last connection's departure sets off `@adisconnect`, as in TinyMUX.
    if !step.hooked {
        if engine.handles_of(player).await?.is_empty() {
            crate::queue::hook(engine, player, producer, |ev, _| {
                mush_softcode::hooks::disconnected(ev, crate::softcode::to_i64(player), reason)
            })
            .await?;
        }
        step.hooked = true;
    }
    // The announcement reads everything before it sends anything: a failure here sent
    // nothing, and the retry announces once.
    if let Some(me) = engine.object(player).await?
        && let Some(room) = me.location
    {
        engine
            .emit_room(
                room,
                &format!("{} has disconnected.", me.name),
                Some(player),
            )
            .await?;
    }
    Ok(())
}

async fn in_world(
    engine: &Arc<Engine>,
    session: &mut Session,
    player: Dbref,
    line: &str,
) -> Outcome {
    let Some(me) = engine.object(player).await? else {
        engine
            .tell(session.handle, "Your character no longer exists.")
            .await;
        session.player = None;
        return Ok(true);
    };
    let cx = Cx {
        engine,
        handle: session.handle,
        seq: session.last_seq,
        me: &me,
    };
    let (command, rest) = split_word(line);
    let lower = command.to_ascii_lowercase();
    // The pod's own commands: the session's (WHO, QUIT, LOGOUT, OUTPUTPREFIX, which
    // TinyMUX also takes before anything in the world) and the shard's own (@doing,
    // @rebalance). Everything else is the softcode layer's: `home`, the
    // exits here, the built-in commands (the command table of `mush_softcode::command`),
    // then the `$`-commands around, in TinyMUX's order.
    match lower.as_str() {
        "@doing" => cx.doing(rest).await?,
        "@rebalance" => cx.rebalance().await?,
        "who" => who(engine, session).await?,
        "idle" => {}
        "outputprefix" | "outputsuffix" => {
            let suffix = lower == "outputsuffix";
            let field = if suffix {
                "outputsuffix"
            } else {
                "outputprefix"
            };
            if suffix {
                session.output_suffix = rest.to_owned();
            } else {
                session.output_prefix = rest.to_owned();
            }
            if let Err(error) = engine.store.update_meta(session.handle, field, rest) {
                tracing::warn!(%error, "output prefix not saved");
            }
        }
        "logout" => {
            let producer = format!("{}:{}", session.handle.0, session.last_seq);
            leave_world(
                engine,
                session.handle,
                player,
                Reason::Logout,
                &producer,
                &mut Departure::default(),
            )
            .await?;
            engine
                .store
                .set_state(session.handle, ConnState::Connected)
                .await?;
            session.player = None;
            engine.tell(session.handle, &engine.settings.welcome).await;
        }
        "quit" => {
            let producer = format!("{}:{}", session.handle.0, session.last_seq);
            leave_world(
                engine,
                session.handle,
                player,
                Reason::Quit,
                &producer,
                &mut Departure::default(),
            )
            .await?;
            session.player = None;
            engine.disconnect(session, "Goodbye!").await;
            return Ok(false);
        }
        "help" => cx.tell(help::topic(rest)).await,
        _ => {
            if let Some(deferred) = cx.softcode(line).await? {
                session.deferred = Some(deferred);
            }
        }
    }
    Ok(true)
}

/// One line of WHO, before the viewer's permissions are applied.
pub(crate) struct WhoRow {
    id: Dbref,
    name: String,
    dark: bool,
    connected_at_ms: u64,
    last_seen_ms: u64,
    doing: String,
}

/// Reads every connection once; the engine shares the result between viewers for a moment
/// (WHO reads the whole shard, and a room full of players typing it must not multiply that).
pub(crate) async fn who_rows(engine: &Engine) -> Result<Vec<WhoRow>, StoreError> {
    let mut rows = Vec::new();
    for record in engine.store.list_active().await? {
        if record.state != ConnState::LoggedIn {
            continue;
        }
        let Some(id) = record.player.as_deref().and_then(Dbref::parse) else {
            continue;
        };
        let Some(player) = engine.object(id).await? else {
            continue;
        };
        rows.push(WhoRow {
            id,
            name: player.name.clone(),
            dark: player.has_flag("DARK"),
            connected_at_ms: record.connected_at_ms,
            last_seen_ms: record.last_seen_ms,
            doing: player.attributes.get("DOING").cloned().unwrap_or_default(),
        });
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// The WHO rows as softcode's `lwho()`, `conn()`, `idle()` and `doing()` see them, most
/// recently connected first.
pub(crate) fn connections(rows: &[WhoRow]) -> Vec<mush_softcode::Connection> {
    let now = mush_store::now_ms();
    let mut rows: Vec<&WhoRow> = rows.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.connected_at_ms));
    rows.iter()
        .map(|r| mush_softcode::Connection {
            player: i64::try_from(r.id.0).unwrap_or(mush_softcode::NOTHING),
            connected_secs: (now.saturating_sub(r.connected_at_ms) / 1000) as i64,
            idle_secs: (now.saturating_sub(r.last_seen_ms) / 1000) as i64,
            doing: r.doing.clone(),
        })
        .collect()
}

async fn who(engine: &Arc<Engine>, session: &Session) -> Result<(), StoreError> {
    let now = mush_store::now_ms();
    let rows = engine.who_rows().await?;
    let visible: Vec<&WhoRow> = rows
        .iter()
        .filter(|r| !r.dark || session.player == Some(r.id))
        .collect();
    let mut out = String::from("Player Name          On For Idle  Doing\n");
    for row in &visible {
        out.push_str(&format!(
            "{:<20} {:>6} {:>4}  {}\n",
            truncate(&row.name, 20),
            format_on_for(now.saturating_sub(row.connected_at_ms) / 1000),
            format_idle(now.saturating_sub(row.last_seen_ms) / 1000),
            truncate(&row.doing, 40)
        ));
    }
    out.push_str(&format!(
        "{} logged in.",
        counted(visible.len() as u64, "Player")
    ));
    engine.tell(session.handle, &out).await;
    Ok(())
}

/// "1 session", "2 sessions".
fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The acting player and where output goes.
struct Cx<'a> {
    engine: &'a Arc<Engine>,
    handle: Handle,
    /// The sequence number of the command being run.
    seq: u64,
    me: &'a Object,
}

impl Cx<'_> {
    /// Runs a command of the softcode layer (speech, `think`): evaluated over the cache,
    /// its writes and output applied when it finishes.
    /// Returns what the line queued to run and matched as `$`-commands, for the caller to
    /// run once the command is done (`crate::queue::run_now`).
    async fn softcode(&self, line: &str) -> Result<Option<crate::queue::Deferred>, StoreError> {
        use mush_softcode::command::{self, Ran};
        let mark = format!("{}:{}", self.handle.0, self.seq);
        // What `$`-commands matched is kept apart: it runs once this command is done.
        let run = crate::softcode::run(self.engine, self.me.id, Some(&mark), |ev, frame| {
            command::typed(ev, frame, line)
        })
        .await;
        match run {
            Ok(mut finished) => {
                let matched = std::mem::take(&mut finished.value.1);
                if finished.value.0 == Ran::NotMine {
                    self.tell(HUH).await;
                }
                // Plain adds wait for the command to finish and mostly run at once on this
                // pod (`crate::queue::run_now`); a halt or a notification goes to the
                // queue now, with the command's adds, in their order.
                let mut ops = std::mem::take(&mut finished.queue);
                if !ops.iter().all(|op| matches!(op, QueueOp::Add { .. })) {
                    let ops = std::mem::take(&mut ops);
                    crate::queue::submit(self.engine, &mark, ops, &finished.after).await?;
                }
                crate::softcode::deliver(self.engine, &finished).await?;
                ops.extend(matched);
                // Named apart from what went to the queue above under the command's mark.
                Ok((!ops.is_empty()).then(|| crate::queue::Deferred {
                    producer: format!("{mark}/d"),
                    ops,
                    after: std::mem::take(&mut finished.after),
                }))
            }
            Err(crate::softcode::Stopped::Store(error)) => Err(error),
            Err(crate::softcode::Stopped::Refused(why)) => {
                self.tell(&why).await;
                Ok(None)
            }
        }
    }

    async fn tell(&self, text: &str) {
        self.engine.tell(self.handle, text).await;
    }

    fn is_wizard(&self) -> bool {
        self.me.has_flag("WIZARD")
    }

    async fn doing(&self, rest: &str) -> Result<(), StoreError> {
        self.engine
            .store
            .set_attribute(self.me.id, "DOING", rest.trim())
            .await?;
        self.engine.changed(&[self.me.id]).await;
        self.tell("Set.").await;
        Ok(())
    }

    /// `@rebalance`: after a scale-up the old pods keep their sessions (they are sticky);
    /// a wizard spreads them over every live pod.
    async fn rebalance(&self) -> Result<(), StoreError> {
        if !self.is_wizard() {
            self.tell(NO_PERMISSION).await;
            return Ok(());
        }
        let pods = self.engine.store.live_pods().await?;
        let shape = crate::rebalance::Shape::of(&pods);
        let (sessions, target) = (shape.sessions, shape.target);
        if self.engine.request_rebalance().await {
            self.tell(&format!(
                "Rebalancing {} over {}: each keeps at most {target}.",
                counted(sessions, "session"),
                counted(shape.live.len() as u64, "game pod"),
            ))
            .await;
        } else {
            self.tell(&format!(
                "Rebalancing this pod only (the others cannot be asked while NATS is down): it keeps at most {}.",
                counted(target, "session")
            ))
            .await;
        }
        Ok(())
    }
}

fn split_word(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (line, ""),
    }
}

/// `name password` or `"two words" password`.
fn name_and_password(rest: &str) -> Option<(String, String)> {
    let rest = rest.trim();
    if let Some(quoted) = rest.strip_prefix('"') {
        let (name, password) = quoted.split_once('"')?;
        let password = password.trim();
        return (!name.is_empty() && !password.is_empty())
            .then(|| (name.to_owned(), password.to_owned()));
    }
    let (name, password) = split_word(rest);
    (!name.is_empty() && !password.is_empty())
        .then(|| (name.to_owned(), password.trim().to_owned()))
}

fn valid_player_name(name: &str) -> Result<(), &'static str> {
    let ok = (2..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.' ".contains(&b))
        && !name.starts_with(' ')
        && !name.ends_with(' ');
    if ok {
        Ok(())
    } else {
        Err("That's not a good name: use 2-32 letters, digits, spaces or _ - . '")
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn format_on_for(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (hours, minutes) = (rest / 3600, (rest % 3600) / 60);
    if days > 0 {
        format!("{days}d {hours:02}:{minutes:02}")
    } else {
        format!("{hours:02}:{minutes:02}")
    }
}

fn format_idle(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_logins_cost_nothing_then_double_up_to_the_cap() {
        let secs = std::time::Duration::from_secs;
        let cases = [
            (0, 3, secs(0)),
            (2, 3, secs(0)),
            (3, 3, secs(1)),
            (4, 3, secs(2)),
            (7, 3, secs(16)),
            (8, 3, secs(30)),
            (1_000_000, 3, secs(30)),
            (0, 0, secs(1)),
        ];
        for (failures, free, want) in cases {
            assert_eq!(
                delay_after(failures, free),
                want,
                "{failures} failures, {free} free"
            );
        }
    }

    #[test]
    fn connect_arguments_accept_quoted_names() {
        assert_eq!(
            name_and_password("Bob secret"),
            Some(("Bob".into(), "secret".into()))
        );
        assert_eq!(
            name_and_password("\"Bob Smith\" secret"),
            Some(("Bob Smith".into(), "secret".into()))
        );
        assert_eq!(name_and_password("Bob"), None);
        assert_eq!(name_and_password(""), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_player_name("Alice").is_ok());
        assert!(valid_player_name("A").is_err());
        assert!(valid_player_name("bad\u{1b}name").is_err());
    }

    #[test]
    fn idle_and_on_for_read_like_tinymux() {
        assert_eq!(format_idle(5), "5s");
        assert_eq!(format_idle(125), "2m");
        assert_eq!(format_on_for(3_725), "01:02");
        assert_eq!(format_on_for(90_000), "1d 01:00");
    }
}
