// The DPoP proof `jti` replay cache (RFC 9449 §11.1): the interface a shared store implements, and the bounded
// in-memory default.

/**
 * Where proof ids are claimed once. `claim` resolves `true` the first time it sees `key` within `ttlSeconds`, `false`
 * for a replay, and rejects when it cannot tell (the request is then refused with `ERR_DPOP_REPLAY_UNAVAILABLE`, 503).
 * Implement it on Redis with one `SET key 1 NX EX ttl` so every replica shares it.
 *
 * @example
 * ```ts
 * const replay: DpopReplayStore = {
 *   claim: async (key, ttl) => (await redis.set(`dpop:rs:${key}`, '1', 'EX', ttl, 'NX')) === 'OK',
 * }
 * createVerifier({ issuer, audience, dpop: { replay } })
 * ```
 */
export interface DpopReplayStore {
  claim(key: string, ttlSeconds: number): Promise<boolean> | boolean;
}

/**
 * The default replay cache: one process, at most `maxEntries` live proof ids. Every entry lives the same time, so the
 * oldest is always first and expiry is a walk from the front. When it is full of live entries it refuses (fail closed:
 * evicting a live id would let that proof be replayed).
 *
 * @example
 * ```ts
 * createVerifier({ issuer, audience, dpop: { replay: new MemoryDpopReplayStore(10_000) } })
 * ```
 */
export class MemoryDpopReplayStore implements DpopReplayStore {
  readonly #entries = new Map<string, number>();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('dpop.replayCacheSize must be a positive integer');
  }

  claim(key: string, ttlSeconds: number): boolean {
    const nowMs = this.now();
    for (const [old, expiresAtMs] of this.#entries) {
      if (expiresAtMs > nowMs) break;
      this.#entries.delete(old);
    }
    const seen = this.#entries.get(key);
    if (seen !== undefined && seen > nowMs) return false;
    if (this.#entries.size >= this.maxEntries) throw new Error('DPoP replay cache full');
    this.#entries.set(key, nowMs + ttlSeconds * 1000);
    return true;
  }
}
