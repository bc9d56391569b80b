// Bearer-token middleware for Koa and Express (structural types only) with RFC 6750 / RFC 9728 challenges.
import { VerifyError } from './errors.js';
import type { VerifiedToken, Verifier } from './types.js';

/**
 * Options of `koaBearerAuth` and `expressBearerAuth`.
 *
 * @example
 * ```ts
 * const options: BearerAuthOptions = { resourceMetadataUrl: resourceMetadataUrl(resource), requiredScopes: [] }
 * ```
 */
export interface BearerAuthOptions {
  /** Absolute URL of this server's RFC 9728 metadata, sent as `resource_metadata` on every 401 and 403. */
  resourceMetadataUrl: string;
  /** Scopes every request through this middleware needs; a token without them gets 403 `insufficient_scope`. */
  requiredScopes?: readonly string[];
}

/**
 * The slice of a Koa context the middleware uses (a real `Koa.Context` satisfies it).
 *
 * @example
 * ```ts
 * app.use(koaBearerAuth(verifier, options)) // ctx: Koa.Context is a KoaLikeContext
 * ```
 */
export interface KoaLikeContext {
  get(field: string): string;
  set(field: string, value: string): void;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
  /** The node:http request, whose `headersDistinct` shows an Authorization field sent more than once. */
  req?: { headersDistinct?: Record<string, string[] | undefined> };
}

/**
 * The slice of an Express / node:http request the middleware uses.
 *
 * @example
 * ```ts
 * http.createServer((req, res) => expressBearerAuth(verifier, options)(req, res, () => route(req, res)))
 * ```
 */
export interface ExpressLikeRequest {
  headers: { authorization?: string | undefined };
  /** node:http (18.3+) keeps every value here; `headers` keeps only the first Authorization. */
  headersDistinct?: Record<string, string[] | undefined>;
}

/**
 * The slice of an Express / node:http response the middleware uses (`http.ServerResponse` satisfies it).
 *
 * @example
 * ```ts
 * const res: ExpressLikeResponse = expressResponse
 * ```
 */
export interface ExpressLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(chunk?: string): unknown;
}

/** An authentication refusal, as both the Bearer-only and the Bearer/DPoP middleware write it. Internal. */
export interface Refusal {
  status: number;
  headers: Record<string, string>;
  /** JSON body, or undefined for the no-credentials challenge. */
  body: { error: string; error_description: string } | undefined;
}

type Outcome = { token: VerifiedToken } | { refusal: Refusal };

/**
 * The Authorization field as sent: its first value and how many lines carried it (node:http keeps only the first in
 * `headers`). Internal.
 */
export interface AuthorizationField {
  value: string | undefined;
  count: number;
}

/** Internal. */
export function authorizationField(first: string | undefined, distinct: Record<string, string[] | undefined> | undefined): AuthorizationField {
  const all = distinct?.authorization;
  return { value: first, count: all ? all.length : first === undefined ? 0 : 1 };
}

/**
 * RFC 6750 §3.1: invalid_request when the request "repeats the same parameter, uses more than one method for including
 * an access token, or is otherwise malformed"; "The resource server SHOULD respond with the HTTP 400". Internal.
 */
export function invalidRequest(scheme: 'Bearer' | 'DPoP', description: string, params: string): Refusal {
  const header = `${scheme} error="invalid_request", error_description=${quote(description)}, ${params}`;
  return { status: 400, headers: { 'WWW-Authenticate': header }, body: { error: 'invalid_request', error_description: description } };
}

/** Writes a refusal on a node:http / Express response: status, headers, and the JSON body when there is one. Internal. */
export function writeRefusal(res: ExpressLikeResponse, { status, headers, body }: { status: number; headers: Record<string, string>; body?: object | undefined }): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (body) res.setHeader('Content-Type', 'application/json');
  res.end(body ? JSON.stringify(body) : undefined);
}

/**
 * Koa middleware: verifies `Authorization: Bearer <token>` and puts the VerifiedToken on `ctx.state.auth`.
 *
 * @example
 * ```ts
 * router.post('/mcp', koaBearerAuth(verifier, {
 *   resourceMetadataUrl: resourceMetadataUrl('https://tools.example/mcp'),
 * }), handleMcp)
 * ```
 */
