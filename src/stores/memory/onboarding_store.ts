// Onboarding state in memory (single instance): fixed-window counters, the index of registered clients (by expiry, and
// in the listing's order), and the capped set of document URLs accepted lately.
import type { OnboardingStore, RegisteredClientEntry } from '../types.js';
import { checkClientPosition, clientOfEntry, entriesAfter, orderEntry } from '../onboarding_order.js';
import { ExpiringMap } from './expiring_map.js';
import { SortedStrings } from './sorted_strings.js';

export class MemoryOnboardingStore implements OnboardingStore {
  readonly #now: () => number;
  readonly #counters: ExpiringMap<number>;
  readonly #documents: ExpiringMap<true>;
  readonly #clients = new Map<string, number>();
  /** The orderEntry of every client in #clients: the listing reads a page from here, not the whole map. */
  readonly #order = new SortedStrings();

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

  #drop(clientId: string): boolean {
    this.#order.delete(orderEntry(clientId));
    return this.#clients.delete(clientId);
  }

  #prune(): void {
    const now = this.#now() / 1000;
    for (const [id, exp] of this.#clients) if (exp <= now) this.#drop(id);
  }

  async addClient(clientId: string, expiresAt: number, max: number): Promise<boolean> {
    this.#prune();
    if (!this.#clients.has(clientId) && this.#clients.size >= max) return false;
    this.#clients.set(clientId, expiresAt);
    this.#order.add(orderEntry(clientId));
    return true;
  }

  async touchClient(clientId: string, expiresAt: number): Promise<void> {
    if (this.#clients.has(clientId)) this.#clients.set(clientId, expiresAt);
  }

  /** Walks the ordered index from `after`; the expired entries it passes are dropped, so none is passed twice. */
  async listClients(limit: number, after?: string): Promise<RegisteredClientEntry[]> {
    checkClientPosition(after);
    const now = this.#now() / 1000;
    const page: RegisteredClientEntry[] = [];
    const expired: string[] = [];
    for (const entry of this.#order.above(after === undefined ? undefined : entriesAfter(after))) {
      if (page.length >= limit) break;
      const clientId = clientOfEntry(entry);
      const expiresAt = this.#clients.get(clientId)!;
      if (expiresAt > now) page.push({ clientId, expiresAt });
      else expired.push(clientId);
    }
    for (const clientId of expired) this.#drop(clientId);
    return page;
  }

  async removeClient(clientId: string): Promise<boolean> {
    return this.#drop(clientId);
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
