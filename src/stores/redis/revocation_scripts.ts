// Lua for the exchange's one-round-trip read, the idempotent revoke, and the feed snapshot's pages.

/**
 * KEYS[1] AccessToken hash; ARGV[1] uid-index key prefix, ARGV[2] Session key prefix, ARGV[3] revocation key prefix,
 * ARGV[4..] extra client ids. Replies {token payload, token consumed, session payload, session consumed, markers...}
 * where markers are the sid marker (when the token has a session uid), the sub marker (when it has an accountId),
 * then one per distinct client id (the token's clientId first); `false` becomes a nil reply.
 */
export const readOpaqueSubjectLua = `
local token = redis.call('HMGET', KEYS[1], 'payload', 'consumed')
local session = { false, false }
local sessionUid, accountId = false, false
local clients, seen = {}, {}
local function addClient(id)
  if type(id) == 'string' and id ~= '' and not seen[id] then
    seen[id] = true
    clients[#clients + 1] = id
  end
end
if token[1] then
  local t = cjson.decode(token[1])
  if type(t.sessionUid) == 'string' and t.sessionUid ~= '' then sessionUid = t.sessionUid end
  if type(t.accountId) == 'string' and t.accountId ~= '' then accountId = t.accountId end
  addClient(t.clientId)
  if sessionUid then
    local sessionId = redis.call('GET', ARGV[1] .. sessionUid)
    if sessionId then session = redis.call('HMGET', ARGV[2] .. sessionId, 'payload', 'consumed') end
  end
end
for i = 4, #ARGV do addClient(ARGV[i]) end
local markerKeys = {}
if sessionUid then markerKeys[#markerKeys + 1] = ARGV[3] .. 'sid:' .. sessionUid end
if accountId then markerKeys[#markerKeys + 1] = ARGV[3] .. 'sub:' .. accountId end
for _, id in ipairs(clients) do markerKeys[#markerKeys + 1] = ARGV[3] .. 'client:' .. id end
local reply = { token[1], token[2], session[1], session[2] }
if #markerKeys > 0 then
  for _, marker in ipairs(redis.call('MGET', unpack(markerKeys))) do reply[#reply + 1] = marker end
end
return reply
`;

/**
 * Single Redis only (computes the session keys). KEYS[1] AccessToken hash, KEYS[2] revocation event stream, and
 * optionally KEYS[3] a DPoP proof's replay key; ARGV[1] uid-index key prefix, ARGV[2] Session key prefix, ARGV[3] the
 * replay key's ttl in seconds. Replies {token payload, token consumed, session payload, session consumed, the stream's
 * newest id or '0-0', 1 when KEYS[3] was claimed (SET NX EX, as RedisDpopReplayStore.claim) else 0}:
 * readOpaqueSubjectLua without markers, for the revocation view. Registered without a fixed key count (2 or 3).
 */
export const readOpaqueTokenLua = `
local token = redis.call('HMGET', KEYS[1], 'payload', 'consumed', 'sessionUid')
local session = { false, false }
if token[1] then
  -- The adapter stores an access token's session uid in a field of its own; a record written before it did is decoded.
  local sessionUid = token[3]
  if not sessionUid then
    local t = cjson.decode(token[1])
    if type(t.sessionUid) == 'string' then sessionUid = t.sessionUid end
  end
  if sessionUid and sessionUid ~= '' then
    local sessionId = redis.call('GET', ARGV[1] .. sessionUid)
    if sessionId then session = redis.call('HMGET', ARGV[2] .. sessionId, 'payload', 'consumed') end
  end
end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local head = '0-0'
if last[1] then head = last[1][1] end
local claimed = 0
if KEYS[3] and redis.call('SET', KEYS[3], '1', 'EX', ARGV[3], 'NX') then claimed = 1 end
return { token[1], token[2], session[1], session[2], head, claimed }
`;

/**
 * KEYS[1] marker, KEYS[2] event stream, KEYS[3] snapshot index; ARGV[1] record JSON, ARGV[2] revokedAt,
 * ARGV[3] expiresAt, ARGV[4] stream cap, ARGV[5] index member (`kind:value`), ARGV[6] now (epoch seconds),
 * ARGV[7] '1' when the kind is a cutoff (`sub`, `client`).
 * Same rule as mergeRevocation() in ../revocation.ts: a new marker, or a later cutoff for `sub`/`client` (the incoming
 * record replaces the stored one), is a new revocation (created); anything else can only widen the stored record
 * (earliest revokedAt for absolute kinds, latest expiresAt). Every record that changes is stored and appended to the
 * stream, a widened one too (views and feed consumers keep a marker until the expiresAt they last saw).
 * Replies {stored record JSON, 1 when created (a new revocation) else 0}.
 */
export const revokeLua = `
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[6])
local existing = redis.call('GET', KEYS[1])
local function publish(json, at, created)
  redis.call('SET', KEYS[1], json, 'EXAT', at)
  redis.call('ZADD', KEYS[3], at, ARGV[5])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'record', json)
  return { json, created }
end
if not existing then return publish(ARGV[1], ARGV[3], 1) end
local record = cjson.decode(existing)
local revokedAt, expiresAt = tonumber(ARGV[2]), tonumber(ARGV[3])
local cutoff = ARGV[7] == '1'
if cutoff and revokedAt > record.revokedAt then
  if record.expiresAt <= expiresAt then return publish(ARGV[1], ARGV[3], 1) end
  local incoming = cjson.decode(ARGV[1])
  incoming.expiresAt = record.expiresAt
  return publish(cjson.encode(incoming), string.format('%d', record.expiresAt), 1)
end
local changed = false
if not cutoff and revokedAt < record.revokedAt then record.revokedAt = revokedAt; changed = true end
if expiresAt > record.expiresAt then record.expiresAt = expiresAt; changed = true end
if not changed then return { existing, 0 } end
return publish(cjson.encode(record), string.format('%d', record.expiresAt), 0)
`;

