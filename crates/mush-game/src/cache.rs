//! The pod's cache of hot world data, kept honest by NATS invalidations.
//!
//! Whoever changes an object publishes `<prefix>.inval.obj.<id>`; every pod evicts that
//! object and its indexes (contents, exits, connections). Core NATS is at-most-once, so
//! the cache never trusts it alone: entries expire after a TTL that is long while NATS is
//! connected and short while it is not, and every (re)connect empties the cache, since
//! whatever was published while this pod was away is lost.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// A cached list: whose, which, and its members.
pub type CachedList = ((Dbref, List), Arc<Vec<u64>>);

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

    /// [`Map::get`] of many keys under one lock and one clock reading (a crowded room's
    /// occupants), in the order of `keys`.
    fn get_many<'k>(&self, keys: impl Iterator<Item = &'k K>, ttl: Duration) -> Vec<Option<V>>
    where
        K: 'k,
    {
        let now = Instant::now();
        let mut map = self.lock();
        keys.map(|key| match map.get(key) {
            Some(entry) if now.saturating_duration_since(entry.at) < ttl => {
                Some(entry.value.clone())
            }
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        })
        .collect()
    }

    /// Inserts if `allow` says so of the entry held now, checked under the map's lock.
    /// A full map first drops its oldest half (see [`MAX_ENTRIES`]).
    fn insert_if(&self, key: K, value: V, allow: impl FnOnce(Option<&V>) -> bool) {
        let mut map = self.lock();
        if !allow(map.get(&key).map(|held| &held.value)) {
            return;
        }
        if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
            let mut ages: Vec<Instant> = map.values().map(|e| e.at).collect();
            let (_, median, _) = ages.select_nth_unstable(map.len() / 2);
            let median = *median;
            map.retain(|_, e| e.at > median);
        }
        map.insert(
            key,
            Entry {
                value,
                at: Instant::now(),
            },
        );
    }

    /// Inserts unless `epoch` moved since `read_from`.
    fn put_if(&self, key: K, value: V, epoch: &AtomicU64, read_from: u64) {
        self.insert_if(key, value, |_| epoch.load(Ordering::SeqCst) == read_from);
    }

    fn remove(&self, key: &K) {
        self.lock().remove(key);
    }

    /// The entry, however old.
    fn peek(&self, key: &K) -> Option<V> {
        self.lock().get(key).map(|e| e.value.clone())
    }

    /// Every entry still within `ttl`, copied out (the lock is not held while the caller
    /// checks them).
    fn fresh(&self, ttl: Duration) -> Vec<(K, V)>
    where
        K: Clone,
    {
        self.lock()
            .iter()
            .filter(|(_, e)| e.at.elapsed() < ttl)
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect()
    }

    fn clear(&self) {
        self.lock().clear();
    }

    /// Drops entries older than `ttl` (nobody asked for them since they expired), and
    /// gives the map's spare capacity back; returns how many were dropped.
    fn sweep(&self, ttl: Duration) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, e| e.at.elapsed() < ttl);
        // Give memory back only when most of it is unused (a rehash under the lock).
        if map.capacity() > 1024 && map.len() < map.capacity() / 4 {
            map.shrink_to_fit();
        }
        before - map.len()
    }
}

/// Most objects (and, apart, most lists) one pod caches: a pod serving a large world
/// keeps its memory bounded, dropping its oldest copies (each read again on demand).
const MAX_ENTRIES: usize = 200_000;

/// Objects and lists, shared by every session task of a pod.
pub struct Cache {
    objects: Map<Dbref, Option<Arc<Object>>>,
    lists: Map<(Dbref, List), Arc<Vec<u64>>>,
    ttl: CacheTtl,
    nats_up: AtomicBool,
    /// Bumped by every eviction. A read from Redis is cached only if no eviction happened
    /// while it was in flight: otherwise a read that started before another pod's write
    /// could land after that write's invalidation and pin stale data for a whole TTL.
    epoch: AtomicU64,
    /// Per object, how many evictions it has had: a pod caches what it wrote itself only
    /// if nothing evicted that object while its commit was in flight (the per-object form
    /// of `epoch`, so that other objects' traffic does not stop it). One counter per
    /// object ever evicted: bounded by the world's size.
    evictions: Mutex<HashMap<Dbref, u64>>,
}

