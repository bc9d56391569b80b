// A Map whose entries expire at a set time. Unlike oidc-provider's development LRU it never evicts a live entry:
// losing a live session or revocation marker to memory pressure would silently change security decisions.

interface Entry<V> {
  value: V;
  /** Epoch milliseconds; Infinity for "never". */
  expiresAt: number;
}

export class ExpiringMap<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The live value, or undefined; an expired entry is dropped on the way. */
  get(key: string): V | undefined {
    return this.#live(key)?.value;
  }

  /** When the live entry expires (epoch ms, Infinity for never), or undefined when there is none. */
  expiresAt(key: string): number | undefined {
    return this.#live(key)?.expiresAt;
  }

  set(key: string, value: V, expiresAt = Number.POSITIVE_INFINITY): void {
    this.#entries.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Live entries, in insertion order. */
  *entries(): IterableIterator<[string, V]> {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt > now) yield [key, entry.value];
  }

  /** Drops every expired entry; returns how many went. */
  sweep(): number {
    const now = this.#now();
    let dropped = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#entries.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Entries held, expired-but-unswept ones included. */
  get size(): number {
    return this.#entries.size;
  }

  #live(key: string): Entry<V> | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
