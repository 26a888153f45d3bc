//! The shard's command queue (`@wait`, `@trigger`, `$`-commands...): durable in Redis,
//! run by whichever game pod claims an entry.
//!
//! # Promise
//!
//! * An entry is added once: every entry has an id its producer derives from what produced
//!   it (a player's command `<handle>:<seq>`, or the queued job that queued it), so a
//!   producer that runs again after its pod died adds nothing twice. Ids of finished
//!   entries are remembered for [`DONE_MEMORY_MS`] for the same reason.
//! * An entry is claimed with a lease ([`Store::queue_claim`]). A pod that dies while
//!   running it lets the lease run out, and the next claim gives the entry to another pod.
//!   The job's world writes carry the entry's id as their command mark, so the second run
//!   writes nothing the first one already wrote.
//! * Finishing an entry ([`Store::queue_finish`]) removes it and applies what it asked of
//!   the queue (new entries, notifications, halts) in one script: all or nothing.
//!
//! # Layout
//!
//! Every key is `<prefix>:{<prefix>:w}:q:<name>`: under the shard's prefix, and sharing the
//! world's hash tag, so each script runs in one slot: `due` (ZSET id -> time it may run, ms), `run` (ZSET id -> lease end), `j:<id>` (HASH
//! body, exec, owner, sem), `sem:<obj>/<attr>` (ZSET id -> arrival order), `x:<exec>` and
//! `w:<owner>` (SETs of ids, for `@halt` and the quota), `all` (SET of ids), `semof:<obj>`
//! (SET of the attributes an object has been waited on by, for `@drain`), `done` (ZSET id
//! -> finish time), `seq` (arrival counter), `hx:<exec>` (an object just halted for
//! running away, whose adds are refused for a moment).
//!
//! Queue work is a small share of a shard's traffic (TinyMUX runs one queue for a whole
//! game), so the world's slot carries it too.

use std::sync::LazyLock;

use redis::Script;

use crate::commit::{Commit, Committed, as_int};
use crate::outbox::PARCEL_LEASE_MS;
use crate::scripts::WORLD_FN;
use crate::{Store, StoreError};

/// How long the ids of finished entries are remembered (a producer re-running later than
/// this is not expected: a lease or a session's rescue is seconds).
pub const DONE_MEMORY_MS: u64 = 3_600_000;

/// An entry to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// Its id, derived from what produced it.
    pub id: String,
    /// The object that runs it.
    pub executor: u64,
    /// That object's owner.
    pub owner: u64,
    /// Milliseconds from now until it may run; `None`: only when its semaphore is notified.
    pub delay_ms: Option<u64>,
    /// The semaphore (`<object>/<attribute>`) it waits on, if any.
    pub semaphore: Option<(u64, String)>,
    /// The job, as its producer serialised it.
    pub body: String,
    /// How many entries its owner may have queued (more halts them all).
    pub quota: u64,
    /// The objects its producer wrote, each with the version the write left: the pod that
    /// runs it must not read an older copy from its cache (the invalidation from the
    /// producer's pod may not have arrived yet), as TinyMUX's queued work always sees
    /// what queued it did.
    pub after: Vec<(u64, u64)>,
}

/// What a command or a finished entry asks of the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueChange {
    /// Add an entry (nothing if its id is queued or was finished recently).
    Add(NewEntry),
    /// Release (or with `drain`, discard) up to `count` waiters of a semaphore, oldest
    /// first; `attr` `None` means every attribute of the object (drain only).
    Notify {
        /// The semaphore object.
        object: u64,
        /// Its attribute.
        attr: Option<String>,
        /// How many (`None`: all).
        count: Option<u64>,
        /// Discard instead of releasing.
        drain: bool,
    },
    /// Remove the entries of one executor, of one owner, or (both `None`) all of them.
    Halt {
        /// An executor.
        executor: Option<u64>,
        /// An owner.
        owner: Option<u64>,
    },
    /// Keep the output of what finishes here in the outbox until its gateways confirm it
    /// (see [`crate::outbox`]): written with the finish, so output of work that ran is
    /// never lost with the pod that ran it.
    Parcel {
        /// Its id, the one its deliveries carry (gateways drop a repeated one).
        id: String,
        /// What is to be delivered, as the game serialised it.
        body: String,
    },
    /// The adds after this were produced by work that began `elapsed_ms` ago and ran on a
    /// pod without passing through the queue (see the game's `queue::run_now`): an add
    /// whose executor or owner was `@halt`ed since is dropped, as the halt would have
    /// removed it had it been queued.
    Since {
        /// How long ago the work began.
        elapsed_ms: u64,
    },
}

