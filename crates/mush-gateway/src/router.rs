//! Which pod serves which session, and what each session still owes the player.
//!
//! The router is the gateway's memory: for every connection it knows the pod (the sticky
//! assignment, also in Redis), the commands sent but not yet acknowledged (re-sent if the
//! pod dies), and where to deliver output. Sessions whose pod's stream broke are
//! *orphans*; the reassigner moves them to a live pod with the store's compare-and-set, so
//! two gateways or rescuers can never both take one.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mush_proto::{ConnType, GatewayId, Handle, PodId};
use mush_rpc::v1::{
    Delivered, Delivery, GatewayEvent, Input, SessionClose, SessionOpen, gateway_event, pod_event,
};
use mush_store::{MoveOutcome, NewConnection, Store, StoreError};
use tokio::sync::{Notify, mpsc};

use crate::metrics::GatewayMetrics;

/// What a connection task is asked to do.
#[derive(Debug)]
pub enum ClientOut {
    /// Text to show (LF line ends); a prompt gets no line end but EOR/GA.
    Text {
        /// The text.
        text: String,
        /// Whether it is a prompt.
        prompt: bool,
    },
    /// Show the text, then close.
    Close {
        /// Last words.
        text: String,
    },
    /// The session logged in or out.
    State {
        /// Logged in now.
        logged_in: bool,
    },
}

/// Facts about a new connection.
#[derive(Clone, Debug)]
pub struct Facts {
    /// Peer address.
    pub address: String,
    /// Peer host.
    pub host: String,
    /// Telnet or WebSocket.
    pub conn_type: ConnType,
}

impl Facts {
    /// The facts of a socket accepted from `peer` (host names are not resolved: a
    /// reverse lookup per connection would put DNS on the login path).
    pub fn from_peer(peer: std::net::SocketAddr, conn_type: ConnType) -> Self {
        Self {
            address: peer.to_string(),
            host: peer.ip().to_string(),
            conn_type,
        }
    }
}

/// Told to a connection when its session cannot even be registered.
pub const UNAVAILABLE: &str =
    "The game is unavailable right now (storage is not answering); please try again shortly.";

/// The connection task's handles on a session.
pub struct Attachment {
    /// The session's handle.
    pub handle: Handle,
    /// Output for the player.
    pub output: mpsc::Receiver<ClientOut>,
    /// Notified when the router gives up on the connection (output overflow).
    pub kick: Arc<Notify>,
}

/// Why input was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Too many commands are waiting for the game (it is restarting or overloaded).
    #[error("too many commands waiting")]
    Backlog,
    /// The session is gone.
    #[error("no such session")]
    Gone,
}

struct Entry {
    pod: Option<PodId>,
    /// The pod the session was on before its stream broke; the reassigner moves it away.
    orphaned: bool,
    out: mpsc::Sender<ClientOut>,
    kick: Arc<Notify>,
    unacked: VecDeque<(u64, String)>,
    last_seq: u64,
    facts: Facts,
    told_delay: bool,
}

struct Link {
    tx: mpsc::UnboundedSender<GatewayEvent>,
    sessions: u64,
    /// Sessions placed on this pod whose entry does not name it yet (their register or
    /// move is under way): a pod poll cannot see them in Redis nor in the session map,
    /// and must not count them away.
    placing: u64,
    draining: bool,
}

/// A pod chosen for a session, counted as [`Link::placing`] until dropped (after the
/// session's entry names the pod, or the placement failed).
struct Placing<'a> {
    router: &'a Router,
    pod: PodId,
}

impl Drop for Placing<'_> {
    fn drop(&mut self) {
        if let Some(link) = lock(&self.router.links).get_mut(&self.pod) {
            link.placing = link.placing.saturating_sub(1);
        }
    }
}

/// Limits of the router.
#[derive(Clone, Debug)]
pub struct RouterLimits {
    /// Messages queued for one connection before it counts as too slow and is closed.
    pub output_queue: usize,
    /// Commands waiting for acknowledgement per session.
    pub max_unacked: usize,
    /// Handles reserved per Redis round trip.
    pub handle_block: u64,
}

