// Strict JSON decoding for JOSE segments: UTF-8 only and no duplicate member names, which JSON.parse silently allows.

// RFC 8725 §3.7: JSON must be UTF-8; a fatal decoder refuses the bytes instead of substituting U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decode one base64url segment of a compact JWS (header or payload) to a JSON object, or return undefined when it is
 * not exactly that: valid base64url, UTF-8 (RFC 8725 §3.7), a JSON object, and no member name repeated at any depth
 * (RFC 7515 §4 / RFC 7519 §4). Only for reading a token before its signature is checked; nothing it returns is trusted.
 *
 * @example
 * ```ts
 * import { decodeJsonSegment } from 'delegation-token-verify'
 *
 * const header = decodeJsonSegment(token.split('.')[0]!) // undefined for {"alg":"ES256","alg":"none"}
 * ```
 */
export function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  const text = decodeSegmentText(segment);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  // RFC 7515 §4 / RFC 7519 §4: names must be unique; we refuse instead of taking the last one [P, JW-07].
  if (hasDuplicateMember(text)) return undefined;
  return value as Record<string, unknown>;
}

/** The UTF-8 text of a base64url segment (RFC 7515 §2: base64url without padding; RFC 8725 §3.7: UTF-8), or undefined. */
export function decodeSegmentText(segment: string): string | undefined {
  // RFC 7515 §2 / RFC 4648 §5: base64url, no padding; a length of 4n + 1 is never valid.
  if (segment.length % 4 === 1 || segment.includes('+') || segment.includes('/')) return undefined;
  const bytes = Buffer.from(segment, 'base64url');
  // Node skips any other character outside the alphabet (or stops at one), so every such character leaves fewer bytes
  // than the length promises: this is the full alphabet check, without a regular expression over the whole segment.
  if (bytes.length !== Math.floor((segment.length * 3) / 4)) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Where `hasDuplicateMember` found the value of one top-level member: `[start, end)` in the text, -1 when not found. */
export interface MemberSpan {
  /** The top-level member name to look for; only a value that is an array or object is reported. */
  readonly name: string;
  start: number;
  end: number;
  /**
   * The length of a JSON value at `start` of `text` that is already known to repeat no name, or 0. The scan steps over
   * such a value instead of reading it (the verifier's `OwnToolDetailsCache.knownAt`).
   */
  readonly knownAt?: (text: string, start: number) => number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

/** Past this many names in one object, or at an escaped name, the scan only counts names (see `hasDuplicateMember`). */
const COMPARED_NAMES = 32;

// Reused from call to call (the scan is synchronous): where each name of every open object lies in the text, innermost
// object's names last, and for each open container the index in those lists where its own names begin.
let nameStarts = new Int32Array(256);
let nameEnds = new Int32Array(256);
const namesFrom: number[] = [];
const walk: unknown[] = [];

/**
 * True when any object, at any depth, repeats a member name (RFC 7515 §4 / RFC 7519 §4 / RFC 8259 §4). Names are
 * compared after unescaping, so `"a"` and `"\u0061"` collide. Exact for any JSON text (RFC 8259); for text that is not
 * JSON the answer means nothing, and such text must be refused by its parser anyway (the precheck parses a payload
 * right after this scan, `decodeJsonSegment` a header right before).
 *
 * One pass, no parse, no allocation: it jumps from string to string with `indexOf`, looks at the few characters
 * between strings only for brackets (to know which object is open), and takes a string followed by `:` as a member
 * name of the innermost open object (in JSON text nothing else is followed by `:`). A name without a backslash is its
 * own value, so it is compared by position and length with the other names of its object. Two cases fall back to an
 * exact count: an escaped name, or an object with more than COMPARED_NAMES names (so a huge object stays linear).
 * Then the text is parsed once and the names written are counted against the members parsed: JSON.parse keeps one
 * member per distinct name, so the counts differ exactly when some object repeats a name.
 *
 * When `span` is given, it also reports where the value of the top-level member `span.name` (written unescaped) is,
 * if that value is an array or an object (the verifier keys its cache of checked `authorization_details` on it), and
 * steps over that value when `span.knownAt` knows it; should the scan fall back to the count, it then scans the whole
 * text again without stepping over anything, so the count stays exact.
 */
export function hasDuplicateMember(text: string, span?: MemberSpan): boolean {
  if (span) span.start = span.end = -1;
  const length = text.length;
  let depth = 0; // containers open
  let top = 0; // names held in nameStarts/nameEnds
  let names = 0; // member names written in the text
  let counting = false; // fallen back to the count
  let spanOpen = false; // inside the span's value, waiting for it to close
  let skipped = false; // stepped over the value span.knownAt vouched for
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i + 1;
      let escaped = false;
      // To the closing quote; an escape is two characters or more, and none of those after the first is a quote.
      for (i = start; i < length; i++) {
        const d = text.charCodeAt(i);
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
      const end = i;
      let next = end + 1;
      let e = text.charCodeAt(next);
      while (e === SPACE || e === LF || e === CR || e === TAB) e = text.charCodeAt(++next);
      if (e !== COLON) continue;
      // A member name; outside any object only text that is not JSON has one.
      if (depth < 1) return true;
      i = next;
      names++;
      if (!counting) {
        const from = namesFrom[depth - 1]!;
        if (escaped || top - from >= COMPARED_NAMES) {
          counting = true;
        } else {
          for (let k = from; k < top; k++) if (sameText(text, nameStarts[k]!, nameEnds[k]!, start, end)) return true;
          if (top === nameStarts.length) growNames();
          nameStarts[top] = start;
          nameEnds[top] = end;
          top++;
        }
      }
      if (span && depth === 1 && !escaped && end - start === span.name.length && text.startsWith(span.name, start)) {
        let value = next + 1;
        let v = text.charCodeAt(value);
        while (v === SPACE || v === LF || v === CR || v === TAB) v = text.charCodeAt(++value);
        if (v === OPEN_ARRAY || v === OPEN_OBJECT) {
          span.start = value;
          const known = span.knownAt?.(text, value) ?? 0;
          if (known > 0) {
            span.end = value + known;
            i = span.end - 1;
            skipped = true;
          } else {
            spanOpen = true;
          }
        }
      }
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      namesFrom[depth++] = top;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      // More closing than opening brackets: not JSON.
      if (--depth < 0) return true;
      top = namesFrom[depth]!;
      if (spanOpen && depth === 1) {
        span!.end = i + 1;
        spanOpen = false;
      }
    }
  }
  // One pathological input (deep nesting) must not leave large buffers behind.
  if (namesFrom.length > 64) namesFrom.length = 64;
  if (nameStarts.length > 4096) {
    nameStarts = new Int32Array(256);
    nameEnds = new Int32Array(256);
  }
  if (!counting) return false;
  // RFC 7515 §4 / RFC 7519 §4: names must be unique [JW-07]. The count weighs names written against members parsed,
  // and JSON.parse also parses the value stepped over, whose names were not counted: scan again without the step (the
  // span is already reported). Rare (escaped names, huge objects), so the step stays on the common path.
  if (skipped) return hasDuplicateMember(text);
  return names !== parsedMemberCount(text);
}

/** Members of every object in the JSON value of `text`, or -1 when it is not JSON. */
function parsedMemberCount(text: string): number {
  try {
    walk.push(JSON.parse(text));
  } catch {
    return -1;
  }
  let count = 0;
  while (walk.length > 0) {
    const value = walk.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) walk.push(item);
    } else {
      // Own keys only: an enumerable property added to Object.prototype must not look like a member.
      const keys = Object.keys(value);
      count += keys.length;
      for (const key of keys) walk.push((value as Record<string, unknown>)[key]);
    }
  }
  return count;
}

function sameText(text: string, a: number, aEnd: number, b: number, bEnd: number): boolean {
  const length = aEnd - a;
  if (bEnd - b !== length) return false;
  for (let i = 0; i < length; i++) if (text.charCodeAt(a + i) !== text.charCodeAt(b + i)) return false;
  return true;
}

function growNames(): void {
  const starts = new Int32Array(nameStarts.length * 2);
  const ends = new Int32Array(nameEnds.length * 2);
  starts.set(nameStarts);
  ends.set(nameEnds);
  nameStarts = starts;
  nameEnds = ends;
}