/// An entry a pod claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// Its id.
    pub id: String,
    /// The job.
    pub body: String,
    /// The semaphore it was waiting on when its timeout ran out (its count must go down).
    pub timed_out: Option<(u64, String)>,
    /// What its producer wrote (see [`NewEntry::after`]).
    pub after: Vec<(u64, u64)>,
}

/// What [`Store::queue_finish_batch`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchFinished {
    /// The writes are applied and the entries finished, with what that did.
    Done(Applied),
    /// Nothing changed: this object changed after the batch read it.
    Stale(crate::Dbref),
    /// Nothing changed: another player holds this name.
    NameTaken(String),
    /// Nothing changed: this entry is no longer queued (halted, or run by another pod).
    Gone(String),
    /// Nothing changed: the commit's mark was found (work with no entry, run again after
    /// its pod died, whose first run committed).
    AlreadyApplied,
}

/// What applying changes did that the producer must tell someone about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Owners whose entries were all halted for going over their quota, each with the
    /// object whose entry went over (TinyMUX sets it HALT).
    pub runaway: Vec<(u64, u64)>,
    /// How many entries each [`QueueChange::Halt`] removed, in the order given (`None`:
    /// not applied, its entry being already finished).
    pub halted: Vec<Option<u64>>,
    /// False when the finished entry was no longer there (halted meanwhile, or finished
    /// by another pod after this one's lease ran out): its changes were not applied.
    pub finished: bool,
}

/// How long a `@halt` is remembered for [`QueueChange::Since`] (far longer than any run
/// that skipped the queue lasts).
const HALT_STAMP_MS: u64 = 60_000;

/// How long an object halted for running away has its new entries refused by the queue
/// itself: the time its HALT flag (set by the pod that saw the runaway) takes to reach the
/// pods still running its entries claimed before, which would otherwise queue more.
const HALTED_MS: u64 = 10_000;

/// Shared Lua: removing an entry from every structure.
const FORGET: &str = r"
local function forget(p, id)
  local j = p .. 'j:' .. id
  local f = redis.call('HMGET', j, 'exec', 'owner', 'sem')
  if f[1] then redis.call('SREM', p .. 'x:' .. f[1], id) end
  if f[2] then redis.call('SREM', p .. 'w:' .. f[2], id) end
  if f[3] and f[3] ~= '' then redis.call('ZREM', p .. 'sem:' .. f[3], id) end
  redis.call('ZREM', p .. 'due', id)
  redis.call('ZREM', p .. 'run', id)
  redis.call('SREM', p .. 'all', id)
  redis.call('DEL', j)
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
";

/// KEYS: any key with the queue's tag (routing). ARGV: prefix, done memory ms, then ops:
/// `F id` (finish a claimed entry; the ops after it, up to the next `F`, are its changes,
/// applied only if it was still there), `A id exec owner delay|-1 sem|'' quota body after`,
/// `N obj attr|'' count|-1 drain(0/1)`, `H exec|'' owner|''`.
/// Returns {number of `F`s, number of runaways, each `F` finished (0/1)..., (runaway
/// owner, its object)..., entries removed by each `H` (-1: skipped with its entry)...}.
static APPLY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{FORGET}{}\nreturn queue_apply(ARGV, 1, #ARGV)\n",
        queue_fn()
    ))
});

