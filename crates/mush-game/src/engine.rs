//! The pod's engine: its sessions, its cached view of the world, and where output goes.
//!
//! Each session has one worker task that runs its commands in order; sessions run in
//! parallel. Output for any recipient goes to the recipient's gateway (every gateway is
//! attached to every pod), so a `say` reaches players served by other pods without a hop.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use mush_proto::{ConnState, GatewayId, Handle, PodId};
use mush_rpc::v1::{
    Ack, Addressed, Broadcast, Delivery, Disconnect, Journalled, Output, PodEvent, SessionMoved,
    SessionState, pod_event,
};
use mush_store::{Dbref, Kind, MoveOutcome, Object, Store, StoreError};
use tokio::sync::mpsc;

use crate::cache::{Cache, Invalidator, List};
use crate::metrics::GameMetrics;
use crate::password::PasswordHasher;

/// Events waiting for one gateway; the stream task turns them into batches.
pub type GatewayTx = mpsc::Sender<PodEvent>;

/// A gateway's stream, and whether the gateway reads [`Broadcast`] events.
struct Attached {
    tx: GatewayTx,
    broadcast: bool,
}

/// Capacity of a gateway's event queue. A gateway that stops reading for this many events
/// loses output (logged and counted) rather than growing the pod's memory.
pub const GATEWAY_QUEUE: usize = 65_536;

/// How long a session worker keeps trying to journal a command (or read a journalled
/// reply) while Redis does not answer, before it answers without it (logged and counted).
/// Longer than a Redis Cluster failover.
const JOURNAL_PATIENCE: Duration = Duration::from_secs(30);

/// What the player is told, once per command, while its journal write waits for Redis.
const JOURNAL_DELAY: &str = "The world is unavailable right now (storage is not answering); your command will finish when it is back.";

/// What the command a session worker is running produced, held back until it is
/// journalled: nothing it did is seen by anyone before it is durable, so a command re-sent
/// after this pod dies is answered from the journal or, if it never got there, runs again
/// as if for the first time.
#[derive(Default)]
struct Held {
    events: Vec<(GatewayId, pod_event::Kind)>,
    /// The command changed the world (a cache invalidation went out): running it twice
    /// would show, so it must be journalled.
    changed_world: bool,
}

tokio::task_local! {
    static OUTBOX: RefCell<Held>;
}

/// What a session worker is told.
pub(crate) enum Work {
    Input {
        seq: u64,
        line: String,
        /// The gateway has seen every command up to this one acknowledged.
        acked: u64,
    },
    Close {
        reason: String,
    },
    /// Drain: after the command in progress, move the session to `to` and stop.
    Handoff {
        to: PodId,
    },
}

/// The pod-local state of one session, rebuilt from Redis when a session moves here.
pub(crate) struct Session {
    pub handle: Handle,
    /// The newest command run for this session (here or, journalled, by an earlier pod); a
    /// repeat is answered from the journal, not run again.
    pub last_seq: u64,
    /// Replies of effect-free commands not journalled yet whose acknowledgement the
    /// gateway has not confirmed: they go into the journal with the next command that has
    /// an effect, so that every command up to the journal's mark has its reply there.
    pub unjournalled: Vec<(u64, String)>,
    pub gateway: GatewayId,
    pub player: Option<Dbref>,
    pub output_prefix: String,
    pub output_suffix: String,
    pub last_command: Instant,
    /// What the command being run queued to run now and what it matched as
    /// `$`-commands, with the command's mark and what it wrote: run once the command is
    /// done (after its OUTPUTSUFFIX, as TinyMUX runs them from its queue after the
    /// command), before it is acknowledged (`crate::queue::run_now`).
    pub deferred: Option<crate::queue::Deferred>,
}

/// Settings of the game that players see.
#[derive(Clone, Debug)]
pub struct GameSettings {
    /// Shown on connect.
    pub welcome: String,
    /// Flags a player created at the connect screen starts with.
    pub new_player_flags: Vec<String>,
    /// Where new players start and `home` defaults to.
    pub start_room: Dbref,
    /// The master room: its contents' `$`-commands serve everyone, and it keeps the
    /// game's `@function` definitions. Used only while it is a room.
    pub master_room: Dbref,
    /// `@pemit` reaches players anywhere (TinyMUX's `pemit_far_players`).
    pub pemit_far_players: bool,
    /// `@pemit` and `@remit` reach any object anywhere (TinyMUX's `pemit_any_object`).
    pub pemit_any_object: bool,
    /// Failed `connect`s (per address, and per player) answered at once; each one after
    /// that waits twice as long as the one before, from 1 s up to 30 s.
    pub login_free_failures: u64,
    /// Players one address may create per hour.
    pub creates_per_address_hour: u64,
}

/// Everything a pod's sessions share.
pub struct Engine {
    pub(crate) pod_id: PodId,
    pub(crate) store: Store,
    pub(crate) cache: Arc<Cache>,
    pub(crate) invalidator: Invalidator,
    pub(crate) passwords: PasswordHasher,
    pub(crate) settings: GameSettings,
    pub(crate) metrics: GameMetrics,
    gateways: RwLock<HashMap<GatewayId, Attached>>,
    /// Output for gateways with no stream here yet (this pod just started and the gateway
    /// has not dialled it) or for the moment (its stream broke and it is re-attaching):
    /// sent when the stream comes, so queued work a new pod runs at once reaches players.
    waiting: Mutex<HashMap<GatewayId, Waiting>>,
    /// Parcels sent and waiting for their gateways' confirmation (see
    /// [`mush_store::Parcel`]): by id, when sent and the gateways still to confirm.
    unconfirmed: Mutex<HashMap<String, Unconfirmed>>,
    /// Parcels every gateway confirmed, to remove from the outbox.
    pub(crate) confirmed: Mutex<Vec<String>>,
    handle_gateways: Mutex<HashMap<Handle, GatewayId>>,
    /// Session workers by handle, with a generation so an ending worker never removes the
    /// entry of a newer worker for the same handle (a session opened here again).
    sessions: Mutex<HashMap<Handle, (u64, mpsc::UnboundedSender<Work>)>>,
    generation: std::sync::atomic::AtomicU64,
    who: tokio::sync::Mutex<Option<(Instant, Arc<Vec<crate::commands::WhoRow>>)>>,
    /// Turns true when the pod ends its gateway streams (after a drain), so the gRPC
    /// server's graceful shutdown is not held open by streams that never end by themselves.
    streams_closed: tokio::sync::watch::Sender<bool>,
    /// Wakes this pod's queue worker when a command here queued work due at once, so a
    /// `$`-command runs without waiting for the worker's next look at the queue.
    pub(crate) queue_wake: tokio::sync::Notify,
    /// Bounds the departures (a player leaving the world: Redis writes, `@adisconnect`,
    /// the room's announcement) run at once, so a storm of closed sockets is worked
    /// through at a steady pace instead of all at once until Redis calls time out.
    pub(crate) departures: tokio::sync::Semaphore,
    /// Departures that failed for good since the last report, and when that was: a
    /// storm's failures are logged once with their count, not once per player.
    pub(crate) departure_failures: Mutex<(u64, Option<Instant>)>,
}

