//! Lua scripts: each runs atomically inside one bucket's slot.
//!
//! A script touches only keys of its bucket's hash tag. Keys a script learns from the data
//! (the per-pod set of the pod a record names) are built from a prefix passed in ARGV; they
//! share the tag, so Redis Cluster serves them from the same slot.

use std::sync::LazyLock;

use redis::Script;

/// KEYS: conn, meta, active, [pod set]. ARGV: ttl_ms, handle, field, value, ...
/// Returns 1, or 0 if the handle is already registered.
pub static REGISTER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
if KEYS[4] then redis.call('SADD', KEYS[4], ARGV[2]) end
return 1
",
    )
});

/// KEYS: conn. ARGV: field, value, ... Returns 1, or 0 if the record does not exist (an
/// update must never resurrect an expired record without its TTL and indexes).
pub static UPDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
",
    )
});

/// KEYS: conn, meta, active, journal. ARGV: handle, pod-set prefix. Returns 1 if a record
/// existed. Index entries are removed whether or not the record still existed (it may have
/// expired).
pub static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local pod = redis.call('HGET', KEYS[1], 'pod')
if pod and pod ~= '' then redis.call('SREM', ARGV[2] .. pod, ARGV[1]) end
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[4])
redis.call('SREM', KEYS[3], ARGV[1])
return existed
",
    )
});

/// KEYS: conn, new pod set. ARGV: handle, new pod, pod-set prefix.
/// Unconditional assignment. Returns 1, or 0 if the record does not exist.
pub static ASSIGN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local old = redis.call('HGET', KEYS[1], 'pod')
if old == false and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if old and old ~= '' and old ~= ARGV[2] then redis.call('SREM', ARGV[3] .. old, ARGV[1]) end
redis.call('HSET', KEYS[1], 'pod', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
",
    )
});

/// KEYS: conn, from pod set, to pod set. ARGV: handle, from pod, to pod.
/// Compare-and-set: moves only if the record still names `from`.
/// Returns {1, to} moved, {0, current} someone else owns it, {-1, ''} no record.
pub static MOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cur = redis.call('HGET', KEYS[1], 'pod')
if cur == false then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, ''} end
  cur = ''
end
if cur ~= ARGV[2] then return {0, cur} end
redis.call('HSET', KEYS[1], 'pod', ARGV[3])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return {1, ARGV[3]}
",
    )
});

/// Write-behind flush of one bucket.
/// KEYS: conn_1, meta_1, conn_2, meta_2, ...
/// ARGV: ttl_ms, then per handle: touch_ms ('' for none), n, field_1, value_1, ... field_n, value_n
/// Writes only to records that exist and refreshes both TTLs; returns the 1-based positions
/// of handles whose record was missing.
pub static FLUSH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local ttl = ARGV[1]
local missing = {}
local a = 2
for i = 1, #KEYS, 2 do
  local touch = ARGV[a]
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  if redis.call('EXISTS', KEYS[i]) == 1 then
    if touch ~= '' then redis.call('HSET', KEYS[i], 'last_seen', touch) end
    if n > 0 then redis.call('HSET', KEYS[i + 1], unpack(ARGV, a, a + 2 * n - 1)) end
    redis.call('PEXPIRE', KEYS[i], ttl)
    redis.call('PEXPIRE', KEYS[i + 1], ttl)
  else
    missing[#missing + 1] = (i + 1) / 2
  end
  a = a + 2 * n
end
return missing
",
    )
});

