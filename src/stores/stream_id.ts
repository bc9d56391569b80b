// Redis stream ids (`<ms>-<seq>`), the cursors of the revocation feed and the audit log in both implementations.

export interface StreamId {
  ms: number;
  seq: number;
}

export const ZERO_STREAM_ID = '0-0';

/** The parsed id, or undefined when `id` is not a complete stream id (cursors come from clients). */
export function parseStreamId(id: string): StreamId | undefined {
  const match = /^(\d{1,15})-(\d{1,15})$/.exec(id);
  if (!match) return undefined;
  return { ms: Number(match[1]), seq: Number(match[2]) };
}

export function compareStreamIds(a: StreamId, b: StreamId): number {
  return a.ms - b.ms || a.seq - b.seq;
}

export function formatStreamId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

/** What a stream retains, as far as cursor checks need it. */
export interface StreamBounds {
  lastGenerated: StreamId;
  /** The oldest retained entry, if any. */
  firstRetained: StreamId | undefined;
  /** Whether trimming ever removed an entry. */
  trimmed: boolean;
}

/**
 * A feed cursor can no longer be served when it is ahead of anything the stream generated (the stream was recreated,
 * e.g. Redis lost its data), or when it is older than the oldest retained entry after trimming: entries after the cursor
 * may be gone. Redis keeps no exact "highest trimmed id" (XINFO's max-deleted-entry-id only follows XDEL), so the second
 * rule is conservative: a cursor exactly one entry before the oldest retained also asks for a re-snapshot, which costs
 * a snapshot, never a lost revocation.
 */
export function cursorIsStale(cursor: StreamId, bounds: StreamBounds): boolean {
  if (compareStreamIds(cursor, bounds.lastGenerated) > 0) return true;
  if (!bounds.trimmed) return false;
  const oldest = bounds.firstRetained ?? bounds.lastGenerated;
  return compareStreamIds(cursor, oldest) < 0;
}

/** Hands out increasing ids as Redis does: the current millisecond, or the last id's sequence plus one. */
export class StreamIdGenerator {
  #last: StreamId = { ms: 0, seq: 0 };

  next(nowMs: number): string {
    this.#last = nowMs > this.#last.ms ? { ms: nowMs, seq: 0 } : { ms: this.#last.ms, seq: this.#last.seq + 1 };
    return formatStreamId(this.#last);
  }

  get last(): StreamId {
    return this.#last;
  }
}