impl Cache {
    /// An empty cache that starts in the "NATS down" regime until told otherwise.
    pub fn new(ttl: CacheTtl) -> Self {
        Self {
            objects: Map::new(),
            lists: Map::new(),
            ttl,
            nats_up: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            evictions: Mutex::new(HashMap::new()),
        }
    }

    fn evictions(&self) -> std::sync::MutexGuard<'_, HashMap<Dbref, u64>> {
        self.evictions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many evictions `id` has had; take it before a commit that writes `id` and pass
    /// it to [`Cache::put_written`].
    pub fn evictions_of(&self, id: Dbref) -> u64 {
        self.evictions().get(&id).copied().unwrap_or(0)
    }

    /// Caches what this pod's own commit made of an object, instead of reading it back:
    /// only if nothing evicted it since `seen` (another pod's later write may have been
    /// announced meanwhile) and the cache does not hold a newer copy (another session of
    /// this pod may have committed after this one).
    pub fn put_written(&self, object: Arc<Object>, seen: u64) {
        let evictions = self.evictions();
        if evictions.get(&object.id).copied().unwrap_or(0) != seen {
            return;
        }
        let version = object.version;
        self.objects.insert_if(object.id, Some(object), |held| {
            held.is_none_or(|held| held.as_ref().is_none_or(|o| o.version < version))
        });
        drop(evictions);
    }

    /// Forgets copies older than what a queued entry's producer wrote (object, version
    /// after the write): the producer's own invalidations may still be on their way, and
    /// the entry must see what queued it did.
    pub fn catch_up(&self, after: &[(u64, u64)]) {
        for &(id, version) in after {
            let id = Dbref(id);
            let behind = match self.objects.peek(&id) {
                Some(Some(held)) => held.version < version,
                Some(None) => true,
                None => false,
            };
            if behind {
                self.evict(id);
            }
        }
    }

    /// Drops what expired: a storm of players that came and went leaves nothing behind
    /// once its entries' TTL passed. The pod runs this every few seconds.
    pub fn sweep(&self) -> usize {
        let ttl = self.ttl();
        self.objects.sweep(ttl) + self.lists.sweep(ttl)
    }