/// Reads a whole index in one call. KEYS: the active index or a pod set.
/// ARGV: record key prefix, metadata key prefix, expected pod ('' for the active index).
/// Index entries whose record is gone (or, in a pod set, names another pod) are removed on
/// the spot, atomically, so a concurrent register or move is never undone. Returns
/// {removed, cmsgpack([handle, record pairs, metadata pairs, ...])}.
pub static READ_BUCKET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
local removed = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local rec = redis.call('HGETALL', ARGV[1] .. h)
  local stale = #rec == 0
  if not stale and ARGV[3] ~= '' then
    stale = true
    for i = 1, #rec, 2 do
      if rec[i] == 'pod' then stale = rec[i + 1] ~= ARGV[3] end
    end
  end
  if stale then
    removed = removed + redis.call('SREM', KEYS[1], h)
  else
    out[#out + 1] = h
    out[#out + 1] = rec
    out[#out + 1] = redis.call('HGETALL', ARGV[2] .. h)
  end
end
return {removed, cmsgpack.pack(out)}
",
    )
});

/// KEYS: heartbeat hash. ARGV: ttl_ms, field, value, ... Replaces the heartbeat atomically
/// so a pod never appears without its TTL.
pub static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
",
    )
});

/// KEYS: conn, journal. ARGV: ttl_ms, seq, forget_upto, command `seq`'s output to others
/// (or ''), then (seq, reply) pairs. Records that commands up to `seq` ran, with the
/// replies and output given, and forgets the replies and output the gateway has
/// acknowledged. Returns 1, or 0 if the connection no longer exists
/// (nothing is written).
pub static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local seq = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
if seq > last then redis.call('HSET', KEYS[2], 'seq', ARGV[2]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'o' .. ARGV[2], ARGV[4]) end
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[2], 'r' .. ARGV[i], ARGV[i + 1])
end
local forget = tonumber(ARGV[3])
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  if field ~= 'seq' and tonumber(string.sub(field, 2)) <= forget then
    redis.call('HDEL', KEYS[2], field)
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
",
    )
});

/// One command's writes to the world, all or nothing (see [`crate::Commit`]).
/// KEYS: any key of the world's slot (for routing). ARGV: the world's key prefix, the
/// command's mark (or ''), the time (s), then operations: `R id version` (the command read
/// this version), `C id n` and `W id n` each followed by `n` (`S`, field, value) or (`D`,
/// field, '') triples (create an object, change one), `+ key member` / `- key member`
/// (index sets, the key after the prefix), `N name id` (claim a player name), `F name id`
/// (free it if `id` holds it).
///
/// Returns {1} applied; {2} the mark is among the last 16 writers (`w`) of an object it
/// writes: this command committed already and runs again after its pod died, so nothing
/// changes; {0, id} object `id` is no longer at the version read; {3, name} another player
/// holds the name; {4, id} a changed object is gone; {5, id} a created object exists.
///
/// The objects of a commit that writes several get the commit's number (`c`, counted in
/// `cseq`) and each other as requirements (`s` = `id:c ...`, the newest 16): a reader that
/// holds one of them and an older copy of an object it requires holds half a commit.
pub static WORLD_COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{WORLD_FN}\nreturn world_commit(ARGV, 1, #ARGV)\n"
    ))
});

