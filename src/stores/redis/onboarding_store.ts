// Onboarding state on Redis: fixed-window counters (MULTI), the zset index of registered clients (Lua for the cap) and
// one expiring key per document URL accepted lately.
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

  /** One key per URL, named by its digest (URLs are long and may hold braces, a Cluster hash tag). */
  #document(url: string) {
    return `${this.#prefix}onb:cimd:${createHash('sha256').update(url).digest('base64url')}`;
  }

  async rememberDocument(url: string, ttlSeconds: number): Promise<void> {
    await this.#redis.set(this.#document(url), '1', 'EX', ttlSeconds);
  }

  async knownDocument(url: string): Promise<boolean> {
    return (await this.#redis.exists(this.#document(url))) === 1;
  }
}