/// The gateway's routing table.
pub struct Router {
    id: GatewayId,
    store: Store,
    limits: RouterLimits,
    metrics: GatewayMetrics,
    sessions: Mutex<HashMap<Handle, Entry>>,
    links: Mutex<HashMap<PodId, Link>>,
    handles: tokio::sync::Mutex<Range<u64>>,
    players: AtomicU64,
    orphans: Notify,
    /// Delivery ids passed on lately (see [`crate::seen`]).
    seen: Mutex<crate::seen::Seen>,
}

impl Router {
    /// An empty router.
    pub fn new(
        id: GatewayId,
        store: Store,
        limits: RouterLimits,
        metrics: GatewayMetrics,
    ) -> Arc<Self> {
        Arc::new(Self {
            id,
            store,
            limits,
            metrics,
            sessions: Mutex::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
            handles: tokio::sync::Mutex::new(0..0),
            players: AtomicU64::new(0),
            orphans: Notify::new(),
            seen: Mutex::new(crate::seen::Seen::default()),
        })
    }

    /// This gateway's id.
    pub fn id(&self) -> &GatewayId {
        &self.id
    }

    /// The gateway's metrics.
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.metrics
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Sessions held here.
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Connections shard-wide, as of the last pod poll (for MSSP).
    pub fn shard_players(&self) -> u64 {
        self.players.load(Ordering::Relaxed)
    }

    /// Pods with a working stream.
    pub fn linked_pods(&self) -> Vec<PodId> {
        lock(&self.links).keys().cloned().collect()
    }

    async fn allocate_handle(&self) -> Result<Handle, StoreError> {
        let mut block = self.handles.lock().await;
        if block.is_empty() {
            *block = self
                .store
                .allocate_handles(self.limits.handle_block)
                .await?;
        }
        let handle = block.start;
        block.start += 1;
        Ok(Handle(handle))
    }

