// Onboarding state on Redis: fixed-window counters (MULTI), the two indexes of registered clients (by expiry, for the
// cap; in the listing's order, for paging) and the zset of document URLs accepted lately (Lua for each cap). The two
// client indexes hold the same members (onboarding_order.ts `orderEntry`) and are written together by one script or
// MULTI, so on a Redis Cluster they share a hash tag (keys.ts); every other command names one key.
import { createHash } from 'node:crypto';
import type { OnboardingStore, RegisteredClientEntry } from '../types.js';
import { checkClientPosition, clientOfEntry, entriesAfter, orderEntry } from '../onboarding_order.js';
import { clusterKeys, redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * KEYS[1] the expiry index, KEYS[2] the order index; ARGV now, member, expiresAt, max. Drops the expired members from
 * both, then adds to both unless full.
 */
export const addClientLua = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZREM', KEYS[2], member)
end
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 1
`;

/**
 * KEYS[1] the expiry index, KEYS[2] the order index; ARGV now, limit, min (a ZRANGEBYLEX bound). Up to `limit`
 * unexpired members from `min` on in the order index, flat with their expiries; the expired (or unlisted) members it
 * passes it removes from both, so a later page never passes them again. Reads the order index `limit` at a time.
 */
export const listClientsLua = `
local now, limit, min = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out, found = {}, 0
while found < limit do
  local members = redis.call('ZRANGEBYLEX', KEYS[2], min, '+', 'LIMIT', 0, limit - found)
  if #members == 0 then break end
  for _, member in ipairs(members) do
    local expiresAt = redis.call('ZSCORE', KEYS[1], member)
    if expiresAt and tonumber(expiresAt) > now then
      found = found + 1
      out[#out + 1] = member
      out[#out + 1] = expiresAt
    else
      redis.call('ZREM', KEYS[1], member)
      redis.call('ZREM', KEYS[2], member)
    end
  end
  min = '(' .. members[#members]
end
return out
`;

/**
 * KEYS[1] the known-document index; ARGV nowMs, member, expiresAtMs, max. Drops expired members, then adds (or moves)
 * unless full; the key itself expires with its latest member, so an index nobody writes to goes away.
 */
export const rememberDocumentLua = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1
`;

export class RedisOnboardingStore implements OnboardingStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #keys: typeof redisKeys.onboarding;

  constructor(redis: ScriptedRedis, prefix: string, cluster = false) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#keys = (cluster ? clusterKeys : redisKeys).onboarding;
  }

  get #index() {
    return this.#keys.clients(this.#prefix);
  }

  get #order() {
    return this.#keys.clientOrder(this.#prefix);
  }

  async hit(bucket: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }> {
    const key = `${this.#prefix}onb:rate:${bucket}`;
    const results = await this.#redis.multi().set(key, 0, 'PX', windowSeconds * 1000, 'NX').incr(key).pttl(key).exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('MULTI aborted');
    const count = Number(results[1]![1]);
    const pttl = Number(results[2]![1]);
    return { count, resetSeconds: Math.max(1, Math.ceil((pttl > 0 ? pttl : windowSeconds * 1000) / 1000)) };
  }

  async addClient(clientId: string, expiresAt: number, max: number): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    return (await this.#redis.dtsAddRegisteredClient(this.#index, this.#order, now, orderEntry(clientId), expiresAt, max)) === 1;
  }

  async touchClient(clientId: string, expiresAt: number): Promise<void> {
    await this.#redis.zadd(this.#index, 'XX', expiresAt, orderEntry(clientId));
  }

  async listClients(limit: number, after?: string): Promise<RegisteredClientEntry[]> {
    checkClientPosition(after);
    const now = Math.floor(Date.now() / 1000);
    const flat = await this.#redis.dtsListRegisteredClients(this.#index, this.#order, now, limit, after === undefined ? '-' : `(${entriesAfter(after)}`);
    const entries: RegisteredClientEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ clientId: clientOfEntry(flat[i]!), expiresAt: Number(flat[i + 1]) });
    return entries;
  }

  async removeClient(clientId: string): Promise<boolean> {
    const member = orderEntry(clientId);
    const results = await this.#redis.multi().zrem(this.#index, member).zrem(this.#order, member).exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('MULTI aborted');
    return results[0]![1] === 1;
  }

  get #documents() {
    return `${this.#prefix}onb:documents`;
  }

  /** A URL's member in the index: its digest (URLs are long). */
  #member(url: string) {
    return createHash('sha256').update(url).digest('base64url');
  }

  async rememberDocument(url: string, ttlSeconds: number, max: number): Promise<boolean> {
    const now = Date.now();
    return (await this.#redis.dtsRememberDocument(this.#documents, now, this.#member(url), now + ttlSeconds * 1000, max)) === 1;
  }

  async knownDocument(url: string): Promise<boolean> {
    const expiresAt = await this.#redis.zscore(this.#documents, this.#member(url));
    return expiresAt !== null && Number(expiresAt) > Date.now();
  }
}
