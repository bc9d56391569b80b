// Strict JSON decoding for JOSE segments: UTF-8 only and no duplicate member names, which JSON.parse silently allows.

// RFC 8725 §3.7: JSON must be UTF-8; a fatal decoder refuses the bytes instead of substituting U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const BASE64URL = /^[A-Za-z0-9_-]*$/;

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
  if (!BASE64URL.test(segment)) return undefined;
  let text: string;
  let value: unknown;
  try {
    text = utf8.decode(Buffer.from(segment, 'base64url'));
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  // RFC 7515 §4 / RFC 7519 §4: names must be unique; we refuse instead of taking the last one [P, JW-07].
  if (hasDuplicateMember(text, value)) return undefined;
  return value as Record<string, unknown>;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * True when any object, at any depth, repeats a member name. Names are compared after unescaping, so
 * `"a"` and `"\u0061"` collide. Expects text that JSON.parse already accepted; pass its result as `value` when
 * there is one, to save parsing the text again.
 *
 * JSON.parse keeps one property per distinct name, so an object repeats a name exactly when it has more members in
 * the text than own keys once parsed. The scan walks the text and the parsed value together: it counts the member
 * names of each object as written and compares the count with the parsed object's keys when the object closes. It
 * never needs a name's value except to step into a member that is itself an object or array, and only an escaped
 * name is unescaped then.
 *
 * Why it is exact: without any duplicate, every container in the text pairs with the parsed container at the same
 * path and every count matches. With one, take an object with a repeated name whose enclosing objects have none: the
 * path to it is unambiguous, so it pairs with its own parsed object, which has fewer keys than it has names. Inside
 * a repeated member the pairing may land on the other occurrence's value; any mismatch found there (wrong kind or
 * count) is also answered `true`, which is right, since a duplicate exists.
 */
export function hasDuplicateMember(text: string, value: unknown = JSON.parse(text)): boolean {
  // The parsed container open at each depth, and for it the names seen (object) or commas seen (array) so far.
  const containers: unknown[] = [];
  const counts: number[] = [];
  let depth = 0;
  let inObject = false; // the innermost open container is an object
  let expectName = false; // the next string is a member name: right after `{`, or after `,` inside an object
  let nameStart = -1; // the quotes around the last member name seen
  let nameEnd = -1;
  let nextBackslash = -2; // first backslash at or after nameStart: -1 for none, -2 before the first look-up
  for (let i = 0; i < text.length; i++) {
    switch (text.charCodeAt(i)) {
      case QUOTE: {
        const end = closingQuote(text, i);
        if (expectName) {
          counts[depth - 1]!++;
          nameStart = i;
          nameEnd = end;
          expectName = false;
        }
        i = end;
        break;
      }
      case OPEN_OBJECT:
      case OPEN_ARRAY: {
        const isObject = text.charCodeAt(i) === OPEN_OBJECT;
        let child: unknown;
        if (depth === 0) {
          child = value;
        } else if (inObject) {
          if (nextBackslash !== -1 && nextBackslash < nameStart) nextBackslash = text.indexOf('\\', nameStart);
          // Only an escaped name needs unescaping; a plain one is its own value.
          const name =
            nextBackslash !== -1 && nextBackslash < nameEnd
              ? (JSON.parse(text.slice(nameStart, nameEnd + 1)) as string)
              : text.slice(nameStart + 1, nameEnd);
          child = (containers[depth - 1] as Record<string, unknown>)[name];
        } else {
          child = (containers[depth - 1] as unknown[])[counts[depth - 1]!];
        }
        // Only a duplicate somewhere above can make the pairing land on something else.
        if (typeof child !== 'object' || child === null || Array.isArray(child) === isObject) return true;
        containers[depth] = child;
        counts[depth] = 0;
        depth++;
        inObject = isObject;
        expectName = isObject;
        break;
      }
      case CLOSE_OBJECT:
        depth--;
        if (Object.keys(containers[depth] as object).length !== counts[depth]) return true;
        inObject = depth > 0 && !Array.isArray(containers[depth - 1]);
        break;
      case CLOSE_ARRAY:
        depth--;
        inObject = depth > 0 && !Array.isArray(containers[depth - 1]);
        break;
      case COMMA:
        if (inObject) expectName = true;
        else counts[depth - 1]!++;
        break;
      case COLON:
        expectName = false;
        break;
      default:
        break;
    }
  }
  return false;
}

/** Index of the quote that closes the string opening at `start` (one preceded by an even run of backslashes). */
function closingQuote(text: string, start: number): number {
  let quote = start;
  for (;;) {
    quote = text.indexOf('"', quote + 1);
    if (quote === -1) return text.length - 1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if ((backslashes & 1) === 0) return quote;
  }
}
