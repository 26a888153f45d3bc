//! The commands players type, at the connect screen and in the world.
//!
//! Output wording follows TinyMUX where players have habits (`You say, "..."`, `Huh?  (Type
//! "help" for help.)`, `Taken.`, `Dropped.`), so scripts and client triggers written for a
//! classic MUSH keep working.

use std::sync::Arc;

use mush_proto::{ConnState, Handle};
use mush_rpc::MAX_LINE;
use mush_softcode::hooks::Reason;
use mush_store::{Dbref, Field, Kind, NewObject, Object, StoreError, VALUE_MAX};

use crate::engine::{Engine, Session};
use crate::help;

/// Commands the softcode layer runs (they evaluate their arguments).
const SOFTCODE_COMMANDS: &[&str] = &[
    "say", "pose", "semipose", "@emit", "@pemit", "@remit", "@oemit", "think", "@parent",
    "@chzone", "examine", "ex", "exa",
];
const HUH: &str = "Huh?  (Type \"help\" for help.)";
const NOT_FOUND: &str = "I don't see that here.";
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

/// The connection went away without QUIT (network, timeout, gateway gone).
pub(crate) async fn disconnected(engine: &Arc<Engine>, session: &mut Session) {
    // A handle is gone only once, so its departure's hooks are named by it alone.
    let producer = format!("{}:gone", session.handle.0);
    if let Some(player) = session.player.take()
        && let Err(error) = leave_world(
            engine,
            session.handle,
            player,
            Reason::Netfailure,
            &producer,
        )
        .await
    {
        tracing::warn!(handle = %session.handle, %error, "disconnect cleanup failed");
    }
}

