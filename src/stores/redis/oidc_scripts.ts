// Lua for the oidc-provider adapter: the four operations that must not be split into separate commands.

/**
 * KEYS[1] record hash; ARGV[1] epoch seconds; ARGV[2] the call's stamp (oidc_records.ts consumeStamp). A compare-and-set
 * (RFC 6749 §4.1.2: a code "MUST NOT be used more than once"). Replies {1} stamped now, or stamped already by this same
 * call (its resend after a lost reply: the stamp is stored as `consumedBy`, `consumed` staying epoch seconds); {-1,
 * grantId?} consumed by another call (left as it was), with the grant the record was issued under, read here so that a
 * reuse never needs a second round trip to end it; {0} no such record (not recreated). HSET keeps the key's TTL.
 * The grant id is decoded from the payload only on a refusal (a reuse or a lost race, never the hot path); pcall: a
 * payload that does not decode is still refused, its grant unknown.
 */
export const consumeLua = `
local state = redis.call('HMGET', KEYS[1], 'consumed', 'consumedBy')
if not state[1] then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
  redis.call('HSET', KEYS[1], 'consumed', ARGV[1], 'consumedBy', ARGV[2])
  return {1}
end
if state[2] == ARGV[2] then return {1} end
local ok, payload = pcall(cjson.decode, redis.call('HGET', KEYS[1], 'payload') or '')
if ok and type(payload) == 'table' and type(payload.grantId) == 'string' and payload.grantId ~= '' then
  return {-1, payload.grantId}
end
return {-1}
`;

/** KEYS[1] grant set. Reads and deletes the members in one atomic step, so no upsert slips in between the two. */
export const revokeGrantLua = `
local members = redis.call('SMEMBERS', KEYS[1])
for i = 1, #members, 500 do
  redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
end
redis.call('DEL', KEYS[1])
return #members
`;

/**
 * An index key must outlive its longest entry. `existed`: whether the key was there before this entry; `at`: the
 * entry's expiry (epoch ms), or '' for one that never expires. A new key takes the entry's expiry; an existing one is
 * only ever lengthened (GT treats a key without expiry as never expiring, so a never-expiring entry's key keeps none).
 */
const outliveLongestEntry = `
local function outlive(key, existed, at)
  if at == '' then
    redis.call('PERSIST', key)
  elseif existed == 0 then
    redis.call('PEXPIREAT', key, at)
  else
    redis.call('PEXPIREAT', key, at, 'GT')
  end
end
`;

/** KEYS[1] grant set; ARGV[1] member (a record key); ARGV[2] the member's expiry (epoch ms), or '' for never. */
export const indexGrantLua = `${outliveLongestEntry}
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
outlive(KEYS[1], existed, ARGV[2])
return 1
`;

/**
 * KEYS[1] an account's session index (zset uid -> expiry in epoch ms, `inf`: never); ARGV[1] Session uid; ARGV[2] its
 * expiry (epoch ms), or '' for never; ARGV[3] now (epoch ms). Prunes expired entries, then adds or lengthens this one.
 */
export const indexAccountSessionLua = `${outliveLongestEntry}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local existed = redis.call('EXISTS', KEYS[1])
redis.call('ZADD', KEYS[1], 'GT', ARGV[2] == '' and 'inf' or ARGV[2], ARGV[1])
outlive(KEYS[1], existed, ARGV[2])
return 1
`;
