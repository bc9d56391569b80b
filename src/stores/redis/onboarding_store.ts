// Onboarding state on Redis: fixed-window counters (MULTI), the zset index of registered clients and the zset of
// document URLs accepted lately (Lua for each cap). Each index is one key, so every command and script names one slot
// (Redis Cluster).
import { createHash } from 'node:crypto';
import type { OnboardingStore, RegisteredClientEntry } from '../types.js';
import { clientsAfter } from '../onboarding_order.js';
import type { ScriptedRedis } from './scripts.js';

/** KEYS[1] the client index; ARGV now, clientId, expiresAt, max. Drops expired members, then adds unless full. */
export const addClientLua = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
return 1
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

  constructor(redis: ScriptedRedis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  get #index() {
    return `${this.#prefix}onb:clients`;
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
    return (await this.#redis.dtsAddRegisteredClient(this.#index, now, clientId, expiresAt, max)) === 1;
  }

  async touchClient(clientId: string, expiresAt: number): Promise<void> {
    await this.#redis.zadd(this.#index, 'XX', expiresAt, clientId);
  }

  /** The whole unexpired index, ordered here: the zset's own order (by expiry) moves when a client is touched. */
  async listClients(limit: number, after?: string): Promise<RegisteredClientEntry[]> {
    const now = Math.floor(Date.now() / 1000);
    const flat = await this.#redis.zrangebyscore(this.#index, `(${now}`, '+inf', 'WITHSCORES');
    const entries: RegisteredClientEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ clientId: flat[i]!, expiresAt: Number(flat[i + 1]) });
    return clientsAfter(entries, limit, after);
  }

  async removeClient(clientId: string): Promise<boolean> {
    return (await this.#redis.zrem(this.#index, clientId)) === 1;
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