/// KEYS: routing key. ARGV: k, the ids of k claimed entries, w, `world_commit`'s w
/// arguments (see [`crate::scripts::WORLD_COMMIT`]), then [`APPLY`]'s arguments finishing
/// those entries. All or nothing: {6, id} if an entry is gone (halted, or finished by a
/// pod that ran it after this one's lease ran out); {2} if the commit's mark committed
/// before (`cm:<mark>`, kept as long as finished ids: a command's batch, which has no
/// entry, run again after its pod died, whatever it writes this time); `world_commit`'s
/// answer if it did not apply; else {1, then [`APPLY`]'s answer}.
static FINISH_BATCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{FORGET}{WORLD_FN}{}
local k = tonumber(ARGV[1])
local w = tonumber(ARGV[k + 2])
local w0, w1 = k + 3, k + 2 + w
local qp = ARGV[w1 + 1]
for n = 2, k + 1 do
  if redis.call('EXISTS', qp .. 'j:' .. ARGV[n]) == 0 then return {{6, ARGV[n]}} end
end
local mark = ARGV[w0 + 1]
if mark ~= '' and redis.call('EXISTS', qp .. 'cm:' .. mark) == 1 then return {{2}} end
local r = world_commit(ARGV, w0, w1)
if r.err or r[1] ~= 1 then return r end
local out = queue_apply(ARGV, w1 + 1, #ARGV)
if out.err then return out end
if mark ~= '' then redis.call('SET', qp .. 'cm:' .. mark, 1, 'PX', ARGV[w1 + 2]) end
table.insert(out, 1, 1)
return out
",
        queue_fn()
    ))
});

/// The body of [`APPLY`] as a Lua function over `A[base..=last]` (see [`FINISH_BATCH`]).
fn queue_fn() -> String {
    format!(
        r"
local function queue_apply(A, base, last)
  local p = A[base]
  local now = now_ms()
  redis.call('ZREMRANGEBYSCORE', p .. 'done', '-inf', now - tonumber(A[base + 1]))
  local runaway = {{}}
  local halted = {{}}
  local finished = {{}}
  local skip = false
  local since = nil
  -- Halts applied by this script: what comes after them here was queued after them.
  local stamped = {{}}
  local function halted_since(exec, owner)
    for _, k in ipairs({{'hs:x:' .. exec, 'hs:w:' .. owner, 'hs:all'}}) do
      if not stamped[k] then
        local t = redis.call('GET', p .. k)
        if t and tonumber(t) >= since then return true end
      end
    end
    return false
  end
  local function halt_set(set)
    local ids = redis.call('SMEMBERS', set)
    for _, id in ipairs(ids) do forget(p, id) end
    return #ids
  end
  local i = base + 2
  while i <= last do
    local op = A[i]
    if op == 'F' then
      local id = A[i+1]
      i = i + 2
      if redis.call('EXISTS', p .. 'j:' .. id) == 0 then
        skip = true
        table.insert(finished, 0)
      else
        skip = false
        forget(p, id)
        redis.call('ZADD', p .. 'done', now, id)
        table.insert(finished, 1)
      end
    elseif op == 'A' then
      local id, exec, owner, delay, sem, quota, body, after = A[i+1], A[i+2], A[i+3], tonumber(A[i+4]), A[i+5], tonumber(A[i+6]), A[i+7], A[i+8]
      i = i + 9
      if not skip and redis.call('EXISTS', p .. 'j:' .. id) == 0 and not redis.call('ZSCORE', p .. 'done', id)
         and redis.call('EXISTS', p .. 'hx:' .. exec) == 0 and not (since and halted_since(exec, owner)) then
        if redis.call('SCARD', p .. 'w:' .. owner) >= quota then
          halt_set(p .. 'w:' .. owner)
          table.insert(runaway, owner)
          table.insert(runaway, exec)
          redis.call('SET', p .. 'hx:' .. exec, 1, 'PX', {HALTED_MS})
        else
          local seq = redis.call('INCR', p .. 'seq')
          redis.call('HSET', p .. 'j:' .. id, 'body', body, 'exec', exec, 'owner', owner, 'sem', sem, 'seq', seq, 'after', after)
          redis.call('SADD', p .. 'x:' .. exec, id)
          redis.call('SADD', p .. 'w:' .. owner, id)
          redis.call('SADD', p .. 'all', id)
          if sem ~= '' then
            redis.call('ZADD', p .. 'sem:' .. sem, seq, id)
            local slash = string.find(sem, '/', 1, true)
            redis.call('SADD', p .. 'semof:' .. string.sub(sem, 1, slash - 1), string.sub(sem, slash + 1))
          end
          if delay >= 0 then redis.call('ZADD', p .. 'due', now + delay, id) end
        end
      end
    elseif op == 'N' then
      local obj, attr, count, drain = A[i+1], A[i+2], tonumber(A[i+3]), A[i+4] == '1'
      i = i + 5
      local keys = {{}}
      if skip then
        keys = {{}}
      elseif attr ~= '' then
        keys = {{p .. 'sem:' .. obj .. '/' .. attr}}
      else
        for _, a in ipairs(redis.call('SMEMBERS', p .. 'semof:' .. obj)) do
          table.insert(keys, p .. 'sem:' .. obj .. '/' .. a)
        end
      end
      for _, key in ipairs(keys) do
        local stop = -1
        if count >= 0 then stop = count - 1 end
        if count ~= 0 then
          for _, id in ipairs(redis.call('ZRANGE', key, 0, stop)) do
            if drain then
              forget(p, id)
            else
              redis.call('ZREM', key, id)
              redis.call('HSET', p .. 'j:' .. id, 'sem', '')
              redis.call('ZADD', p .. 'due', now, id)
            end
          end
        end
      end
    elseif op == 'P' then
      local id, body = A[i+1], A[i+2]
      i = i + 3
      if not skip then
        redis.call('HSET', p .. 'o:' .. id, 'body', body, 'at', now)
        redis.call('ZADD', p .. 'outq', now + {PARCEL_LEASE_MS}, id)
      end
    elseif op == 'S' then
      since = now - tonumber(A[i+1])
      i = i + 2
    elseif op == 'H' then
      local exec, owner = A[i+1], A[i+2]
      i = i + 3
      local name = 'all'
      if exec ~= '' then name = 'x:' .. exec
      elseif owner ~= '' then name = 'w:' .. owner end
      if skip then
        table.insert(halted, -1)
      else
        table.insert(halted, halt_set(p .. name))
        redis.call('SET', p .. 'hs:' .. name, now, 'PX', {HALT_STAMP_MS})
        stamped['hs:' .. name] = true
      end
    else
      return redis.error_reply('bad queue change ' .. tostring(op))
    end
  end
  local out = {{#finished, #runaway / 2}}
  for _, f in ipairs(finished) do table.insert(out, f) end
  for _, o in ipairs(runaway) do table.insert(out, o) end
  for _, n in ipairs(halted) do table.insert(out, n) end
  return out
end
"
    )
}

/// KEYS: routing key. ARGV: prefix, ids. Gives claimed entries back: each still leased
/// is due again, ahead of everything due (it was due before what came since). Returns
/// how many were.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p = ARGV[1]
local n = 0
for i = 2, #ARGV do
  if redis.call('ZREM', p .. 'run', ARGV[i]) == 1 then
    redis.call('ZADD', p .. 'due', 0, ARGV[i])
    n = n + 1
  end
end
return n
",
    )
});