/// Departures run at once on one pod.
const DEPARTURES_AT_ONCE: usize = 16;

/// A parcel sent and not yet confirmed: when, and the (gateway, part id) still to confirm.
type Unconfirmed = (Instant, Vec<(GatewayId, String)>);

/// Output held for one gateway without a stream here.
struct Waiting {
    since: Instant,
    events: std::collections::VecDeque<PodEvent>,
}

/// How long output waits for its gateway's stream: a gateway dials a new pod within a
/// second or two, and re-attaches within its grace period or is gone with its sockets.
const HOLD_FOR: std::time::Duration = std::time::Duration::from_secs(10);

impl Waiting {
    /// Keeps `event`; returns how many events were dropped to do so (all of them once
    /// the gateway stayed away too long, or the oldest when the queue is full).
    fn hold(&mut self, event: PodEvent) -> usize {
        let mut dropped = 0;
        if self.since.elapsed() > HOLD_FOR {
            dropped = self.events.len();
            self.events.clear();
            self.since = Instant::now();
        }
        if self.events.len() >= GATEWAY_QUEUE {
            self.events.pop_front();
            dropped += 1;
        }
        self.events.push_back(event);
        dropped
    }
}

/// How long one WHO listing is shared between viewers.
const WHO_SHARED_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// What [`Engine::audit_cache`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheAudit {
    /// Objects checked.
    pub objects: usize,
    /// Of those, cached differently from Redis.
    pub objects_differ: usize,
    /// Lists (contents, exits, connections) checked.
    pub lists: usize,
    /// Of those, cached differently from Redis.
    pub lists_differ: usize,
    /// The objects concerned.
    pub differing: Vec<u64>,
}

impl CacheAudit {
    /// One line of JSON, for `/debug/cache`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "objects": self.objects,
            "objects_differ": self.objects_differ,
            "lists": self.lists,
            "lists_differ": self.lists_differ,
            "differing": self.differing,
        })
        .to_string()
    }
}

impl Engine {
    /// Builds the engine; sessions arrive through [`crate::GameService`].
    pub fn new(
        pod_id: PodId,
        store: Store,
        cache: Arc<Cache>,
        invalidator: Invalidator,
        passwords: PasswordHasher,
        settings: GameSettings,
        metrics: GameMetrics,
    ) -> Arc<Self> {
        Arc::new(Self {
            pod_id,
            store,
            cache,
            invalidator,
            passwords,
            settings,
            metrics,
            gateways: RwLock::new(HashMap::new()),
            waiting: Mutex::new(HashMap::new()),
            unconfirmed: Mutex::new(HashMap::new()),
            confirmed: Mutex::new(Vec::new()),
            handle_gateways: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
            who: tokio::sync::Mutex::new(None),
            streams_closed: tokio::sync::watch::Sender::new(false),
            queue_wake: tokio::sync::Notify::new(),
            departures: tokio::sync::Semaphore::new(DEPARTURES_AT_ONCE),
            departure_failures: Mutex::new((0, None)),
        })
    }

    /// True while cache invalidations flow (readiness).
    pub fn nats_connected(&self) -> bool {
        self.invalidator.is_connected()
    }

    /// The WHO listing, read at most once a second per pod; concurrent viewers wait for
    /// the one read in progress instead of starting their own.
    pub(crate) async fn who_rows(&self) -> Result<Arc<Vec<crate::commands::WhoRow>>, StoreError> {
        let mut cached = self.who.lock().await;
        if let Some((at, rows)) = cached.as_ref()
            && at.elapsed() < WHO_SHARED_FOR
        {
            return Ok(rows.clone());
        }
        let rows = Arc::new(crate::commands::who_rows(self).await?);
        *cached = Some((Instant::now(), rows.clone()));
        Ok(rows)
    }

    /// Sessions served here.
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Makes `tx` the stream to `gateway`, after sending it what was held for the gateway
    /// (under the write lock, so nothing sent meanwhile can overtake or be left behind).
    pub(crate) fn attach_gateway(&self, gateway: GatewayId, tx: GatewayTx, broadcast: bool) {
        let mut gateways = self.gateways.write().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = lock(&self.waiting).remove(&gateway)
            && held.since.elapsed() <= HOLD_FOR
        {
            let count = held.events.len();
            for event in held.events {
                if tx.try_send(event).is_err() {
                    self.metrics.output_dropped.inc();
                }
            }
            tracing::info!(%gateway, count, "sent output held for the gateway");
        }
        gateways.insert(gateway, Attached { tx, broadcast });
    }

    pub(crate) fn detach_gateway(&self, gateway: &GatewayId, tx: &GatewayTx) {
        let mut gateways = self.gateways.write().unwrap_or_else(|p| p.into_inner());
        if gateways
            .get(gateway)
            .is_some_and(|current| current.tx.same_channel(tx))
        {
            gateways.remove(gateway);
        }
    }

    /// Runs `f`, holding back what it sends to gateways; returns its result and those
    /// events, in order, for the caller to send as a parcel.
    pub(crate) async fn collect<T>(
        &self,
        f: impl std::future::Future<Output = T>,
    ) -> (T, Vec<(GatewayId, pod_event::Kind)>) {
        OUTBOX
            .scope(RefCell::new(Held::default()), async {
                let value = f.await;
                (value, OUTBOX.with(RefCell::take).events)
            })
            .await
    }

