// Lua for the session registry's single-round-trip write.

/**
 * KEYS[1] record hash, KEYS[2] clients set, KEYS[3] tool servers set, KEYS[4] live jtis (zset by exp), KEYS[5] hops
 * list, KEYS[6..] listing indexes (zset sid by lastAt: all sessions, the subject's, then each client's).
 * ARGV: 1 sid, 2 sub, 3 issuer, 4 hop at, 5 hop JSON, 6 jti, 7 exp, 8 retention seconds, 9 max hops, 10 now,
 * 11 tool server, 12 record-hash key prefix, 13.. client ids (the actor and every prior actor).
 *
 * Every key expires `retention` after the latest token expiry seen (EXPIREAT NX then GT: set once, only lengthened).
 * Index members whose lastAt is older than `retention` may belong to expired sessions; up to 100 per index and write are
 * checked and dropped, so an index that never goes quiet still stays bounded.
 */
export const recordIssuedLua = `
local sid, at, exp, now = ARGV[1], tonumber(ARGV[4]), tonumber(ARGV[7]), tonumber(ARGV[10])
local retention = tonumber(ARGV[8])
local expireAt = exp + retention
local record = KEYS[1]
redis.call('HSET', record, 'sid', sid, 'sub', ARGV[2], 'issuer', ARGV[3])
local first = tonumber(redis.call('HGET', record, 'firstAt'))
if not first or at < first then redis.call('HSET', record, 'firstAt', ARGV[4]) end
local last = tonumber(redis.call('HGET', record, 'lastAt'))
if not last or at > last then
  redis.call('HSET', record, 'lastAt', ARGV[4])
  last = at
end
redis.call('HINCRBY', record, 'tokensIssued', 1)
for i = 13, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('SADD', KEYS[3], ARGV[11])
redis.call('ZADD', KEYS[4], exp, ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('RPUSH', KEYS[5], ARGV[5])
redis.call('LTRIM', KEYS[5], -tonumber(ARGV[9]), -1)
local function extend(key)
  redis.call('EXPIREAT', key, expireAt, 'NX')
  redis.call('EXPIREAT', key, expireAt, 'GT')
end
for i = 1, 5 do extend(KEYS[i]) end
local stale = '(' .. (now - retention)
for i = 6, #KEYS do
  redis.call('ZADD', KEYS[i], last, sid)
  extend(KEYS[i])
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', stale, 'LIMIT', 0, 100)) do
    if redis.call('EXISTS', ARGV[12] .. old) == 0 then redis.call('ZREM', KEYS[i], old) end
  end
end
return 1
`;