/// KEYS: routing key. ARGV: prefix, max, lease ms.
/// Returns {id, body, timed-out semaphore or '', ...}: entries due now, oldest first,
/// after giving back entries whose lease ran out.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{FORGET}
local p = ARGV[1]
local now = now_ms()
local lease = tonumber(ARGV[3])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'run', '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', p .. 'run', id)
  redis.call('ZADD', p .. 'due', now, id)
end
local out = {{}}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'due', '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))) do
  redis.call('ZREM', p .. 'due', id)
  local j = p .. 'j:' .. id
  local f = redis.call('HMGET', j, 'body', 'sem', 'after')
  if f[1] then
    local sem = f[2] or ''
    if sem ~= '' then
      redis.call('ZREM', p .. 'sem:' .. sem, id)
      redis.call('HSET', j, 'sem', '')
    end
    redis.call('ZADD', p .. 'run', now + lease, id)
    table.insert(out, id)
    table.insert(out, f[1])
    table.insert(out, sem)
    table.insert(out, f[3] or '')
  end
end
return out
"
    ))
});

/// KEYS: any key with the queue's tag. ARGV: prefix, most entries to list.
/// Returns {now ms, entries not on a semaphore, entries on one, then per listed entry:
/// body, sem|'', due ms|'', arrival seq|''}.
static LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{FORGET}
local p = ARGV[1]
local max = tonumber(ARGV[2])
local out = {{tostring(now_ms()), '0', '0'}}
local waiting, sems, listed = 0, 0, 0
for _, id in ipairs(redis.call('SMEMBERS', p .. 'all')) do
  local f = redis.call('HMGET', p .. 'j:' .. id, 'body', 'sem', 'seq')
  if f[1] then
    local sem = f[2] or ''
    if sem ~= '' then sems = sems + 1 else waiting = waiting + 1 end
    if listed < max then
      listed = listed + 1
      table.insert(out, f[1])
      table.insert(out, sem)
      table.insert(out, redis.call('ZSCORE', p .. 'due', id) or '')
      table.insert(out, f[3] or '')
    end
  end
