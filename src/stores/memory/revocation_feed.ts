// The revocation feed in memory: the live markers, the event log's catch-up and its listeners.
import type { RevocationEvent, RevocationFeed, RevocationRecord } from '../types.js';
import type { MemoryState } from './state.js';

export class MemoryRevocationFeed implements RevocationFeed {
  readonly #state: MemoryState;

  constructor(state: MemoryState) {
    this.#state = state;
  }

  /** Ordered as the Redis snapshot index reads: by expiresAt, then `${kind}:${value}` in byte order. */
  async snapshot(): Promise<{ cursor: string; revocations: RevocationRecord[] }> {
    const cursor = this.#state.revocationEvents.lastId();
    const live = [...this.#state.markers.entries()].sort(
      ([keyA, a], [keyB, b]) => a.expiresAt - b.expiresAt || Buffer.compare(Buffer.from(keyA), Buffer.from(keyB)),
    );
    return { cursor, revocations: live.map(([, record]) => ({ ...record })) };
  }

  async since(cursor: string): Promise<{ events: RevocationEvent[]; reset: boolean }> {
    return this.#state.revocationEvents.since(cursor);
  }

  /** No `onGap`: each append calls every listener before it can be trimmed, in this process, so none is ever missed. */
  subscribe(listener: (event: RevocationEvent) => void): () => void {
    return this.#state.revocationEvents.subscribe(listener);
  }

  /** Listeners are called as events are appended, in this process: always current. */
  tailAgeMs(): number {
    return 0;
  }

  async head(): Promise<string> {
    return this.#state.revocationEvents.lastId();
  }
}