export function koaBearerAuth(verifier: Verifier, options: BearerAuthOptions) {
  return async function bearerAuth(ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void> {
    const outcome = await authenticate(verifier, authorizationField(ctx.get('authorization') || undefined, ctx.req?.headersDistinct), options);
    if ('refusal' in outcome) {
      const { status, headers, body } = outcome.refusal;
      ctx.status = status;
      for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
      ctx.body = body ?? '';
      return;
    }
    ctx.state.auth = outcome.token;
    await next();
  };
}

/**
 * Express (or plain node:http) middleware: verifies `Authorization: Bearer <token>` and puts the VerifiedToken
 * on `req.auth`. With the MCP SDK, prefer its `requireBearerAuth` with `mcpTokenVerifier`, which fills `req.auth`
 * with the SDK's own `AuthInfo` type.
 *
 * @example
 * ```ts
 * app.use('/tools', expressBearerAuth(verifier, {
 *   resourceMetadataUrl: resourceMetadataUrl('https://tools.example/tools'),
 *   requiredScopes: ['crm.lookup_customer'],
 * }))
 * ```
 */
export function expressBearerAuth(verifier: Verifier, options: BearerAuthOptions) {
  return async function bearerAuth(
    req: ExpressLikeRequest,
    res: ExpressLikeResponse,
    next: (err?: unknown) => void,
  ): Promise<void> {
    const outcome = await authenticate(verifier, authorizationField(req.headers.authorization, req.headersDistinct), options);
    if ('refusal' in outcome) {
      writeRefusal(res, outcome.refusal);
      return;
    }
    (req as ExpressLikeRequest & { auth?: VerifiedToken }).auth = outcome.token;
    next();
  };
}

async function authenticate(
  verifier: Verifier,
  authorization: AuthorizationField,
  options: BearerAuthOptions,
): Promise<Outcome> {
  const metadata = `resource_metadata=${quote(options.resourceMetadataUrl)}`;
  // RFC 6750 §3.1: "repeats the same parameter" is invalid_request; two Authorization lines are two credentials.
  if (authorization.count > 1) return { refusal: invalidRequest('Bearer', 'more than one Authorization header', metadata) };
  // RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, scheme case-insensitive. The query-string and form-body
  // methods of §2.2-2.3 are never read (MCP: tokens MUST NOT be in the URI).
  const match = /^bearer(?: +(.*))?$/i.exec(authorization.value?.trim() ?? '');
  if (!match) {
    // RFC 6750 §3.1: if the request lacks any authentication information, the server SHOULD NOT include an error code.
    return { refusal: { status: 401, headers: { 'WWW-Authenticate': `Bearer ${metadata}` }, body: undefined } };
  }
  // RFC 6750 §3.1: a request that "is otherwise malformed" is invalid_request; the scheme without its b64token is one.
  if (!match[1]) return { refusal: invalidRequest('Bearer', 'no access token', metadata) };
  try {
    const requiredScopes = options.requiredScopes ?? [];
    return { token: await verifier.verify(match[1], { requiredScopes }) };
  } catch (err) {
    const error = err instanceof VerifyError ? err : new VerifyError('ERR_TOKEN_MALFORMED', { cause: err });
    return { refusal: refusal(error, metadata) };
  }
}

function refusal(error: VerifyError, metadata: string): Refusal {
  const body = { error: error.oauthError, error_description: error.message };
  switch (error.status) {
    case 403: {
      // RFC 6750 §3.1: insufficient_scope, with the scope necessary to access the resource.
      const scope = quote((error.requiredScopes ?? []).join(' '));
      const header = `Bearer error="insufficient_scope", scope=${scope}, ${metadata}`;
      return { status: 403, headers: { 'WWW-Authenticate': header }, body };
    }
    case 503:
      // Not a credentials problem, so no challenge; the client should retry the same token shortly.
      return { status: 503, headers: { 'Retry-After': '5' }, body };
    default: {
      const header = `Bearer error="invalid_token", error_description=${quote(error.message)}, ${metadata}`;
      return { status: 401, headers: { 'WWW-Authenticate': header }, body };
    }
  }
}

/** RFC 9110 §5.6.4 quoted-string. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}