/// The body of [`WORLD_COMMIT`] as a Lua function over `A[base..=last]`, so that the queue's
/// batch finish (`crate::queue`) can commit a batch's writes in the same script.
pub(crate) const WORLD_FN: &str = r"
local function world_commit(A, base, last)
  local P, mark, now = A[base], A[base + 1], A[base + 2]
  local reads, made, changed, sets, names = {}, {}, {}, {}, {}
  local i = base + 3
  while i <= last do
    local op = A[i]
    if op == 'R' then
      reads[#reads + 1] = {A[i + 1], A[i + 2]}
      i = i + 3
    elseif op == 'C' or op == 'W' then
      local k = tonumber(A[i + 2])
      local list = changed
      if op == 'C' then list = made end
      list[#list + 1] = {A[i + 1], i + 3, k}
      i = i + 3 + 3 * k
    elseif op == '+' or op == '-' or op == 'N' or op == 'F' then
      local list = sets
      if op == 'N' or op == 'F' then list = names end
      list[#list + 1] = {op, A[i + 1], A[i + 2]}
      i = i + 3
    else
      return redis.error_reply('commit: unknown operation ' .. tostring(op))
    end
  end
  local function obj(id) return P .. 'o:' .. id end
  local function marked(id)
    for e in string.gmatch(redis.call('HGET', obj(id), 'w') or '', '%S+') do
      if e == mark then return true end
    end
    return false
  end
  if mark ~= '' then
    for _, w in ipairs(changed) do if marked(w[1]) then return {2} end end
    for _, w in ipairs(made) do if marked(w[1]) then return {2} end end
  end
  for _, r in ipairs(reads) do
    local v = redis.call('HGET', obj(r[1]), 'v')
    if not v then
      if redis.call('EXISTS', obj(r[1])) == 1 then v = '0' else v = '-' end
    end
    if v ~= r[2] then return {0, r[1]} end
  end
  for _, w in ipairs(changed) do
    if redis.call('EXISTS', obj(w[1])) == 0 then return {4, w[1]} end
  end
  for _, w in ipairs(made) do
    if redis.call('EXISTS', obj(w[1])) == 1 then return {5, w[1]} end
  end
  for _, n in ipairs(names) do
    if n[1] == 'N' then
      local holder = redis.call('HGET', P .. 'names', n[2])
      if holder and holder ~= n[3] then return {3, n[2]} end
    end
  end
  local all = {}
  for _, w in ipairs(made) do all[#all + 1] = w[1] end
  for _, w in ipairs(changed) do all[#all + 1] = w[1] end
  local seq = nil
  if #all > 1 then seq = redis.call('INCR', P .. 'cseq') end
  local function write(w, fresh)
    local key = obj(w[1])
    for j = w[2], w[2] + 3 * (w[3] - 1), 3 do
      if A[j] == 'S' then
        redis.call('HSET', key, A[j + 1], A[j + 2])
      else
        redis.call('HDEL', key, A[j + 1])
      end
    end
    if mark ~= '' then
      local recent = {}
      for e in string.gmatch(redis.call('HGET', key, 'w') or '', '%S+') do
        recent[#recent + 1] = e
      end
      recent[#recent + 1] = mark
      while #recent > 16 do table.remove(recent, 1) end
      redis.call('HSET', key, 'w', table.concat(recent, ' '))
    end
    if fresh then
      redis.call('HSET', key, 'v', 1)
    else
      redis.call('HSET', key, 'modified', now)
      redis.call('HINCRBY', key, 'v', 1)
    end
    if seq then
      local need, order = {}, {}
      for e in string.gmatch(redis.call('HGET', key, 's') or '', '%S+') do
        local id, c = string.match(e, '^(%d+):(%d+)$')
        if id and id ~= w[1] and not need[id] then
          need[id] = tonumber(c)
          order[#order + 1] = id
        end
      end
      for _, other in ipairs(all) do
        if other ~= w[1] then
          if not need[other] then order[#order + 1] = other end
          need[other] = seq
        end
      end
      table.sort(order, function(a, b) return need[a] > need[b] end)
      local kept = {}
      for k = 1, math.min(#order, 16) do kept[k] = order[k] .. ':' .. need[order[k]] end
      redis.call('HSET', key, 'c', seq, 's', table.concat(kept, ' '))
    end
  end
  for _, w in ipairs(made) do write(w, true) end
  for _, w in ipairs(changed) do write(w, false) end
  for _, s in ipairs(sets) do
    if s[1] == '+' then
      redis.call('SADD', P .. s[2], s[3])
    else
      redis.call('SREM', P .. s[2], s[3])
    end
  end
  for _, n in ipairs(names) do
    if n[1] == 'N' then
      redis.call('HSET', P .. 'names', n[2], n[3])
    elseif redis.call('HGET', P .. 'names', n[2]) == n[3] then
      redis.call('HDEL', P .. 'names', n[2])
    end
  end
  return {1}
end
";
