// The memory stand-in for the Redis revocation event stream: ids like Redis', a cap, and live listeners.
import { REVOCATION_EVENTS_MAX } from '../revocation.js';
import { StreamIdGenerator, ZERO_STREAM_ID, compareStreamIds, cursorIsStale, parseStreamId, type StreamId } from '../stream_id.js';
import type { RevocationEvent, RevocationRecord } from '../types.js';

export class MemoryRevocationEvents {
  readonly #events: RevocationEvent[] = [];
  readonly #ids = new StreamIdGenerator();
  readonly #listeners = new Set<(event: RevocationEvent) => void>();
  readonly #max: number;
  readonly #now: () => number;
  #trimmed = false;

  constructor(now: () => number, max = REVOCATION_EVENTS_MAX) {
    this.#now = now;
    this.#max = max;
  }

  append(record: RevocationRecord): void {
    const event = { id: this.#ids.next(this.#now()), record: { ...record } };
    this.#events.push(event);
    const excess = this.#events.length - this.#max;
    if (excess > 0) {
      this.#events.splice(0, excess);
      this.#trimmed = true;
    }
    for (const listener of this.#listeners) {
      // Delivered after the revoke returns, as a Redis reader would; one failing listener must not starve the others.
      queueMicrotask(() => {
        try {
          listener({ id: event.id, record: { ...event.record } });
        } catch {
          // the listener's own failure
        }
      });
    }
  }

  /** The id of the newest event, or `0-0`. */
  lastId(): string {
    return this.#events.at(-1)?.id ?? ZERO_STREAM_ID;
  }

  since(cursor: string): { events: RevocationEvent[]; reset: boolean } {
    const from = parseStreamId(cursor);
    const first = this.#events[0];
    const bounds = { lastGenerated: this.#ids.last, firstRetained: first && parseStreamId(first.id), trimmed: this.#trimmed };
    if (!from || cursorIsStale(from, bounds)) return { events: [], reset: true };
    const events = this.#events.filter((e) => compareStreamIds(parseStreamId(e.id) as StreamId, from) > 0);
    return { events: events.map((e) => ({ id: e.id, record: { ...e.record } })), reset: false };
  }

  subscribe(listener: (event: RevocationEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  clearListeners(): void {
    this.#listeners.clear();
  }
}
