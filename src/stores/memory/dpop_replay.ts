// DPoP proof replay protection in memory (one instance only, like every memory store).
import type { DpopReplayStore } from '../types.js';
import { ExpiringMap } from './expiring_map.js';

export class MemoryDpopReplayStore implements DpopReplayStore {
  readonly #seen: ExpiringMap<true>;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#seen = new ExpiringMap(now);
  }

  async claim(key: string, ttlSeconds: number): Promise<boolean> {
    if (this.#seen.get(key)) return false;
    this.#seen.set(key, true, this.#now() + Math.max(1, Math.ceil(ttlSeconds)) * 1000);
    return true;
  }

  sweep(): void {
    this.#seen.sweep();
  }
}
