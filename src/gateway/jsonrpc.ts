// One JSON-RPC 2.0 message per POST, parsed strictly: UTF-8, no duplicate member names, no batch; classified for the decision.

/** What a POST body is, for the decision and the headers check. */
export type Message =
  | { kind: 'request'; id: string | number; method: string; params: Record<string, unknown> | undefined }
  | { kind: 'notification'; method: string; params: Record<string, unknown> | undefined }
  | { kind: 'response'; id: string | number | null };

export type ParseFailure = 'parse_error' | 'duplicate_member' | 'ambiguous_member' | 'batch' | 'not_jsonrpc';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses one message, or names why it is refused. */
export function parseMessage(body: Buffer): { message: Message } | { failure: ParseFailure } {
  let text: string;
  let value: unknown;
  try {
    text = utf8.decode(body);
    value = JSON.parse(text);
  } catch {
    return { failure: 'parse_error' };
  }
  // MCP 2025-06-18 removed JSON-RPC batching: one message per POST (batches slip calls past per-message checks).
  if (Array.isArray(value)) return { failure: 'batch' };
  // RFC 8259 §4: names SHOULD be unique; JSON.parse keeps the last, a different parser upstream may keep the first,
  // or match names regardless of case (below).
  const names = memberNameClash(text);
  if (names) return { failure: names };
  const message = classify(value);
  return message ? { message } : { failure: 'not_jsonrpc' };
}

function isId(id: unknown): id is string | number {
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

function classify(value: unknown): Message | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  // JSON-RPC 2.0 §4: "jsonrpc" MUST be exactly "2.0".
  if (m.jsonrpc !== '2.0') return undefined;
  const params = m.params;
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) return undefined;
  if (typeof m.method === 'string') {
    if (m.method.length === 0 || 'result' in m || 'error' in m) return undefined;
    const p = params as Record<string, unknown> | undefined;
    // JSON-RPC 2.0 §4.1: a request without "id" is a notification. MCP: ids are strings or numbers, never null.
    if (!('id' in m)) return { kind: 'notification', method: m.method, params: p };
    return isId(m.id) ? { kind: 'request', id: m.id, method: m.method, params: p } : undefined;
  }
  // JSON-RPC 2.0 §5: a response has "result" or "error", not both (the client answering a server request).
  if (('result' in m) === ('error' in m)) return undefined;
  if (!(isId(m.id) || m.id === null)) return undefined;
  return { kind: 'response', id: m.id as string | number | null };
}

/**
 * A name written as it would be read by a parser that ignores case: Go's encoding/json matches a JSON name to a struct
 * field with `bytes.EqualFold` (Unicode simple folding: `Name`, `NAME`, `ſ` for `s` and the Kelvin sign for `k` all
 * match) and keeps the last match, so `{"name":"a","Name":"b"}` is `a` here and `b` there (GHSA-wvj2-96wp-fq3f, the
 * MCP Go SDK). JavaScript's full case mapping folds at least every pair simple folding does (and a few more, e.g. `ß`
 * and `SS`). Refused with them: case twins in a free-form map inside `arguments` (`{"X-Id":1,"x-id":2}`), which a Go
 * upstream decoding into a map would read unambiguously; MCP's own members never have such twins.
 */
const folded = (name: string) => name.toLowerCase().toUpperCase();

/** C0 controls and DEL: no MCP name has one, and a parser that stops at U+0000 reads `"name\u0000"` as `name`. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why some object in `text` (already known to be valid JSON) has member names the upstream may read otherwise than
 * the gateway, or undefined: `duplicate_member` when a name repeats exactly (after JSON unescaping),
 * `ambiguous_member` when two names differ only in case or a name holds a control character. One pass over the text:
 * a stack of name sets, one per open object.
 */
export function memberNameClash(text: string): 'duplicate_member' | 'ambiguous_member' | undefined {
  const stack: Array<{ exact: Set<string>; folded: Set<string> } | null> = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < text.length) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) {
          escaped = true;
          j += 2;
          continue;
        }
        if (d === 0x22) break;
        j++;
      }
      const top = stack.at(-1);
      if (expectName && top) {
        const raw = text.slice(i + 1, j);
        const name = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.exact.has(name)) return 'duplicate_member';
        const key = folded(name);
        if (top.folded.has(key) || CONTROL.test(name)) return 'ambiguous_member';
        top.exact.add(name);
        top.folded.add(key);
        expectName = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push({ exact: new Set(), folded: new Set() });
      expectName = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectName = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectName = false;
    } else if (c === 0x2c /* , */) {
      expectName = Boolean(stack.at(-1));
    }
  }
  return undefined;
}

/** The name an `Mcp-Name` header must match for this method (2026-07-28), or undefined when the method has none. */
export function messageName(message: Message): string | undefined {
  if (message.kind === 'response') return undefined;
  const p = message.params;
  switch (message.method) {
    case 'tools/call':
    case 'prompts/get':
      return typeof p?.name === 'string' ? p.name : undefined;
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return typeof p?.uri === 'string' ? p.uri : undefined;
    default:
      return undefined;
  }
}

/** A JSON-RPC error response body (JSON-RPC 2.0 §5.1); `id` null when the request's id is unknown. */
export function jsonRpcError(id: string | number | null, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id });
}