type Outcome = Result<bool, StoreError>;

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
            let found = match engine.store.player_by_name(&name).await? {
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
                Some(player) if verified => enter_world(engine, session, &player).await?,
                _ => {
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
    look_room(engine, handle, player).await?;
    let id = player.id;
    crate::queue::hook(engine, id, &producer, |ev, _| {
        mush_softcode::hooks::connected(ev, crate::softcode::to_i64(id))
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
) -> Result<(), StoreError> {
    engine.store.remove_player_conn(player, handle).await?;
    engine.changed(&[player]).await;
    // Only the last connection's departure sets off `@adisconnect`, as in TinyMUX.
    if engine.handles_of(player).await?.is_empty() {
        crate::queue::hook(engine, player, producer, |ev, _| {
            mush_softcode::hooks::disconnected(ev, crate::softcode::to_i64(player), reason)
        })
        .await?;
    }
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
    // One-character prefixes first, as every MUSH does.
    if line.starts_with(['"', ':', ';', '&']) || line.starts_with("\\\\") {
        return cx.softcode(line).await.map(|()| true);
    }
    // As in TinyMUX: `home`, then the exits here, then the built-in commands, so an exit
    // named `w` or `look` wins over the command of that name.
    if line.eq_ignore_ascii_case("home") {
        cx.home().await?;
        return Ok(true);
    }
    if cx.try_exit(line).await? {
        return Ok(true);
    }
    let (command, rest) = split_word(line);
    let lower = command.to_ascii_lowercase();
    // `@set` belongs to the softcode layer (attributes, attribute flags, and TinyMUX's
    // flags with their permission rules), except for the pod's own flags.
    let softcode_set = lower == "@set"
        && rest.split_once('=').is_some_and(|(l, r)| {
            let flag = r.trim().trim_start_matches('!').trim();
            l.contains('/') || r.contains(':') || !POD_FLAGS.contains(&flag.to_uppercase().as_str())
        });
    if softcode_set || SOFTCODE_COMMANDS.contains(&lower.split('/').next().unwrap_or("")) {
        cx.softcode(line).await?;
        return Ok(true);
    }
    match lower.as_str() {
        "page" | "p" => cx.page(rest).await?,
        "whisper" | "w" => cx.whisper(rest).await?,
        "look" | "l" => cx.look(rest).await?,
        "go" | "move" => cx.go(rest).await?,
        "inventory" | "i" | "inv" => cx.inventory().await?,
        "get" | "take" => cx.get(rest).await?,
        "drop" => cx.drop(rest).await?,
        "give" => cx.give(rest).await?,
        "@dig" => cx.dig(rest).await?,
        "@open" => cx.open(rest).await?,
        "@link" => cx.link(rest).await?,
        "@create" => cx.create(rest).await?,
        "@describe" | "@desc" => cx.describe(rest).await?,
        "@name" => cx.name(rest).await?,
        "@set" => cx.set(rest).await?,
        "@destroy" | "@dest" => cx.destroy(rest).await?,
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
            leave_world(engine, session.handle, player, Reason::Logout, &producer).await?;
            engine
                .store
                .set_state(session.handle, ConnState::Connected)
                .await?;
            session.player = None;
            engine.tell(session.handle, &engine.settings.welcome).await;
        }
        "quit" => {
            let producer = format!("{}:{}", session.handle.0, session.last_seq);
            leave_world(engine, session.handle, player, Reason::Quit, &producer).await?;
            session.player = None;
            engine.disconnect(session, "Goodbye!").await;
            return Ok(false);
        }
        "help" => cx.tell(help::topic(rest)).await,
        // Anything else may be a `$`-command.
        _ => cx.softcode(line).await?,
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
    async fn softcode(&self, line: &str) -> Result<(), StoreError> {
        use mush_softcode::command::{self, Ran};
        let mark = format!("{}:{}", self.handle.0, self.seq);
        let run = crate::softcode::run(self.engine, self.me.id, Some(&mark), |ev, frame| {
            ev.interactive = true;
            let mut ran = command::run(ev, frame, line)?;
            // Not a command of ours: the `$`-commands of the objects around.
            if ran == Ran::NotMine && mush_softcode::dollar::matched(ev, frame, line)? {
                ran = Ran::Done;
            }
            mush_softcode::listen::hear(ev, frame.executor)?;
            command::forward_puppets(ev)?;
            Ok(ran)
        })
        .await;
        match run {
            Ok(mut finished) => {
                if finished.value == Ran::NotMine {
                    self.tell(HUH).await;
                }
                let ops = std::mem::take(&mut finished.queue);
                crate::queue::submit(self.engine, &mark, ops).await?;
                crate::softcode::deliver(self.engine, &finished).await
            }
            Err(crate::softcode::Stopped::Store(error)) => Err(error),
            Err(crate::softcode::Stopped::Refused(why)) => {
                self.tell(&why).await;
                Ok(())
            }
        }
    }

    async fn tell(&self, text: &str) {
        self.engine.tell(self.handle, text).await;
    }

    fn here(&self) -> Dbref {
        self.me.location.unwrap_or(self.engine.settings.start_room)
    }

    fn is_wizard(&self) -> bool {
        self.me.has_flag("WIZARD")
    }

    fn may_build(&self) -> bool {
        self.is_wizard() || self.me.has_flag("BUILDER")
    }

    fn controls(&self, object: &Object) -> bool {
        self.is_wizard() || object.owner == self.me.id || object.id == self.me.id
    }

    async fn page(&self, rest: &str) -> Result<(), StoreError> {
        let Some((names, message)) = rest.split_once('=') else {
            self.tell("Usage: page <player>=<message>").await;
            return Ok(());
        };
        let Some(target) = self.find_player(names.trim()).await? else {
            self.tell("I don't recognize that player.").await;
            return Ok(());
        };
        if self.engine.handles_of(target.id).await?.is_empty() {
            self.tell(&format!("{} is not connected.", target.name))
                .await;
            return Ok(());
        }
        let message = message.trim();
        let (to_them, to_me) = match message.strip_prefix(':') {
            Some(pose) => (
                format!("From afar, {} {pose}", self.me.name),
                format!("Long distance to {}: {} {pose}", target.name, self.me.name),
            ),
            None => (
                format!("{} pages: {message}", self.me.name),
                format!("You paged {} with '{message}'.", target.name),
            ),
        };
        self.engine.notify(target.id, &to_them).await?;
        self.tell(&to_me).await;
        Ok(())
    }

    async fn whisper(&self, rest: &str) -> Result<(), StoreError> {
        let Some((name, message)) = rest.split_once('=') else {
            self.tell("Usage: whisper <player>=<message>").await;
            return Ok(());
        };
        match self.match_near(name.trim()).await? {
            Some(target) if target.kind == Kind::Player && target.location == self.me.location => {
                self.engine
                    .notify(
                        target.id,
                        &format!("{} whispers, \"{}\"", self.me.name, message.trim()),
                    )
                    .await?;
                self.tell(&format!(
                    "You whisper \"{}\" to {}.",
                    message.trim(),
                    target.name
                ))
                .await;
            }
            _ => self.tell(NOT_FOUND).await,
        }
        Ok(())
    }

    async fn look(&self, rest: &str) -> Result<(), StoreError> {
        let rest = rest.trim();
        if rest.is_empty() {
            return look_room(self.engine, self.handle, self.me).await;
        }
        match self.match_near(rest).await? {
            Some(object) if object.kind == Kind::Room => self.describe_room(&object).await,
            Some(object) => {
                let mut out = self.display_name(&object);
                out.push('\n');
                let shown = if object.description.is_empty() {
                    String::new()
                } else {
                    crate::softcode::description(self.engine, self.me.id, &object).await?
                };
                out.push_str(if shown.is_empty() {
                    "You see nothing special."
                } else {
                    &shown
                });
                self.tell(&out).await;
                Ok(())
            }
            None => {
                self.tell(NOT_FOUND).await;
                Ok(())
            }
        }
    }

    async fn describe_room(&self, room: &Object) -> Result<(), StoreError> {
        let text = room_text(self.engine, self.me, room).await?;
        self.tell(&text).await;
        Ok(())
    }

    fn display_name(&self, object: &Object) -> String {
        if self.controls(object) || object.kind == Kind::Room && self.may_build() {
            format!("{}({}{})", object.name, object.id, type_letter(object))
        } else {
            object.name.clone()
        }
    }

    /// Moves through an exit named by the whole line; false if no exit matches.
    async fn try_exit(&self, line: &str) -> Result<bool, StoreError> {
        let exits = self.engine.exits(self.here()).await?;
        let Some(exit) = exits.iter().find(|exit| exit_matches(exit, line)) else {
            return Ok(false);
        };
        match exit.destination {
            Some(destination) => self.move_me(destination).await?,
            None => self.tell("That exit leads nowhere.").await,
        }
        Ok(true)
    }

    async fn go(&self, rest: &str) -> Result<(), StoreError> {
        if !self.try_exit(rest.trim()).await? {
            self.tell("You can't go that way.").await;
        }
        Ok(())
    }

    async fn home(&self) -> Result<(), StoreError> {
        let home = self.me.home.unwrap_or(self.engine.settings.start_room);
        self.tell("There's no place like home...").await;
        self.move_me(home).await
    }

    async fn move_me(&self, destination: Dbref) -> Result<(), StoreError> {
        if self
            .engine
            .object(destination)
            .await?
            .is_none_or(|room| room.kind != Kind::Room)
        {
            self.tell("That destination no longer exists.").await;
            return Ok(());
        }
        let from = self.me.location;
        if let Some(from) = from {
            self.engine
                .emit_room(
                    from,
                    &format!("{} has left.", self.me.name),
                    Some(self.me.id),
                )
                .await?;
        }
        self.engine
            .store
            .move_object(self.me.id, from, destination)
            .await?;
        let mut changed = vec![self.me.id, destination];
        changed.extend(from);
        self.engine.changed(&changed).await;
        self.engine
            .emit_room(
                destination,
                &format!("{} has arrived.", self.me.name),
                Some(self.me.id),
            )
            .await?;
        let moved = self.engine.object(self.me.id).await?;
        match moved {
            Some(me) => look_room(self.engine, self.handle, &me).await,
            None => Ok(()),
        }
    }

    async fn inventory(&self) -> Result<(), StoreError> {
        let carried = self.engine.contents(self.me.id).await?;
        if carried.is_empty() {
            self.tell("You aren't carrying anything.").await;
        } else {
            let list: Vec<String> = carried.iter().map(|o| self.display_name(o)).collect();
            self.tell(&format!("You are carrying:\n{}", list.join("\n")))
                .await;
        }
        Ok(())
    }

    async fn get(&self, rest: &str) -> Result<(), StoreError> {
        let here = self.here();
        let found = self.match_in(here, rest.trim()).await?;
        match found {
            Some(thing) if thing.kind == Kind::Thing => {
                self.engine
                    .store
                    .move_object(thing.id, Some(here), self.me.id)
                    .await?;
                self.engine.changed(&[thing.id, here, self.me.id]).await;
                self.tell("Taken.").await;
            }
            Some(_) => self.tell("You can't pick that up.").await,
            None => self.tell(NOT_FOUND).await,
        }
        Ok(())
    }

    async fn drop(&self, rest: &str) -> Result<(), StoreError> {
        match self.match_in(self.me.id, rest.trim()).await? {
            Some(thing) => {
                let here = self.here();
                self.engine
                    .store
                    .move_object(thing.id, Some(self.me.id), here)
                    .await?;
                self.engine.changed(&[thing.id, here, self.me.id]).await;
                self.tell("Dropped.").await;
            }
            None => self.tell("You don't have that!").await,
        }
        Ok(())
    }

    async fn give(&self, rest: &str) -> Result<(), StoreError> {
        let Some((who, what)) = rest.split_once('=') else {
            self.tell("Usage: give <player>=<object>").await;
            return Ok(());
        };
        let Some(target) = self.match_near(who.trim()).await? else {
            self.tell(NOT_FOUND).await;
            return Ok(());
        };
        if target.kind != Kind::Player || target.location != self.me.location {
            self.tell("You can only give things to players here.").await;
            return Ok(());
        }
        let Some(thing) = self.match_in(self.me.id, what.trim()).await? else {
            self.tell("You don't have that!").await;
            return Ok(());
        };
        self.engine
            .store
            .move_object(thing.id, Some(self.me.id), target.id)
            .await?;
        self.engine
            .changed(&[thing.id, self.me.id, target.id])
            .await;
        self.tell("Given.").await;
        self.engine
            .notify(
                target.id,
                &format!("{} gave you {}.", self.me.name, thing.name),
            )
            .await
    }

    async fn dig(&self, rest: &str) -> Result<(), StoreError> {
        if !self.may_build() {
            self.tell(NO_PERMISSION).await;
            return Ok(());
        }
        let (name, exits) = match rest.split_once('=') {
            Some((name, exits)) => (name.trim(), Some(exits)),
            None => (rest.trim(), None),
        };
        if let Err(reason) = valid_object_name(name) {
            self.tell(reason).await;
            return Ok(());
        }
        let room = self.new_object(Kind::Room, name, None, None).await?;
        self.tell(&format!("{name} created as room {room}.")).await;
        if let Some(exits) = exits {
            let (out, back) = match exits.split_once(',') {
                Some((out, back)) => (out.trim(), Some(back.trim())),
                None => (exits.trim(), None),
            };
            if !out.is_empty() {
                self.new_exit(out, self.here(), room).await?;
            }
            if let Some(back) = back.filter(|b| !b.is_empty()) {
                self.new_exit(back, room, self.here()).await?;
            }
        }
        Ok(())
    }

    async fn open(&self, rest: &str) -> Result<(), StoreError> {
        if !self.may_build() {
            self.tell(NO_PERMISSION).await;
            return Ok(());
        }
        let (name, destination) = match rest.split_once('=') {
            Some((name, dest)) => (name.trim(), Some(dest.trim())),
            None => (rest.trim(), None),
        };
        let here = self.here();
        let Some(room) = self.engine.object(here).await? else {
            return Ok(());
        };
        if !self.controls(&room) {
            self.tell(NO_PERMISSION).await;
            return Ok(());
        }
        let destination = match destination {
            Some(dest) => match self.match_room(dest).await? {
                Some(room) => Some(room.id),
                None => {
                    self.tell("I can't find that destination.").await;
                    return Ok(());
                }
            },
            None => None,
        };
        match destination {
            Some(destination) => self.new_exit(name, here, destination).await,
            None => {
                if let Err(reason) = valid_object_name(name) {
                    self.tell(reason).await;
                    return Ok(());
                }
                let exit = self.new_object(Kind::Exit, name, Some(here), None).await?;
                self.tell(&format!("Opened exit {exit}.")).await;
                Ok(())
            }
        }
    }

    async fn new_exit(&self, name: &str, from: Dbref, to: Dbref) -> Result<(), StoreError> {
        if let Err(reason) = valid_object_name(name) {
            self.tell(reason).await;
            return Ok(());
        }
        let exit = self
            .new_object(Kind::Exit, name, Some(from), Some(to))
            .await?;
        self.tell(&format!("Opened exit {exit}.\nLinked exit {exit} to {to}."))
            .await;
        Ok(())
    }

    async fn new_object(
        &self,
        kind: Kind,
        name: &str,
        location: Option<Dbref>,
        destination: Option<Dbref>,
    ) -> Result<Dbref, StoreError> {
        let new = NewObject {
            kind,
            name: name.to_owned(),
            owner: Some(self.me.id),
            location,
            home: (kind == Kind::Thing).then_some(self.me.id),
            destination,
            flags: Vec::new(),
            password_hash: String::new(),
        };
        let id = self
            .engine
            .store
            .create_object(&new)
            .await?
            .ok_or(StoreError::NoObject(0))?;
        let mut changed = vec![id];
        changed.extend(location);
        self.engine.changed(&changed).await;
        Ok(id)
    }

    async fn link(&self, rest: &str) -> Result<(), StoreError> {
        let Some((what, to)) = rest.split_once('=') else {
            self.tell("Usage: @link <object>=<destination>").await;
            return Ok(());
        };
        let Some(object) = self.controlled(what.trim()).await? else {
            return Ok(());
        };
        let Some(room) = self.match_room(to.trim()).await? else {
            self.tell("I can't find that destination.").await;
            return Ok(());
        };
        let field = match object.kind {
            Kind::Exit => Field::Destination,
            Kind::Player | Kind::Thing => Field::Home,
            Kind::Room => {
                self.tell("Rooms cannot be linked.").await;
                return Ok(());
            }
        };
        self.engine
            .store
            .set_field(object.id, field, &room.id.0.to_string())
            .await?;
        self.engine.changed(&[object.id]).await;
        let what = if field == Field::Home {
            "Home set"
        } else {
            "Linked"
        };
        self.tell(&format!("{what}: {} -> {}.", object.name, room.name))
            .await;
        Ok(())
    }

    async fn create(&self, rest: &str) -> Result<(), StoreError> {
        if !self.may_build() {
            self.tell(NO_PERMISSION).await;
            return Ok(());
        }
        let name = rest.trim();
        if let Err(reason) = valid_object_name(name) {
            self.tell(reason).await;
            return Ok(());
        }
        let id = self
            .new_object(Kind::Thing, name, Some(self.me.id), None)
            .await?;
        self.tell(&format!("Created: {name}({id}).")).await;
        Ok(())
    }

    async fn describe(&self, rest: &str) -> Result<(), StoreError> {
        let Some((what, text)) = rest.split_once('=') else {
            self.tell("Usage: @describe <object>=<description>").await;
            return Ok(());
        };
        self.set_checked(what, Field::Description, text.trim(), "Description set.")
            .await
    }

    async fn name(&self, rest: &str) -> Result<(), StoreError> {
        let Some((what, name)) = rest.split_once('=') else {
            self.tell("Usage: @name <object>=<new name>").await;
            return Ok(());
        };
        let name = name.trim();
        let Some(object) = self.controlled(what.trim()).await? else {
            return Ok(());
        };
        if object.kind == Kind::Player {
            if let Err(reason) = valid_player_name(name) {
                self.tell(reason).await;
                return Ok(());
            }
            if !self.engine.store.rename_player(&object, name).await? {
                self.tell("That name is already taken.").await;
                return Ok(());
            }
            self.engine.changed(&[object.id]).await;
            self.tell("Name set.").await;
            return Ok(());
        }
        self.set_checked(what, Field::Name, name, "Name set.").await
    }

    async fn set_checked(
        &self,
        what: &str,
        field: Field,
        value: &str,
        done: &str,
    ) -> Result<(), StoreError> {
        if value.len() > VALUE_MAX {
            self.tell("That is too long.").await;
            return Ok(());
        }
        if field == Field::Name
            && let Err(reason) = valid_object_name(value)
        {
            self.tell(reason).await;
            return Ok(());
        }
        let Some(object) = self.controlled(what.trim()).await? else {
            return Ok(());
        };
        self.engine.store.set_field(object.id, field, value).await?;
        self.engine.changed(&[object.id]).await;
        self.tell(done).await;
        Ok(())
    }

    async fn set(&self, rest: &str) -> Result<(), StoreError> {
        let Some((what, setting)) = rest.split_once('=') else {
            self.tell("Usage: @set <object>=[!]<flag> or @set <object>=<attribute>:<value>")
                .await;
            return Ok(());
        };
        let Some(object) = self.controlled(what.trim()).await? else {
            return Ok(());
        };
        let setting = setting.trim();
        let (clear, flag) = match setting.strip_prefix('!') {
            Some(flag) => (true, flag.trim().to_ascii_uppercase()),
            None => (false, setting.to_ascii_uppercase()),
        };
        if !POD_FLAGS.contains(&flag.as_str()) {
            self.tell("I don't understand that flag.").await;
            return Ok(());
        }
        if flag == "BUILDER" && !self.is_wizard() {
            self.tell(NO_PERMISSION).await;
            return Ok(());
        }
        let mut flags: Vec<String> = object
            .flags
            .iter()
            .filter(|f| **f != flag)
            .cloned()
            .collect();
        if !clear {
            flags.push(flag);
        }
        self.engine
            .store
            .set_field(object.id, Field::Flags, &flags.join(" "))
            .await?;
        self.engine.changed(&[object.id]).await;
        self.tell(if clear { "Flag cleared." } else { "Flag set." })
            .await;
        Ok(())
    }

    async fn destroy(&self, rest: &str) -> Result<(), StoreError> {
        let Some(object) = self.controlled(rest.trim()).await? else {
            return Ok(());
        };
        let start = self.engine.settings.start_room;
        if object.kind == Kind::Player || object.id == start || object.id == Dbref(1) {
            self.tell("You can't destroy that.").await;
            return Ok(());
        }
        if object.kind == Kind::Room && !self.engine.contents(object.id).await?.is_empty() {
            self.tell("That room is not empty.").await;
            return Ok(());
        }
        self.engine.store.destroy_object(&object).await?;
        let mut changed = vec![object.id];
        changed.extend(object.location);
        self.engine.changed(&changed).await;
        self.tell(&format!("Destroyed {}.", object.name)).await;
        Ok(())
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

    // ---- matching --------------------------------------------------------------

    /// The object named, if the actor may change it; otherwise tells the actor why not.
    async fn controlled(&self, name: &str) -> Result<Option<Arc<Object>>, StoreError> {
        let Some(object) = self.match_near(name).await? else {
            self.tell(NOT_FOUND).await;
            return Ok(None);
        };
        if !self.controls(&object) {
            self.tell(NO_PERMISSION).await;
            return Ok(None);
        }
        Ok(Some(object))
    }

    /// `me`, `here`, `#n`, `*player`, or a name among what is here and what I carry.
    async fn match_near(&self, name: &str) -> Result<Option<Arc<Object>>, StoreError> {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "" => return Ok(None),
            "me" => return self.engine.object(self.me.id).await,
            "here" => return self.engine.object(self.here()).await,
            _ => {}
        }
        if let Some(id) = name.strip_prefix('#').and_then(|n| n.parse().ok()) {
            return self.engine.object(Dbref(id)).await;
        }
        if let Some(player) = name.strip_prefix('*') {
            return self.find_player(player).await;
        }
        let mut candidates = self.engine.contents(self.here()).await?;
        candidates.extend(self.engine.contents(self.me.id).await?);
        candidates.extend(self.engine.exits(self.here()).await?);
        Ok(best_match(candidates, &lower))
    }

    async fn match_in(
        &self,
        container: Dbref,
        name: &str,
    ) -> Result<Option<Arc<Object>>, StoreError> {
        if let Some(id) = name.strip_prefix('#').and_then(|n| n.parse().ok()) {
            let found = self.engine.object(Dbref(id)).await?;
            return Ok(found.filter(|o| o.location == Some(container)));
        }
        let contents = self.engine.contents(container).await?;
        Ok(best_match(contents, &name.to_ascii_lowercase()))
    }

    async fn match_room(&self, name: &str) -> Result<Option<Arc<Object>>, StoreError> {
        let found = match name.to_ascii_lowercase().as_str() {
            "here" => self.engine.object(self.here()).await?,
            "home" => {
                self.engine
                    .object(self.me.home.unwrap_or(self.engine.settings.start_room))
                    .await?
            }
            _ => match Dbref::parse(name) {
                Some(id) => self.engine.object(id).await?,
                None => None,
            },
        };
        Ok(found.filter(|o| o.kind == Kind::Room))
    }

    async fn find_player(&self, name: &str) -> Result<Option<Arc<Object>>, StoreError> {
        if name.eq_ignore_ascii_case("me") {
            return self.engine.object(self.me.id).await;
        }
        match self
            .engine
            .store
            .player_by_name(name.trim_start_matches('*'))
            .await?
        {
            Some(id) => self.engine.object(id).await,
            None => Ok(None),
        }
    }
}

async fn look_room(engine: &Arc<Engine>, handle: Handle, me: &Object) -> Result<(), StoreError> {
    let room_id = me.location.unwrap_or(engine.settings.start_room);
    let Some(room) = engine.object(room_id).await? else {
        engine.tell(handle, "You are nowhere.").await;
        return Ok(());
    };
    let text = room_text(engine, me, &room).await?;
    engine.tell(handle, &text).await;
    Ok(())
}

async fn room_text(engine: &Arc<Engine>, me: &Object, room: &Object) -> Result<String, StoreError> {
    let builder = me.has_flag("WIZARD") || room.owner == me.id;
    let mut out = if builder {
        format!("{}({}{})", room.name, room.id, type_letter(room))
    } else {
        room.name.clone()
    };
    if !room.description.is_empty() {
        let shown = crate::softcode::description(engine, me.id, room).await?;
        if !shown.is_empty() {
            out.push('\n');
            out.push_str(&shown);
        }
    }
    let contents: Vec<Arc<Object>> = engine
        .contents(room.id)
        .await?
        .into_iter()
        .filter(|o| o.id != me.id && !o.has_flag("DARK"))
        .collect();
    if !contents.is_empty() {
        out.push_str("\nContents:");
        for object in &contents {
            out.push('\n');
            out.push_str(&object.name);
        }
    }
    let exits: Vec<Arc<Object>> = engine
        .exits(room.id)
        .await?
        .into_iter()
        .filter(|o| !o.has_flag("DARK"))
        .collect();
    if !exits.is_empty() {
        let names: Vec<&str> = exits.iter().map(|e| exit_display_name(e)).collect();
        out.push_str("\nObvious exits:\n");
        out.push_str(&names.join("  "));
    }
    Ok(out)
}

/// Flags `@set` knows.
/// Flags that only the pod's own `@set` sets: BUILDER (who may build here; TinyMUX has it
/// as a power) and HALTED. Every other flag is TinyMUX's, set by the softcode layer.
const POD_FLAGS: &[&str] = &["BUILDER", "HALTED"];

fn type_letter(object: &Object) -> &'static str {
    match object.kind {
        Kind::Room => "R",
        Kind::Player => "P",
        Kind::Exit => "E",
        Kind::Thing => "",
    }
}

fn exit_display_name(exit: &Object) -> &str {
    exit.name.split(';').next().unwrap_or(&exit.name)
}

fn exit_matches(exit: &Object, typed: &str) -> bool {
    exit.name
        .split(';')
        .any(|alias| alias.trim().eq_ignore_ascii_case(typed.trim()))
}

/// Exact name (or exit alias) first, then a unique prefix.
fn best_match(candidates: Vec<Arc<Object>>, lower: &str) -> Option<Arc<Object>> {
    let exact = candidates.iter().find(|o| {
        o.name.eq_ignore_ascii_case(lower) || (o.kind == Kind::Exit && exit_matches(o, lower))
    });
    if let Some(found) = exact {
        return Some(found.clone());
    }
    let mut prefixed = candidates
        .into_iter()
        .filter(|o| o.name.to_ascii_lowercase().starts_with(lower));
    let first = prefixed.next()?;
    prefixed.next().is_none().then_some(first)
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

fn valid_object_name(name: &str) -> Result<(), &'static str> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name
            .chars()
            .any(|c| c.is_control() || matches!(c, '=' | '#' | '&'))
        && !name.starts_with(['*', '!']);
    if ok {
        Ok(())
    } else {
        Err("That's not a good name for an object.")
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
        assert!(valid_object_name("a red box").is_ok());
        assert!(valid_object_name("x=y").is_err());
    }

    #[test]
    fn idle_and_on_for_read_like_tinymux() {
        assert_eq!(format_idle(5), "5s");
        assert_eq!(format_idle(125), "2m");
        assert_eq!(format_on_for(3_725), "01:02");
        assert_eq!(format_on_for(90_000), "1d 01:00");
    }
}
