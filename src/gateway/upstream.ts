// Forwards one MCP request upstream and streams the answer back (no buffering of event streams), with a deadline for
// the response headers: an unreachable upstream answers 502, a silent one 504, both as JSON-RPC errors, never a hang.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { jsonRpcError } from './jsonrpc.js';

/** Request headers an MCP server needs; nothing else passes (never Authorization, Cookie, or hop-by-hop headers). */
const FORWARDED_REQUEST_HEADERS = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'mcp-method', 'mcp-name', 'user-agent'];
/** Response headers passed back (never Set-Cookie: upstream cookies would land on the gateway's origin). */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'cache-control', 'mcp-session-id', 'mcp-protocol-version', 'retry-after', 'www-authenticate'];

export interface UpstreamResult {
  status: number;
  /** Milliseconds to the response headers (or to the failure). */
  headersMs: number;
  sessionId?: string;
}

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 256 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 256 });

export function forwardHeaders(inbound: IncomingHttpHeaders, extra: Record<string, string>, body: Buffer | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = inbound[name];
    if (typeof value === 'string') out[name] = value;
  }
  // Identity only: the tools/list filter reads the answer, and an encoded one would be refused.
  out['accept-encoding'] = 'identity';
  if (body) out['content-length'] = String(body.length);
  return { ...out, ...extra };
}

/**
 * Sends the request and pipes the answer to `res` (which the tools/list filter may wrap). Resolves once the response
 * headers were written (or the failure answered); the body keeps streaming until upstream or the client closes.
 */
export function forward(
  target: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  res: ServerResponse,
  timeoutMs: number,
  requestId: string | number | null,
): Promise<UpstreamResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const fail = (status: 502 | 504, message: string) => {
      if (settled) return;
      settled = true;
      upstream.destroy();
      if (!res.headersSent) {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(jsonRpcError(requestId, -32603, message));
      } else res.destroy();
      resolve({ status, headersMs: performance.now() - started });
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(target, { method, headers, agent: target.protocol === 'https:' ? httpsAgent : httpAgent });
    const timer = setTimeout(() => fail(504, 'upstream timed out'), timeoutMs);
    upstream.on('error', () => {
      clearTimeout(timer);
      fail(502, 'upstream unavailable');
    });
    upstream.on('response', (answer: IncomingMessage) => {
      clearTimeout(timer);
      if (settled) {
        answer.destroy();
        return;
      }
      settled = true;
      const out: Record<string, string> = {};
      for (const name of FORWARDED_RESPONSE_HEADERS) {
        const value = answer.headers[name];
        if (typeof value === 'string') out[name] = value;
      }
      const status = answer.statusCode ?? 502;
      res.writeHead(status, out);
      // Event streams flow through as they come; pipe handles backpressure both ways.
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      res.on('close', () => answer.destroy());
      const sessionId = answer.headers['mcp-session-id'];
      resolve({ status, headersMs: performance.now() - started, ...(typeof sessionId === 'string' ? { sessionId } : {}) });
    });
    // The client went away before upstream answered: stop upstream too.
    res.on('close', () => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        upstream.destroy();
        resolve({ status: 499, headersMs: performance.now() - started });
      }
    });
    upstream.end(body);
  });
}
