// The session listing's order and cursor, shared so both implementations page identically.
// Order: most recently active first (lastAt descending), ties by sid descending in byte order, as a Redis sorted set
// read in reverse gives them.

export interface SessionPosition {
  lastAt: number;
  sid: string;
}

export function encodeSessionCursor(position: SessionPosition): string {
  return Buffer.from(JSON.stringify([position.lastAt, position.sid])).toString('base64url');
}

export function decodeSessionCursor(cursor: string): SessionPosition {
  try {
    const [lastAt, sid] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof lastAt === 'number' && Number.isFinite(lastAt) && typeof sid === 'string') return { lastAt, sid };
  } catch {
    // fall through: a malformed cursor
  }
  throw new TypeError('invalid session cursor');
}

/** Negative when `a` comes first in the listing. */
export function compareSessionPositions(a: SessionPosition, b: SessionPosition): number {
  return b.lastAt - a.lastAt || Buffer.compare(Buffer.from(b.sid), Buffer.from(a.sid));
}
