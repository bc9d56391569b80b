// One MCP request through one route: Origin → authenticate → body → JSON-RPC checks → session binding → decision →
// upstream credentials → forward (tools/list filtered) → audit. Nothing refused reaches upstream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { expressTokenAuth, VerifyError, type VerifiedToken, type Verifier } from 'delegation-token-verify';
import type { GatewayDecisionEvent } from '../audit/events.js';
import { loggableFailure } from '../http/scrub.js';
import type { AssertionSigner } from './assertion.js';
import { ASSERTION_HEADER } from './assertion.js';
import { readBody } from './body.js';
import type { GatewayRoute } from './config.js';
import { representationFailure, type RepresentationFailure } from './content_type.js';
import type { Decider } from './decide.js';
import type { InFlightRequests } from './in_flight.js';
import { jsonRpcError, messageName, parseMessage, type Message, type ParseFailure } from './jsonrpc.js';
import { methodLabel, type GatewayMetrics } from './metrics.js';
import { sameOwner, type SessionBindings, type SessionOwner } from './sessions.js';
import { forward, forwardHeaders, type UpstreamDpop } from './upstream.js';
import type { UpstreamTokens } from './upstream_token.js';

export interface RouteDeps {
  route: GatewayRoute;
  /** `route.upstream`, parsed once. */
  upstreamUrl: URL;
  verifier: Verifier;
  resourceMetadataUrl: string;
  decider: Decider;
  signer: AssertionSigner;
  upstreamTokens: UpstreamTokens | undefined;
  sessions: SessionBindings;
  /** The route's JSON-RPC request ids in flight per session, at this replica. */
  inFlight: InFlightRequests;
  metrics: GatewayMetrics;
  allowedOrigins: ReadonlySet<string>;
  maxBodyBytes: number;
  timeoutMs: number;
  enforcement: boolean;
  /** Reports the verifier's outcome (readiness: a stale feed or unreachable JWKS makes the gateway unready). */
  onVerify: (error: VerifyError | undefined) => void;
  audit: (event: GatewayDecisionEvent) => void;
  /** Aborted when shutdown's grace period starts: open event streams (GET) end then, so they cannot hold the drain. */
  streamsEnd: AbortSignal;
  /** Where a failure of the gateway itself is logged (error level, with the request id). */
  logger: Logger;
}

const PARSE_TEXT: Record<ParseFailure, [number, string]> = {
  parse_error: [-32700, 'parse error'],
  duplicate_member: [-32700, 'duplicate member name'],
  ambiguous_member: [-32700, 'ambiguous member name'],
  batch: [-32600, 'batches are not supported'],
  not_jsonrpc: [-32600, 'not a JSON-RPC 2.0 message'],
};

/** RFC 9110 §15.5.16: a 415 names what would have been accepted: `Accept` for a media type, `Accept-Encoding` for a
 * content coding. */
const REPRESENTATION_TEXT: Record<RepresentationFailure, [string, Record<string, string>]> = {
  unsupported_media_type: ['unsupported media type', { accept: 'application/json' }],
  unsupported_content_encoding: ['unsupported content encoding', { 'accept-encoding': 'identity' }],
};

function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function ownerOf(token: VerifiedToken): SessionOwner {
  return { sub: token.sub, sid: token.sid, clientId: token.clientId };
}

/** What a preflight from a listed origin is told: the methods and request headers of the MCP Streamable HTTP
 * transport (with DPoP's), cached by the browser for ten minutes. */
const CORS_PREFLIGHT = {
  'access-control-allow-methods': 'GET, POST, DELETE',
  'access-control-allow-headers': 'authorization, content-type, dpop, last-event-id, mcp-protocol-version, mcp-session-id',
  'access-control-max-age': '600',
};
/** Response headers a browser client must be able to read (MCP transport and authorization, RFC 9449 §8), and the
 * request id to quote when it reports a problem. */
const CORS_EXPOSED = 'www-authenticate, mcp-session-id, mcp-protocol-version, dpop-nonce, x-request-id';

