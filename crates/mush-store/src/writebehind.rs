//! The bounded write-behind queue for non-critical writes (metadata, last-seen).
//!
//! Callers enqueue without waiting for Redis. One flusher task per store drains the queue:
//! it coalesces updates (the newest value of a field wins; touches of one connection merge),
//! groups them by bucket and writes each bucket with one `FLUSH` script call, buckets in
//! parallel. A bucket whose write fails stays pending and is retried with backoff; while it
//! does, the flusher reads no new items, so the queue fills and callers are refused instead
//! of memory growing. Every outcome is counted in `mush_store_writebehind_ops_total`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mush_proto::Handle;
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::WriteBehindConfig;
use crate::connection::SharedConnection;
use crate::error::unanswered;
use crate::scripts::FLUSH;
use crate::{EnqueueError, Keys, Store, StoreError, StoreMetrics, now_ms};

/// Longest metadata field name accepted; client-supplied names are untrusted input.
pub const META_FIELD_MAX: usize = 64;
/// Longest metadata value accepted.
pub const META_VALUE_MAX: usize = 1024;

/// How long the last flush may take when the store is dropped without `shutdown`.
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

enum Op {
    Meta { field: String, value: String },
    Touch { at_ms: u64 },
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Meta { .. } => "meta",
            Op::Touch { .. } => "touch",
        }
    }
}

enum Item {
    Op(Handle, Op),
    /// Answer once everything queued before this marker is written or given up.
    Flush(oneshot::Sender<()>),
}

/// The caller's side of the queue; clones share it.
#[derive(Clone)]
pub(crate) struct WriteBehind {
    tx: mpsc::Sender<Item>,
    capacity: usize,
    metrics: StoreMetrics,
    stop: Arc<watch::Sender<Option<Instant>>>,
    task: Arc<Mutex<Option<JoinHandle<u64>>>>,
    refusals: Arc<RefusalLog>,
}

impl WriteBehind {
    pub(crate) fn start(
        conn: Arc<SharedConnection>,
        keys: Arc<Keys>,
        ttl_ms: u64,
        config: WriteBehindConfig,
        metrics: StoreMetrics,
    ) -> Self {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let (stop, stop_rx) = watch::channel(None);
        let capacity = config.capacity;
        let flusher = Flusher {
            rx,
            conn,
            keys,
            ttl_ms,
            config,
            metrics: metrics.clone(),
            stop: stop_rx,
        };
        let task = tokio::spawn(flusher.run());
        Self {
            tx,
            capacity,
            metrics,
            stop: Arc::new(stop),
            task: Arc::new(Mutex::new(Some(task))),
            refusals: Arc::new(RefusalLog::default()),
        }
    }

    fn enqueue(&self, handle: Handle, op: Op) -> Result<(), EnqueueError> {
        let name = op.name();
        let error = match self.tx.try_send(Item::Op(handle, op)) {
            Ok(()) => {
                self.metrics.enqueued();
                return Ok(());
            }
            Err(mpsc::error::TrySendError::Full(_)) => EnqueueError::Full {
                op: name,
                handle,
                capacity: self.capacity,
            },
            Err(mpsc::error::TrySendError::Closed(_)) => EnqueueError::Closed { op: name, handle },
        };
        self.metrics.count_wb(name, "rejected", 1);
        self.refusals.log(&error);
        Err(error)
    }

    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Item::Flush(done))
            .await
            .map_err(|_| StoreError::Shutdown)?;
        wait.await.map_err(|_| StoreError::Shutdown)
    }

    pub(crate) async fn shutdown(&self, deadline: Instant) -> u64 {
        self.stop.send_replace(Some(deadline));
        let task = self.task.lock().await.take();
        match task {
            Some(task) => task.await.unwrap_or_else(|error| {
                tracing::error!(%error, "write-behind flusher panicked");
                0
            }),
            None => 0,
        }
    }
}

