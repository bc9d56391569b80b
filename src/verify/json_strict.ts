// Strict JSON decoding for JOSE segments: UTF-8 only and no duplicate member names, which JSON.parse silently allows.

// RFC 8725 §3.7: JSON must be UTF-8; a fatal decoder refuses the bytes instead of substituting U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode one base64url segment to a JSON object, or return undefined when it is not exactly that. */
export function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) return undefined;
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
  if (hasDuplicateMember(text)) return undefined;
  return value as Record<string, unknown>;
}

interface Frame {
  keys: Set<string> | undefined; // undefined for arrays
  expectKey: boolean;
}

/**
 * True when any object, at any depth, repeats a member name. Names are compared after unescaping, so
 * `"a"` and `"\u0061"` collide. Expects text that JSON.parse already accepted.
 */
export function hasDuplicateMember(text: string): boolean {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const top = stack[stack.length - 1];
    switch (ch) {
      case '{':
        stack.push({ keys: new Set(), expectKey: true });
        break;
      case '[':
        stack.push({ keys: undefined, expectKey: false });
        break;
      case '}':
      case ']':
        stack.pop();
        break;
      case ',':
        if (top?.keys) top.expectKey = true;
        break;
      case ':':
        if (top) top.expectKey = false;
        break;
      case '"': {
        const end = endOfString(text, i);
        if (top?.keys && top.expectKey) {
          const name = JSON.parse(text.slice(i, end + 1)) as string;
          if (top.keys.has(name)) return true;
          top.keys.add(name);
        }
        i = end;
        break;
      }
      default:
        break;
    }
  }
  return false;
}

function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length - 1;
}