/**
 * One page of the feed snapshot (revocation_feed.ts pages with it; the correctness argument is there). KEYS[1] snapshot
 * index, KEYS[2] event stream, KEYS[3] the records hash on a Redis Cluster (all three in the feed's slot); on a single
 * Redis no KEYS[3]: the records are the markers ARGV[1] .. member (key names built here: single Redis only). ARGV[2]
 * now (epoch seconds), ARGV[3] page size, ARGV[4] and ARGV[5] the score and member of the previous page's last entry
 * ('' for the first page). The first page first reads the cursor (the stream's newest id, '0-0' when none), so a store
 * that fits in one page is snapshot in one atomic call as before. Then reads the next ARGV[3] index entries in index
 * order (score, then member bytes) after that entry and with an expiry after now, and their records. Replies {cursor
 * ('' after the first page), entries read, last score, last member, record JSON...}; a record that is gone (expired)
 * reads as nil. Bounded work: three ZCOUNTs and a binary search of ZRANGE rank lookups (O(log² n)), then one page.
 *
 * The position is found from the (score, member) pair, not an offset, so entries removed or moved before it between
 * two pages (expired ones pruned, a widened record's later score) shift nothing, and the pair need not still be in the
 * index. Members are compared byte by byte, as the sorted set orders them: Lua's `<` follows the server's locale.
 */
export const revocationSnapshotLua = `
local function after(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local cursor = ''
if ARGV[4] == '' then
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  cursor = last[1] and last[1][1] or '0-0'
end
local start = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[2])
if ARGV[4] ~= '' then
  local lo = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[4])
  local hi = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[4])
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if after(redis.call('ZRANGE', KEYS[1], mid, mid)[1], ARGV[5]) then hi = mid else lo = mid + 1 end
  end
  if lo > start then start = lo end
end
local page = redis.call('ZRANGE', KEYS[1], start, start + tonumber(ARGV[3]) - 1, 'WITHSCORES')
local n = #page / 2
if n == 0 then return { cursor, 0, '', '' } end
local members = {}
for i = 1, n do members[i] = page[2 * i - 1] end
local records
if KEYS[3] then
  records = redis.call('HMGET', KEYS[3], unpack(members))
else
  local keys = {}
  for i = 1, n do keys[i] = ARGV[1] .. members[i] end
  records = redis.call('MGET', unpack(keys))
end
local reply = { cursor, n, page[2 * n], members[n] }
for i = 1, n do reply[i + 4] = records[i] end
return reply
`;

// ---- Redis Cluster: the same rules, with every key declared (see keys.ts for the slots) ----

/**
 * The merge of revokeLua as a Lua function over a stored JSON value, shared by the two cluster scripts below so both
 * copies of a record (the marker the exchange reads, the feed's copy the snapshot reads) take the same value whatever
 * order the two writes land in: the rule only ever moves a cutoff later, an absolute revokedAt earlier, expiresAt later.
 * Returns (json to store and publish, or nil when unchanged; its expiry; 1 when it is a new revocation (created)).
 */
const mergeFunctionLua = `
local function merge(existing, incomingJson, revokedAt, expiresAt, cutoff)
  if not existing then return incomingJson, expiresAt, 1 end
  local record = cjson.decode(existing)
  if cutoff and revokedAt > record.revokedAt then
    if record.expiresAt <= expiresAt then return incomingJson, expiresAt, 1 end
    local incoming = cjson.decode(incomingJson)
    incoming.expiresAt = record.expiresAt
    return cjson.encode(incoming), record.expiresAt, 1
  end
  local changed = false
  if not cutoff and revokedAt < record.revokedAt then record.revokedAt = revokedAt; changed = true end
  if expiresAt > record.expiresAt then record.expiresAt = expiresAt; changed = true end
  if not changed then return nil, record.expiresAt, 0 end
  return cjson.encode(record), record.expiresAt, 0
end
`;

/**
 * Cluster, the feed's slot. KEYS[1] records hash (`kind:value` -> record JSON), KEYS[2] event stream, KEYS[3] index;
 * ARGV as revokeLua. Prunes expired records, merges, and when the copy changes stores it, indexes it and appends the
 * event (as revokeLua: a widened record too). Replies {stored record JSON, 1 when created else 0}. The feed's copy
 * decides publication, so a revoke retried after its marker write failed publishes each change exactly once.
 */
export const revokeFeedLua = `${mergeFunctionLua}
-- A copy expires as its marker does (SET EXAT: gone once the clock reaches expiresAt), so expiresAt <= now is gone.
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
for i = 1, #expired, 500 do redis.call('HDEL', KEYS[1], unpack(expired, i, math.min(i + 499, #expired))) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
local existing = redis.call('HGET', KEYS[1], ARGV[5])
local json, at, created = merge(existing, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[7] == '1')
if not json then return { existing, 0 } end
at = string.format('%d', at)
redis.call('HSET', KEYS[1], ARGV[5], json)
redis.call('ZADD', KEYS[3], at, ARGV[5])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'record', json)
return { json, created }
`;

/** Cluster, the marker's slot. KEYS[1] marker; ARGV[1] record JSON, ARGV[2] revokedAt, ARGV[3] expiresAt, ARGV[4] '1' for a cutoff kind. Replies the stored JSON. */
export const revokeMarkerLua = `${mergeFunctionLua}
local existing = redis.call('GET', KEYS[1])
local json, at = merge(existing, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1')
if not json then return existing end
redis.call('SET', KEYS[1], json, 'EXAT', string.format('%d', at))
return json
`;
