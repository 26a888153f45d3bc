//! The pod's cache of hot world data, kept honest by NATS invalidations.
//!
//! Whoever changes an object publishes `<prefix>.inval.obj.<id>`; every pod evicts that
//! object and its indexes (contents, exits, connections). Core NATS is at-most-once, so
//! the cache never trusts it alone: entries expire after a TTL that is long while NATS is
//! connected and short while it is not, and every (re)connect empties the cache, since
//! whatever was published while this pod was away is lost.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mush_store::{Dbref, Object};

/// Which derived list of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum List {
    /// Objects inside it.
    Contents,
    /// Exits leaving it.
    Exits,
    /// Handles connected to a player.
    Conns,
}

/// How long entries live.
#[derive(Clone, Copy, Debug)]
pub struct CacheTtl {
    /// While invalidations flow.
    pub connected: Duration,
    /// While NATS is unreachable: the longest a stale read may last.
    pub disconnected: Duration,
}

impl Default for CacheTtl {
    fn default() -> Self {
        Self {
            connected: Duration::from_secs(60),
            disconnected: Duration::from_secs(2),
        }
    }
}

struct Entry<T> {
    value: T,
    at: Instant,
}

struct Map<K, V>(Mutex<HashMap<K, Entry<V>>>);

impl<K: Eq + Hash, V: Clone> Map<K, V> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry<V>>> {
        // A panic while holding the lock cannot leave a HashMap half-updated in a way
        // that matters for a cache; keep serving.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, key: &K, ttl: Duration) -> Option<V> {
        let mut map = self.lock();
        match map.get(key) {
            Some(entry) if entry.at.elapsed() < ttl => Some(entry.value.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: K, value: V) {
        self.lock().insert(
            key,
            Entry {
                value,
                at: Instant::now(),
            },
        );
    }

    fn remove(&self, key: &K) {
        self.lock().remove(key);
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

/// Objects and lists, shared by every session task of a pod.
pub struct Cache {
    objects: Map<Dbref, Option<Arc<Object>>>,
    lists: Map<(Dbref, List), Arc<Vec<u64>>>,
    ttl: CacheTtl,
    nats_up: AtomicBool,
}

impl Cache {
    /// An empty cache that starts in the "NATS down" regime until told otherwise.
    pub fn new(ttl: CacheTtl) -> Self {
        Self {
            objects: Map::new(),
            lists: Map::new(),
            ttl,
            nats_up: AtomicBool::new(false),
        }
    }

    fn ttl(&self) -> Duration {
        if self.nats_up.load(Ordering::Relaxed) {
            self.ttl.connected
        } else {
            self.ttl.disconnected
        }
    }

    /// A cached object (`Some(None)`: known not to exist).
    pub fn object(&self, id: Dbref) -> Option<Option<Arc<Object>>> {
        self.objects.get(&id, self.ttl())
    }

    /// Remembers an object read from Redis.
    pub fn put_object(&self, id: Dbref, object: Option<Arc<Object>>) {
        self.objects.put(id, object);
    }

    /// A cached list.
    pub fn list(&self, id: Dbref, list: List) -> Option<Arc<Vec<u64>>> {
        self.lists.get(&(id, list), self.ttl())
    }

    /// Remembers a list read from Redis.
    pub fn put_list(&self, id: Dbref, list: List, members: Arc<Vec<u64>>) {
        self.lists.put((id, list), members);
    }

    /// Forgets everything about one object.
    pub fn evict(&self, id: Dbref) {
        self.objects.remove(&id);
        for list in [List::Contents, List::Exits, List::Conns] {
            self.lists.remove(&(id, list));
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.objects.clear();
        self.lists.clear();
    }

    /// Switches between the long and the short TTL; a (re)connect also empties the cache.
    pub fn set_nats_up(&self, up: bool) {
        if up {
            self.clear();
        }
        self.nats_up.store(up, Ordering::Relaxed);
    }

    /// True while invalidations are believed to flow.
    pub fn nats_up(&self) -> bool {
        self.nats_up.load(Ordering::Relaxed)
    }
}

/// Publishes and receives invalidations on NATS.
#[derive(Clone)]
pub struct Invalidator {
    client: Option<async_nats::Client>,
    prefix: String,
}

impl Invalidator {
    /// Connects to NATS (without waiting for it: a pod must serve while NATS is down) and
    /// starts the task that evicts on every message and tracks connection state.
    pub async fn start(url: &str, prefix: &str, cache: Arc<Cache>) -> Self {
        let events_cache = cache.clone();
        let options = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .max_reconnects(None)
            .event_callback(move |event| {
                let cache = events_cache.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("NATS connected: cache emptied, long TTL");
                            cache.set_nats_up(true);
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!("NATS disconnected: cache falls back to short TTL");
                            cache.set_nats_up(false);
                        }
                        other => tracing::debug!(?other, "NATS event"),
                    }
                }
            });
        let client = match options.connect(url).await {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, url, "cannot configure NATS; caches use the short TTL only");
                return Self {
                    client: None,
                    prefix: prefix.to_owned(),
                };
            }
        };
        if client.connection_state() == async_nats::connection::State::Connected {
            cache.set_nats_up(true);
        }
        let subject = format!("{prefix}.inval.obj.*");
        match client.subscribe(subject.clone()).await {
            Ok(mut subscription) => {
                tokio::spawn(async move {
                    while let Some(message) = subscription.next().await {
                        let id = message
                            .subject
                            .rsplit('.')
                            .next()
                            .and_then(|id| id.parse().ok());
                        match id {
                            Some(id) => cache.evict(Dbref(id)),
                            None => {
                                tracing::warn!(subject = %message.subject, "bad invalidation subject")
                            }
                        }
                    }
                });
            }
            Err(error) => tracing::error!(%error, subject, "cannot subscribe to invalidations"),
        }
        Self {
            client: Some(client),
            prefix: prefix.to_owned(),
        }
    }

    /// Tells every pod that `id` changed. Best effort by design: the TTL bounds staleness
    /// if the message is lost.
    pub async fn publish(&self, id: Dbref) {
        let Some(client) = &self.client else { return };
        let subject = format!("{}.inval.obj.{}", self.prefix, id.0);
        if let Err(error) = client.publish(subject, Default::default()).await {
            tracing::debug!(%error, "invalidation not published");
        }
    }

    /// True while the NATS connection is up (readiness).
    pub fn is_connected(&self) -> bool {
        self.client
            .as_ref()
            .is_some_and(|c| c.connection_state() == async_nats::connection::State::Connected)
    }
}