end
out[2] = tostring(waiting)
out[3] = tostring(sems)
return out
"
    ))
});

/// The queue as `@ps` reads it ([`Store::queue_list`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Redis's clock when it was read (ms), against which `due` is measured.
    pub now_ms: u64,
    /// Entries not waiting on a semaphore, in all.
    pub waiting: usize,
    /// Entries waiting on one, in all.
    pub semaphores: usize,
    /// The entries listed, oldest first.
    pub entries: Vec<Listed>,
}

/// One entry of a [`Listing`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listed {
    /// The job, as its producer serialised it.
    pub body: String,
    /// The semaphore object it waits on.
    pub semaphore: Option<u64>,
    /// When it may run (ms); `None`: when notified (or being run now).
    pub due_ms: Option<u64>,
}

/// Appends one change to an `APPLY` call, as the script reads it.
fn push_change(call: &mut redis::ScriptInvocation<'_>, change: &QueueChange) {
    match change {
        QueueChange::Add(e) => {
            call.arg("A")
                .arg(&e.id)
                .arg(e.executor)
                .arg(e.owner)
                .arg(e.delay_ms.map_or(-1, |d| d.min(i64::MAX as u64) as i64))
                .arg(
                    e.semaphore
                        .as_ref()
                        .map(|(o, a)| format!("{o}/{a}"))
                        .unwrap_or_default(),
                )
                .arg(e.quota)
                .arg(&e.body)
                .arg(
                    e.after
                        .iter()
                        .map(|(id, version)| format!("{id}:{version}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
        }
        QueueChange::Notify {
            object,
            attr,
            count,
            drain,
        } => {
            call.arg("N")
                .arg(object)
                .arg(attr.as_deref().unwrap_or(""))
                .arg(count.map_or(-1, |c| c.min(i64::MAX as u64) as i64))
                .arg(if *drain { "1" } else { "0" });
        }
        QueueChange::Parcel { id, body } => {
            call.arg("P").arg(id).arg(body);
        }
        QueueChange::Since { elapsed_ms } => {
            call.arg("S").arg(elapsed_ms);
        }
        QueueChange::Halt { executor, owner } => {
            call.arg("H")
                .arg(executor.map(|e| e.to_string()).unwrap_or_default())
                .arg(owner.map(|o| o.to_string()).unwrap_or_default());
        }
    }
}

impl Store {
    /// Every queue key starts with the store's prefix (so purging a shard removes its
    /// queue) and carries the world's hash tag (so each script runs in one slot, the
    /// world's).
    pub(crate) fn queue_prefix(&self) -> String {
        format!("{}q:", self.world_prefix())
    }

    /// Applies changes a player's command asked of the queue (no entry finishes).
    pub async fn queue_apply(&self, changes: &[QueueChange]) -> Result<Applied, StoreError> {
        if changes.is_empty() {
            return Ok(Applied {
                finished: true,
                ..Applied::default()
            });
        }
        self.queue_script(&[(None, changes)], "queue_apply").await
    }

    /// Finishes a claimed entry and applies what it asked of the queue, together. Safe to
    /// repeat: an entry already finished applies nothing (`finished: false`).
    pub async fn queue_finish(
        &self,
        id: &str,
        changes: &[QueueChange],
    ) -> Result<Applied, StoreError> {
        self.queue_script(&[(Some(id), changes)], "queue_finish")
            .await
    }

    /// [`Store::queue_finish`] for several claimed entries in one script, in order: each
    /// entry's changes apply only if that entry was still there. `finished` is true when
    /// every one was.
    pub async fn queue_finish_many(
        &self,
        entries: &[(&str, &[QueueChange])],
    ) -> Result<Applied, StoreError> {
        if entries.is_empty() {
            return Ok(Applied {
                finished: true,
                ..Applied::default()
            });
        }
        let groups: Vec<(Option<&str>, &[QueueChange])> =
            entries.iter().map(|(id, c)| (Some(*id), *c)).collect();
        self.queue_script(&groups, "queue_finish").await
    }

    /// Finishes claimed entries and commits the world writes of their runs in one script:
    /// both or neither, so a batch of entries run together writes once and finishes once
    /// (no command marks needed: an entry still queued has not committed). A group
    /// without an id finishes nothing: its changes apply with the writes (work a command
    /// ran at once, whose commit carries the command's mark instead).
    pub async fn queue_finish_batch(
        &self,
        commit: &Commit,
        entries: &[(Option<&str>, &[QueueChange])],
    ) -> Result<BatchFinished, StoreError> {
        self.timed("queue_finish_batch", async {
            let p = self.queue_prefix();
            let world = self.world_args(commit);
            let mut call = FINISH_BATCH.key(format!("{p}due"));
            let ids: Vec<&str> = entries.iter().filter_map(|(id, _)| *id).collect();
            call.arg(ids.len());
            for id in &ids {
                call.arg(*id);
            }
            call.arg(world.len()).arg(world);
            call.arg(&p).arg(DONE_MEMORY_MS);
            for (id, changes) in entries {
                if let Some(id) = id {
                    call.arg("F").arg(*id);
                }
                for change in *changes {
                    push_change(&mut call, change);
                }
            }
            let reply: Vec<redis::Value> = call
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("finish batch", "queue"))?;
            match reply.first().and_then(as_int) {
                Some(1) => {
                    // Counts come back as integers, object numbers as the strings they
                    // were given as.
                    let answer: Vec<i64> = reply[1..]
                        .iter()
                        .map(|v| {
                            as_int(v)
                                .or_else(|| crate::commit::as_text(v)?.parse().ok())
                                .unwrap_or(0)
                        })
                        .collect();
                    Ok(BatchFinished::Done(applied(&answer)))
                }
                Some(6) => Ok(BatchFinished::Gone(
                    reply
                        .get(1)
                        .and_then(crate::commit::as_text)
                        .unwrap_or_default(),
                )),
                _ => match crate::commit::committed(&reply, "queue batch")? {
                    Committed::Stale(id) => Ok(BatchFinished::Stale(id)),
                    Committed::NameTaken(name) => Ok(BatchFinished::NameTaken(name)),
                    Committed::AlreadyApplied => Ok(BatchFinished::AlreadyApplied),
                    other => Err(StoreError::Corrupt {
                        handle: "queue batch".into(),
                        reason: format!("unexpected batch reply {other:?}"),
                    }),
                },
            }
        })
        .await
    }

    async fn queue_script(
        &self,
        groups: &[(Option<&str>, &[QueueChange])],
        op: &'static str,
    ) -> Result<Applied, StoreError> {
        self.timed(op, async {
            let p = self.queue_prefix();
            let mut call = APPLY.key(format!("{p}due"));
            call.arg(&p).arg(DONE_MEMORY_MS);
            for (finished, changes) in groups {
                if let Some(id) = finished {
                    call.arg("F").arg(*id);
                }
                for change in *changes {
                    push_change(&mut call, change);
                }
            }
            let answer: Vec<i64> = call
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis(op, "queue"))?;
            Ok(applied(&answer))
        })
        .await
    }

    /// Claims up to `max` entries that are due, each for `lease_ms`: the caller runs them
    /// and calls [`Store::queue_finish`] before the lease ends, or another pod will.
    pub async fn queue_claim(&self, max: usize, lease_ms: u64) -> Result<Vec<Claimed>, StoreError> {
        self.timed("queue_claim", async {
            let p = self.queue_prefix();
            let flat: Vec<String> = CLAIM
                .key(format!("{p}due"))
                .arg(&p)
                .arg(max)
                .arg(lease_ms)
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("queue_claim", "queue"))?;
            Ok(flat
                .chunks_exact(4)
                .map(|c| Claimed {
                    id: c[0].clone(),
                    body: c[1].clone(),
                    timed_out: c[2]
                        .split_once('/')
                        .and_then(|(o, a)| o.parse().ok().map(|o: u64| (o, a.to_string()))),
                    after: c[3]
                        .split_whitespace()
                        .filter_map(|pair| {
                            let (id, version) = pair.split_once(':')?;
                            Some((id.parse().ok()?, version.parse().ok()?))
                        })
                        .collect(),
                })
                .collect())
        })
        .await
    }

    /// Lists up to `max` entries (oldest first) and counts them all, for `@ps`.
    pub async fn queue_list(&self, max: usize) -> Result<Listing, StoreError> {
        self.timed("queue_list", async {
            let p = self.queue_prefix();
            let flat: Vec<String> = LIST
                .key(format!("{p}all"))
                .arg(&p)
                .arg(max)
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("queue_list", "queue"))?;
            let number = |i: usize| flat.get(i).and_then(|v| v.parse::<u64>().ok());
            let mut rows: Vec<(u64, Listed)> = flat
                .get(3..)
                .unwrap_or_default()
                .chunks_exact(4)
                .map(|c| {
                    let sem = c[1].split_once('/').and_then(|(o, _)| o.parse().ok());
                    let due = c[2].parse::<f64>().ok().map(|d| d as u64);
                    let seq = c[3].parse().unwrap_or(0);
                    let listed = Listed {
                        body: c[0].clone(),
                        semaphore: sem,
                        due_ms: due,
                    };
                    (seq, listed)
                })
                .collect();
            rows.sort_by_key(|(seq, _)| *seq);
            Ok(Listing {
                now_ms: number(0).unwrap_or(0),
                waiting: number(1).unwrap_or(0) as usize,
                semaphores: number(2).unwrap_or(0) as usize,
                entries: rows.into_iter().map(|(_, l)| l).collect(),
            })
        })
        .await
    }

    /// Gives back claimed entries this pod will not run before their lease ends (it
    /// claimed more than it could run): they are due again at once, for any pod. An entry
    /// whose lease already ran out, or that is finished, is left alone.
    pub async fn queue_release(&self, ids: &[&str]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.timed("queue_release", async {
            let p = self.queue_prefix();
            RELEASE
                .key(format!("{p}due"))
                .arg(&p)
                .arg(ids)
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("queue_release", "queue"))
        })
        .await
    }

    /// Whether a batch commit under `mark` applied (within [`DONE_MEMORY_MS`]).
    pub async fn batch_committed(&self, mark: &str) -> Result<bool, StoreError> {
        self.timed("batch_committed", async {
            redis::cmd("EXISTS")
                .arg(format!("{}cm:{mark}", self.queue_prefix()))
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("batch_committed", "queue"))
        })
        .await
    }

    /// How many entries are queued (due, running and waiting).
    pub async fn queue_len(&self) -> Result<u64, StoreError> {
        self.timed("queue_len", async {
            redis::cmd("SCARD")
                .arg(format!("{}all", self.queue_prefix()))
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("queue_len", "queue"))
        })
        .await
    }
}

/// Reads [`APPLY`]'s answer.
fn applied(answer: &[i64]) -> Applied {
    let count = |i: usize| {
        answer
            .get(i)
            .map_or(0, |v| usize::try_from(*v).unwrap_or(0))
    };
    let (finishes, runaways) = (count(0), count(1));
    let rest = answer.get(2..).unwrap_or_default();
    let (flags, rest) = rest.split_at(finishes.min(rest.len()));
    let (pairs, halted) = rest.split_at((2 * runaways).min(rest.len()));
    let number = |v: &i64| u64::try_from(*v).unwrap_or(0);
    Applied {
        finished: flags.iter().all(|f| *f == 1),
        runaway: pairs
            .chunks_exact(2)
            .map(|p| (number(&p[0]), number(&p[1])))
            .collect(),
        halted: halted.iter().map(|n| u64::try_from(*n).ok()).collect(),
    }
}
