// Lua for the oidc-provider adapter: the four operations that must not be split into separate commands.

/** KEYS[1] record hash; ARGV[1] epoch seconds. HSET keeps the key's TTL; a missing record is not recreated. */
export const consumeLua = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'consumed', ARGV[1])
return 1
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
 * KEYS[1] grant set; ARGV[1] member (a record key); ARGV[2] the member's lifetime in ms, or '' for a record that never
 * expires. The set must outlive its longest member: a new set takes the member's lifetime, an existing one is only ever
 * lengthened (GT treats a set without expiry as never expiring, so a never-expiring member's set keeps none).
 */
export const indexGrantLua = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  redis.call('PERSIST', KEYS[1])
elseif existed == 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2], 'GT')
end
return 1
`;

/**
 * KEYS[1] an account's session index (zset uid -> expiry in epoch ms); ARGV[1] Session uid; ARGV[2] its expiry (epoch
 * ms), or '' for a session that never expires; ARGV[3] now (epoch ms). Prunes expired entries, then adds or lengthens
 * this one; the key lives as long as its longest entry (a never-expiring one: no expiry), as the grant set does.
 */
export const indexAccountSessionLua = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local existed = redis.call('EXISTS', KEYS[1])
if ARGV[2] == '' then
  redis.call('ZADD', KEYS[1], 'inf', ARGV[1])
  redis.call('PERSIST', KEYS[1])
  return 1
end
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
if existed == 0 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
else
  redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
end
return 1
`;
