// Lua for the oidc-provider adapter: the two operations that must not be split into separate commands.

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
