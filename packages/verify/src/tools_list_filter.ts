// Rewrites the JSON-RPC answers to `tools/list` requests on their way out, whether the MCP transport answers with one
// JSON body or a server-sent event stream, so a tool the token may not call is never listed (whatever MCP server sits
// behind the middleware, stateless or not).
import { hasDuplicateMember } from './json_strict.js';

/** JSON-RPC request ids (RFC: string or number). */
export type JsonRpcId = string | number;

/**
 * The slice of a node:http `ServerResponse` the filter wraps (Express's `res` and Koa's `ctx.res` are one).
 *
 * @example
 * ```ts
 * const res: NodeLikeResponse = ctx.res
 * ```
 */
export interface NodeLikeResponse {
  writeHead(statusCode: number, ...rest: unknown[]): unknown;
  write(chunk: unknown, ...rest: unknown[]): boolean;
  end(...args: unknown[]): unknown;
  getHeader(name: string): unknown;
  removeHeader(name: string): void;
  /** Cuts the response (node:http): how an answer the filter cannot pass is ended, its headers being out. */
  destroy?(error?: Error): unknown;
}

/**
 * Why the filter did not pass an answer: `too_large` (a JSON body or one event past `maxBufferedBytes`) and
 * `not_json` (a JSON body, or an event's data, that does not parse) are cut; `unreadable` (a `Content-Encoding`, or a
 * `Content-Type` that is repeated or names a JSON or event-stream type it is not) is answered 500 in its place.
 */
export type FilterRefusal = 'too_large' | 'not_json' | 'unreadable';

export interface FilterOptions {
  /** The most text held to read one JSON body or one event, in bytes of UTF-8 (default `DEFAULT_MAX_BUFFERED_BYTES`). */
  maxBufferedBytes?: number | undefined;
  /** Told once when an answer was not passed, after it was cut or replaced. A hook that throws is ignored. */
  onRefused?: ((reason: FilterRefusal) => void) | undefined;
}

/**
 * 16 MiB: a tool list of hundreds of tools with their schemas is well under 1 MiB, and since every JSON answer is held
 * whole (any answer may carry a list), a tool result with a few MiB of embedded content (a base64 image or resource)
 * must fit too; the gateway accepts request bodies up to the same 16 MiB. What one answer can make a host hold is
 * then this much text and what `JSON.parse` builds from it.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** The bound to apply: the default, or a positive integer given (anything else is a TypeError, at construction). */
export function maxBufferedBytesOf(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_BUFFERED_BYTES;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new TypeError('maxBufferedBytes must be a positive integer (bytes)');
  return value;
}

type Mode = 'json' | 'sse' | 'pass';