    /// The live, non-draining pod with the fewest sessions.
    fn pick_pod(&self) -> Option<Placing<'_>> {
        let mut links = lock(&self.links);
        let (pod, link) = links
            .iter_mut()
            .filter(|(_, link)| !link.draining)
            .min_by_key(|(pod, link)| (link.sessions, (*pod).clone()))?;
        // Count it at once so a burst of connections spreads before the next poll.
        link.sessions += 1;
        link.placing += 1;
        Some(Placing {
            router: self,
            pod: pod.clone(),
        })
    }

    /// Registers a new connection and opens its session on a pod.
    pub async fn open(&self, facts: Facts) -> Result<Attachment, StoreError> {
        let handle = self.allocate_handle().await?;
        let placing = self.pick_pod();
        let pod = placing.as_ref().map(|p| p.pod.clone());
        self.store
            .register(&NewConnection {
                handle,
                gateway: self.id.clone(),
                pod: pod.clone(),
                address: facts.address.clone(),
                host: facts.host.clone(),
                conn_type: facts.conn_type,
                connected_at_ms: mush_store::now_ms(),
            })
            .await?;
        let (out, output) = mpsc::channel(self.limits.output_queue);
        let kick = Arc::new(Notify::new());
        let entry = Entry {
            pod: pod.clone(),
            orphaned: pod.is_none(),
            out,
            kick: kick.clone(),
            unacked: VecDeque::new(),
            last_seq: 0,
            facts: facts.clone(),
            told_delay: false,
        };
        lock(&self.sessions).insert(handle, entry);
        drop(placing);
        self.metrics.sessions.inc();
        match pod {
            Some(pod) => self.send(&pod, open_event(handle, &facts, false, 1)),
            None => {
                self.notice(handle, "The game is starting up; one moment please.");
                self.orphans.notify_one();
            }
        }
        Ok(Attachment {
            handle,
            output,
            kick,
        })
    }

    /// Queues a line for the session's pod, keeping it until acknowledged.
    pub fn input(&self, handle: Handle, line: String) -> Result<(), InputError> {
        let (pod, event) = {
            let mut sessions = lock(&self.sessions);
            let entry = sessions.get_mut(&handle).ok_or(InputError::Gone)?;
            if entry.unacked.len() >= self.limits.max_unacked {
                return Err(InputError::Backlog);
            }
            let acked = acked_upto(entry);
            entry.last_seq += 1;
            let seq = entry.last_seq;
            entry.unacked.push_back((seq, line.clone()));
            if entry.orphaned {
                if !std::mem::replace(&mut entry.told_delay, true) {
                    let _ = entry.out.try_send(ClientOut::Text {
                        text: "The game is restarting; your commands will run in a moment.".into(),
                        prompt: false,
                    });
                }
                return Ok(());
            }
            let Some(pod) = entry.pod.clone() else {
                return Ok(());
            };
            (pod, input_event(handle, seq, line, acked))
        };
        self.metrics.inputs.inc();
        self.send(&pod, event);
        Ok(())
    }

    /// The connection closed: tell its pod and delete its record.
    pub async fn close(&self, handle: Handle, reason: &str) {
        let entry = lock(&self.sessions).remove(&handle);
        let Some(entry) = entry else { return };
        self.metrics.sessions.dec();
        if let Some(pod) = &entry.pod {
            self.send(
                pod,
                GatewayEvent {
                    kind: Some(gateway_event::Kind::Close(SessionClose {
                        handle: handle.0,
                        reason: reason.to_owned(),
                    })),
                },
            );
        }
        if let Err(error) = self.store.remove(handle).await {
            tracing::warn!(%handle, %error, "could not remove the connection record; its TTL will");
        }
    }

    fn notice(&self, handle: Handle, text: &str) {
        if let Some(entry) = lock(&self.sessions).get(&handle) {
            let _ = entry.out.try_send(ClientOut::Text {
                text: text.into(),
                prompt: false,
            });
        }
    }

    fn send(&self, pod: &PodId, event: GatewayEvent) {
        let sent = lock(&self.links)
            .get(pod)
            .map(|link| link.tx.send(event).is_ok());
        if sent != Some(true) {
            // The link is gone; link_down has orphaned (or will orphan) the session and
            // its unacknowledged input will be re-sent to the next pod.
            tracing::debug!(%pod, "event for a pod without a stream");
        }
    }

    /// A pod's stream is up: new sessions may go there.
    pub(crate) fn link_up(&self, pod: &PodId, tx: mpsc::UnboundedSender<GatewayEvent>) {
        lock(&self.links).insert(
            pod.clone(),
            Link {
                tx,
                sessions: 0,
                placing: 0,
                draining: false,
            },
        );
        self.metrics.pod_streams.inc();
        self.orphans.notify_one();
    }

    /// A pod's stream broke: its sessions become orphans to move elsewhere.
    pub(crate) fn link_down(&self, pod: &PodId) {
        if lock(&self.links).remove(pod).is_some() {
            self.metrics.pod_streams.dec();
        }
        let mut orphaned = 0;
        for entry in lock(&self.sessions).values_mut() {
            if entry.pod.as_ref() == Some(pod) && !entry.orphaned {
                entry.orphaned = true;
                orphaned += 1;
            }
        }
        if orphaned > 0 {
            tracing::warn!(%pod, orphaned, "pod stream lost; moving its sessions");
            self.orphans.notify_one();
        }
    }

    /// True if a stream to this pod exists.
    pub(crate) fn is_linked(&self, pod: &PodId) -> bool {
        lock(&self.links).contains_key(pod)
    }

    /// Updates pod load and draining flags from the store's view.
    ///
    /// The store's count may lag this gateway's own placements (read before a register
    /// landed), so a pod never counts fewer sessions than this gateway has put on it:
    /// otherwise two logins around a poll could both land on the same pod.
    pub(crate) fn update_pods(&self, pods: &[mush_store::PodStatus]) {
        // Lock order as everywhere: sessions, then links.
        let sessions = lock(&self.sessions);
        let mut here: HashMap<&PodId, u64> = HashMap::new();
        for pod in sessions.values().filter_map(|e| e.pod.as_ref()) {
            *here.entry(pod).or_default() += 1;
        }
        let mut links = lock(&self.links);
        let mut total = 0;
        for pod in pods.iter().filter(|p| p.alive) {
            total += pod.sessions;
            if let Some(link) = links.get_mut(&pod.info.id) {
                let own = here.get(&pod.info.id).copied().unwrap_or(0) + link.placing;
                link.sessions = pod.sessions.max(own);
                link.draining = pod.info.draining;
            }
        }
        self.players.store(total, Ordering::Relaxed);
    }

    /// Passes on a delivery's events unless its id was seen lately (a copy sent again by
    /// a pod that did not know the first arrived), and confirms it if asked.
    pub(crate) fn on_delivery(&self, pod: &PodId, delivery: Delivery) {
        if lock(&self.seen).first(&delivery.id, std::time::Instant::now()) {
            for kind in delivery.events.into_iter().filter_map(|e| e.kind) {
                self.on_pod_event(kind);
            }
        } else {
            self.metrics.deliveries_repeated.inc();
        }
        if delivery.confirm {
            self.send(
                pod,
                GatewayEvent {
                    kind: Some(gateway_event::Kind::Delivered(Delivered {
                        ids: vec![delivery.id],
                    })),
                },
            );
        }
    }

    /// Handles one event from a pod.
    pub(crate) fn on_pod_event(&self, kind: pod_event::Kind) {
        let mut sessions = lock(&self.sessions);
        let (handle, out) = match kind {
            // Nested deliveries are not sent; one that came is passed on as it is.
            pod_event::Kind::Delivery(delivery) => {
                drop(sessions);
                for kind in delivery.events.into_iter().filter_map(|e| e.kind) {
                    if !matches!(kind, pod_event::Kind::Delivery(_)) {
                        self.on_pod_event(kind);
                    }
                }
                return;
            }
            pod_event::Kind::Broadcast(broadcast) => {
                for handle in broadcast.handles {
                    if let Some(entry) = sessions.get(&Handle(handle)) {
                        self.pass(
                            handle,
                            entry,
                            ClientOut::Text {
                                text: broadcast.text.clone(),
                                prompt: false,
                            },
                        );
                    }
                }
                return;
            }
            pod_event::Kind::Output(output) => (
                output.handle,
                ClientOut::Text {
                    text: output.text,
                    prompt: output.prompt,
                },
            ),
            pod_event::Kind::Ack(ack) => {
                let Some(entry) = sessions.get_mut(&Handle(ack.handle)) else {
                    return;
                };
                // The reply and the acknowledgement are one step: a reply seen here is
                // never asked for again.
                while entry
                    .unacked
                    .front()
                    .is_some_and(|(seq, _)| *seq <= ack.seq)
                {
                    entry.unacked.pop_front();
                }
                if ack.text.is_empty() {
                    return;
                }
                (
                    ack.handle,
                    ClientOut::Text {
                        text: ack.text,
                        prompt: false,
                    },
                )
            }
            pod_event::Kind::Disconnect(disconnect) => (
                disconnect.handle,
                ClientOut::Close {
                    text: disconnect.text,
                },
            ),
            pod_event::Kind::State(state) => (
                state.handle,
                ClientOut::State {
                    logged_in: state.logged_in,
                },
            ),
            pod_event::Kind::Moved(moved) => {
                let handle = Handle(moved.handle);
                let (Some(entry), Ok(pod)) = (sessions.get_mut(&handle), PodId::new(moved.pod))
                else {
                    return;
                };
                // A draining pod handed the session over: open it on the new pod and
                // re-send what the old one did not acknowledge (acks came first, in order).
                entry.pod = Some(pod.clone());
                if !self.is_linked(&pod) {
                    entry.orphaned = true;
                    self.orphans.notify_one();
                    return;
                }
                // Sent while the sessions lock is held: an input typed meanwhile waits for
                // the lock and so follows the Open on the pod's ordered channel.
                let events = replay(handle, entry, true);
                self.metrics.moves.inc();
                for event in events {
                    self.send(&pod, event);
                }
                return;
            }
        };
        if let Some(entry) = sessions.get(&Handle(handle)) {
            self.pass(handle, entry, out);
        }
    }

    /// Hands output to a session's connection task; a client that does not read its
    /// output for that long is closed, not buffered without end.
    fn pass(&self, handle: u64, entry: &Entry, out: ClientOut) {
        if entry.out.try_send(out).is_err() {
            self.metrics.slow_clients.inc();
            tracing::warn!(
                handle,
                "client is not reading its output; closing the connection"
            );
            entry.kick.notify_one();
        }
    }

    /// Moves orphaned sessions to live pods, forever; wakes on demand and every second.
    pub(crate) async fn reassign_orphans(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = self.orphans.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            let orphans: Vec<(Handle, Option<PodId>)> = lock(&self.sessions)
                .iter()
                .filter(|(_, e)| e.orphaned)
                .map(|(h, e)| (*h, e.pod.clone()))
                .collect();
            for (handle, from) in orphans {
                if let Err(error) = self.rescue(handle, from).await {
                    tracing::warn!(%handle, %error, "could not move session yet");
                }
            }
        }
    }

    async fn rescue(&self, handle: Handle, from: Option<PodId>) -> Result<(), StoreError> {
        let Some(placing) = self.pick_pod() else {
            return Ok(());
        };
        let to = placing.pod.clone();
        let resume = from.is_some();
        let owner = match &from {
            Some(from) if *from == to => Some(to.clone()),
            Some(from) => match self.store.move_handle(handle, from, &to).await? {
                MoveOutcome::Moved => Some(to.clone()),
                MoveOutcome::NotOnSource {
                    current: Some(current),
                } if self.is_linked(&current) => Some(current),
                MoveOutcome::NotOnSource { current } => {
                    // Someone moved it to a pod we cannot reach (yet); take it from there.
                    let current = current.unwrap_or_else(|| to.clone());
                    match self.store.move_handle(handle, &current, &to).await? {
                        MoveOutcome::Moved => Some(to.clone()),
                        _ => None,
                    }
                }
                MoveOutcome::Missing => {
                    tracing::warn!(%handle, "record gone while moving; closing");
                    self.kick(handle);
                    return Ok(());
                }
            },
            None => {
                self.store.assign(handle, &to).await?;
                Some(to.clone())
            }
        };
        let Some(owner) = owner else { return Ok(()) };
        // Replay while holding the sessions lock: an input typed meanwhile waits for the
        // lock and so reaches the pod after the Open and the re-sent commands, never before
        // (the pod would drop it, and a later ack would wrongly retire it).
        let mut sessions = lock(&self.sessions);
        let Some(entry) = sessions.get_mut(&handle) else {
            return Ok(());
        };
        entry.pod = Some(owner.clone());
        let events = replay(handle, entry, resume);
        tracing::info!(%handle, to = %owner, resent = events.len() - 1, "session moved");
        for event in events {
            self.send(&owner, event);
        }
        drop(sessions);
        self.metrics.moves.inc();
        Ok(())
    }

    fn kick(&self, handle: Handle) {
        if let Some(entry) = lock(&self.sessions).get(&handle) {
            entry.kick.notify_one();
        }
    }
}

