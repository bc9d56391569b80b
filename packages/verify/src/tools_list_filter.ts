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
}

type Mode = 'json' | 'sse' | 'pass';

/** Two line ends in a row (WHATWG HTML "Server-sent events": `end-of-line = ( cr lf / cr / lf )`); CR then LF is one. */
const EVENT_END = /(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r(?!\n))/;

/**
 * Filter `result.tools` of the responses whose id `listed` accepts (the ids of the `tools/list` requests answered, or
 * every id on a stream that answers no request of its own), keeping the tools `keep` accepts. A body that is neither
 * JSON nor an event stream is passed through (it holds no tool list a client would read); an encoded body
 * (`Content-Encoding` other than identity, from a compressor inside the handler) cannot be read, so it is replaced by
 * a 500: fail closed rather than list unfiltered tools.
 */
export function filterToolListResponses(res: NodeLikeResponse, listed: (id: JsonRpcId) => boolean, keep: (tool: string) => boolean): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end };
  const decoder = new TextDecoder();
  let mode: Mode | undefined;
  let refused = false;
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
  const drainEvents = (final: boolean): string => {
    let out = '';
    for (;;) {
      // An event ends at a blank line; a line ends at CRLF, LF or CR, mixed as the sender likes (`\n\r\n` too).
      const match = EVENT_END.exec(pending);
      if (!match) break;
      out += transformEvent(pending.slice(0, match.index)) + match[0];
      pending = pending.slice(match.index + match[0].length);
    }
    if (final && pending.length > 0) {
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

  res.writeHead = function writeHead(this: NodeLikeResponse, statusCode: number, ...rest: unknown[]) {
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
    return original.writeHead.call(this, statusCode, ...args);
  } as NodeLikeResponse['writeHead'];

  res.write = function write(this: NodeLikeResponse, chunk: unknown, ...rest: unknown[]) {
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (mode === undefined) (res.writeHead as (code: number) => unknown).call(this, (res as { statusCode?: number }).statusCode ?? 200);
    if (refused) {
      callback?.();
      return true;
    }
    if (mode === 'pass') return original.write.call(this, chunk, ...rest);
    pending += text(chunk);
    if (mode === 'json') {
      callback?.();
      return true;
    }
    const out = drainEvents(false);
    if (out.length === 0) {
      callback?.();
      return true;
    }
    return original.write.call(this, out, ...rest.filter((arg) => typeof arg === 'function'));
  } as NodeLikeResponse['write'];

  res.end = function end(this: NodeLikeResponse, ...args: unknown[]) {
    const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    if (mode === undefined) (res.writeHead as (code: number) => unknown).call(this, (res as { statusCode?: number }).statusCode ?? 200);
    if (refused) {
      return original.end.call(this, JSON.stringify({ error: 'server_error', error_description: 'tool list could not be filtered' }), callback);
    }
    if (mode === 'pass') return original.end.apply(this, args);
    pending += text(chunk) + decoder.decode();
    const out = mode === 'json' ? transformJson(pending) : drainEvents(true);
    pending = '';
    return callback ? original.end.call(this, out, callback) : original.end.call(this, out);
  } as NodeLikeResponse['end'];
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
