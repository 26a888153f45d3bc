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

/// KEYS: conn, journal. ARGV: ttl_ms, seq, forget_upto, then (seq, reply) pairs.
/// Records that commands up to `seq` ran, with the replies given, and forgets the replies
/// the gateway has acknowledged. Returns 1, or 0 if the connection no longer exists
/// (nothing is written).
pub static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local seq = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
if seq > last then redis.call('HSET', KEYS[2], 'seq', ARGV[2]) end
for i = 4, #ARGV, 2 do
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

/// KEYS: object. ARGV: the version the writer read (`*`: any), the writer's mark (`<handle>:<seq>`
/// of the command, or empty), then (op, field, value) triples where op is `S` (set) or `D`
/// (delete; value ignored). If the mark is among the object's last 16 writers (field `w`),
/// this command's writes are already there (its pod died before it could answer, and the
/// command is running again elsewhere): returns 2 and changes nothing. Otherwise applies
/// the writes, records the mark and bumps the version, only if the object still has the
/// version the writer read. Returns 1 when applied, 0 on a version conflict (someone else
/// wrote the object since), -1 when the object is gone.
pub static WRITE_IF_VERSION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local mark = ARGV[2]
local recent = {}
if mark ~= '' then
  for entry in string.gmatch(redis.call('HGET', KEYS[1], 'w') or '', '%S+') do
    if entry == mark then return 2 end
    table.insert(recent, entry)
  end
end
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if ARGV[1] ~= '*' and v ~= ARGV[1] then return 0 end
for i = 3, #ARGV, 3 do
  if ARGV[i] == 'S' then
    redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HDEL', KEYS[1], ARGV[i + 1])
  end
end
if mark ~= '' then
  table.insert(recent, mark)
  while #recent > 16 do table.remove(recent, 1) end
  redis.call('HSET', KEYS[1], 'w', table.concat(recent, ' '))
end
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
",
    )
});

/// KEYS: object. ARGV: mark (or ''), then (`S`, field, value) triples. Creates the object
/// with those fields, version 1 and the mark, only if it does not exist; 1 created, 0 not.
pub static CREATE_IF_ABSENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 3 do
  if ARGV[i] == 'S' then redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2]) end
end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'w', ARGV[1]) end
redis.call('HSET', KEYS[1], 'v', 1)
return 1
",
    )
});
