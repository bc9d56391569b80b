// Bounds what one audit event may store, whatever a client sent: a refused request must not grow the audit stream by
// the size of its body. Applied once, to the stored form (writer.ts); the caps are documented in README ("Audit trail").
import { MAX_IDENTIFIER_LENGTH } from '../sessions/identifiers.js';

/** Longest string kept, in code points; longer ones are cut and end with TRUNCATION_MARK. */
export const MAX_STRING_LENGTH = 256;
/** Identifiers (and an admin's revocation reason, at most 500, and a revoked consent's resource) are kept whole up to
 * the identifier bound, so a stored `sub`/`sid`/`jti` still matches a query for it. */
export const MAX_IDENTIFIER_FIELD_LENGTH = MAX_IDENTIFIER_LENGTH;
/** Most entries kept of an array, and most characters kept over all its entries. */
export const MAX_ARRAY_ENTRIES = 32;
export const MAX_ARRAY_CHARS = 2048;
/** Most members kept of an object (events have fixed shapes; this only guards against a future field keyed by input). */
export const MAX_OBJECT_KEYS = 64;
/** Deepest nesting kept (an `act` chain is parsed to depth 10 at most); anything deeper is dropped. */
export const MAX_DEPTH = 20;
export const TRUNCATION_MARK = '…';

const IDENTIFIER_FIELDS = new Set(['sub', 'sid', 'jti', 'subjectJti', 'clientId', 'value', 'reason', 'resource']);

/**
 * What was cut, by field path (`act.act.iss`; `[]` for an array's entries): for a string, the characters dropped; for an
 * array, the entries dropped; for anything nested too deep, 1.
 */
export type Truncations = Record<string, number>;

/** Cuts `s` to `max` code points (never splitting a surrogate pair); returns the kept text and how many were dropped. */
function cut(s: string, max: number): [string, number] {
  // A code point is one or two UTF-16 units: at most `max` units is certainly within bounds.
  if (s.length <= max) return [s, 0];
  let points = 0;
  let end = 0;
  for (const ch of s) {
    if (points === max) break;
    points += 1;
    end += ch.length;
  }
  if (end === s.length) return [s, 0];
  let dropped = 0;
  for (const _ of s.slice(end)) dropped += 1;
  return [s.slice(0, end) + TRUNCATION_MARK, dropped];
}

function note(out: Truncations, path: string, n: number): void {
  out[path] = (out[path] ?? 0) + n;
}

/** `path` names `value` (built only for containers and cuts: most values are short strings kept whole). */
function bound(value: unknown, parent: string, key: string, depth: number, out: Truncations, path?: string): unknown {
  if (typeof value === 'string') {
    const [kept, dropped] = cut(value, IDENTIFIER_FIELDS.has(key) ? MAX_IDENTIFIER_FIELD_LENGTH : MAX_STRING_LENGTH);
    if (dropped) note(out, path ?? (parent ? `${parent}.${key}` : key), dropped);
    return kept;
  }
  if (value === null || typeof value !== 'object') return value;
  const here = path ?? (parent ? `${parent}.${key}` : key);
  if (depth >= MAX_DEPTH) {
    note(out, here, 1);
    return undefined;
  }
  if (Array.isArray(value)) {
    const kept: unknown[] = [];
    const entryPath = `${here}[]`;
    let chars = 0;
    for (const entry of value) {
      if (kept.length === MAX_ARRAY_ENTRIES) break;
      const b = bound(entry, here, key, depth + 1, out, entryPath);
      chars += typeof b === 'string' ? b.length : 1;
      if (chars > MAX_ARRAY_CHARS) break;
      kept.push(b);
    }
    if (kept.length < value.length) note(out, here, value.length - kept.length);
    return kept;
  }
  const obj: Record<string, unknown> = {};
  const keys = Object.keys(value);
  if (keys.length > MAX_OBJECT_KEYS) note(out, here || '.', keys.length - MAX_OBJECT_KEYS);
  const limit = Math.min(keys.length, MAX_OBJECT_KEYS);
  for (let i = 0; i < limit; i += 1) {
    const k = keys[i]!;
    const b = bound((value as Record<string, unknown>)[k], here, k, depth + 1, out);
    if (b !== undefined) obj[k] = b;
  }
  return obj;
}

/** True when `bound` would change nothing: every string, array, object and nesting level within its bound. */
function withinBounds(value: unknown, key: string, depth: number): boolean {
  // A string of at most `max` UTF-16 units has at most `max` code points.
  if (typeof value === 'string') return value.length <= (IDENTIFIER_FIELDS.has(key) ? MAX_IDENTIFIER_FIELD_LENGTH : MAX_STRING_LENGTH);
  if (value === null || typeof value !== 'object') return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    if (value.length > MAX_ARRAY_ENTRIES) return false;
    let chars = 0;
    for (const entry of value) {
      if (!withinBounds(entry, key, depth + 1)) return false;
      chars += typeof entry === 'string' ? entry.length : 1;
    }
    return chars <= MAX_ARRAY_CHARS;
  }
  let keys = 0;
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    if (++keys > MAX_OBJECT_KEYS) return false;
    const v = (value as Record<string, unknown>)[k];
    // `bound` drops undefined members; JSON drops them too, so they change nothing stored.
    if (!withinBounds(v, k, depth + 1)) return false;
  }
  return true;
}

/**
 * The event as it may be stored: every string at most MAX_STRING_LENGTH code points (identifier fields
 * MAX_IDENTIFIER_FIELD_LENGTH), every array at most MAX_ARRAY_ENTRIES entries and MAX_ARRAY_CHARS characters, every
 * object at most MAX_OBJECT_KEYS members, nesting at most MAX_DEPTH. When anything was cut the result says so in `truncated` (field path → count dropped).
 *
 * @example
 * boundEvent({ type: 'exchange', requestedScopes: Array(10_000).fill('a') }).truncated // { requestedScopes: 9968 }
 */
export function boundEvent<T extends object>(event: T): T & { truncated?: Truncations } {
  // Nearly every event is within bounds: checked without copying, and then stored as it is.
  if (withinBounds(event, '', 0)) return event;
  const truncated: Truncations = {};
  const bounded = bound(event, '', '', 0, truncated) as T;
  // The field names are our own (fixed), so the map has a bounded number of entries.
  return Object.keys(truncated).length ? { ...bounded, truncated } : bounded;
}