/// Opens the session on its (new) pod and re-sends every unacknowledged command.
fn replay(handle: Handle, entry: &mut Entry, resume: bool) -> Vec<GatewayEvent> {
    entry.orphaned = false;
    entry.told_delay = false;
    let next = acked_upto(entry) + 1;
    let mut events = vec![open_event(handle, &entry.facts, resume, next)];
    events.extend(
        entry
            .unacked
            .iter()
            .map(|(seq, line)| input_event(handle, *seq, line.clone(), next - 1)),
    );
    events
}

/// Every command up to this one was acknowledged.
fn acked_upto(entry: &Entry) -> u64 {
    entry
        .unacked
        .front()
        .map_or(entry.last_seq, |(seq, _)| seq - 1)
}

fn open_event(handle: Handle, facts: &Facts, resume: bool, next_seq: u64) -> GatewayEvent {
    GatewayEvent {
        kind: Some(gateway_event::Kind::Open(SessionOpen {
            handle: handle.0,
            address: facts.address.clone(),
            host: facts.host.clone(),
            conn_type: facts.conn_type.as_str().to_owned(),
            resume,
            next_seq,
        })),
    }
}

fn input_event(handle: Handle, seq: u64, line: String, acked: u64) -> GatewayEvent {
    GatewayEvent {
        kind: Some(gateway_event::Kind::Input(Input {
            handle: handle.0,
            seq,
            line,
            acked,
        })),
    }
}