    /// Sends `events` as deliveries under `id`, one per gateway (its events in order).
    /// A gateway passes on an id once, so the same parcel may be sent again safely. With
    /// `confirm`, the gateways confirm it and, once all have, its id joins
    /// [`Engine::confirmed`] (at once if nobody is to receive anything).
    pub(crate) fn send_parcel(
        &self,
        id: &str,
        events: Vec<(GatewayId, pod_event::Kind)>,
        confirm: bool,
    ) {
        let mut by_gateway: Vec<(GatewayId, bool, Vec<PodEvent>)> = Vec::new();
        for (gateway, kind) in events {
            let at = match by_gateway.iter().position(|(g, _, _)| *g == gateway) {
                Some(at) => at,
                None => {
                    let broadcast = self.reads_broadcasts(&gateway);
                    by_gateway.push((gateway, broadcast, Vec::new()));
                    by_gateway.len() - 1
                }
            };
            let (_, broadcast, events) = &mut by_gateway[at];
            events.extend(mush_rpc::split::outgoing(kind, *broadcast));
        }
        // A delivery larger than a batch (a long line to a crowded room) goes in parts,
        // each with its own id (`<id>`, then `<id>/1`, `<id>/2`...) and confirmation.
        let mut parts: Vec<(GatewayId, String, Vec<PodEvent>)> = Vec::new();
        for (gateway, _, events) in by_gateway {
            let groups = mush_rpc::split::by_bytes(events, mush_rpc::split::BATCH_BYTES / 2);
            for (n, group) in groups.into_iter().enumerate() {
                let part = if n == 0 {
                    id.to_owned()
                } else {
                    format!("{id}/{n}")
                };
                parts.push((gateway.clone(), part, group));
            }
        }
        if confirm {
            if parts.is_empty() {
                lock(&self.confirmed).push(id.to_owned());
            } else {
                let waiting_for = parts
                    .iter()
                    .map(|(g, p, _)| (g.clone(), p.clone()))
                    .collect();
                lock(&self.unconfirmed).insert(id.to_owned(), (Instant::now(), waiting_for));
            }
        }
        for (gateway, part, events) in parts {
            self.to_gateway(
                &gateway,
                pod_event::Kind::Delivery(Delivery {
                    id: part,
                    confirm,
                    events,
                }),
            );
        }
    }

    /// A gateway confirmed these parcels (or parts of them).
    pub(crate) fn delivered(&self, gateway: &GatewayId, ids: Vec<String>) {
        let mut unconfirmed = lock(&self.unconfirmed);
        for part in ids {
            // A part after the first is `<parcel>/<n>`.
            let parcel = if unconfirmed.contains_key(&part) {
                part.clone()
            } else {
                match part.rsplit_once('/') {
                    Some((parcel, _)) => parcel.to_owned(),
                    None => continue,
                }
            };
            if let Some((_, waiting_for)) = unconfirmed.get_mut(&parcel) {
                waiting_for.retain(|(g, p)| !(g == gateway && *p == part));
                if waiting_for.is_empty() {
                    unconfirmed.remove(&parcel);
                    lock(&self.confirmed).push(parcel);
                }
            }
        }
    }

    /// Forgets parcels unconfirmed for longer than `age` (their gateway is gone; the
    /// outbox delivers them again or drops them); returns how many.
    pub(crate) fn forget_unconfirmed(&self, age: Duration) -> usize {
        let mut unconfirmed = lock(&self.unconfirmed);
        let before = unconfirmed.len();
        unconfirmed.retain(|_, (sent, _)| sent.elapsed() < age);
        before - unconfirmed.len()
    }

    /// True if this gateway's stream is attached and said it reads [`Broadcast`] events.
    /// Output for a gateway not attached now is held as plain output: whichever version
    /// attaches can read it.
    fn reads_broadcasts(&self, gateway: &GatewayId) -> bool {
        self.gateways
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(gateway)
            .is_some_and(|a| a.broadcast)
    }

    /// True while a stream from this gateway is attached.
    pub(crate) fn has_gateway(&self, gateway: &GatewayId) -> bool {
        self.gateways
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(gateway)
    }

    /// Closes every session of a gateway that is gone for good (its sockets died with it):
    /// the players leave the world with the usual announcement.
    pub(crate) fn close_sessions_of(&self, gateway: &GatewayId) -> usize {
        lock(&self.waiting).remove(gateway);
        let handles: Vec<Handle> = lock(&self.handle_gateways)
            .iter()
            .filter(|(_, g)| *g == gateway)
            .map(|(h, _)| *h)
            .collect();
        let sessions = lock(&self.sessions);
        let mut closed = 0;
        for handle in handles {
            if let Some((_, tx)) = sessions.get(&handle)
                && tx
                    .send(Work::Close {
                        reason: "gateway gone".into(),
                    })
                    .is_ok()
            {
                closed += 1;
            }
        }
        closed
    }

