// Per-call authorization in front of an MCP transport (Express, Koa, the MCP SDK's Express server): every `tools/call`
// decided by `decide`, every tool list in any answer filtered by the same function, every decision reported to one hook.
import type { McpToolDetails } from './constraints.js';
import { ANY_ARGUMENTS, decide, type ArgumentViolation, type Decision } from './decision.js';
import { argumentsDigester, type DecisionEvent } from './decision_log.js';
import { unparsedMessages } from './message_body.js';
import { filterToolListResponses, maxBufferedBytesOf, type FilterRefusal, type NodeLikeResponse } from './tools_list_filter.js';
import { writeRefusal } from './middleware.js';
import type { Actor, VerifiedToken } from './types.js';
import { allowedAlgorithms, DEFAULT_DPOP_ALGORITHMS } from './verifier.js';

/**
 * Options of `expressToolAuthorization` and `koaToolAuthorization`.
 *
 * @example
 * ```ts
 * const options: ToolAuthorizationOptions = {
 *   resourceMetadataUrl: resourceMetadataUrl('https://billing.example/mcp'),
 *   argumentsKey: process.env.DECISION_LOG_KEY!,
 *   onDecision: jsonLinesDecisionSink(console),
 * }
 * ```
 */
export interface ToolAuthorizationOptions {
  /** Absolute URL of this server's RFC 9728 metadata, sent as `resource_metadata` on every 403. */
  resourceMetadataUrl: string;
  /** Called once per `tools/call` decision, allow and deny. A hook that throws is ignored (the call proceeds as decided). */
  onDecision?: (event: DecisionEvent) => void;
  /** The deployment's key (at least 32 bytes) for `DecisionEvent.arguments_hmac`. Required with `onDecision`. */
  argumentsKey?: string | Uint8Array;
  /** Put the raw arguments in `DecisionEvent.arguments` too. Default false: arguments may be personal data. */
  logArguments?: boolean;
  /**
   * The DPoP proof algorithms sent as `algs` in the 403 challenge to a DPoP-bound caller (RFC 9449 §7.1): pass the
   * verifier's `dpopAlgorithms` when its `dpop.algorithms` is not the default. Default
   * `['ES256', 'EdDSA', 'RS256', 'PS256']`, the verifier's default; asymmetric only.
   */
  dpopAlgorithms?: readonly string[];
  /**
   * The most the tool-list filter holds to read one answer, in bytes of UTF-8: a JSON body whole, or one event of an
   * event stream up to its blank line. Default 16 MiB (`16 * 1024 * 1024`); a positive integer, else a `TypeError` at
   * construction. An answer past it is never passed unfiltered: it is cut (`res.destroy()`; its status line and headers
   * are out, as written), what was held is dropped at once and the rest of the answer discarded.
   */
  maxBufferedBytes?: number;
  /**
   * Called once per answer the tool-list filter did not pass, with the response it was on (to log which request):
   * `too_large` (past `maxBufferedBytes`) or `not_json` (a JSON body or an event's data that does not parse), both
   * cut; `unreadable` (a `Content-Encoding`, or a repeated or ambiguous `Content-Type`), answered 500 in its place.
   * A hook that throws is ignored.
   */
  onAnswerRefused?: (res: NodeLikeResponse, reason: FilterRefusal) => void;
}

/**
 * The verified caller as the middleware needs it: a `VerifiedToken` (from `expressBearerAuth`/`koaBearerAuth`), or
 * the MCP SDK's `AuthInfo` made by `mcpTokenVerifier` (whose `extra` carries the rest).
 */
interface Caller {
  sub: string;
  sid: string;
  jti: string;
  clientId: string;
  actors: readonly Actor[];
  scopes: readonly string[];
  authorizationDetails: readonly McpToolDetails[];
  /** Set for a DPoP-bound token: its challenges use the DPoP scheme (RFC 9449 §7.1). */
  jkt?: string;
}