/// Locks a mutex; a panic while it was held leaves plain data, so keep serving.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use mush_harness::RedisCluster;
    use mush_store::{PodInfo, PodStatus, StoreConfig, StoreMetrics};

    use super::*;

    fn status(pod: &str, sessions: u64) -> PodStatus {
        PodStatus {
            info: PodInfo {
                id: PodId::new(pod).expect("pod id"),
                addr: String::new(),
                draining: false,
            },
            alive: true,
            sessions,
        }
    }

    /// A router on a fresh Redis Cluster, linked to pods "game-0" and "game-1" (their
    /// streams are returned; the cluster must outlive the router).
    async fn linked_router() -> (
        Arc<Router>,
        Vec<mpsc::UnboundedReceiver<GatewayEvent>>,
        RedisCluster,
    ) {
        let cluster = tokio::task::block_in_place(RedisCluster::start).expect("cluster");
        let store = Store::connect(
            StoreConfig {
                nodes: cluster.urls(),
                ..StoreConfig::default()
            },
            StoreMetrics::unregistered(),
        )
        .await
        .expect("store");
        let router = Router::new(
            GatewayId::new("gateway-test").expect("gateway id"),
            store,
            RouterLimits {
                output_queue: 16,
                max_unacked: 16,
                handle_block: 16,
            },
            GatewayMetrics::default(),
        );
        let mut streams = Vec::new();
        for pod in ["game-0", "game-1"] {
            let (tx, rx) = mpsc::unbounded_channel();
            router.link_up(&PodId::new(pod).expect("pod id"), tx);
            streams.push(rx);
        }
        (router, streams, cluster)
    }

    fn facts() -> Facts {
        Facts {
            address: "127.0.0.1:4000".into(),
            host: "127.0.0.1".into(),
            conn_type: ConnType::Telnet,
        }
    }

    /// A broadcast reaches each session it names once, as plain text, and nobody else; a
    /// handle that closed meanwhile is skipped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broadcast_reaches_each_named_session_once() {
        let (router, _streams, _cluster) = linked_router().await;
        let mut sessions = Vec::new();
        for _ in 0..3 {
            sessions.push(router.open(facts()).await.expect("open"));
        }
        let gone = Handle(u64::MAX);
        router.on_pod_event(pod_event::Kind::Broadcast(mush_rpc::v1::Broadcast {
            handles: vec![sessions[0].handle.0, gone.0, sessions[2].handle.0],
            text: "Ann has arrived.".into(),
        }));
        let mut got = Vec::new();
        for session in &mut sessions {
            let mut texts = Vec::new();
            while let Ok(out) = session.output.try_recv() {
                match out {
                    ClientOut::Text { text, prompt } => texts.push((text, prompt)),
                    other => panic!("unexpected {other:?}"),
                }
            }
            got.push(texts);
        }
        let line = vec![("Ann has arrived.".to_owned(), false)];
        assert_eq!(got, [line.clone(), Vec::new(), line]);
    }

    /// A pod poll that read Redis before this gateway's registers landed must not undo
    /// the spreading: with two empty pods, consecutive logins alternate.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stale_pod_poll_does_not_stack_logins_on_one_pod() {
        let (router, _streams, _cluster) = linked_router().await;
        let mut placed = Vec::new();
        for _ in 0..4 {
            let attachment = router.open(facts()).await.expect("open");
            placed.push(lock(&router.sessions)[&attachment.handle].pod.clone());
            // The poll that raced the register: Redis did not count anyone yet.
            router.update_pods(&[status("game-0", 0), status("game-1", 0)]);
        }
        let on = |pod: &str| {
            placed
                .iter()
                .filter(|p| p.as_ref().is_some_and(|p| p.as_str() == pod))
                .count()
        };
        assert_eq!((on("game-0"), on("game-1")), (2, 2), "placed: {placed:?}");
    }
}
