// Lua for the session registry's write: a batch of issued tokens in one script call.

/**
 * Entries per script call. A longer batch is sent as several calls in one pipeline (still one round trip), so one call
 * never holds Redis for long (about 5-10 µs of Redis CPU per entry) and its Lua tables stay small.
 */
export const RECORD_ISSUED_MAX_ENTRIES = 100;

/** Index members checked for expiry per new member, and at most per index and script call (see below). */
export const INDEX_CLEANUP_PER_INSERT = 100;
export const INDEX_CLEANUP_MAX = 1000;
/** Every this many tokens of a session (counting from its first), its indexes are cleaned and its keys' expiry re-set. */
export const SESSION_MAINTENANCE_EVERY = 64;

/**
 * The per-session writes of a group of issued tokens of one session (in issue order), shared by the single-node and the
 * cluster script (Lua text spliced into both `record` functions): one HMGET and one write per key for the whole group,
 * whatever its size, with the same end state as writing its tokens one at a time. Expects in scope: recordKey,
 * clientsKey, toolsKey, jtisKey, hopsKey, maxHops, now, nowExact, sid and group (entries of sub, issuer, at, hopJson,
 * jti, exp, retention, tool, clients); returns early when no entry is written (a session whose tokens all arrive
 * already past its retention), and leaves created, sub, count, last, lastMoved, expiry, grew, maintenance, newClients,
 * clients (every client of the group, once) and retention (the group's shortest) for the index work that follows.
 */
const SESSION_WRITE_LUA = `  local stored = redis.call('HMGET', recordKey, 'sub', 'firstAt', 'lastAt', 'tokensIssued', 'expiresAt')
  local exists = stored[1] and true or false
  local created, lastMoved, firstMoved, grew, maintenance, legacy = false, false, false, false, false, false
  local sub, issuer, count, first, last, expiry
  if exists then
    sub, count, first, last, expiry = stored[1], tonumber(stored[4]) or 0, tonumber(stored[2]), tonumber(stored[3]), tonumber(stored[5])
    legacy = not expiry
    if legacy then
      expiry = redis.call('EXPIRETIME', recordKey)
      if expiry < 0 then expiry = 0 end
    end
  end
  local clients, seenClient, tools, seenTool, members, hops = {}, {}, {}, {}, {}, {}
  local retention, minExp
  for _, e in ipairs(group) do
    local expireAt = e.exp + e.retention
    local take = true
    if not exists then
      -- A session whose first token arrives already past its retention is not written (it would expire at once).
      take = expireAt > nowExact
      if take then
        exists, created, lastMoved, grew = true, true, true, true
        sub, issuer, count, first, last, expiry = e.sub, e.issuer, 1, e.at, e.at, expireAt
      end
    else
      count = count + 1
      if not first or e.at < first then first, firstMoved = e.at, true end
      if not last then last = e.at elseif e.at > last then last, lastMoved = e.at, true end
      if expireAt > expiry then expiry, grew = expireAt, true end
    end
    if take then
      if count % ${SESSION_MAINTENANCE_EVERY} == 1 then maintenance = true end
      for _, clientId in ipairs(e.clients) do
        if not seenClient[clientId] then seenClient[clientId] = true; clients[#clients + 1] = clientId end
      end
      if not seenTool[e.tool] then seenTool[e.tool] = true; tools[#tools + 1] = e.tool end
      members[#members + 1] = e.exp; members[#members + 1] = e.jti
      hops[#hops + 1] = e.hopJson
      if not retention or e.retention < retention then retention = e.retention end
      if not minExp or e.exp < minExp then minExp = e.exp end
    end
  end
  if #hops == 0 then return end
  if created then
    redis.call('HSET', recordKey, 'sid', sid, 'sub', sub, 'issuer', issuer, 'firstAt', first, 'lastAt', last, 'tokensIssued', count, 'expiresAt', expiry)
  else
    local fields = { 'tokensIssued', count }
    if firstMoved then fields[#fields + 1] = 'firstAt'; fields[#fields + 1] = first end
    if lastMoved then fields[#fields + 1] = 'lastAt'; fields[#fields + 1] = last end
    if grew or legacy then fields[#fields + 1] = 'expiresAt'; fields[#fields + 1] = expiry end
    redis.call('HSET', recordKey, unpack(fields))
  end

  local newClients = redis.call('SADD', clientsKey, unpack(clients)) > 0
  redis.call('SADD', toolsKey, unpack(tools))
  redis.call('ZADD', jtisKey, unpack(members))
  -- Below every jti of this group, so none just added is pruned.
  if lastMoved or maintenance then redis.call('ZREMRANGEBYSCORE', jtisKey, '-inf', '(' .. math.min(minExp, now + 1)) end
  if redis.call('RPUSH', hopsKey, unpack(hops)) > maxHops then redis.call('LTRIM', hopsKey, -maxHops, -1) end
  if grew or maintenance then
    for _, key in ipairs({ recordKey, clientsKey, toolsKey, jtisKey, hopsKey }) do redis.call('EXPIREAT', key, expiry) end
  end
`;