interface Refusal {
  status: 403 | 415 | 500;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

interface Plan {
  refusal?: Refusal;
  caller?: Caller;
}

/** The responses already wrapped, with the `auth` they were wrapped for: a second mount adds no second filter. */
const wrapped = new WeakMap<object, unknown>();

/**
 * Wraps `res` so every tool list it carries is filtered for the caller: every answer, JSON or event stream, whatever
 * its id, is read by its shape (a `result.tools` array), never by the request it answers. Which response carries which
 * answer is the transport's choice: the MCP SDK's StreamableHTTPServerTransport routes an answer by its JSON-RPC id to
 * the last POST that used that id, so a `tools/call` reusing the id of a `tools/list` in flight gets that list; and a
 * GET with `Last-Event-ID` replays earlier answers (MCP Streamable HTTP, "Resumability and Redelivery"). An answer
 * without a tool list passes byte for byte. Without a verified caller every list is emptied.
 */
function filterLists(res: NodeLikeResponse, plan: Plan, auth: unknown, options: ToolAuthorizationOptions): void {
  if (wrapped.has(res) && wrapped.get(res) === auth) return;
  wrapped.set(res, auth);
  const { maxBufferedBytes, onAnswerRefused } = options;
  filterToolListResponses(res, () => true, plan.caller ? listable(plan.caller) : () => false, {
    maxBufferedBytes,
    onRefused: onAnswerRefused && ((reason) => onAnswerRefused(res, reason)),
  });
}

/**
 * Express (and MCP SDK Express server) middleware, placed after bearer authentication and `express.json()` and before
 * the MCP transport. Refuses a `tools/call` outside the token's scopes or authorization details with 403 (nothing
 * reaches the transport), refuses with 415 a request other than GET, HEAD or DELETE whose body `express.json()` did not
 * parse into a JSON-RPC message (the transport would read and run it undecided), and filters every tool list on the
 * response, whatever request it answers (JSON or SSE). Hand `req.body` to the transport as `handleRequest(req, res, req.body)`: the transport must act on
 * the very message that was decided. A caller that hands over a message it parsed itself may leave `req.method` out.
 *
 * @example
 * ```ts
 * app.post('/mcp',
 *   requireBearerAuth({ verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }), resourceMetadataUrl }),
 *   expressToolAuthorization({ resourceMetadataUrl, argumentsKey, onDecision: jsonLinesDecisionSink(console) }),
 *   (req, res) => transport.handleRequest(req, res, req.body))
 * ```
 */
export function expressToolAuthorization(options: ToolAuthorizationOptions) {
  const authorize = authorizer(options);
  return function toolAuthorization(
    req: { auth?: unknown; body?: unknown; method?: string },
    res: NodeLikeResponse & { statusCode: number; setHeader(name: string, value: string): unknown },
    next: (err?: unknown) => void,
  ): void {
    const plan = authorize(req.auth, req.body, req.method);
    if (plan.refusal) {
      writeRefusal(res, plan.refusal);
      return;
    }
    filterLists(res, plan, req.auth, options);
    next();
  };
}

/**
 * The slice of a Koa context `koaToolAuthorization` uses; the JSON body comes from a body parser (`@koa/bodyparser`).
 *
 * @example
 * ```ts
 * app.use(koaToolAuthorization(options)) // ctx: Koa.Context satisfies KoaToolContext
 * ```
 */
export interface KoaToolContext {
  set(field: string, value: string): void;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
  /** Koa's `ctx.method`; a POST's body must have been parsed into JSON. */
  method?: string;
  request: { body?: unknown };
  res: NodeLikeResponse;
}

/**
 * Koa middleware, after `koaBearerAuth` (which puts the token on `ctx.state.auth`) and a JSON body parser, before the
 * MCP transport. Same rules and refusals as `expressToolAuthorization`.
 *
 * @example
 * ```ts
 * router.post('/mcp', bodyParser(), koaBearerAuth(verifier, { resourceMetadataUrl }),
 *   koaToolAuthorization({ resourceMetadataUrl, argumentsKey, onDecision }), handleMcp)
 * ```
 */
export function koaToolAuthorization(options: ToolAuthorizationOptions) {
  const authorize = authorizer(options);
  return async function toolAuthorization(ctx: KoaToolContext, next: () => Promise<unknown>): Promise<void> {
    const plan = authorize(ctx.state.auth, ctx.request.body, ctx.method);
    if (plan.refusal) {
      const { status, headers, body } = plan.refusal;
      ctx.status = status;
      for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
      ctx.body = body;
      return;
    }
    filterLists(ctx.res, plan, ctx.state.auth, options);
    await next();
  };
}

function listable(caller: Caller): (tool: string) => boolean {
  // The same function as tools/call: a tool is listed when some arguments would be allowed.
  return (tool) => decide(caller, tool, ANY_ARGUMENTS).allow;
}

function authorizer(options: ToolAuthorizationOptions): (auth: unknown, body: unknown, method: string | undefined) => Plan {
  const metadata = `resource_metadata=${quote(options.resourceMetadataUrl)}`;
  // RFC 9449 §7.1: a DPoP challenge SHOULD carry algs, "the JWS algorithms supported by the resource server".
  const algs = `algs=${quote([...allowedAlgorithms(options.dpopAlgorithms ?? DEFAULT_DPOP_ALGORITHMS)].join(' '))}`;
  // A bad bound is refused here, at construction, never on some later answer.
  maxBufferedBytesOf(options.maxBufferedBytes);
  if (options.onDecision && options.argumentsKey === undefined) {
    throw new TypeError('argumentsKey is required with onDecision (decision events carry an HMAC of the arguments)');
  }
  const digest = options.argumentsKey === undefined ? undefined : argumentsDigester(options.argumentsKey);
  const report = (caller: Caller, tool: string, args: unknown, decision: Decision): void => {
    if (!options.onDecision || !digest) return;
    // The event is built inside the try too: the digest walks the caller's arguments, and nothing about the record
    // (not even a value it cannot write, such as a BigInt from a custom body parser) may change or break the decision.
    try {
      const event: DecisionEvent = {
        time: new Date().toISOString(),
        sub: caller.sub,
        sid: caller.sid,
        actors: caller.actors,
        client_id: caller.clientId,
        jti: caller.jti,
        tool,
        decision: decision.allow ? 'allow' : 'deny',
        reasons: decision.allow ? [] : [decision.reason],
        ...(!decision.allow && decision.reason === 'insufficient_authorization_details' ? { violations: decision.violations } : {}),
        arguments_hmac: digest(args),
        ...(options.logArguments ? { arguments: args } : {}),
      };
      options.onDecision(event);
    } catch {
      // The hook is a side channel: its failure neither allows nor refuses anything.
    }
  };

  return (auth, body, method) => {
    // MCP Streamable HTTP: "The body of the POST request MUST be" JSON-RPC; one no parser built is never decided, and a
    // transport given no parsed body reads and runs it itself: refused (fail closed; RFC 9110 §15.5.16, 415).
    if (unparsedMessages(method, body)) {
      return { refusal: notJson() };
    }
    const messages = Array.isArray(body) ? body : [body];
    const calls: Array<{ tool: string; args: unknown }> = [];
    let lists = false;
    for (const message of messages) {
      const m = message as { method?: unknown; id?: unknown; params?: { name?: unknown; arguments?: unknown } } | null;
      if (typeof m !== 'object' || m === null) continue;
      // Other shapes (no name, a non-string name) are the transport's to refuse: no tool runs for them.
      if (m.method === 'tools/call' && typeof m.params?.name === 'string') {
        calls.push({ tool: m.params.name, args: m.params.arguments ?? {} });
      } else if (m.method === 'tools/list' && (typeof m.id === 'string' || typeof m.id === 'number')) {
        lists = true;
      }
    }
    // Every answer on the response is filtered for this caller (`filterLists`), whatever the body asked.
    const caller = callerOf(auth);
    if (calls.length === 0 && !lists) return caller ? { caller } : {};
    // Fail closed: a route without authentication in front of this middleware is a configuration error.
    if (!caller) return { refusal: serverError() };
    // RFC 9449 §7.1: a DPoP-bound caller is challenged with the DPoP scheme, and the challenge names algs.
    const challenge = caller.jkt ? { scheme: 'DPoP' as const, params: `${algs}, ${metadata}` } : { scheme: 'Bearer' as const, params: metadata };
    for (const { tool, args } of calls) {
      const decision = decide(caller, tool, args);
      report(caller, tool, args, decision);
      if (!decision.allow) return { caller, refusal: refusalOf(decision, tool, challenge.params, challenge.scheme) };
    }
    return { caller };
  };
}

/** RFC 6750 §3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * `scheme`: the one the caller authenticated with; RFC 9449 §7.1 answers a DPoP-bound token with DPoP challenges.
 * `params`: the challenge's last attributes (`resource_metadata`, after `algs` for DPoP).
 */
function refusalOf(decision: Exclude<Decision, { allow: true }>, tool: string, params: string, scheme: 'Bearer' | 'DPoP'): Refusal {
  if (decision.reason === 'insufficient_scope') {
    // MCP authorization "Scope Challenge Handling" / RFC 6750 §3.1: 403 insufficient_scope with the scope needed.
    // RFC 6750 §3: scope values "MUST NOT include characters outside the set %x21 / %x23-5B / %x5D-7E". The tool name
    // comes from the request body: one outside that set cannot be a granted scope, so it is not named (and a CR, LF or
    // non-ASCII character would make the header unwritable).
    const named = decision.scopes.every((s) => SCOPE_TOKEN.test(s));
    const scope = named ? ` scope="${decision.scopes.join(' ')}",` : '';
    return {
      status: 403,
      headers: { 'WWW-Authenticate': `${scheme} error="insufficient_scope",${scope} ${params}` },
      body: { error: 'insufficient_scope', error_description: 'insufficient scope' },
    };
  }
  // draft-zehavi-oauth-rar-metadata: insufficient_authorization_details, and no scope (a scope would not help).
  const violations: ArgumentViolation[] = [...decision.violations];
  return {
    status: 403,
    headers: { 'WWW-Authenticate': `${scheme} error="insufficient_authorization_details", ${params}` },
    body: {
      error: 'insufficient_authorization_details',
      error_description: 'arguments outside the authorized limits',
      tool,
      violations,
    },
  };
}

/** RFC 9110 §15.5.16: 415, and "the Accept response header field ... can be used to indicate which media types would have been accepted". */
function notJson(): Refusal {
  return {
    status: 415,
    headers: { Accept: 'application/json' },
    body: { error: 'invalid_request', error_description: 'the body must be a JSON-RPC message sent as application/json' },
  };
}

function serverError(): Refusal {
  return { status: 500, headers: {}, body: { error: 'server_error', error_description: 'no verified token' } };
}

/** A VerifiedToken, or an MCP SDK AuthInfo from `mcpTokenVerifier`; anything else is not a caller. */
function callerOf(auth: unknown): Caller | undefined {
  if (typeof auth !== 'object' || auth === null) return undefined;
  const a = auth as Partial<VerifiedToken> & { extra?: Record<string, unknown> };
  const source = (typeof a.extra === 'object' && a.extra !== null ? { ...a.extra, clientId: a.clientId, scopes: a.scopes } : a) as Partial<Caller>;
  const { sub, sid, jti, clientId, actors, scopes, authorizationDetails, jkt } = source;
  if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string' || typeof clientId !== 'string') return undefined;
  if (!Array.isArray(actors) || !Array.isArray(scopes) || !Array.isArray(authorizationDetails)) return undefined;
  return { sub, sid, jti, clientId, actors, scopes, authorizationDetails, ...(typeof jkt === 'string' ? { jkt } : {}) };
}

/** RFC 9110 §5.6.4 quoted-string. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}
