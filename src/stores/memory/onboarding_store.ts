// Onboarding state in memory (single instance): fixed-window counters, the index of registered clients, and the
// capped set of document URLs accepted lately.
import type { OnboardingStore, RegisteredClientEntry } from '../types.js';
import { clientsAfter } from '../onboarding_order.js';
import { ExpiringMap } from './expiring_map.js';

export class MemoryOnboardingStore implements OnboardingStore {
  readonly #now: () => number;
  readonly #counters: ExpiringMap<number>;
  readonly #documents: ExpiringMap<true>;
  readonly #clients = new Map<string, number>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#counters = new ExpiringMap(now);
    this.#documents = new ExpiringMap(now);
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

  async listClients(limit: number, after?: string): Promise<RegisteredClientEntry[]> {
    this.#prune();
    return clientsAfter([...this.#clients].map(([clientId, expiresAt]) => ({ clientId, expiresAt })), limit, after);
  }

  async removeClient(clientId: string): Promise<boolean> {
    return this.#clients.delete(clientId);
  }

  async rememberDocument(url: string, ttlSeconds: number, max: number): Promise<boolean> {
    if (this.#documents.get(url) === undefined) {
      if (this.#documents.size >= max) this.#documents.sweep();
      if (this.#documents.size >= max) return false;
    }
    this.#documents.set(url, true, this.#now() + ttlSeconds * 1000);
    return true;
  }

  async knownDocument(url: string): Promise<boolean> {
    return this.#documents.get(url) === true;
  }

  /** Drops expired counters, documents and clients (counters of one-off buckets are never read again). */
  sweep(): void {
    this.#counters.sweep();
    this.#documents.sweep();
    this.#prune();
  }
}