/**
 * Reads the entries from ARGV[first] on (sid, sub, issuer, hop at, hop JSON, jti, exp, retention seconds, tool server,
 * n, and n client ids, per entry) into groups by sid, in the order each sid first appears, each group in issue order;
 * leaves sids and groups in scope.
 */
const READ_ENTRIES_LUA = (first: number) => `local sids, groups = {}, {}
local i = ${first}
while i <= #ARGV do
  local n = tonumber(ARGV[i + 9])
  local clients = {}
  for k = 1, n do clients[k] = ARGV[i + 9 + k] end
  local group = groups[ARGV[i]]
  if not group then
    group = {}
    groups[ARGV[i]] = group
    sids[#sids + 1] = ARGV[i]
  end
  group[#group + 1] = { sub = ARGV[i + 1], issuer = ARGV[i + 2], at = tonumber(ARGV[i + 3]), hopJson = ARGV[i + 4], jti = ARGV[i + 5],
    exp = tonumber(ARGV[i + 6]), retention = tonumber(ARGV[i + 7]), tool = ARGV[i + 8], clients = clients }
  i = i + 10 + n
end
`;

/**
 * No KEYS: the key names are built from the prefixes in ARGV (keys.ts keeps the layout), because one call covers many
 * sessions. ARGV: 1 max hops, 2 record-hash prefix, 3 clients-set prefix, 4 tools-set prefix, 5 jtis-zset prefix,
 * 6 hops-list prefix, 7 recent index key, 8 by-sub index prefix, 9 by-client index prefix; then per entry:
 * sid, sub, issuer, hop at, hop JSON, jti, exp, retention seconds, tool server, n, and n client ids (the actor and
 * every prior actor).
 *
 * Per session (record hash, clients and tools sets, live-jti zset, hop list):
 * - A call's tokens of one session are written together (one HMGET, then one write per key for them all), with the
 *   same end state as writing them one at a time; the caller sends a session's tokens in one call where it can.
 * - The record hash keeps `expiresAt`, the latest token expiry seen plus retention; every key of the session expires at
 *   that time. EXPIREAT runs only when it grows (and every 64th token, which re-sets the expiry of a key Redis may have
 *   evicted and a later write re-created). This is safe with a plain EXPIREAT: every key of the session is created
 *   together with the record (and given its expiry then), and none is emptied (deleted) by these writes afterwards:
 *   the jti zset prunes expired members but never the one it has just added, the hop list keeps its latest hops.
 * - Expired jtis are pruned when the session's lastAt moves (at most once a second for a busy session) and on every
 *   64th token: the zset holds the live jtis plus those that expired since the last prune (reads filter by exp), so it
 *   never grows past its live jtis plus 64 tokens' worth, or a second's worth, whichever is more.
 * - A record written before `expiresAt` existed takes the record's own expiry time as the stored value.
 * - sid, sub and issuer are written with the first token only; firstAt / lastAt only when they move.
 * - A session whose first token arrives already past its retention is not written at all (it would expire at once).
 *
 * Listing indexes (zsets sid by lastAt: all sessions, the session's subject, each of its clients): a session's member
 * is (re)written when it joins the index or its lastAt moves (in every index of the session, not only those of the
 * hop's clients), in one ZADD per index and call. An index expires no earlier than the latest-expiring session it holds
 * (EXPIRETIME, then EXPIREAT only when that is later).
 * Expired sessions are dropped from an index when it gains members (a new session, or a client new to a session) and on
 * a session's every 64th token: its oldest members whose lastAt is older than retention (every dead member is: a
 * session lives at least retention past its latest token) are checked with EXISTS, up to 100 per member added to that
 * index in the call, at most 1000 (so at least 10 per member added: a call carries at most 100 entries).
 * Bound: an index holds the sessions whose lastAt is within retention plus the longest token lifetime (older ones are
 * all dead, and come first in the scan), plus a backlog of dead members that grows only by sessions expiring, never by
 * writes, and shrinks as every member added has up to 100 (at least 10) of the oldest candidates checked; an index that
 * gets no new members expires with the latest-expiring session in it.
 */
