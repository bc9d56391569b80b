// Forwards one MCP request upstream and streams the answer back (no buffering of event streams), with a deadline for
// the response headers: an unreachable upstream answers 502, a silent one 504, both as JSON-RPC errors, never a hang.
// With DPoP credentials (upstreamAuth: exchange), an upstream's nonce challenge (RFC 9449 §9) is answered by the
// gateway itself: one retry with a fresh proof naming the nonce; the client never sees the upstream's challenge.
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
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
  /** Why the gateway answered in upstream's place, when not for the status alone (the decision event's reason). */
  reason?: 'upstream_dpop_nonce_refused' | 'upstream_credentials_unavailable' | 'upstream_encoded_body';
}

/** The DPoP side of an upstream call whose credential is a DPoP-bound token (RFC 9449 §9, resource server nonces). */
export interface UpstreamDpop {
  /** A `DPoP-Nonce` upstream sent with any answer: its next proofs name it. */
  seen(nonce: string): void;
  /** The request headers for the one retry: the same credential with a fresh proof naming `nonce`. */
  retry(nonce: string): Promise<Record<string, string>>;
}

// RFC 9449 §8.1 / §9: `nonce = 1*NQCHAR` (printable ASCII without `"` and `\`); we keep at most this much of one.
const NONCE = /^[\x21\x23-\x5B\x5D-\x7E]{1,1024}$/;

/** RFC 9449 §9: 401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"` asks for a proof naming the `DPoP-Nonce`. */
function asksForNonce(answer: IncomingMessage): boolean {
  const challenge = answer.headers['www-authenticate'];
  return answer.statusCode === 401 && typeof challenge === 'string' && /(?:^|,)\s*DPoP\b/i.test(challenge) && /\berror\s*=\s*"?use_dpop_nonce"?/i.test(challenge);
}

/** The `DPoP-Nonce` of an answer, when it is a well-formed nonce. */
function nonceOf(answer: { headers: IncomingHttpHeaders }): string | undefined {
  const nonce = answer.headers['dpop-nonce'];
  return typeof nonce === 'string' && NONCE.test(nonce) ? nonce : undefined;
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
 * headers were written (or the failure answered); the body keeps streaming until upstream or the client closes, or
 * `streamEnd` aborts (shutdown: an event stream must not hold the drain), which ends it cleanly.
 * With `dpop`, a nonce challenge is retried once (the body is a buffer, so it is sent again as it was); a second
 * challenge, or one without a usable `DPoP-Nonce`, is answered 502: the caller cannot satisfy upstream's nonce.
 */
export function forward(
  target: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  res: ServerResponse,
  timeoutMs: number,
  requestId: string | number | null,
  dpop?: UpstreamDpop,
  streamEnd?: AbortSignal,
): Promise<UpstreamResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let upstream: ClientRequest | undefined;
    let retried = false;
    const fail = (status: 502 | 504, message: string, reason?: UpstreamResult['reason']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      upstream?.destroy();
      if (!res.headersSent) {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(jsonRpcError(requestId, -32603, message));
      } else res.destroy();
      resolve({ status, headersMs: performance.now() - started, ...(reason ? { reason } : {}) });
    };
    // One deadline for the response headers, a nonce retry included.
    const timer = setTimeout(() => fail(504, 'upstream timed out'), timeoutMs);
    const send = (requestHeaders: Record<string, string>) => {
      const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, {
        method,
        headers: requestHeaders,
        agent: target.protocol === 'https:' ? httpsAgent : httpAgent,
      });
      upstream = request;
      request.on('error', () => {
        if (upstream === request) fail(502, 'upstream unavailable');
      });
      request.on('response', (answer: IncomingMessage) => {
        if (settled || upstream !== request) {
          answer.destroy();
          return;
        }
        const nonce = dpop ? nonceOf(answer) : undefined;
        if (nonce !== undefined) dpop!.seen(nonce);
        if (dpop && asksForNonce(answer)) {
          // Read to the end, so the connection goes back to the pool; the client never sees this challenge.
          answer.resume();
          if (retried || nonce === undefined) {
            fail(502, 'upstream refused the gateway\'s DPoP proof', 'upstream_dpop_nonce_refused');
            return;
          }
          retried = true;
          dpop.retry(nonce).then(
            (again) => {
              if (!settled) send(again);
            },
            () => fail(502, 'upstream credentials unavailable', 'upstream_credentials_unavailable'),
          );
          return;
        }
        // The gateway asks for `identity`: an encoded body anyway could not be read (a tools/list answer not filtered)
        // and would reach the client without the `Content-Encoding` that names it. Fail closed.
        const encoding = answer.headers['content-encoding'];
        if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
          answer.resume();
          fail(502, 'upstream answered an encoded body', 'upstream_encoded_body');
          return;
        }
        clearTimeout(timer);
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
        let ended = false;
        answer.on('error', () => {
          if (!ended) res.destroy();
        });
        res.on('close', () => answer.destroy());
        if (streamEnd) {
          // The client sees the stream end (the final chunk), not a reset, and reconnects where it is routed now.
          const end = () => {
            ended = true;
            answer.unpipe(res);
            res.end();
            answer.destroy();
          };
          if (streamEnd.aborted) end();
          else {
            streamEnd.addEventListener('abort', end, { once: true });
            res.on('close', () => streamEnd.removeEventListener('abort', end));
          }
        }
        const sessionId = answer.headers['mcp-session-id'];
        resolve({ status, headersMs: performance.now() - started, ...(typeof sessionId === 'string' ? { sessionId } : {}) });
      });
      request.end(body);
    };
    // The client went away before upstream answered: stop upstream too.
    res.on('close', () => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        upstream?.destroy();
        resolve({ status: 499, headersMs: performance.now() - started });
      }
    });
    send(headers);
  });
}
