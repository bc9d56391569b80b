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
  /** Whether the status line and headers are out (node:http); an answer over the bound can be replaced only before. */
  readonly headersSent?: boolean;
  /** Sends the headers at once (node:http); held back with a JSON answer's status line. */
  flushHeaders?(): void;
  /** Cuts the response (node:http): how an event stream over the bound ends, its headers being out. */
  destroy?(error?: Error): unknown;
}

/** How an answer over `maxBufferedBytes` ended: `refused` (a 502 sent in its place) or `cut` (its headers were out). */
export type TooLargeOutcome = 'refused' | 'cut';

export interface FilterOptions {
  /** The most text held to read one JSON body or one event, in bytes of UTF-8 (default `DEFAULT_MAX_BUFFERED_BYTES`). */
  maxBufferedBytes?: number | undefined;
  /** Told once when an answer passed the bound, after it was refused or cut. A hook that throws is ignored. */
  onTooLarge?: ((outcome: TooLargeOutcome) => void) | undefined;
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

/**
 * What an answer over the bound becomes while its status line is held: a JSON-RPC 2.0 §5.1 internal error (-32603).
 * Its `id` is null: the id is in the part of the answer never read (§5: "If there was an error in detecting the id
 * ... it MUST be Null").
 */
export const TOO_LARGE_BODY = '{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"answer too large to filter"}}';

type Mode = 'json' | 'sse' | 'pass';

/** Two line ends in a row (WHATWG HTML "Server-sent events": `end-of-line = ( cr lf / cr / lf )`); CR then LF is one. */
const EVENT_END = /(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r(?!\n))/;
/** The longest event end, less one: a new one may begin this many characters before the text that completes it. */
const EVENT_END_CARRY = 3;

/**
 * Filter `result.tools` of the responses whose id `listed` accepts (the ids of the `tools/list` requests answered, or
 * every id on a stream that answers no request of its own), keeping the tools `keep` accepts. A body that is neither
 * JSON nor an event stream is passed through (it holds no tool list a client would read); an encoded body
 * (`Content-Encoding` other than identity, from a compressor inside the handler) cannot be read, so it is replaced by
 * a 500: fail closed rather than list unfiltered tools.
 *
 * What is held to be read is bounded (`maxBufferedBytes`): a JSON body, held whole with its status line, is answered
 * 502 `TOO_LARGE_BODY` once it passes the bound; an event stream (its headers out) is cut once one event does. Either
 * way what was held is dropped at once, nothing more of the answer is read, and `onTooLarge` is told.
 */
export function filterToolListResponses(res: NodeLikeResponse, listed: (id: JsonRpcId) => boolean, keep: (tool: string) => boolean, options: FilterOptions = {}): void {
  const maxBufferedBytes = maxBufferedBytesOf(options.maxBufferedBytes);
  const original = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  const decoder = new TextDecoder();
  let mode: Mode | undefined;
  let refused = false;
  /** The answer passed the bound: refused or cut, and nothing more of it is read or written. */
  let tooLarge = false;
  /** A JSON answer's `writeHead` arguments, held until its body is complete (or replaced by the 502). */
  let head: unknown[] | undefined;
  /** The JSON body so far, or the pending event's text in pieces (none of them, nor their joins, holding an event end). */
  let parts: string[] = [];
  /** Bytes of what `parts` holds (as received: before decoding). */
  let held = 0;
  /** The text being drained into events. */
  let pending = '';

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
  const transformJson = (text: string): string => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return text;
    }
    // Byte for byte when no list was filtered: a number beyond 2^53, an escape or the spacing of an answer that holds
    // no tool list is the sender's, not what a re-serialisation would make of it. Not when a name repeats (RFC 8259
    // §4): JSON.parse read the last `result`, a client may read the first, so the text read here is what is sent.
    const out = transform(parsed);
    return out === parsed && !hasDuplicateMember(text) ? text : JSON.stringify(out);
  };
  // WHATWG HTML "Server-sent events": an event is lines up to a blank line; `data:` lines join with "\n".
  const transformEvent = (event: string): string => {
    const lines = event.split(/\r\n|\r|\n/);
    const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
    if (data.length === 0) return event;
    const joined = data.join('\n');
    const rewritten = transformJson(joined);
    if (rewritten === joined) return event;
    const kept = lines.filter((line) => !line.startsWith('data:'));
    return [...kept, ...rewritten.split('\n').map((line) => `data: ${line}`)].join('\n');
  };
  /** The events `pending` completes, rewritten; `undefined` when `measure` finds one over the bound. */
  const drainEvents = (final: boolean, measure: boolean): string | undefined => {
    let out = '';
    for (;;) {
      // An event ends at a blank line; a line ends at CRLF, LF or CR, mixed as the sender likes (`\n\r\n` too).
      const match = EVENT_END.exec(pending);
      if (!match) break;
      const event = pending.slice(0, match.index);
      if (measure && Buffer.byteLength(event) > maxBufferedBytes) return undefined;
      out += transformEvent(event) + match[0];
      pending = pending.slice(match.index + match[0].length);
    }
    if (final && pending.length > 0) {
      if (measure && Buffer.byteLength(pending) > maxBufferedBytes) return undefined;
      out += transformEvent(pending);
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
  /** The answer passed the bound: drop what is held, answer 502 while the status line is held, else cut. */
  const overflow = (): undefined => {
    tooLarge = true;
    parts = [];
    pending = '';
    held = 0;
    const heldHead = head;
    head = undefined;
    let outcome: TooLargeOutcome;
    if (heldHead !== undefined && res.headersSent !== true) {
      for (const name of ['content-length', 'content-encoding', 'content-type']) res.removeHeader(name);
      const headers = { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(TOO_LARGE_BODY.length) };
      original.writeHead.call(res, 502, headers);
      original.end.call(res, TOO_LARGE_BODY);
      outcome = 'refused';
    } else {
      // The headers are out (an event stream): ending cleanly would pass for a complete answer; cut it.
      if (typeof res.destroy === 'function') res.destroy();
      else original.end.call(res);
      outcome = 'cut';
    }
    try {
      options.onTooLarge?.(outcome);
    } catch {
      // The hook is a side channel: the answer was refused all the same.
    }
    return undefined;
  };
  /** Takes in one chunk: the text to send now (`''` for none yet), or `undefined` when the answer passed the bound. */
  const take = (chunk: unknown, final: boolean): string | undefined => {
    const bytes = bytesOf(chunk);
    held += bytes;
    if (mode === 'json') {
      // Counted before it is decoded or kept: past the bound, nothing of this chunk is held.
      if (held > maxBufferedBytes) return overflow();
      const more = text(chunk) + (final ? decoder.decode() : '');
      if (more.length > 0) parts.push(more);
      if (!final) return '';
      const body = parts.join('');
      parts = [];
      return transformJson(body);
    }
    const more = text(chunk) + (final ? decoder.decode() : '');
    // Only the new text (and the few characters before it) is searched for an event end: the text held has none, and
    // an event trickling in is neither rescanned nor rejoined on every chunk.
    if (!final && !EVENT_END.test(tail(parts, EVENT_END_CARRY) + more)) {
      if (held > maxBufferedBytes) return overflow();
      if (more.length > 0) parts.push(more);
      return '';
    }
    pending = parts.join('') + more;
    parts = [];
    // Under the bound, no event in it can be over; past it, each is measured.
    const out = drainEvents(final, held > maxBufferedBytes);
    if (out === undefined) return overflow();
    held = Buffer.byteLength(pending);
    if (held > maxBufferedBytes) return overflow();
    if (pending.length > 0) parts.push(pending);
    pending = '';
    return out;
  };

  res.writeHead = function writeHead(this: NodeLikeResponse, statusCode: number, ...rest: unknown[]) {
    if (tooLarge) return this;
    if (head !== undefined) {
      // A new head while a JSON answer's is held: the handler replaced its answer before any of it went out.
      head = undefined;
      parts = [];
      held = 0;
    }
    const headers = rest.find((arg) => typeof arg === 'object' && arg !== null) as Record<string, unknown> | unknown[] | undefined;
    const contentType = String(headerValue(headers, 'content-type') ?? res.getHeader('content-type') ?? '').toLowerCase();
    const encoding = String(headerValue(headers, 'content-encoding') ?? res.getHeader('content-encoding') ?? 'identity').toLowerCase();
    mode = contentType.includes('text/event-stream') ? 'sse' : contentType.includes('json') ? 'json' : 'pass';
    if (mode !== 'pass' && encoding !== 'identity') {
      refused = true;
      mode = 'pass';
      for (const name of ['content-length', 'content-encoding', 'content-type']) res.removeHeader(name);
      return original.writeHead.call(this, 500, { 'content-type': 'application/json' });
    }
    if (mode === 'pass') return original.writeHead.call(this, statusCode, ...rest);
    // The body changes length: drop any declared one (chunked encoding takes over).
    res.removeHeader('content-length');
    const args = rest.map((arg) => (headers !== undefined && arg === headers ? withoutContentLength(headers) : arg));
    if (mode === 'json') {
      // Nothing of a JSON answer reaches the client before it is complete (it is read whole): its status line waits
      // with it, so an answer too large to read is answered 502 in its place rather than cut.
      head = [statusCode, ...args];
      const target = this as NodeLikeResponse & { statusCode?: unknown };
      if (typeof target.statusCode === 'number') target.statusCode = statusCode;
      return this;
    }
    return original.writeHead.call(this, statusCode, ...args);
  } as NodeLikeResponse['writeHead'];

  if (typeof original.flushHeaders === 'function') {
    const flush = original.flushHeaders;
    res.flushHeaders = function flushHeaders(this: NodeLikeResponse) {
      if (mode === undefined) (res.writeHead as (code: number) => unknown).call(this, (res as { statusCode?: number }).statusCode ?? 200);
      // A held status line goes out with its body (or the 502): flushed now, node:http would send a default one.
      if (head !== undefined || tooLarge) return;
      flush.call(this);
    };
  }

  res.write = function write(this: NodeLikeResponse, chunk: unknown, ...rest: unknown[]) {
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (mode === undefined) (res.writeHead as (code: number) => unknown).call(this, (res as { statusCode?: number }).statusCode ?? 200);
    if (refused || tooLarge) {
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
    if (tooLarge) {
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
    if (head !== undefined) {
      const heldHead = head;
      head = undefined;
      original.writeHead.apply(this, heldHead as [number, ...unknown[]]);
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

function headerValue(headers: Record<string, unknown> | unknown[] | undefined, name: string): unknown {
  if (headers === undefined) return undefined;
  if (Array.isArray(headers)) {
    const flat = headers.flat() as unknown[];
    for (let i = 0; i + 1 < flat.length; i += 2) if (String(flat[i]).toLowerCase() === name) return flat[i + 1];
    return undefined;
  }
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
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