/** Two line ends in a row (WHATWG HTML "Server-sent events": `end-of-line = ( cr lf / cr / lf )`); CR then LF is one. */
const EVENT_END = /(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r(?!\n))/;
/** The longest event end, less one: a new one may begin this many characters before the text that completes it. */
const EVENT_END_CARRY = 3;
/** Byte order marks at the start of a text: a client's decoder strips one (WHATWG Encoding "UTF-8 decode"), a parser may strip more. */
const LEADING_BOMS = /^\uFEFF+/;
/** RFC 9110 §8.3.1: `type "/" subtype`, both tokens; RFC 6839 §3.1: a `+json` suffix is JSON. */
const JSON_ESSENCE = /^(?:application\/json|[!#$%&'*.^_`|~0-9a-z-]+\/[!#$%&'*.^_`|~0-9a-z+-]+\+json)$/;

/** WHATWG HTML "Server-sent events": a line is empty, a comment (`:`), or a field, its name before the first `:`. */
const knownField = (line: string): boolean => {
  if (line === '' || line.startsWith(':')) return true;
  const colon = line.indexOf(':');
  const name = colon === -1 ? line : line.slice(0, colon);
  return name === 'data' || name === 'event' || name === 'id' || name === 'retry';
};

/**
 * The mode of an answer from its `Content-Type` values, or `undefined` to refuse it. Read from the media type's essence
 * (RFC 9110 §8.3.1: type/subtype before any parameter, case-insensitive), as the MCP client reads it: a parameter
 * naming `text/event-stream` does not make a JSON body an event stream. A header sent twice (clients join the values,
 * or keep either) is refused, as is a value naming JSON or an event stream that is neither (`text/plain; x=json`, or an
 * event stream with `json` in a parameter): a client matching the text rather than the essence would read it so.
 */
function modeOf(values: readonly unknown[]): Mode | undefined {
  if (values.length > 1) return undefined;
  if (values.length === 0) return 'pass';
  const value = String(values[0]).toLowerCase();
  const essence = value.split(';', 1)[0]!.trim();
  if (JSON_ESSENCE.test(essence)) return 'json';
  const json = value.includes('json');
  if (essence === 'text/event-stream' && !json) return 'sse';
  return json || value.includes('event-stream') ? undefined : 'pass';
}

/**
 * Filter `result.tools` of the responses whose id `listed` accepts (the ids of the `tools/list` requests answered, or
 * every id on a stream that answers no request of its own), keeping the tools `keep` accepts. The mode is the
 * `Content-Type`'s essence (`modeOf`); a 2xx body of any other type, or none, is read as an event stream (the MCP
 * client reads a successful GET's body as one whatever its type); any other answer is passed through. An answer the
 * filter cannot read is never passed (fail closed), and `onRefused` is told: one with a `Content-Encoding` other than identity (a compressor inside the handler) or an ambiguous or
 * repeated `Content-Type` is replaced by a 500 (`unreadable`); a JSON body, or an event's data, that does not parse
 * as JSON once leading byte order marks are stripped (`not_json`), and a JSON body or one event past
 * `maxBufferedBytes` (`too_large`), are cut (`destroy()`): the status line and headers went out as written, so a
 * client sees a broken answer, never an unfiltered one. What was held is dropped at once and nothing more of the
 * answer is read.
 */
export function filterToolListResponses(res: NodeLikeResponse, listed: (id: JsonRpcId) => boolean, keep: (tool: string) => boolean, options: FilterOptions = {}): void {
  const maxBufferedBytes = maxBufferedBytesOf(options.maxBufferedBytes);
  const original = { writeHead: res.writeHead, write: res.write, end: res.end };
  const decoder = new TextDecoder();
  let mode: Mode | undefined;
  let refused = false;
  /** The answer was cut: nothing more of it is read or written. */
  let cut = false;
  /** No text of an event stream read yet: its leading byte order marks are dropped. */
  let streamStart = true;
  /** The JSON body so far, or the pending event's text in pieces (none of them, nor their joins, holding an event end). */
  let parts: string[] = [];
  /** Bytes of what `parts` holds (as received: before decoding). */
  let held = 0;
  /** The text being drained into events. */
  let pending = '';

  const tell = (reason: FilterRefusal): void => {
    try {
      options.onRefused?.(reason);
    } catch {
      // The hook is a side channel: the answer was refused all the same.
    }
  };
  // Returns `message` itself when it holds no list to filter, so such a body is passed as it came (below).
  const transform = (message: unknown): unknown => {
    if (Array.isArray(message)) {
      const out = message.map(transform);
      return out.some((entry, i) => entry !== message[i]) ? out : message;
    }
    if (typeof message !== 'object' || message === null) return message;
    const m = message as { id?: unknown; result?: { tools?: unknown } };
    if (!(typeof m.id === 'string' || typeof m.id === 'number') || !listed(m.id)) return message;
    const tools = m.result?.tools;
    if (!Array.isArray(tools)) return message;
    const visible = tools.filter((tool: { name?: unknown } | null) => typeof tool?.name === 'string' && keep(tool.name));
    return { ...m, result: { ...m.result, tools: visible } };
  };
  /** The text to send for a JSON text, or `undefined` when it is not JSON (then it is not sent). */
  const transformJson = (raw: string): string | undefined => {
    // Without its byte order marks: what is sent is then what was read here, however many a client would strip.
    const text = raw.replace(LEADING_BOMS, '');
    // Nothing to read: no list (a 202, a HEAD, a priming event with empty data).
    if (text.trim() === '') return raw;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    // Byte for byte when no list was filtered: a number beyond 2^53, an escape or the spacing of an answer that holds
    // no tool list is the sender's, not what a re-serialisation would make of it. Not when a name repeats (RFC 8259
    // §4): JSON.parse read the last `result`, a client may read the first, so the text read here is what is sent.
    const out = transform(parsed);
    return out === parsed && !hasDuplicateMember(text) ? text : JSON.stringify(out);
  };
  // WHATWG HTML "Server-sent events": an event is lines up to a blank line; `data:` lines join with "\n". An MCP
  // event carries one JSON-RPC message (or none: a priming event); data that is not JSON is not passed.
  const transformEvent = (event: string): string | undefined => {
    const lines = event.split(/\r\n|\r|\n/);
    // Only the fields an MCP server sends, and comments: a line whose field the filter does not know may be one a
    // client's parser reads otherwise (eventsource-parser drops a leading "\u00EF\u00BB\u00BF", a byte order mark read
    // as Latin-1, so "\u00EF\u00BB\u00BFdata: ..." is data to it and an unknown field here): not passed.
    if (!lines.every(knownField)) return undefined;
    const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
    if (data.length === 0) return event;
    const joined = data.join('\n');
    const rewritten = transformJson(joined);
    if (rewritten === undefined || rewritten === joined) return rewritten === undefined ? undefined : event;
    const kept = lines.filter((line) => !line.startsWith('data:'));
    return [...kept, ...rewritten.split('\n').map((line) => `data: ${line}`)].join('\n');
  };
  /** The events `pending` completes, rewritten; a refusal when one is over the bound (`measure`) or not JSON. */
  const drainEvents = (final: boolean, measure: boolean): string | { refusal: FilterRefusal } => {
    let out = '';
    for (;;) {
      // An event ends at a blank line; a line ends at CRLF, LF or CR, mixed as the sender likes (`\n\r\n` too).
      const match = EVENT_END.exec(pending);
      if (!match) break;
      const event = pending.slice(0, match.index);
      if (measure && Buffer.byteLength(event) > maxBufferedBytes) return { refusal: 'too_large' };
      const rewritten = transformEvent(event);
      if (rewritten === undefined) return { refusal: 'not_json' };
      out += rewritten + match[0];
      pending = pending.slice(match.index + match[0].length);
    }
    if (final && pending.length > 0) {
      if (measure && Buffer.byteLength(pending) > maxBufferedBytes) return { refusal: 'too_large' };
      const rewritten = transformEvent(pending);
      if (rewritten === undefined) return { refusal: 'not_json' };
      out += rewritten;
      pending = '';
    }
    return out;
  };
  const text = (chunk: unknown): string => {
    if (typeof chunk === 'string') return chunk;
    if (chunk instanceof Uint8Array) return decoder.decode(chunk, { stream: true });
    return chunk === undefined || chunk === null ? '' : String(chunk);
  };
  /** Bytes a chunk adds: as received for bytes (before decoding), the UTF-8 length of text. */
  const bytesOf = (chunk: unknown): number => {
    if (chunk instanceof Uint8Array) return chunk.byteLength;
    return chunk === undefined || chunk === null ? 0 : Buffer.byteLength(typeof chunk === 'string' ? chunk : String(chunk));
  };
  /** The answer cannot be passed: drop what is held and cut it (its headers are out: ending would pass for complete). */
  const cutAnswer = (reason: FilterRefusal): undefined => {
    cut = true;
    parts = [];
    pending = '';
    held = 0;
    if (typeof res.destroy === 'function') res.destroy();
    else original.end.call(res);
    tell(reason);
    return undefined;
  };
  /** Takes in one chunk: the text to send now (`''` for none yet), or `undefined` when the answer was cut. */
  const take = (chunk: unknown, final: boolean): string | undefined => {
    held += bytesOf(chunk);
    if (mode === 'json') {
      // Counted before it is decoded or kept: past the bound, nothing of this chunk is held.
      if (held > maxBufferedBytes) return cutAnswer('too_large');
      const more = text(chunk) + (final ? decoder.decode() : '');
      if (more.length > 0) parts.push(more);
      if (!final) return '';
      const body = parts.join('');
      parts = [];
      return transformJson(body) ?? cutAnswer('not_json');
    }
    let more = text(chunk) + (final ? decoder.decode() : '');
    if (streamStart) {
      // WHATWG HTML "Server-sent events": a stream's leading BOM is stripped (the decoder strips one); any more would be
      // read by this filter as part of the first field name, by some client as nothing. Dropped: both read alike.
      more = more.replace(LEADING_BOMS, '');
      if (more.length > 0) streamStart = false;
    }
    // Only the new text (and the few characters before it) is searched for an event end: the text held has none, and
    // an event trickling in is neither rescanned nor rejoined on every chunk.
    if (!final && !EVENT_END.test(tail(parts, EVENT_END_CARRY) + more)) {
      if (held > maxBufferedBytes) return cutAnswer('too_large');
      if (more.length > 0) parts.push(more);
      return '';
    }
    pending = parts.join('') + more;
    parts = [];
    // Under the bound, no event in it can be over; past it, each is measured.
    const out = drainEvents(final, held > maxBufferedBytes);
    if (typeof out !== 'string') return cutAnswer(out.refusal);
    held = Buffer.byteLength(pending);
    if (held > maxBufferedBytes) return cutAnswer('too_large');
    if (pending.length > 0) parts.push(pending);
    pending = '';
    return out;
  };

  res.writeHead = function writeHead(this: NodeLikeResponse, statusCode: number, ...rest: unknown[]) {
    if (cut) return this;
    const headers = rest.find((arg) => typeof arg === 'object' && arg !== null) as Record<string, unknown> | unknown[] | undefined;
    // node:http: the headers given here replace those set before under the same name.
    const given = headerValues(headers, 'content-type');
    const contentTypes = given.length > 0 ? given : [res.getHeader('content-type')].flat().filter((value) => value !== undefined);
    const encoding = String(headerValues(headers, 'content-encoding')[0] ?? res.getHeader('content-encoding') ?? 'identity').toLowerCase();
    const typed = modeOf(contentTypes);
    // A 2xx body of any other type (or none) is read as an event stream: the MCP client feeds any successful GET's body
    // to its event-stream parser whatever its type (client/streamableHttp.js, the standalone stream), so a tool list
    // sent there must meet this filter too. Other statuses carry no answer a client reads a list from.
    const chosen = typed === 'pass' && statusCode >= 200 && statusCode < 300 ? 'sse' : typed;
    if (chosen === undefined || (chosen !== 'pass' && encoding !== 'identity')) {
      refused = true;
      mode = 'pass';
      for (const name of ['content-length', 'content-encoding', 'content-type']) res.removeHeader(name);
      tell('unreadable');
      return original.writeHead.call(this, 500, { 'content-type': 'application/json' });
    }
    mode = chosen;
    if (mode === 'pass') return original.writeHead.call(this, statusCode, ...rest);
    // The body changes length: drop any declared one (chunked encoding takes over). The status line and headers go
    // out now, as written: a framework that finds them out never answers a second time on top of a partial body.
    res.removeHeader('content-length');
    const args = rest.map((arg) => (headers !== undefined && arg === headers ? withoutContentLength(headers) : arg));
    return original.writeHead.call(this, statusCode, ...args);
  } as NodeLikeResponse['writeHead'];

  res.write = function write(this: NodeLikeResponse, chunk: unknown, ...rest: unknown[]) {
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (mode === undefined) (res.writeHead as (code: number) => unknown).call(this, (res as { statusCode?: number }).statusCode ?? 200);
    if (refused || cut) {
      callback?.();
      return true;
    }
    if (mode === 'pass') return original.write.call(this, chunk, ...rest);
    const out = take(chunk, false);
    if (out === undefined || out.length === 0) {
      callback?.();
      return true;
    }
    return original.write.call(this, out, ...rest.filter((arg) => typeof arg === 'function'));
  } as NodeLikeResponse['write'];

  res.end = function end(this: NodeLikeResponse, ...args: unknown[]) {
    const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    if (mode === undefined) (res.writeHead as (code: number) => unknown).call(this, (res as { statusCode?: number }).statusCode ?? 200);
    if (cut) {
      callback?.();
      return this;
    }
    if (refused) {
      return original.end.call(this, JSON.stringify({ error: 'server_error', error_description: 'tool list could not be filtered' }), callback);
    }
    if (mode === 'pass') return original.end.apply(this, args);
    const out = take(chunk, true);
    if (out === undefined) {
      callback?.();
      return this;
    }
    return callback ? original.end.call(this, out, callback) : original.end.call(this, out);
  } as NodeLikeResponse['end'];
}

/** The last `n` characters of the text `parts` holds, without joining it. */
function tail(parts: readonly string[], n: number): string {
  let out = '';
  for (let i = parts.length - 1; i >= 0 && out.length < n; i--) out = parts[i]!.slice(-(n - out.length)) + out;
  return out;
}

/** Every value of header `name` among `headers` (an object, whose values may be arrays, or node's flat raw array). */
function headerValues(headers: Record<string, unknown> | unknown[] | undefined, name: string): unknown[] {
  if (headers === undefined) return [];
  const out: unknown[] = [];
  if (Array.isArray(headers)) {
    const flat = headers.flat() as unknown[];
    for (let i = 0; i + 1 < flat.length; i += 2) if (String(flat[i]).toLowerCase() === name) out.push(flat[i + 1]);
  } else {
    for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) out.push(value);
  }
  return out.flat().filter((value) => value !== undefined);
}

function withoutContentLength(headers: Record<string, unknown> | unknown[]): Record<string, unknown> | unknown[] {
  if (Array.isArray(headers)) {
    const flat = headers.flat() as unknown[];
    const out: unknown[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) if (String(flat[i]).toLowerCase() !== 'content-length') out.push(flat[i], flat[i + 1]);
    return out;
  }
  return Object.fromEntries(Object.entries(headers).filter(([key]) => key.toLowerCase() !== 'content-length'));
}