    /// An invalidation from NATS: `version` is the object's version after the write it
    /// announces (`None`: its lists changed, or an older pod sent it). A copy at that
    /// version or newer is kept: it is this pod's own write coming back, or older news.
    pub fn invalidate(&self, id: Dbref, version: Option<u64>) {
        if let Some(version) = version
            && let Some(Some(held)) = self.objects.peek(&id)
            && held.version >= version
        {
            return;
        }
        self.evict(id);
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

    /// Cached objects, in the order of `ids` (`None`: not cached).
    pub fn objects(&self, ids: &[Dbref]) -> Vec<Option<Option<Arc<Object>>>> {
        self.objects.get_many(ids.iter(), self.ttl())
    }

    /// The eviction epoch; take it before reading Redis and pass it to the `put_*`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Remembers an object read from Redis, unless it changed during the read.
    pub fn put_object(&self, id: Dbref, object: Option<Arc<Object>>, read_from: u64) {
        self.objects.put_if(id, object, &self.epoch, read_from);
    }

    /// A cached list.
    pub fn list(&self, id: Dbref, list: List) -> Option<Arc<Vec<u64>>> {
        self.lists.get(&(id, list), self.ttl())
    }

    /// Cached lists of one kind, in the order of `ids` (`None`: not cached).
    pub fn lists(&self, ids: &[Dbref], list: List) -> Vec<Option<Arc<Vec<u64>>>> {
        let keys: Vec<(Dbref, List)> = ids.iter().map(|&id| (id, list)).collect();
        self.lists.get_many(keys.iter(), self.ttl())
    }

    /// Remembers a list read from Redis, unless something changed during the read.
    pub fn put_list(&self, id: Dbref, list: List, members: Arc<Vec<u64>>, read_from: u64) {
        self.lists
            .put_if((id, list), members, &self.epoch, read_from);
    }

    /// The objects a reader would be served from the cache now.
    pub fn fresh_objects(&self) -> Vec<(Dbref, Option<Arc<Object>>)> {
        self.objects.fresh(self.ttl())
    }

    /// The lists a reader would be served from the cache now.
    pub fn fresh_lists(&self) -> Vec<CachedList> {
        self.lists.fresh(self.ttl())
    }

    /// Forgets everything about one object.
    pub fn evict(&self, id: Dbref) {
        // Bump first, remove second: a concurrent put either sees the new epoch or has
        // already inserted (under the lock) and is removed here. The per-object count is
        // held across the removal so `put_written` sees both or neither.
        let mut evictions = self.evictions();
        *evictions.entry(id).or_insert(0) += 1;
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.objects.remove(&id);
        drop(evictions);
        for list in [List::Contents, List::Exits, List::Conns] {
            self.lists.remove(&(id, list));
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
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
}

/// Publishes and receives invalidations on NATS.
#[derive(Clone)]
pub struct Invalidator {
    client: Option<async_nats::Client>,
    prefix: String,
}

/// How a pod proves itself to NATS (besides credentials in the URL itself).
#[derive(Clone, Default)]
pub enum NatsAuth {
    /// None (or only what the URL carries).
    #[default]
    None,
    /// A NATS user and password.
    UserPassword(String, String),
    /// A NATS token.
    Token(String),
    /// A credentials file's text: a user JWT and the seed of its key, for servers in
    /// decentralized (operator) mode. Checked by [`NatsAuth::credentials`].
    Credentials(String),
}

/// A credentials file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("NATS credentials file {path}: {reason}")]
pub struct CredentialsError {
    path: String,
    reason: String,
}

/// TLS to NATS: the CA that signed the servers' certificates (TLS is then required) and,
/// for a server that verifies its clients, this pod's certificate and key (PEM files).
#[derive(Clone, Debug, Default)]
pub struct NatsTls {
    /// The CA file; `None`: no TLS unless the URL says `tls://`.
    pub ca: Option<std::path::PathBuf>,
    /// Client certificate and key files.
    pub client: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl NatsAuth {
    /// Reads a NATS credentials file (`.creds`, as `nsc` and Synadia's cloud write them)
    /// and checks that it holds a user JWT and a seed, so that a broken file stops the pod
    /// at start with its reason instead of failing every connect later. Read once: a
    /// renewed file is used from the pod's next start.
    pub fn credentials(path: &std::path::Path) -> Result<Self, CredentialsError> {
        let failed = |reason: String| CredentialsError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
        // The same parse the client makes when it connects; its message names no secret.
        async_nats::ConnectOptions::new()
            .credentials(&text)
            .map_err(|e| failed(e.to_string()))?;
        Ok(Self::Credentials(text))
    }

    /// Takes credentials out of a URL (`nats://user:password@host`, `nats://token@host`),
    /// which the NATS client does not read there itself; returns the URL without them.
    pub fn from_url(url: &str) -> (String, Self) {
        let Some((scheme, rest)) = url.split_once("://") else {
            return (url.to_owned(), Self::None);
        };
        let Some((userinfo, host)) = rest.rsplit_once('@') else {
            return (url.to_owned(), Self::None);
        };
        let auth = match userinfo.split_once(':') {
            Some((user, password)) => Self::UserPassword(user.to_owned(), password.to_owned()),
            None => Self::Token(userinfo.to_owned()),
        };
        (format!("{scheme}://{host}"), auth)
    }
}

impl std::fmt::Debug for NatsAuth {
    // Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::UserPassword(user, _) => write!(f, "UserPassword({user}, ***)"),
            Self::Token(_) => f.write_str("Token(***)"),
            Self::Credentials(_) => f.write_str("Credentials(***)"),
        }
    }
}

impl Invalidator {
    /// Connects to NATS (without waiting for it: a pod must serve while NATS is down) and
    /// starts the task that evicts on every message and tracks connection state.
    pub async fn start(
        url: &str,
        auth: &NatsAuth,
        tls: &NatsTls,
        prefix: &str,
        cache: Arc<Cache>,
    ) -> Self {
        let events_cache = cache.clone();
        let (bare, in_url) = NatsAuth::from_url(url);
        let auth = match auth {
            NatsAuth::None => &in_url,
            given => given,
        };
        let url = bare.as_str();
        let options = match auth {
            NatsAuth::None => async_nats::ConnectOptions::new(),
            NatsAuth::UserPassword(user, password) => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            NatsAuth::Token(token) => async_nats::ConnectOptions::with_token(token.clone()),
            // Checked when it was read (`NatsAuth::credentials`), so this parse succeeds.
            NatsAuth::Credentials(text) => async_nats::ConnectOptions::new()
                .credentials(text)
                .unwrap_or_else(|error| {
                    tracing::error!(%error, "NATS credentials not usable; connecting without");
                    async_nats::ConnectOptions::new()
                }),
        };
        let options = match &tls.ca {
            Some(ca) => options.add_root_certificates(ca.clone()).require_tls(true),
            None => options,
        };
        let options = match &tls.client {
            Some((cert, key)) => options.add_client_certificate(cert.clone(), key.clone()),
            None => options,
        };
        let options = options
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
                        // Authorization failures and the like: worth seeing at once.
                        async_nats::Event::ClientError(error) => {
                            tracing::warn!(%error, "NATS client error");
                        }
                        other => tracing::debug!(?other, "NATS event"),
                    }
                }
            });
        let client = match options.connect(url).await {
            Ok(client) => client,
            Err(error) => {
                let url = mush_store::redact_url(url);
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
                        let version = std::str::from_utf8(&message.payload)
                            .ok()
                            .and_then(|v| v.parse().ok());
                        match id {
                            Some(id) => cache.invalidate(Dbref(id), version),
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

    /// Tells every pod that `id` changed, with its version after the change when the
    /// object itself changed (see [`Cache::invalidate`]). Best effort by design: the TTL
    /// bounds staleness if the message is lost.
    pub async fn publish(&self, id: Dbref, version: Option<u64>) {
        let Some(client) = &self.client else { return };
        let subject = format!("{}.inval.obj.{}", self.prefix, id.0);
        let payload = version.map(|v| v.to_string()).unwrap_or_default();
        if let Err(error) = client.publish(subject, payload.into()).await {
            tracing::debug!(%error, "invalidation not published");
        }
    }

    /// The NATS connection, for the pod's other broadcasts (rebalance requests); `None`
    /// if NATS could not even be configured.
    pub(crate) fn client(&self) -> Option<&async_nats::Client> {
        self.client.as_ref()
    }

    /// True while the NATS connection is up (readiness).
    pub fn is_connected(&self) -> bool {
        self.client
            .as_ref()
            .is_some_and(|c| c.connection_state() == async_nats::connection::State::Connected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_overlapping_an_eviction_is_not_cached() {
        let cache = Cache::new(CacheTtl::default());
        cache.set_nats_up(true);
        let before = cache.epoch();
        cache.evict(Dbref(0));
        cache.put_list(Dbref(0), List::Contents, Arc::new(vec![1]), before);
        assert!(
            cache.list(Dbref(0), List::Contents).is_none(),
            "stale read cached"
        );
        let now = cache.epoch();
        cache.put_list(Dbref(0), List::Contents, Arc::new(vec![1, 2]), now);
        assert_eq!(
            cache.list(Dbref(0), List::Contents).as_deref(),
            Some(&vec![1, 2])
        );
    }

    fn thing(id: u64, version: u64) -> Arc<Object> {
        let mut fields = vec![("type".to_string(), "thing".to_string())];
        fields.push(("v".into(), version.to_string()));
        Arc::new(mush_store::Object::from_fields(Dbref(id), fields).expect("parse"))
    }

    #[test]
    fn own_writes_are_kept_unless_something_newer_was_announced() {
        let cache = Cache::new(CacheTtl::default());
        cache.set_nats_up(true);
        let version = |id| match cache.object(Dbref(id)) {
            Some(Some(o)) => Some(o.version),
            _ => None,
        };
        // A write with nothing in between is kept, and its own announcement coming back
        // (same version) or an older one does not evict it.
        let seen = cache.evictions_of(Dbref(1));
        cache.put_written(thing(1, 6), seen);
        assert_eq!(version(1), Some(6));
        cache.invalidate(Dbref(1), Some(6));
        cache.invalidate(Dbref(1), Some(5));
        assert_eq!(version(1), Some(6), "an echo evicted the pod's own write");
        // Another pod's newer write evicts it.
        cache.invalidate(Dbref(1), Some(7));
        assert_eq!(version(1), None);
        // A commit during which the object was evicted (another pod's write announced
        // while ours was in flight) is not cached: it may be older than that write.
        let seen = cache.evictions_of(Dbref(2));
        cache.invalidate(Dbref(2), Some(9));
        cache.put_written(thing(2, 8), seen);
        assert_eq!(
            version(2),
            None,
            "a write older than an announced one was cached"
        );
        // Nor is an older write of this pod over a newer one of another session here.
        let seen = cache.evictions_of(Dbref(3));
        cache.put_written(thing(3, 4), seen);
        cache.put_written(thing(3, 3), seen);
        assert_eq!(version(3), Some(4));
        // An announcement without a version (lists changed, or an older pod) evicts.
        cache.invalidate(Dbref(3), None);
        assert_eq!(version(3), None);
    }

    #[test]
    fn entries_expire_after_the_short_ttl_while_nats_is_down() {
        let cache = Cache::new(CacheTtl {
            connected: Duration::from_secs(60),
            disconnected: Duration::from_millis(20),
        });
        cache.put_list(Dbref(1), List::Exits, Arc::new(vec![3]), cache.epoch());
        assert!(cache.list(Dbref(1), List::Exits).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            cache.list(Dbref(1), List::Exits).is_none(),
            "outlived the short TTL"
        );
    }

    #[test]
    fn sweeps_drop_what_expired_and_a_full_cache_drops_its_oldest_half() {
        let cache = Cache::new(CacheTtl {
            connected: Duration::from_secs(60),
            disconnected: Duration::from_millis(20),
        });
        cache.put_list(Dbref(1), List::Exits, Arc::new(vec![3]), cache.epoch());
        assert_eq!(cache.sweep(), 0, "a fresh entry was swept");
        std::thread::sleep(Duration::from_millis(30));
        cache.put_list(Dbref(2), List::Exits, Arc::new(vec![4]), cache.epoch());
        assert_eq!(cache.sweep(), 1, "only the expired entry goes");
        assert!(cache.list(Dbref(2), List::Exits).is_some());

        let map: Map<u64, u64> = Map::new();
        for n in 0..MAX_ENTRIES as u64 {
            map.insert_if(n, n, |_| true);
        }
        assert_eq!(map.lock().len(), MAX_ENTRIES);
        map.insert_if(u64::MAX, 0, |_| true);
        let len = map.lock().len();
        assert!(
            len <= MAX_ENTRIES / 2 + 1,
            "{len} entries after a full insert"
        );
        assert!(map.peek(&u64::MAX).is_some(), "the new entry was dropped");
    }
}