    /// Starts serving a session on this pod (new, or moved here: then rebuilt from Redis by
    /// its worker). Returns at once: a pod taking over a thousand sessions from a drained
    /// one rebuilds them all in parallel, and inputs that arrive meanwhile wait, in order,
    /// in the worker's queue.
    pub(crate) fn open(
        self: &Arc<Self>,
        gateway: GatewayId,
        handle: Handle,
        resume: bool,
        next_seq: u64,
    ) {
        {
            let mut gateways = lock(&self.handle_gateways);
            if let Some(owner) = gateways.get(&handle)
                && *owner != gateway
            {
                // Replacing the worker would end the session of the gateway that holds it.
                drop(gateways);
                self.refuse_open(&gateway, handle, "another gateway's session runs here");
                return;
            }
            gateways.insert(handle, gateway.clone());
        }
        let session = Session {
            handle,
            last_seq: next_seq.saturating_sub(1),
            unjournalled: Vec::new(),
            gateway,
            player: None,
            output_prefix: String::new(),
            output_suffix: String::new(),
            last_command: Instant::now(),
            deferred: None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        // A worker already here for this handle loses its sender and ends; it will not
        // touch this entry (different generation).
        lock(&self.sessions).insert(handle, (generation, tx));
        self.metrics
            .sessions
            .set(i64::try_from(self.session_count()).unwrap_or(i64::MAX));
        let engine = self.clone();
        tokio::spawn(async move { engine.run_session(session, rx, resume, generation).await });
    }

    /// Checks that the gateway that opened the session is the one Redis gives the
    /// connection to, then rebuilds a resumed session or greets a new one. False if the open
    /// was refused: a peer that can reach the gRPC port must not take over, or end, a
    /// session by naming its handle. A record that cannot be read (Redis failing over)
    /// refuses nothing; the gateway's certificate is the first line of defence.
    async fn admit(&self, session: &mut Session, resume: bool) -> bool {
        let handle = session.handle;
        let (journalled, record) = if resume {
            tokio::join!(self.journalled_upto(handle), self.store.get(handle))
        } else {
            (0, self.store.get(handle).await)
        };
        if let Ok(Some(record)) = &record
            && record.gateway != session.gateway
        {
            let reason = format!("the connection is gateway {}'s", record.gateway);
            self.refuse_open(&session.gateway, handle, &reason);
            return false;
        }
        if resume {
            rebuild(session, journalled, record);
            self.report_state(session);
        } else {
            let welcome = self.settings.welcome.clone();
            self.tell(handle, &welcome).await;
        }
        true
    }

    fn refuse_open(&self, gateway: &GatewayId, handle: Handle, reason: &str) {
        self.metrics.opens_refused.inc();
        tracing::warn!(%gateway, %handle, reason, "session open refused");
    }

    pub(crate) fn input(&self, handle: Handle, seq: u64, line: String, acked: u64) {
        let sent = lock(&self.sessions)
            .get(&handle)
            .map(|(_, tx)| tx.send(Work::Input { seq, line, acked }).is_ok());
        if sent != Some(true) {
            tracing::warn!(%handle, seq, "input for a session this pod does not serve");
            self.metrics.orphan_inputs.inc();
        }
    }

    pub(crate) fn close(&self, handle: Handle, reason: String) {
        if let Some((_, tx)) = lock(&self.sessions).get(&handle) {
            let _ = tx.send(Work::Close { reason });
        }
    }

    async fn run_session(
        self: Arc<Self>,
        mut session: Session,
        mut rx: mpsc::UnboundedReceiver<Work>,
        resume: bool,
        generation: u64,
    ) {
        let admitted = self.admit(&mut session, resume).await;
        while admitted && let Some(work) = rx.recv().await {
            match work {
                Work::Input { seq, line, acked } => {
                    if seq <= session.last_seq {
                        tracing::debug!(handle = %session.handle, seq, "repeated input answered from the journal, not run");
                        self.answer_again(&session, seq).await;
                        continue;
                    }
                    session.last_seq = seq;
                    session.unjournalled.retain(|(s, _)| *s > acked);
                    let started = Instant::now();
                    let was = session.player;
                    let (keep, mut held) = OUTBOX
                        .scope(RefCell::new(Held::default()), async {
                            let keep = self.run_command(&mut session, &line).await;
                            (keep, OUTBOX.with(RefCell::take))
                        })
                        .await;
                    held.changed_world |= session.player != was;
                    let reply = self.release(&mut session, seq, acked, held).await;
                    if session.player.is_some() != was.is_some() {
                        self.report_state(&session);
                    }
                    self.metrics.observe_command(started.elapsed());
                    tracing::trace!(handle = %session.handle, seq, reply_bytes = reply, "command done");
                    if !keep {
                        break;
                    }
                }
                Work::Close { reason } => {
                    tracing::debug!(handle = %session.handle, reason, "session closed by gateway");
                    crate::commands::disconnected(&self, &mut session, &reason).await;
                    break;
                }
                Work::Handoff { to } => {
                    if self.hand_off(&session, &to).await {
                        break;
                    }
                }
            }
        }
        {
            let mut sessions = lock(&self.sessions);
            if sessions
                .get(&session.handle)
                .is_some_and(|(g, _)| *g == generation)
            {
                sessions.remove(&session.handle);
                lock(&self.handle_gateways).remove(&session.handle);
            }
        }
        self.metrics
            .sessions
            .set(i64::try_from(self.session_count()).unwrap_or(i64::MAX));
    }

    /// Runs one command with the player's OUTPUTPREFIX/OUTPUTSUFFIX around its output.
    async fn run_command(self: &Arc<Self>, session: &mut Session, line: &str) -> bool {
        let wrap = session.player.is_some();
        if wrap && !session.output_prefix.is_empty() {
            self.tell(session.handle, &session.output_prefix).await;
        }
        let keep = crate::commands::run(self, session, line).await;
        if wrap && keep && !session.output_suffix.is_empty() {
            self.tell(session.handle, &session.output_suffix).await;
        }
        if let Some(deferred) = session.deferred.take()
            && let Err(error) = crate::queue::run_now(self, deferred).await
        {
            tracing::warn!(handle = %session.handle, %error, "queued work of a command failed");
            self.tell(session.handle, crate::commands::WORLD_DOWN).await;
        }
        keep
    }

    /// Journals command `seq` with its reply (the player's own output) if it had any effect
    /// beyond that reply, then lets its held events go: other recipients' output first,
    /// then the acknowledgement carrying the reply, then the player's own non-text events
    /// (a disconnect comes after the text). A command whose only effect is its reply
    /// (`look`, `think`, `WHO`) costs no Redis write: if this pod dies before the reply
    /// leaves, running it again is indistinguishable from running it once. Returns the
    /// reply's size.
    async fn release(&self, session: &mut Session, seq: u64, acked: u64, held: Held) -> usize {
        let own = session.handle.0;
        let mut reply = String::new();
        let mut own_events = Vec::new();
        let mut others = Vec::new();
        // A delivery made inside the command is opened here: the command's own journal
        // and id make its output to others exactly once, and its output to the player
        // belongs to the reply.
        let mut events = Vec::with_capacity(held.events.len());
        for (gateway, event) in held.events {
            match event {
                pod_event::Kind::Delivery(delivery) => events.extend(
                    delivery
                        .events
                        .into_iter()
                        .filter_map(|e| e.kind)
                        .map(|kind| (gateway.clone(), kind)),
                ),
                event => events.push((gateway, event)),
            }
        }
        for (gateway, event) in events {
            match event {
                pod_event::Kind::Output(output) if output.handle == own && !output.prompt => {
                    if !reply.is_empty() {
                        reply.push('\n');
                    }
                    reply.push_str(&output.text);
                }
                // A line to the room the player is in: the player's copy is the reply's.
                pod_event::Kind::Broadcast(mut broadcast) if broadcast.handles.contains(&own) => {
                    if !reply.is_empty() {
                        reply.push('\n');
                    }
                    reply.push_str(&broadcast.text);
                    broadcast.handles.retain(|&h| h != own);
                    if !broadcast.handles.is_empty() {
                        others.push((gateway, pod_event::Kind::Broadcast(broadcast)));
                    }
                }
                event if event_handle(&event) == Some(own) => own_events.push(event),
                event => others.push((gateway, event)),
            }
        }
        if held.changed_world || !others.is_empty() {
            let mut replies: Vec<(u64, &str)> = session
                .unjournalled
                .iter()
                .map(|(s, r)| (*s, r.as_str()))
                .collect();
            replies.push((seq, &reply));
            self.journal(session, seq, &replies, &encode_others(&others), acked)
                .await;
            session.unjournalled.clear();
        } else {
            self.metrics.unjournalled.inc();
            session.unjournalled.push((seq, reply.clone()));
        }
        self.send_parcel(&command_id(session.handle, seq), others, false);
        let size = reply.len();
        self.ack(session, seq, reply);
        for event in own_events {
            self.to_gateway(&session.gateway, event);
        }
        size
    }

    /// Writes the command to the journal, waiting out a Redis failover (the player is told
    /// once). After [`JOURNAL_PATIENCE`] it gives up, logged and counted: the command is
    /// answered anyway, and would run again only if this pod died before the answer left.
    async fn journal(
        &self,
        session: &Session,
        seq: u64,
        replies: &[(u64, &str)],
        others: &[u8],
        acked: u64,
    ) {
        let handle = session.handle;
        let mut told = false;
        let written = self
            .patiently(
                || async {
                    match self
                        .store
                        .commit_commands(handle, seq, replies, others, acked)
                        .await
                    {
                        // A closed connection needs no journal.
                        Err(StoreError::NotFound(_)) => Ok(()),
                        other => other,
                    }
                },
                || {
                    if !std::mem::replace(&mut told, true) {
                        self.to_gateway(&session.gateway, output_event(handle, JOURNAL_DELAY));
                    }
                },
            )
            .await;
        if let Err(error) = written {
            tracing::error!(%handle, seq, %error, "command not journalled; answering without it");
        }
    }

    /// Answers a command that already ran (on this pod or a dead one) with its journalled
    /// reply. A reply already forgotten was acknowledged before: a bare ack is enough.
    async fn answer_again(&self, session: &Session, seq: u64) {
        let handle = session.handle;
        self.metrics.journal_answers.inc();
        let reply = self
            .patiently(|| self.store.committed_reply(handle, seq), || {})
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%handle, seq, %error, "journalled reply unreadable; acknowledging without it");
                None
            });
        // Its output to others goes again too, under the same id: a gateway that passed
        // it on before drops the copy, and one that never got it (this command's pod died
        // between its journal and its output) passes it on now.
        let others = self
            .patiently(|| self.store.committed_others(handle, seq), || {})
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%handle, seq, %error, "journalled output unreadable; not sent again");
                Vec::new()
            });
        if !others.is_empty() {
            self.send_parcel(&command_id(handle, seq), decode_others(&others), false);
        }
        self.ack(session, seq, reply.unwrap_or_default());
    }

    /// The newest journalled command of a session moved here: never run those again.
    async fn journalled_upto(&self, handle: Handle) -> u64 {
        self.patiently(|| self.store.last_committed(handle), || {})
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%handle, %error, "journal unreadable; trusting the gateway's sequence");
                0
            })
    }

    /// Retries a journal call with backoff (50 ms doubling to 1 s) for up to
    /// [`JOURNAL_PATIENCE`]; every failure is logged, counted and reported to `on_failure`.
    async fn patiently<T, F>(
        &self,
        mut call: impl FnMut() -> F,
        mut on_failure: impl FnMut(),
    ) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        let give_up = Instant::now() + JOURNAL_PATIENCE;
        let mut wait = Duration::from_millis(50);
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(error) => {
                    self.metrics.journal_failures.inc();
                    if Instant::now() >= give_up {
                        return Err(error);
                    }
                    tracing::warn!(%error, "journal call failed; retrying");
                    on_failure();
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Moves the session to `to` (compare-and-set from this pod) and tells its gateway,
    /// which re-sends there whatever this pod has not acknowledged. Every command this
    /// worker ran was acknowledged before, on the same ordered stream, so nothing runs
    /// twice. Returns true when the session no longer belongs here.
    async fn hand_off(&self, session: &Session, to: &PodId) -> bool {
        let owner = match self
            .store
            .move_handle(session.handle, &self.pod_id, to)
            .await
        {
            Ok(MoveOutcome::Moved) => to.clone(),
            Ok(MoveOutcome::NotOnSource {
                current: Some(current),
            }) => current,
            Ok(MoveOutcome::NotOnSource { current: None }) | Ok(MoveOutcome::Missing) => {
                return true;
            }
            Err(error) => {
                tracing::warn!(handle = %session.handle, %error, "handoff failed; will retry");
                return false;
            }
        };
        self.to_gateway(
            &session.gateway,
            pod_event::Kind::Moved(SessionMoved {
                handle: session.handle.0,
                pod: owner.to_string(),
            }),
        );
        true
    }

    /// The session workers here now, for drain and rebalance to send handoffs to.
    fn workers(&self) -> Vec<(Handle, mpsc::UnboundedSender<Work>)> {
        lock(&self.sessions)
            .iter()
            .map(|(h, (_, tx))| (*h, tx.clone()))
            .collect()
    }

    /// Drains the pod: every session is handed to a live, non-draining pod after its
    /// current command. Returns how many sessions were still here at the deadline.
    pub async fn drain(&self, deadline: Instant) -> usize {
        loop {
            let handles = self.workers();
            if handles.is_empty() || Instant::now() >= deadline {
                return handles.len();
            }
            let mut targets: Vec<(u64, PodId)> = match self.store.live_pods().await {
                Ok(pods) => pods
                    .into_iter()
                    .filter(|p| p.info.id != self.pod_id && !p.info.draining)
                    .map(|p| (p.sessions, p.info.id))
                    .collect(),
                Err(error) => {
                    tracing::warn!(%error, "drain: cannot read the pod list");
                    Vec::new()
                }
            };
            if targets.is_empty() {
                tracing::warn!(
                    sessions = handles.len(),
                    "drain: no other pod to take the sessions yet"
                );
            } else {
                for (handle, tx) in &handles {
                    // Fewest sessions first, counting what this drain already sent.
                    targets.sort();
                    let (count, pod) = &mut targets[0];
                    *count += 1;
                    if tx.send(Work::Handoff { to: pod.clone() }).is_err() {
                        tracing::debug!(%handle, "session ended during drain");
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// This pod's part of a rebalance: hands its sessions above the shard's mean to the
    /// emptiest live pods (see [`crate::rebalance`]). Returns how many it sent away.
    pub(crate) async fn rebalance(&self) -> usize {
        let pods = match self.store.live_pods().await {
            Ok(pods) => pods,
            Err(error) => {
                tracing::warn!(%error, "rebalance: cannot read the pod list; skipped");
                return 0;
            }
        };
        let handles = self.workers();
        let plan = crate::rebalance::plan(&self.pod_id, &pods);
        let mut sent = 0;
        for ((handle, tx), to) in handles.into_iter().zip(plan.moves) {
            if tx.send(Work::Handoff { to }).is_ok() {
                sent += 1;
            } else {
                tracing::debug!(%handle, "session ended before its rebalance");
            }
        }
        self.metrics.rebalanced.inc_by(sent as u64);
        tracing::info!(sent, target = plan.target, "rebalance: surplus handed over");
        sent
    }

    /// Asks every pod of the shard, this one included, to rebalance. Without NATS only
    /// this pod can act; returns false then.
    pub(crate) async fn request_rebalance(&self) -> bool {
        let published = match self.invalidator.client() {
            Some(client) => crate::rebalance::request(client, self.store.keys().prefix()).await,
            None => false,
        };
        if !published {
            self.rebalance().await;
        }
        published
    }

    /// Ends every gateway stream (their queued events are sent first).
    pub fn close_streams(&self) {
        self.streams_closed.send_replace(true);
    }

    pub(crate) fn streams_closed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.streams_closed.subscribe()
    }

    fn ack(&self, session: &Session, seq: u64, text: String) {
        self.to_gateway(
            &session.gateway,
            pod_event::Kind::Ack(Ack {
                handle: session.handle.0,
                seq,
                text,
            }),
        );
    }

    /// Sends `text` (a line, or several) to one connection.
    pub(crate) async fn tell(&self, handle: Handle, text: &str) {
        self.send_output(handle, text).await;
    }

    /// Tells the gateway whether the session is logged in.
    pub(crate) fn report_state(&self, session: &Session) {
        self.to_gateway(
            &session.gateway,
            pod_event::Kind::State(SessionState {
                handle: session.handle.0,
                logged_in: session.player.is_some(),
            }),
        );
    }

    /// Sends text, then asks the gateway to close the connection.
    pub(crate) async fn disconnect(&self, session: &Session, text: &str) {
        self.close_connection(&session.gateway, session.handle, text);
    }

    /// Asks `gateway` to send `text` on a connection and close it.
    fn close_connection(&self, gateway: &GatewayId, handle: Handle, text: &str) {
        self.to_gateway(
            gateway,
            pod_event::Kind::Disconnect(Disconnect {
                handle: handle.0,
                text: text.to_owned(),
            }),
        );
    }

    /// Closes every connection of a player, wherever it is served (`@boot`): its gateway
    /// sends `text` and closes the socket; the pod serving it then sees the session end.
    /// The disconnects leave with the command's other output, when it finishes.
    pub(crate) async fn boot(&self, player: Dbref, text: &str) -> Result<(), StoreError> {
        for handle in self.handles_of(player).await? {
            if let Some(gateway) = self.gateway_of(handle).await {
                self.close_connection(&gateway, handle, text);
            }
        }
        // WHO and `conn()` read a listing shared for a second; the booter's next look at
        // it must be read afresh.
        *self.who.lock().await = None;
        Ok(())
    }

    async fn send_output(&self, handle: Handle, text: &str) {
        let Some(gateway) = self.gateway_of(handle).await else {
            tracing::debug!(%handle, "output for a connection that no longer exists");
            return;
        };
        self.to_gateway(&gateway, output_event(handle, text));
    }

    /// The gateway holding a connection: fixed for the connection's life, so cached until
    /// it closes here (or forever for remote ones, bounded by a crude size cap).
    async fn gateway_of(&self, handle: Handle) -> Option<GatewayId> {
        if let Some(gateway) = lock(&self.handle_gateways).get(&handle) {
            return Some(gateway.clone());
        }
        let record = self.store.get(handle).await.ok().flatten()?;
        let mut map = lock(&self.handle_gateways);
        if map.len() > 1_000_000 {
            map.clear();
        }
        map.insert(handle, record.gateway.clone());
        Some(record.gateway)
    }

    /// The gateways of several connections, leaving out those that no longer exist: what
    /// is known here is read under one lock, the rest from Redis together.
    async fn gateways_of(&self, handles: &[Handle]) -> Vec<(Handle, GatewayId)> {
        let mut found = Vec::with_capacity(handles.len());
        let mut missing = Vec::new();
        {
            let known = lock(&self.handle_gateways);
            for &handle in handles {
                match known.get(&handle) {
                    Some(gateway) => found.push((handle, gateway.clone())),
                    None => missing.push(handle),
                }
            }
        }
        let read =
            futures_util::future::join_all(missing.iter().map(|&h| self.gateway_of(h))).await;
        for (handle, gateway) in missing.into_iter().zip(read) {
            match gateway {
                Some(gateway) => found.push((handle, gateway)),
                None => tracing::debug!(%handle, "output for a connection that no longer exists"),
            }
        }
        found
    }

    fn to_gateway(&self, gateway: &GatewayId, event: pod_event::Kind) {
        // Inside a command: held until the command is journalled.
        let mut event = Some(event);
        let _ = OUTBOX.try_with(|outbox| {
            if let Some(event) = event.take() {
                outbox.borrow_mut().events.push((gateway.clone(), event));
            }
        });
        let Some(event) = event else { return };
        let gateways = self.gateways.read().unwrap_or_else(|p| p.into_inner());
        let attached = gateways.get(gateway);
        // No event leaves larger than a piece (see `mush_rpc::split`); a gateway not
        // attached now gets plain output, which whichever version attaches can read.
        let pieces = mush_rpc::split::outgoing(event, attached.is_some_and(|a| a.broadcast));
        let Some(tx) = attached.map(|a| a.tx.clone()) else {
            // Held under the read lock: an attach (write lock) either sent it or comes after.
            let mut waiting = lock(&self.waiting);
            let held = waiting.entry(gateway.clone()).or_insert_with(|| Waiting {
                since: Instant::now(),
                events: Default::default(),
            });
            let dropped: usize = pieces.into_iter().map(|piece| held.hold(piece)).sum();
            if dropped > 0 {
                tracing::warn!(%gateway, dropped, "no stream to gateway for too long; held output dropped");
                self.metrics.output_dropped.inc_by(dropped as u64);
            }
            return;
        };
        drop(gateways);
        for piece in pieces {
            match tx.try_send(piece) {
                Ok(()) => {}
                // The stream just broke and is not detached yet: held like output for a
                // gateway without a stream, sent if it re-attaches.
                Err(mpsc::error::TrySendError::Closed(piece)) => {
                    let mut waiting = lock(&self.waiting);
                    let held = waiting.entry(gateway.clone()).or_insert_with(|| Waiting {
                        since: Instant::now(),
                        events: Default::default(),
                    });
                    if held.hold(piece) > 0 {
                        self.metrics.output_dropped.inc();
                    }
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(%gateway, "gateway stream full; output dropped");
                    self.metrics.output_dropped.inc();
                }
            }
        }
    }

    /// Forgets output held longer than its gateways may take to (re-)attach: a gateway
    /// that never comes (it died; a stale connection record named it) leaves nothing
    /// behind. Run from the outbox loop.
    pub(crate) fn prune_waiting(&self) {
        let mut waiting = lock(&self.waiting);
        waiting.retain(|gateway, held| {
            let keep = held.since.elapsed() <= HOLD_FOR;
            if !keep {
                tracing::warn!(%gateway, dropped = held.events.len(), "no stream to gateway for too long; held output dropped");
                self.metrics.output_dropped.inc_by(held.events.len() as u64);
            }
            keep
        });
    }

    // ---- cached world access -------------------------------------------------------

    /// An object, from the cache or Redis.
    pub(crate) async fn object(&self, id: Dbref) -> Result<Option<Arc<Object>>, StoreError> {
        if let Some(cached) = self.cache.object(id) {
            return Ok(cached);
        }
        let epoch = self.cache.epoch();
        let object = self.store.object(id).await?.map(Arc::new);
        self.cache.put_object(id, object.clone(), epoch);
        Ok(object)
    }

    async fn list(&self, id: Dbref, list: List) -> Result<Arc<Vec<u64>>, StoreError> {
        if let Some(cached) = self.cache.list(id, list) {
            return Ok(cached);
        }
        let epoch = self.cache.epoch();
        let members = Arc::new(self.read_list(id, list).await?);
        self.cache.put_list(id, list, members.clone(), epoch);
        Ok(members)
    }

    /// A list as Redis has it, not the cache.
    async fn read_list(&self, id: Dbref, list: List) -> Result<Vec<u64>, StoreError> {
        Ok(match list {
            List::Contents => self.store.contents(id).await?.iter().map(|d| d.0).collect(),
            List::Exits => self.store.exits(id).await?.iter().map(|d| d.0).collect(),
            List::Conns => self
                .store
                .player_conns(id)
                .await?
                .iter()
                .map(|h| h.0)
                .collect(),
        })
    }

    /// Compares everything the cache would serve now with Redis, for an operator or a
    /// soak test: a difference is a missed invalidation (a stale read a player could
    /// see), unless a write landed between the two reads, so audit a quiet shard.
    pub async fn audit_cache(&self) -> Result<CacheAudit, StoreError> {
        let mut audit = CacheAudit::default();
        for (id, cached) in self.cache.fresh_objects() {
            let stored = self.store.object(id).await?;
            audit.objects += 1;
            if cached.as_deref() != stored.as_ref() {
                audit.objects_differ += 1;
                audit.differing.push(id.0);
            }
        }
        for ((id, list), cached) in self.cache.fresh_lists() {
            let mut stored = self.read_list(id, list).await?;
            let mut cached = cached.to_vec();
            stored.sort_unstable();
            cached.sort_unstable();
            audit.lists += 1;
            if cached != stored {
                audit.lists_differ += 1;
                audit.differing.push(id.0);
            }
        }
        audit.differing.sort_unstable();
        audit.differing.dedup();
        Ok(audit)
    }

    /// Objects whose location really is `room` (index entries are checked against the
    /// truth, and stale ones are repaired).
    pub(crate) async fn contents(&self, room: Dbref) -> Result<Vec<Arc<Object>>, StoreError> {
        self.members(room, List::Contents).await
    }

    /// Exits leaving `room`.
    pub(crate) async fn exits(&self, room: Dbref) -> Result<Vec<Arc<Object>>, StoreError> {
        self.members(room, List::Exits).await
    }

    async fn members(&self, room: Dbref, list: List) -> Result<Vec<Arc<Object>>, StoreError> {
        let ids = self.list(room, list).await?;
        let ids: Vec<Dbref> = ids.iter().map(|&id| Dbref(id)).collect();
        let found = self.objects(&ids).await?;
        let mut objects = Vec::with_capacity(ids.len());
        for (&id, object) in ids.iter().zip(found) {
            match object {
                Some(object) if object.location == Some(room) => objects.push(object),
                _ => {
                    self.store.unindex(room, id).await?;
                    self.changed(&[room]).await;
                }
            }
        }
        Ok(objects)
    }

    /// Objects, in the order of `ids`: what the cache holds is taken under one lock, and
    /// the misses go to Redis together (one pipelined burst), not one by one.
    async fn objects(&self, ids: &[Dbref]) -> Result<Vec<Option<Arc<Object>>>, StoreError> {
        fill_misses(ids, self.cache.objects(ids), |id| self.object(id)).await
    }

    /// The connection lists of several players, in the order of `players`, read as
    /// [`Engine::objects`] reads objects.
    pub(crate) async fn conns_of(
        &self,
        players: &[Dbref],
    ) -> Result<Vec<Arc<Vec<u64>>>, StoreError> {
        let cached = self.cache.lists(players, List::Conns);
        fill_misses(players, cached, |p| self.list(p, List::Conns)).await
    }

    /// The connections of several players, together.
    async fn handles_of_all(&self, players: &[Dbref]) -> Result<Vec<Handle>, StoreError> {
        Ok(self
            .conns_of(players)
            .await?
            .iter()
            .flat_map(|conns| conns.iter().map(|&h| Handle(h)))
            .collect())
    }

    /// The connections of a player.
    pub(crate) async fn handles_of(&self, player: Dbref) -> Result<Vec<Handle>, StoreError> {
        Ok(self
            .list(player, List::Conns)
            .await?
            .iter()
            .map(|&h| Handle(h))
            .collect())
    }

    /// Tells every pod (this one first) that these objects changed.
    pub(crate) async fn changed(&self, ids: &[Dbref]) {
        // Inside a command: it changed the world, so it must be journalled.
        let _ = OUTBOX.try_with(|outbox| outbox.borrow_mut().changed_world = true);
        for &id in ids {
            self.cache.evict(id);
            self.invalidator.publish(id, None).await;
        }
    }

    /// Tells every pod that this pod's own commit made `object` what it is, and keeps
    /// that copy rather than reading it back (see [`Cache::put_written`]; `seen` is the
    /// object's eviction count taken before the commit).
    pub(crate) async fn wrote(&self, object: Arc<Object>, seen: u64) {
        let _ = OUTBOX.try_with(|outbox| outbox.borrow_mut().changed_world = true);
        let (id, version) = (object.id, object.version);
        self.cache.put_written(object, seen);
        self.invalidator.publish(id, Some(version)).await;
    }

    /// Sends a line to every connection of a player.
    pub(crate) async fn notify(&self, player: Dbref, text: &str) -> Result<(), StoreError> {
        for handle in self.handles_of(player).await? {
            self.tell(handle, text).await;
        }
        Ok(())
    }

    /// Sends a line to every connected player in a room, except `except`. The players'
    /// connection lists are read together, so a crowded room costs one burst of reads.
    pub(crate) async fn emit_room(
        &self,
        room: Dbref,
        text: &str,
        except: Option<Dbref>,
    ) -> Result<(), StoreError> {
        self.emit_room_except(room, text, except.as_slice()).await
    }

    /// [`Engine::emit_room`] leaving out several objects.
    pub(crate) async fn emit_room_except(
        &self,
        room: Dbref,
        text: &str,
        except: &[Dbref],
    ) -> Result<(), StoreError> {
        let players: Vec<Dbref> = self
            .contents(room)
            .await?
            .iter()
            .filter(|o| o.kind == Kind::Player && !except.contains(&o.id))
            .map(|o| o.id)
            .collect();
        let handles = self.handles_of_all(&players).await?;
        // One event per gateway, not one per listener: a line said in a room of a thousand
        // crosses each stream (and the command's journal) once.
        let mut by_gateway: Vec<(GatewayId, Vec<u64>)> = Vec::new();
        for (handle, gateway) in self.gateways_of(&handles).await {
            match by_gateway.iter_mut().find(|(g, _)| *g == gateway) {
                Some((_, handles)) => handles.push(handle.0),
                None => by_gateway.push((gateway, vec![handle.0])),
            }
        }
        for (gateway, handles) in by_gateway {
            let text = text.to_owned();
            self.to_gateway(
                &gateway,
                pod_event::Kind::Broadcast(Broadcast { handles, text }),
            );
        }
        Ok(())
    }
}

/// `cached` (one entry per id of `ids`, `None` where the cache had nothing) with its gaps
/// filled by `read`, all the reads at once.
async fn fill_misses<T: Default, F>(
    ids: &[Dbref],
    cached: Vec<Option<T>>,
    read: impl Fn(Dbref) -> F,
) -> Result<Vec<T>, StoreError>
where
    F: std::future::Future<Output = Result<T, StoreError>>,
{
    let missing = ids
        .iter()
        .zip(&cached)
        .filter(|(_, c)| c.is_none())
        .map(|(&id, _)| read(id));
    let mut read = futures_util::future::try_join_all(missing)
        .await?
        .into_iter();
    Ok(cached
        .into_iter()
        .map(|c| c.or_else(|| read.next()).unwrap_or_default())
        .collect())
}

fn output_event(handle: Handle, text: &str) -> pod_event::Kind {
    pod_event::Kind::Output(Output {
        handle: handle.0,
        text: text.to_owned(),
        prompt: false,
    })
}

/// The delivery id of command `seq` of a session's output to others.
fn command_id(handle: Handle, seq: u64) -> String {
    format!("c:{}:{seq}", handle.0)
}

/// A command's output to others, as the journal keeps it.
fn encode_others(others: &[(GatewayId, pod_event::Kind)]) -> Vec<u8> {
    if others.is_empty() {
        return Vec::new();
    }
    let journalled = Journalled {
        events: others
            .iter()
            .map(|(gateway, kind)| Addressed {
                gateway: gateway.to_string(),
                event: Some(PodEvent {
                    kind: Some(kind.clone()),
                }),
            })
            .collect(),
    };
    mush_rpc::Message::encode_to_vec(&journalled)
}

/// The journal's output to others, decoded; what cannot be read is left out (logged).
fn decode_others(bytes: &[u8]) -> Vec<(GatewayId, pod_event::Kind)> {
    let journalled = match <Journalled as mush_rpc::Message>::decode(bytes) {
        Ok(journalled) => journalled,
        Err(error) => {
            tracing::error!(%error, "journalled output unreadable; not sent again");
            return Vec::new();
        }
    };
    journalled
        .events
        .into_iter()
        .filter_map(|a| Some((GatewayId::new(a.gateway).ok()?, a.event?.kind?)))
        .collect()
}

/// The session an event is for (a delivery's events may be for several).
fn event_handle(event: &pod_event::Kind) -> Option<u64> {
    match event {
        pod_event::Kind::Ack(e) => Some(e.handle),
        pod_event::Kind::Output(e) => Some(e.handle),
        pod_event::Kind::Disconnect(e) => Some(e.handle),
        pod_event::Kind::Moved(e) => Some(e.handle),
        pod_event::Kind::State(e) => Some(e.handle),
        pod_event::Kind::Delivery(_) | pod_event::Kind::Broadcast(_) => None,
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Rebuilds a session moved here from its record and journal.
fn rebuild(
    session: &mut Session,
    journalled: u64,
    record: Result<Option<mush_store::ConnRecord>, mush_store::StoreError>,
) {
    let handle = session.handle;
    session.last_seq = session.last_seq.max(journalled);
    match record {
        Ok(Some(record)) => {
            if record.state == ConnState::LoggedIn {
                session.player = record.player.as_deref().and_then(Dbref::parse);
            }
            session.output_prefix = record.meta.get("outputprefix").cloned().unwrap_or_default();
            session.output_suffix = record.meta.get("outputsuffix").cloned().unwrap_or_default();
        }
        Ok(None) => {
            tracing::warn!(%handle, "resumed session has no record; starting at the connect screen")
        }
        Err(error) => tracing::error!(%handle, %error, "cannot rebuild resumed session"),
    }
}
