// Forwards one MCP request upstream and streams the answer back (no buffering of event streams), with a deadline for
// the response headers: an unreachable upstream answers 502, a silent one 504, both as JSON-RPC errors, never a hang.
// With DPoP credentials (upstreamAuth: exchange), an upstream's nonce challenge (RFC 9449 §9) is answered by the
// gateway itself: one retry with a fresh proof naming the nonce; the client never sees the upstream's challenge.
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { jsonRpcError } from './jsonrpc.js';

/** Request headers an MCP server needs; nothing else passes (never Authorization, Cookie, or hop-by-hop headers). Not
 * `Content-Type` either: the gateway names the body it decided itself (forwardHeaders). */
const FORWARDED_REQUEST_HEADERS = ['accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'mcp-method', 'mcp-name', 'user-agent'];
/** Response headers passed back (never Set-Cookie: upstream cookies would land on the gateway's origin). */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'cache-control', 'mcp-session-id', 'mcp-protocol-version', 'retry-after', 'www-authenticate'];

export interface UpstreamResult {
  status: number;
  /** Milliseconds to the response headers (or to the failure). */
  headersMs: number;
  sessionId?: string;
  /** Why the gateway answered in upstream's place, when not for the status alone (the decision event's reason). */
  reason?: 'upstream_dpop_nonce_refused' | 'upstream_credentials_unavailable' | 'upstream_encoded_body' | 'upstream_invalid_status' | 'client_closed';
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
  if (body) {
    // The body was decided as UTF-8 JSON (content_type.ts refuses any other): upstream is told exactly that, never the
    // client's header, whose parameters (a `charset` upstream's parser honours) could make it read other JSON.
    out['content-type'] = 'application/json';
    out['content-length'] = String(body.length);
  }
  return { ...out, ...extra };
}

/** How one request is forwarded, beyond what it is. */
export interface ForwardOptions {
  /** Deadline for upstream's response headers (a nonce retry included): 504 after it. */
  timeoutMs: number;
  /** The JSON-RPC id of the request, for the error the gateway answers in upstream's place. */
  requestId: string | number | null;
  /** With DPoP credentials: upstream's nonce challenge answered by one retry (RFC 9449 §9). */
  dpop?: UpstreamDpop | undefined;
  /** Aborted at shutdown: an event stream ends cleanly rather than holding the drain. */
  streamEnd?: AbortSignal | undefined;
  /** Something threw while the answer streamed (headers sent): the answer was cut; told so it can be logged. */
  onStreamFailure(err: unknown): void;
}

/**
 * Sends the request and streams the answer to `res` (which the tools/list filter may wrap). Resolves once the response
 * headers were written (or the failure answered); the body keeps streaming until upstream or the client closes, or
 * `streamEnd` aborts (shutdown: an event stream must not hold the drain), which ends it cleanly.
 * With `dpop`, a nonce challenge is retried once (the body is a buffer, so it is sent again as it was); a second
 * challenge, or one without a usable `DPoP-Nonce`, is answered 502: the caller cannot satisfy upstream's nonce.
 * Rejects when something throws (a bug, a library) before the answer was written: the caller answers it. Once it
 * resolved, a throw while streaming cuts the answer (`onStreamFailure`): never a second answer, never the process.
 * A `res` whose client is gone already resolves 499 `client_closed` at once and nothing is sent: its 'close' has been
 * emitted, so no listener here would ever see it and upstream's answer would be held open against a dead response.
 */
