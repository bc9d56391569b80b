// Onboarding state in memory (single instance): fixed-window counters and the index of registered clients.
import type { OnboardingStore, RegisteredClientEntry } from '../types.js';
import { ExpiringMap } from './expiring_map.js';

export class MemoryOnboardingStore implements OnboardingStore {
  readonly #now: () => number;
  readonly #counters: ExpiringMap<number>;
  readonly #clients = new Map<string, number>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#counters = new ExpiringMap(now);
  }

  async hit(bucket: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }> {
    const count = (this.#counters.get(bucket) ?? 0) + 1;
    const expiresAt = this.#counters.expiresAt(bucket) ?? this.#now() + windowSeconds * 1000;
    this.#counters.set(bucket, count, expiresAt);
    return { count, resetSeconds: Math.max(1, Math.ceil((expiresAt - this.#now()) / 1000)) };
  }

  #prune(): void {
    const now = this.#now() / 1000;
    for (const [id, exp] of this.#clients) if (exp <= now) this.#clients.delete(id);
  }

  async addClient(clientId: string, expiresAt: number, max: number): Promise<boolean> {
    this.#prune();
    if (!this.#clients.has(clientId) && this.#clients.size >= max) return false;
    this.#clients.set(clientId, expiresAt);
    return true;
  }

  async touchClient(clientId: string, expiresAt: number): Promise<void> {
    if (this.#clients.has(clientId)) this.#clients.set(clientId, expiresAt);
  }

  async listClients(limit: number): Promise<RegisteredClientEntry[]> {
    this.#prune();
    return [...this.#clients].sort((a, b) => a[1] - b[1]).slice(0, limit).map(([clientId, expiresAt]) => ({ clientId, expiresAt }));
  }

  async removeClient(clientId: string): Promise<boolean> {
    return this.#clients.delete(clientId);
  }
}