export const recordIssuedLua = `
local maxHops = tonumber(ARGV[1])
local recordPrefix, clientsPrefix, toolsPrefix, jtisPrefix, hopsPrefix = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local recentKey, bySubPrefix, byClientPrefix = ARGV[7], ARGV[8], ARGV[9]
local time = redis.call('TIME')
local now = tonumber(time[1])
local nowExact = now + tonumber(time[2]) / 1000000

-- index key -> pending work, done once per index after every entry; order: indexes in the order first touched
local indexes, order = {}, {}
local function indexWork(key)
  local work = indexes[key]
  if not work then
    work = { members = {}, added = 0, expireAt = 0, clean = false, retention = nil }
    indexes[key] = work
    order[#order + 1] = key
  end
  return work
end

local function record(sid, group)
  local recordKey = recordPrefix .. sid
  local clientsKey, toolsKey, jtisKey, hopsKey = clientsPrefix .. sid, toolsPrefix .. sid, jtisPrefix .. sid, hopsPrefix .. sid
${SESSION_WRITE_LUA}
  local function touch(key, joined)
    if not (joined or lastMoved or grew or maintenance) then return end
    local work = indexWork(key)
    if joined or lastMoved then work.members[sid] = last end
    if joined then work.added = work.added + 1 end
    if joined or maintenance then
      work.clean = true
      if not work.retention or retention < work.retention then work.retention = retention end
    end
    if expiry > work.expireAt then work.expireAt = expiry end
  end
  touch(recentKey, created)
  touch(bySubPrefix .. sub, created)
  for _, clientId in ipairs(clients) do touch(byClientPrefix .. clientId, created or newClients) end
  -- The session's earlier clients are not in this hop; their indexes follow its lastAt and expiry too.
  if not created and (lastMoved or grew) then
    local inHop = {}
    for _, clientId in ipairs(clients) do inHop[clientId] = true end
    for _, clientId in ipairs(redis.call('SMEMBERS', clientsKey)) do
      if not inHop[clientId] then touch(byClientPrefix .. clientId, false) end
    end
  end
end

${READ_ENTRIES_LUA(10)}for _, sid in ipairs(sids) do record(sid, groups[sid]) end

for _, key in ipairs(order) do
  local work = indexes[key]
  local members = {}
  for sid, lastAt in pairs(work.members) do
    members[#members + 1] = lastAt
    members[#members + 1] = sid
  end
  if #members > 0 then redis.call('ZADD', key, unpack(members)) end
  local expiresAt = redis.call('EXPIRETIME', key)
  if expiresAt == -1 or (expiresAt >= 0 and expiresAt < work.expireAt) then redis.call('EXPIREAT', key, work.expireAt) end
  if work.clean then
    local budget = math.min(${INDEX_CLEANUP_PER_INSERT} * math.max(work.added, 1), ${INDEX_CLEANUP_MAX})
    local dead = {}
    for _, old in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. (now - work.retention), 'LIMIT', 0, budget)) do
      if redis.call('EXISTS', recordPrefix .. old) == 0 then dead[#dead + 1] = old end
    end
    if #dead > 0 then redis.call('ZREM', key, unpack(dead)) end
  end
end
return 1
`;