export function forward(
  target: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  res: ServerResponse,
  { timeoutMs, requestId, dpop, streamEnd, onStreamFailure }: ForwardOptions,
): Promise<UpstreamResult> {
  const started = performance.now();
  if (res.destroyed) return Promise.resolve({ status: 499, headersMs: 0, reason: 'client_closed' });
  return new Promise((resolve, reject) => {
    /** The answer's status is decided: the gateway's (502/504), upstream's headers written, or the client gone. */
    let settled = false;
    let upstream: ClientRequest | undefined;
    let retried = false;
    let cut = false;
    const fail = (status: 502 | 504, message: string, reason?: UpstreamResult['reason']) => {
      if (settled) return;
      clearTimeout(timer);
      upstream?.destroy();
      if (!res.headersSent) {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(jsonRpcError(requestId, -32603, message));
      } else res.destroy();
      settled = true;
      resolve({ status, headersMs: performance.now() - started, ...(reason ? { reason } : {}) });
    };
    // Event callbacks below run outside any promise: a throw there would be an uncaught exception (the process ends).
    // Before the answer's headers were written the caller answers it; after, the answer is cut (and reported once).
    const broke = (err: unknown) => {
      clearTimeout(timer);
      upstream?.destroy();
      if (!settled) {
        settled = true;
        reject(err);
        return;
      }
      res.destroy();
      if (!cut) {
        cut = true;
        try {
          onStreamFailure(err);
        } catch {
          // Reporting the cut must not end the process either; the answer is cut all the same.
        }
      }
      // A no-op when it resolved already (the usual case: the throw came with a later chunk).
      resolve({ status: res.statusCode, headersMs: performance.now() - started });
    };
    const guarded =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A): void => {
        try {
          fn(...args);
        } catch (err) {
          broke(err);
        }
      };
    // One deadline for the response headers, a nonce retry included.
    const timer = setTimeout(guarded(() => fail(504, 'upstream timed out')), timeoutMs);
    const send = (requestHeaders: Record<string, string>) => {
      const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, {
        method,
        headers: requestHeaders,
        agent: target.protocol === 'https:' ? httpsAgent : httpAgent,
      });
      upstream = request;
      request.on('error', guarded(() => {
        if (upstream === request) fail(502, 'upstream unavailable');
      }));
      // RFC 9110 §7.8: "A server MUST NOT switch to a protocol that was not indicated by the client in the corresponding
      // request's Upgrade header field"; the gateway sends none, so no final answer follows this 101 (node:http hands
      // over the connection and, without this listener, reports nothing: the client would wait for the 504).
      request.on('upgrade', guarded((_answer: IncomingMessage, socket: Socket) => {
        socket.destroy();
        if (upstream === request) fail(502, 'upstream answered an invalid status', 'upstream_invalid_status');
      }));
      request.on('response', guarded((answer: IncomingMessage) => {
        if (settled || upstream !== request) {
          answer.destroy();
          return;
        }
        const status = answer.statusCode ?? 0;
        // RFC 9110 §15.2: "The 1xx (Informational) class of status code indicates an interim response ... prior to
        // completing the requested action and sending a final response"; §15: "Values outside the range 100..599 are
        // invalid". Either is no final answer: a gateway that "received an invalid response from an inbound server"
        // answers 502 (§15.6.3). node:http hands over a 101 without `Upgrade` (other 1xx are 'information' events) and
        // parses any three digits; a 1xx forwarded as final leaves the client waiting for the real one.
        if (status < 200 || status > 599) {
          answer.resume();
          fail(502, 'upstream answered an invalid status', 'upstream_invalid_status');
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
            guarded((again: Record<string, string>) => {
              if (!settled) send(again);
            }),
            guarded(() => fail(502, 'upstream credentials unavailable', 'upstream_credentials_unavailable')),
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
        const out: Record<string, string> = {};
        for (const name of FORWARDED_RESPONSE_HEADERS) {
          const value = answer.headers[name];
          if (typeof value === 'string') out[name] = value;
        }
        res.writeHead(status, out);
        settled = true;
        // Event streams flow through as they come, with backpressure both ways; what `res` does with a chunk (the
        // tools/list filter rewrites it) may throw, which cuts this answer only.
        let ended = false;
        answer.on('data', guarded((chunk: Buffer) => {
          // A response whose client is gone never drains: paused, upstream's stream and socket would wait on a 'drain'
          // that never comes. Ended here rather than left to the 'close' listener below.
          if (res.destroyed) answer.destroy();
          else if (!ended && !res.write(chunk)) answer.pause();
        }));
        res.on('drain', () => answer.resume());
        answer.on('end', guarded(() => {
          if (!ended) res.end();
        }));
        answer.on('error', () => {
          if (!ended) res.destroy();
        });
        res.on('close', () => answer.destroy());
        if (streamEnd) {
          // The client sees the stream end (the final chunk), not a reset, and reconnects where it is routed now.
          const end = guarded(() => {
            if (ended) return;
            ended = true;
            res.end();
            answer.destroy();
          });
          if (streamEnd.aborted) end();
          else {
            streamEnd.addEventListener('abort', end, { once: true });
            res.on('close', () => streamEnd.removeEventListener('abort', end));
          }
        }
        const sessionId = answer.headers['mcp-session-id'];
        resolve({ status, headersMs: performance.now() - started, ...(typeof sessionId === 'string' ? { sessionId } : {}) });
      }));
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
