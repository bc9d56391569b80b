// Onboarding state on Redis: fixed-window counters (MULTI) and the zset index of registered clients (Lua for the cap).
import type { OnboardingStore, RegisteredClientEntry } from '../types.js';
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

  async listClients(limit: number): Promise<RegisteredClientEntry[]> {
    const now = Math.floor(Date.now() / 1000);
    const flat = await this.#redis.zrangebyscore(this.#index, `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit);
    const out: RegisteredClientEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ clientId: flat[i]!, expiresAt: Number(flat[i + 1]) });
    return out;
  }

  async removeClient(clientId: string): Promise<boolean> {
    return (await this.#redis.zrem(this.#index, clientId)) === 1;
  }
}