/// Logs queue-full refusals at most once a second, with the count since the last line, so
/// an outage produces a readable log rather than one line per player keystroke.
#[derive(Default)]
struct RefusalLog {
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl RefusalLog {
    fn log(&self, error: &EnqueueError) {
        let now = now_ms();
        let last = self.last_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1000
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let more = self.suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(%error, refused_since_last_line = more, "write-behind refused an update");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Store {
    /// Queues a metadata field update (single `HSET`, no read-modify-write). Returns at once;
    /// the write happens within a flush interval. Refused if the field or value exceeds
    /// [`META_FIELD_MAX`] / [`META_VALUE_MAX`] bytes, or if the queue is full.
    pub fn update_meta(
        &self,
        handle: Handle,
        field: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), EnqueueError> {
        let (field, value) = (field.into(), value.into());
        if field.is_empty() || field.len() > META_FIELD_MAX || value.len() > META_VALUE_MAX {
            self.metrics.count_wb("meta", "rejected", 1);
            return Err(EnqueueError::TooLarge {
                handle,
                field: field.chars().take(META_FIELD_MAX).collect(),
            });
        }
        self.write_behind.enqueue(handle, Op::Meta { field, value })
    }

    /// Records activity now: sets last-seen and refreshes the record's TTL, at most one
    /// write per connection per flush window however often it is called.
    pub fn touch(&self, handle: Handle) -> Result<(), EnqueueError> {
        self.write_behind
            .enqueue(handle, Op::Touch { at_ms: now_ms() })
    }
}

/// Pending writes of one connection.
#[derive(Default)]
struct Pending {
    touch: Option<u64>,
    meta: Vec<(String, String)>,
}

impl Pending {
    fn ops(&self) -> usize {
        usize::from(self.touch.is_some()) + self.meta.len()
    }
}

/// Everything read from the queue and not yet written, by bucket.
#[derive(Default)]
struct Batch {
    buckets: BTreeMap<u16, HashMap<Handle, Pending>>,
    ops: usize,
    waiters: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn add(&mut self, keys: &Keys, metrics: &StoreMetrics, handle: Handle, op: Op) {
        let pending = self
            .buckets
            .entry(keys.bucket(handle))
            .or_default()
            .entry(handle)
            .or_default();
        match op {
            Op::Touch { at_ms } => match &mut pending.touch {
                Some(seen) => {
                    *seen = (*seen).max(at_ms);
                    metrics.count_wb("touch", "coalesced", 1);
                }
                None => {
                    pending.touch = Some(at_ms);
                    self.ops += 1;
                }
            },
            Op::Meta { field, value } => match pending.meta.iter_mut().find(|(f, _)| *f == field) {
                Some((_, old)) => {
                    *old = value;
                    metrics.count_wb("meta", "coalesced", 1);
                }
                None => {
                    pending.meta.push((field, value));
                    self.ops += 1;
                }
            },
        }
    }

    fn is_empty(&self) -> bool {
        self.ops == 0
    }

    fn take_bucket(&mut self, bucket: u16) -> Option<HashMap<Handle, Pending>> {
        let pending = self.buckets.remove(&bucket)?;
        self.ops -= pending.values().map(Pending::ops).sum::<usize>();
        Some(pending)
    }

    fn answer_waiters(&mut self) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}

/// Counts of one bucket's pending operations, for the metrics.
fn op_counts(pending: &HashMap<Handle, Pending>) -> (u64, u64) {
    pending.values().fold((0, 0), |(touch, meta), p| {
        (
            touch + u64::from(p.touch.is_some()),
            meta + p.meta.len() as u64,
        )
    })
}

struct Flusher {
    rx: mpsc::Receiver<Item>,
    conn: Arc<SharedConnection>,
    keys: Arc<Keys>,
    ttl_ms: u64,
    config: WriteBehindConfig,
    metrics: StoreMetrics,
    stop: watch::Receiver<Option<Instant>>,
}

impl Flusher {
    /// Runs until shutdown is asked for or every store clone is gone; returns how many
    /// operations were abandoned.
    async fn run(mut self) -> u64 {
        let mut batch = Batch::default();
        let mut tick = tokio::time::interval(self.config.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while self.stop.borrow().is_none() {
            tokio::select! {
                biased;
                changed = self.stop.changed() => if changed.is_err() { break },
                item = self.rx.recv() => match item {
                    None => break,
                    Some(Item::Op(handle, op)) => {
                        batch.add(&self.keys, &self.metrics, handle, op);
                        if batch.ops >= self.config.max_batch {
                            self.flush(&mut batch, None).await;
                        }
                    }
                    Some(Item::Flush(done)) => {
                        batch.waiters.push(done);
                        self.flush(&mut batch, None).await;
                    }
                },
                _ = tick.tick() => if !batch.is_empty() {
                    self.flush(&mut batch, None).await;
                },
            }
        }
        self.finish(batch).await
    }

    /// The last flush: everything still queued, until the deadline; the rest is abandoned.
    async fn finish(mut self, mut batch: Batch) -> u64 {
        let deadline = self
            .stop
            .borrow()
            .unwrap_or_else(|| Instant::now() + DEFAULT_SHUTDOWN_GRACE);
        self.rx.close();
        while let Ok(item) = self.rx.try_recv() {
            match item {
                Item::Op(handle, op) => batch.add(&self.keys, &self.metrics, handle, op),
                Item::Flush(done) => batch.waiters.push(done),
            }
        }
        self.flush(&mut batch, Some(deadline)).await;
        let abandoned = batch.ops as u64;
        for (bucket, pending) in std::mem::take(&mut batch.buckets) {
            let (touch, meta) = op_counts(&pending);
            self.metrics.count_wb("touch", "abandoned", touch);
            self.metrics.count_wb("meta", "abandoned", meta);
            tracing::error!(
                key = %self.keys.active(bucket),
                handles = ?handles_sample(&pending),
                ops = touch + meta,
                "write-behind abandoned at shutdown: Redis did not take the writes in time"
            );
        }
        batch.ops = 0;
        abandoned
    }

    /// Writes the batch, retrying failed buckets with backoff until all are written, the
    /// deadline (shutdown) passes, or shutdown is asked for (the caller then finishes).
    async fn flush(&mut self, batch: &mut Batch, deadline: Option<Instant>) {
        let mut wait = self.config.retry_min;
        loop {
            self.write_once(batch).await;
            if batch.is_empty() {
                batch.buckets.clear();
                batch.answer_waiters();
                return;
            }
            let resume = Instant::now() + wait;
            match deadline {
                Some(deadline) if resume >= deadline => return,
                Some(_) => tokio::time::sleep(wait).await,
                None => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.stop.changed() => return,
                    }
                }
            }
            wait = (wait * 2).min(self.config.retry_max);
        }
    }

    /// One attempt at every pending bucket, in parallel.
    async fn write_once(&self, batch: &mut Batch) {
        let started = Instant::now();
        let attempts: Vec<_> = batch
            .buckets
            .iter()
            .map(|(&bucket, pending)| {
                let handles: Vec<Handle> = pending.keys().copied().collect();
                let mut call = FLUSH.prepare_invoke();
                call.arg(self.ttl_ms);
                for handle in &handles {
                    let p = &pending[handle];
                    call.key(self.keys.conn(*handle))
                        .key(self.keys.meta(*handle));
                    call.arg(p.touch.map(|t| t.to_string()).unwrap_or_default())
                        .arg(p.meta.len());
                    for (field, value) in &p.meta {
                        call.arg(field).arg(value);
                    }
                }
                let mut conn = self.conn.get();
                let shared = self.conn.clone();
                async move {
                    let result = call.invoke_async::<Vec<usize>>(&mut conn).await;
                    shared.observe(!result.as_ref().is_err_and(unanswered));
                    (bucket, handles, result)
                }
            })
            .collect();
        let results: Vec<_> = futures_util::stream::iter(attempts)
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        self.metrics.observe_flush(started.elapsed());
        for (bucket, handles, result) in results {
            match result {
                Ok(missing) => {
                    let Some(mut pending) = batch.take_bucket(bucket) else {
                        continue;
                    };
                    for position in missing {
                        let Some(handle) = position.checked_sub(1).and_then(|i| handles.get(i))
                        else {
                            continue;
                        };
                        if let Some(gone) = pending.remove(handle) {
                            self.metrics.count_wb(
                                "touch",
                                "missing",
                                u64::from(gone.touch.is_some()),
                            );
                            self.metrics
                                .count_wb("meta", "missing", gone.meta.len() as u64);
                            tracing::warn!(
                                %handle,
                                key = %self.keys.conn(*handle),
                                "write-behind update discarded: the connection no longer exists"
                            );
                        }
                    }
                    let (touch, meta) = op_counts(&pending);
                    self.metrics.count_wb("touch", "ok", touch);
                    self.metrics.count_wb("meta", "ok", meta);
                }
                Err(error) => {
                    let Some(pending) = batch.buckets.get(&bucket) else {
                        continue;
                    };
                    let (touch, meta) = op_counts(pending);
                    self.metrics.count_wb("touch", "failed", touch);
                    self.metrics.count_wb("meta", "failed", meta);
                    tracing::warn!(
                        key = %self.keys.active(bucket),
                        handles = ?handles_sample(pending),
                        ops = touch + meta,
                        %error,
                        "write-behind flush failed; will retry"
                    );
                }
            }
        }
    }
}

/// Up to 16 handles of a bucket for a log line, with the total count.
fn handles_sample(pending: &HashMap<Handle, Pending>) -> String {
    let mut handles: Vec<u64> = pending.keys().map(|h| h.0).collect();
    handles.sort_unstable();
    let shown: Vec<String> = handles.iter().take(16).map(u64::to_string).collect();
    if handles.len() > shown.len() {
        format!(
            "[{} +{} more]",
            shown.join(","),
            handles.len() - shown.len()
        )
    } else {
        format!("[{}]", shown.join(","))
    }
}