/**
 * Serves one request on a route; `requestId` (http/request_id.ts) is in its decision event and its log lines. Never
 * rejects for a failure of its own: an exception is answered 500 `internal error`, logged and audited here.
 */
export async function handleMcp(deps: RouteDeps, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
  const started = performance.now();
  const { route, metrics } = deps;
  const httpMethod = req.method ?? 'GET';
  let token: VerifiedToken | undefined;
  let message: Message | undefined;
  let tool: string | undefined;
  let argumentsHmac: string | undefined;
  /** The decision event is out (one per request); the request went upstream. */
  let decided = false;
  let forwarded = false;
  /** What an event about an allowed message names: the tool and its arguments' HMAC. */
  const allowedCall = (): Partial<GatewayDecisionEvent> => ({ ...(tool ? { tool } : {}), ...(argumentsHmac ? { argumentsHmac } : {}) });
  /** One decision: the audit event gets `extra` as it is; the metrics' tool label is `toolLabel` (default `extra.tool`). */
  const event = (decision: 'allow' | 'deny', reasons: string[], status: number, extra: Partial<GatewayDecisionEvent> = {}, toolLabel = extra.tool): void => {
    const method = message && message.kind !== 'response' ? message.method : undefined;
    // What a resources/read or prompts/get asked for, allowed or not (bounded like every audit string).
    const asked = method === 'resources/read' || method === 'prompts/get' ? messageName(message!) : undefined;
    deps.audit({
      type: 'gateway',
      time: Date.now(),
      decision,
      reasons,
      requestId,
      ...(token ? { clientId: token.clientId, sub: token.sub, sid: token.sid, act: token.claims.act as GatewayDecisionEvent['act'], jti: token.jti } : {}),
      ...(token?.jkt !== undefined ? { jkt: token.jkt } : {}),
      toolServer: route.resource,
      httpMethod,
      ...(method ? { method } : {}),
      ...(asked !== undefined ? (method === 'resources/read' ? { uri: asked } : { prompt: asked }) : {}),
      status,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      ...extra,
    });
    decided = true;
    metrics.decisions.inc({ route: route.resource, method: method !== undefined ? methodLabel(method) : message?.kind === 'response' ? '(response)' : httpMethod, tool: toolLabel ?? '', result: decision, reason: reasons[0] ?? '' });
  };

  try {
    const origin = req.headers.origin;
    const listedOrigin = origin !== undefined && deps.allowedOrigins.has(origin);
    // Fetch standard, CORS preflight: a browser-based MCP client asks before it sends a token or JSON. Only a listed
    // origin is answered (no credentials mode: the token travels in a header, never in a cookie); any other is refused
    // as its request would be.
    if (httpMethod === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
      if (listedOrigin) {
        res.writeHead(204, { ...CORS_PREFLIGHT, 'access-control-allow-origin': origin, vary: 'origin' });
        res.end();
        return;
      }
      answer(res, 403, jsonRpcError(null, -32600, 'origin not allowed'));
      event('deny', ['origin_not_allowed'], 403);
      return;
    }
    if (httpMethod !== 'POST' && httpMethod !== 'GET' && httpMethod !== 'DELETE') {
      answer(res, 405, jsonRpcError(null, -32600, 'method not allowed'), { allow: 'GET, POST, DELETE' });
      event('deny', ['http_method_not_allowed'], 405);
      return;
    }
    // MCP transport, "Security Warning": servers MUST validate the Origin header; present and not allowed → 403.
    if (deps.enforcement && origin !== undefined && !listedOrigin) {
      answer(res, 403, jsonRpcError(null, -32600, 'origin not allowed'));
      event('deny', ['origin_not_allowed'], 403);
      return;
    }
    // Fetch standard, CORS: a listed origin may read every answer, refusals included, and the headers a client needs
    // (the 401 challenge with its resource_metadata, the session id, the DPoP nonce). Set before any writeHead, which
    // merges them, so no path can answer without them.
    if (listedOrigin) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', CORS_EXPOSED);
      res.setHeader('vary', 'origin');
    }

    if (deps.enforcement) {
      // MCP authorization "Token Handling" (OAuth 2.1 §5.2, RFC 8707 aud): verified by the SDK, refused as it refuses;
      // `Authorization: Bearer`, or `Authorization: DPoP` with a `DPoP` proof checked on every request (RFC 9449 §7.1).
      let failure: VerifyError | undefined;
      let verified: VerifiedToken | undefined;
      const observed: Verifier = {
        ...deps.verifier,
        verify: (t, o) =>
          deps.verifier.verify(t, o).then(
            (v) => (verified = v),
            (err: unknown) => {
              failure = err instanceof VerifyError ? err : undefined;
              throw err;
            },
          ),
      };
      // RFC 9449 §4.3 check 9: htu is the URI the client addressed: the route's public resource URI, never the Host header.
      await expressTokenAuth(observed, { resourceMetadataUrl: deps.resourceMetadataUrl, publicUrl: () => route.resource })(req, res, () => {});
      deps.onVerify(failure);
      if (!verified) {
        const reason = !failure ? 'no_token' : failure.oauthError === 'invalid_token' || failure.oauthError === 'invalid_dpop_proof' ? failure.code : failure.oauthError;
        event('deny', [reason], res.statusCode);
        return;
      }
      token = verified;
    }

    let body: Buffer | undefined;
    if (httpMethod === 'POST') {
      // RFC 9110 §15.5.16: "The 415 (Unsupported Media Type) status code indicates that the origin server is refusing to
      // service the request because the content is in a format not supported": only UTF-8 `application/json`, never
      // content-coded, is decided (and forwarded as `application/json`), so upstream reads the very JSON decided. Refused
      // before the body is read; the connection is not reused (its unread body is not drained).
      const unreadable = representationFailure(req.headers);
      if (unreadable) {
        const [text, accepted] = REPRESENTATION_TEXT[unreadable];
        answer(res, 415, jsonRpcError(null, -32600, text), { ...accepted, connection: 'close' });
        event('deny', [unreadable], 415);
        return;
      }
      const read = await readBody(req, deps.maxBodyBytes);
      if (read === 'closed') {
        // Nobody to answer; nothing went upstream. 499 as for a client gone while upstream worked (upstream.ts).
        event('deny', ['client_closed'], 499);
        return;
      }
      if (read === 'too_large') {
        // Our profile (SPEC §12, GW-01): a body over the limit is a malformed request; the connection is not reused.
        answer(res, 400, jsonRpcError(null, -32600, 'request body too large'), { connection: 'close' });
        event('deny', ['body_too_large'], 400);
        return;
      }
      body = read;
      const parsed = parseMessage(body);
      if ('failure' in parsed) {
        const [code, text] = PARSE_TEXT[parsed.failure];
        answer(res, 400, jsonRpcError(null, code, text));
        event('deny', [parsed.failure], 400);
        return;
      }
      message = parsed.message;
      const id = message.kind === 'response' ? null : message.kind === 'request' ? message.id : null;
      // MCP 2026-07-28 transport: Mcp-Method / Mcp-Name, when present, MUST match the body.
      const headerMethod = req.headers['mcp-method'];
      const headerName = req.headers['mcp-name'];
      const bodyMethod = message.kind === 'response' ? undefined : message.method;
      if ((headerMethod !== undefined && headerMethod !== bodyMethod) || (headerName !== undefined && headerName !== messageName(message))) {
        answer(res, 400, jsonRpcError(id, -32600, 'headers do not match the body'));
        event('deny', ['header_mismatch'], 400);
        return;
      }
      if (message.kind === 'request' && message.method === 'tools/call' && typeof message.params?.name !== 'string') {
        answer(res, 400, jsonRpcError(id, -32602, 'tools/call needs a tool name'));
        event('deny', ['invalid_params'], 400);
        return;
      }
    }

    // An Mcp-Session-Id is bound to the (sub, sid, client_id) that opened it; any other caller is told it is unknown.
    const sessionId = req.headers['mcp-session-id'];
    if (deps.enforcement && httpMethod === 'DELETE' && typeof sessionId !== 'string') {
      answer(res, 400, jsonRpcError(null, -32600, 'Mcp-Session-Id required'));
      event('deny', ['no_session'], 400);
      return;
    }
    if (deps.enforcement && typeof sessionId === 'string') {
      let owner: SessionOwner | undefined;
      try {
        owner = await deps.sessions.owner(route.resource, sessionId);
      } catch {
        // Fail closed: without the binding store nobody can tell whose session this is.
        answer(res, 503, JSON.stringify({ error: 'temporarily_unavailable', error_description: 'session store unavailable' }), { 'retry-after': '5' });
        event('deny', ['store_unavailable'], 503);
        return;
      }
      if (!owner || !sameOwner(owner, ownerOf(token!))) {
        answer(res, 404, jsonRpcError(message?.kind === 'request' ? message.id : null, -32001, 'session not found'));
        event('deny', ['session_not_bound'], 404);
        return;
      }
      // MCP basic protocol, "Requests": "The request ID MUST NOT have been previously used by the requestor within the
      // same session." The SDK's transport routes answers by id, so a second request with an id still in flight would
      // take the first one's answer. Checked for the ids open at this replica (the tool-list filter covers the rest).
      if (message?.kind === 'request') {
        const release = deps.inFlight.claim(sessionId, message.id);
        if (!release) {
          answer(res, 400, jsonRpcError(message.id, -32600, 'request id already in use'));
          event('deny', ['duplicate_request_id'], 400);
          return;
        }
        res.once('close', release);
      }
    }

    if (deps.enforcement && message) {
      const outcome = deps.decider.decide(token!, message, res);
      const hmac = outcome.allow ? outcome.event?.arguments_hmac : outcome.refused === 'sdk' ? outcome.event?.arguments_hmac : undefined;
      if (hmac) argumentsHmac = hmac;
      if (!outcome.allow) {
        if (outcome.refused === 'method') answer(res, 403, jsonRpcError(message.kind === 'request' ? message.id : null, -32601, 'method not allowed'));
        // The audit event names the tool asked for (bounded like every audit string): what an agent tried is what an
        // investigation needs. A tool outside the token's scopes is the caller's input, so it is not a metrics label.
        const asked = outcome.refused === 'sdk' && outcome.tool !== '' ? outcome.tool : undefined;
        const label = asked !== undefined && outcome.reason === 'insufficient_scope' ? '(other)' : asked;
        event('deny', [outcome.reason], res.statusCode, { ...(asked !== undefined ? { tool: asked } : {}), ...(argumentsHmac ? { argumentsHmac } : {}) }, label);
        return;
      }
      tool = outcome.tool;
    }

    // MCP "Token Passthrough": the inbound token never goes upstream; upstream learns who calls from our assertion.
    // The request id goes with it (checked or fresh: http/request_id.ts), so one id names the request at every hop.
    const extra: Record<string, string> = { 'x-request-id': requestId };
    let upstreamDpop: UpstreamDpop | undefined;
    if (deps.enforcement) {
      try {
        if (route.upstreamAuth === 'exchange') {
          // The inbound token (Bearer, or DPoP-bound: then exchanged with a proof of the gateway's own key, RFC 9449 §5).
          const inbound = /^(?:bearer|dpop) +(.*)$/i.exec(req.headers.authorization?.trim() ?? '')![1]!;
          const credential = await deps.upstreamTokens!.credentialFor(inbound, token!, route.upstream, httpMethod, deps.upstreamUrl);
          extra.authorization = credential.authorization;
          if (credential.dpop !== undefined) extra.dpop = credential.dpop;
          const { nonces } = credential;
          if (nonces) {
            // RFC 9449 §9: upstream's nonce challenge is the gateway's to answer (its key, its proof), never the client's.
            upstreamDpop = { seen: nonces.seen, retry: async (nonce) => forwardHeaders(req.headers, { ...extra, dpop: await nonces.proof(nonce) }, body) };
          }
        } else {
          extra[ASSERTION_HEADER] = await deps.signer.sign(token!, route.upstream, tool);
        }
      } catch {
        answer(res, 502, jsonRpcError(message?.kind === 'request' ? message.id : null, -32603, 'upstream credentials unavailable'));
        event('deny', ['upstream_credentials_unavailable'], 502, tool ? { tool } : {});
        return;
      }
    }
    // The client left while a step above was awaited (verification, the session lookup, signing, an exchange): its
    // response has closed, so nobody reads upstream's answer and nothing would stop upstream's stream. Not sent.
    if (res.destroyed) {
      event('deny', ['client_closed'], 499, allowedCall());
      return;
    }
    // SPEC §12, GW-04: tools/list filtered by the same decision; on every answer relayed (POST, GET, DELETE), whatever
    // request it answers: upstream decides which response carries which answer (decide.ts, `filter`).
    // An answer the filter cannot read (too large to hold, not JSON) is cut, never relayed unfiltered; logged here,
    // since the decision event is out with upstream's headers.
    if (deps.enforcement) {
      deps.decider.filter(token!, res, (reason) => {
        deps.logger.warn({ reqId: requestId, route: route.resource, reason }, 'upstream answer not relayed: tool list could not be filtered');
      });
    }
    metrics.added.observe({ route: route.resource }, (performance.now() - started) / 1000);
    forwarded = true;
    const result = await forward(deps.upstreamUrl, httpMethod, forwardHeaders(req.headers, extra, body), body, res, {
      timeoutMs: deps.timeoutMs,
      requestId: message?.kind === 'request' ? message.id : null,
      dpop: upstreamDpop,
      streamEnd: httpMethod === 'GET' ? deps.streamsEnd : undefined,
      // The decision event may be out already: the log line, with the request id, is what names a cut answer.
      onStreamFailure: (err) => deps.logger.error({ reqId: requestId, error: loggableFailure(err) }, 'gateway answer cut while streaming'),
    });
    metrics.upstream.observe({ route: route.resource, status: String(result.status) }, result.headersMs / 1000);
    if (deps.enforcement) {
      // The session upstream opened belongs to whoever opened it; a DELETE that upstream accepted ends the binding.
      const reasons: string[] = result.reason ? [result.reason] : result.status === 502 ? ['upstream_unavailable'] : result.status === 504 ? ['upstream_timeout'] : [];
      try {
        if (result.sessionId && message?.kind === 'request' && message.method === 'initialize' && result.status < 300) await deps.sessions.bind(route.resource, result.sessionId, ownerOf(token!));
        if (httpMethod === 'DELETE' && typeof sessionId === 'string' && result.status < 300) await deps.sessions.unbind(route.resource, sessionId);
      } catch {
        // The answer is on its way; a session that could not be bound is refused on its next use (fail closed).
        reasons.push('session_bind_failed');
      }
      // The decision was to allow; what upstream made of it is in the status and reasons (`client_closed` from forward():
      // the client was gone before anything was sent, so nothing went upstream).
      event(result.reason === 'client_closed' ? 'deny' : 'allow', reasons, result.status, allowedCall());
    }
  } catch (err) {
    // A bug, or a library throwing: answered without its detail, logged with the request id, and audited like any
    // decision: deny while nothing went upstream; once it did, the decision was allow and this is what became of it.
    deps.logger.error({ reqId: requestId, error: loggableFailure(err) }, 'gateway request failed');
    const status = res.headersSent ? res.statusCode : 500;
    // Headers out: a second answer cannot be written. Upstream's, once forward() resolved, streams on (forward cuts it
    // if the relay itself fails); any other unfinished answer is cut rather than left hanging.
    if (!res.headersSent) answer(res, 500, jsonRpcError(message?.kind === 'request' ? message.id : null, -32603, 'internal error'));
    else if (!forwarded && !res.writableEnded) res.destroy();
    if (!decided) event(forwarded ? 'allow' : 'deny', ['internal_error'], status, allowedCall());
  }
}