// ---- Redis Cluster: the same rules split by slot (see keys.ts), every key declared ----

/**
 * Cluster, one session's slot. KEYS[1..5] the session's record hash, clients set, tools set, jtis zset, hops list;
 * ARGV[1] max hops, then per entry of THIS session: sid, sub, issuer, hop at, hop JSON, jti, exp, retention seconds,
 * tool server, n, and n client ids. The per-session writes of recordIssuedLua, unchanged; instead of touching the listing
 * indexes (other slots) it replies the work they need, 7 fields per touch: index kind (`recent`, `sub`, `client`), its
 * name (subject or client id, '' for recent), the member's lastAt ('' when unchanged), '1' when the session joined it,
 * '1' when it is to be cleaned, the retention, and the session's expiry (see indexTouchClusterLua).
 */
export const recordSessionClusterLua = `
local maxHops = tonumber(ARGV[1])
local recordKey, clientsKey, toolsKey, jtisKey, hopsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local time = redis.call('TIME')
local now = tonumber(time[1])
local nowExact = now + tonumber(time[2]) / 1000000
local reply = {}

local function record(sid, group)
${SESSION_WRITE_LUA}
  local function touch(kind, name, joined)
    if not (joined or lastMoved or grew or maintenance) then return end
    local member = ''
    if joined or lastMoved then member = last end
    local clean = (joined or maintenance) and '1' or '0'
    for _, field in ipairs({ kind, name, member, joined and '1' or '0', clean, retention, expiry }) do reply[#reply + 1] = field end
  end
  touch('recent', '', created)
  touch('sub', sub, created)
  for _, clientId in ipairs(clients) do touch('client', clientId, created or newClients) end
  if not created and (lastMoved or grew) then
    local inHop = {}
    for _, clientId in ipairs(clients) do inHop[clientId] = true end
    for _, clientId in ipairs(redis.call('SMEMBERS', clientsKey)) do
      if not inHop[clientId] then touch('client', clientId, false) end
    end
  end
end

${READ_ENTRIES_LUA(2)}for _, sid in ipairs(sids) do record(sid, groups[sid]) end
return reply
`;

/**
 * Cluster, one listing index's slot. KEYS[1] index; ARGV[1] expiry (epoch seconds) the index must last until,
 * ARGV[2] cleanup budget (0: no cleanup), ARGV[3] cleanup cutoff (lastAt older than this), then lastAt/sid pairs.
 * ZADD GT: a session's lastAt only moves forward, whichever of two concurrent writers lands last. Replies the cleanup
 * candidates (oldest first, within the budget); the caller checks their records (other slots) and ZREMs the dead ones.
 */
export const indexTouchClusterLua = `
if #ARGV > 3 then redis.call('ZADD', KEYS[1], 'GT', unpack(ARGV, 4, #ARGV)) end
local expiresAt = redis.call('EXPIRETIME', KEYS[1])
local wanted = tonumber(ARGV[1])
if expiresAt == -1 or (expiresAt >= 0 and expiresAt < wanted) then redis.call('EXPIREAT', KEYS[1], wanted) end
local budget = tonumber(ARGV[2])
if budget == 0 then return {} end
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3], 'LIMIT', 0, budget)
`;
