// Middleware that accepts `Authorization: Bearer` and `Authorization: DPoP` (RFC 6750, RFC 9449 §7) with RFC 9728
// challenges: for Express / node:http (`expressTokenAuth`), Koa (`koaTokenAuth`) and MCP servers (`mcpAuth`, a drop-in
// for the MCP SDK's Bearer-only `requireBearerAuth`).
import { VerifyError } from './errors.js';
import { toMcpAuthInfo, type McpAuthInfo } from './mcp.js';
import {
  authorizationField,
  invalidRequest,
  writeRefusal,
  type AuthorizationField,
  type ExpressLikeResponse as ResponseLike,
  type KoaLikeContext,
  type Refusal,
} from './middleware.js';
import type { VerifiedToken, Verifier } from './types.js';

/**
 * Options of `expressTokenAuth`, `koaTokenAuth` and `mcpAuth`.
 *
 * @example
 * ```ts
 * const options: TokenAuthOptions = { resourceMetadataUrl: resourceMetadataUrl('https://tools.example/mcp') }
 * ```
 */
export interface TokenAuthOptions {
  /** Absolute URL of this server's RFC 9728 metadata, sent as `resource_metadata` on every 401 and 403. */
  resourceMetadataUrl: string;
  /** Scopes every request through this middleware needs; a token without them gets 403 `insufficient_scope`. */
  requiredScopes?: readonly string[];
  /**
   * The public URL a request was sent to, which DPoP proofs name in `htu` (RFC 9449 §4.3). Default: the origin of the
   * verifier's audience followed by the request's path, so a proxy's Host header never decides it. Give your own when
   * the public path differs from the one this server sees.
   */
  publicUrl?: (request: { method?: string; url?: string; originalUrl?: string }) => string;
}

/**
 * The slice of an Express / node:http request these middlewares use.
 *
 * @example
 * ```ts
 * const req: TokenAuthRequest = expressRequest
 * ```
 */
export interface TokenAuthRequest {
  method?: string;
  url?: string;
  originalUrl?: string;
  headers: { authorization?: string | undefined; dpop?: string | string[] | undefined };
  headersDistinct?: Record<string, string[] | undefined>;
}

type Outcome = { token: VerifiedToken; raw: string; headers: Record<string, string> } | { refusal: Refusal };

interface Credentials {
  authorization: AuthorizationField;
  dpop: string | readonly string[] | undefined;
  method: string;
  path: string;
  request: { method?: string; url?: string; originalUrl?: string };
}

/**
 * Express (or plain node:http) middleware accepting Bearer and DPoP-bound tokens; puts the VerifiedToken on `req.auth`.
 * A DPoP-bound token needs `Authorization: DPoP <token>` and a valid `DPoP` proof on every request.
 *
 * @example
 * ```ts
 * app.use('/tools', expressTokenAuth(createVerifier({ issuer, audience, dpop: { replay } }), {
 *   resourceMetadataUrl: resourceMetadataUrl('https://tools.example/tools'),
 * }))
 * ```
 */
export function expressTokenAuth(verifier: Verifier, options: TokenAuthOptions) {
  return async function tokenAuth(req: TokenAuthRequest, res: ResponseLike, next: (err?: unknown) => void): Promise<void> {
    const outcome = await authenticate(verifier, fromNode(req), options);
    if (!send(outcome, res)) return;
    (req as TokenAuthRequest & { auth?: VerifiedToken }).auth = (outcome as { token: VerifiedToken }).token;
    next();
  };
}

/**
 * Drop-in for the MCP SDK's `requireBearerAuth` that also speaks DPoP: verifies the token (and its proof) and puts
 * the SDK's `AuthInfo` on `req.auth` (its `extra` is `McpAuthExtra`), so `StreamableHTTPServerTransport`, tool handlers
 * (`extra.authInfo`) and `expressToolAuthorization` see what they see behind `requireBearerAuth`.
 *
 * @example
 * ```ts
 * const resourceMetadata = resourceMetadataUrl('https://tools.example/mcp')
 * app.post('/mcp',
 *   mcpAuth(verifier, { resourceMetadataUrl: resourceMetadata }),
 *   expressToolAuthorization({ resourceMetadataUrl: resourceMetadata }),
 *   (req, res) => transport.handleRequest(req, res, req.body))
 * ```
 */
export function mcpAuth(verifier: Verifier, options: TokenAuthOptions) {
  const resource = new URL(verifier.audience);
  return async function mcpTokenAuth(req: TokenAuthRequest, res: ResponseLike, next: (err?: unknown) => void): Promise<void> {
    const outcome = await authenticate(verifier, fromNode(req), options);
    if (!send(outcome, res)) return;
    const { token, raw } = outcome as { token: VerifiedToken; raw: string };
    (req as TokenAuthRequest & { auth?: McpAuthInfo }).auth = toMcpAuthInfo(raw, token, resource);
    next();
  };
}

/**
 * The slice of a Koa context `koaTokenAuth` uses (a real `Koa.Context` satisfies it).
 *
 * @example
 * ```ts
 * app.use(koaTokenAuth(verifier, options)) // ctx: Koa.Context is a KoaTokenContext
 * ```
 */
export interface KoaTokenContext extends KoaLikeContext {
  method: string;
  path: string;
  req: { headersDistinct?: Record<string, string[] | undefined> };
}

/**
 * Koa middleware accepting Bearer and DPoP-bound tokens; puts the VerifiedToken on `ctx.state.auth`.
 *
 * @example
 * ```ts
 * router.post('/mcp', koaTokenAuth(verifier, { resourceMetadataUrl: resourceMetadataUrl('https://tools.example/mcp') }), handleMcp)
 * ```
 */
export function koaTokenAuth(verifier: Verifier, options: TokenAuthOptions) {
  return async function tokenAuth(ctx: KoaTokenContext, next: () => Promise<unknown>): Promise<void> {
    const dpop = ctx.req.headersDistinct?.dpop ?? (ctx.get('dpop') || undefined);
    const authorization = authorizationField(ctx.get('authorization') || undefined, ctx.req.headersDistinct);
    const credentials = { authorization, dpop, method: ctx.method, path: ctx.path, request: { method: ctx.method, url: ctx.path } };
    const outcome = await authenticate(verifier, credentials, options);
    const headers = 'refusal' in outcome ? outcome.refusal.headers : outcome.headers;
    for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
    if ('refusal' in outcome) {
      ctx.status = outcome.refusal.status;
      ctx.body = outcome.refusal.body ?? '';
      return;
    }
    ctx.state.auth = outcome.token;
    await next();
  };
}

function fromNode(req: TokenAuthRequest): Credentials {
  const path = (req.originalUrl ?? req.url ?? '/').split(/[?#]/, 1)[0]!;
  return {
    authorization: authorizationField(req.headers.authorization, req.headersDistinct),
    dpop: req.headersDistinct?.dpop ?? req.headers.dpop,
    method: req.method ?? 'GET',
    path,
    request: req,
  };
}

/** Writes a refusal (false), or the success headers (true). */
function send(outcome: Outcome, res: ResponseLike): boolean {
  if (!('refusal' in outcome)) {
    for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
    return true;
  }
  writeRefusal(res, outcome.refusal);
  return false;
}

async function authenticate(verifier: Verifier, c: Credentials, options: TokenAuthOptions): Promise<Outcome> {
  const metadata = `resource_metadata=${quote(options.resourceMetadataUrl)}`;
  // RFC 9449 §7.1: the DPoP challenge SHOULD carry algs, the proof algorithms the resource server accepts.
  const algs = `algs=${quote(verifier.dpopAlgorithms.join(' '))}`;
  // RFC 6750 §3.1: "repeats the same parameter" is invalid_request; two Authorization lines are two credentials.
  if (c.authorization.count > 1) return { refusal: invalidRequest('Bearer', 'more than one Authorization header', metadata) };
  // RFC 6750 §2.1 / RFC 9449 §7.1: credentials = scheme 1*SP token68; schemes are case-insensitive.
  const match = /^(bearer|dpop)(?: +(.*))?$/i.exec(c.authorization.value?.trim() ?? '');
  if (!match) {
    // RFC 6750 §3.1 / RFC 9449 §7.1: no credentials: one challenge per scheme, no error code.
    return { refusal: { status: 401, headers: { 'WWW-Authenticate': `Bearer ${metadata}, DPoP ${algs}, ${metadata}` }, body: undefined } };
  }
  const scheme = match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  const raw = match[2] ?? '';
  // RFC 6750 §3.1: a request that "is otherwise malformed" is invalid_request; a scheme without its token is one.
  if (!raw) return { refusal: invalidRequest(scheme, 'no access token', scheme === 'DPoP' ? `${algs}, ${metadata}` : metadata) };
  try {
    const requiredScopes = options.requiredScopes ?? [];
    const dpop = scheme === 'DPoP'
      ? { proof: c.dpop, method: c.method, url: options.publicUrl ? options.publicUrl(c.request) : new URL(verifier.audience).origin + c.path }
      : undefined;
    const token = await verifier.verify(raw, { requiredScopes, ...(dpop ? { dpop } : {}) });
    const nonce = scheme === 'DPoP' ? verifier.dpopNonce() : undefined;
    // RFC 9449 §9: a resource server may hand out the next nonce with a successful response.
    return { token, raw, headers: nonce ? { 'DPoP-Nonce': nonce } : {} };
  } catch (err) {
    const error = err instanceof VerifyError ? err : new VerifyError('ERR_TOKEN_MALFORMED', { cause: err });
    return { refusal: refusal(error, scheme, metadata, algs) };
  }
}

function refusal(error: VerifyError, scheme: 'Bearer' | 'DPoP', metadata: string, algs: string): Refusal {
  const body = { error: error.oauthError, error_description: error.message };
  // RFC 9449 §7.2: a bound token sent as Bearer is told to come back with DPoP.
  const challengeScheme = scheme === 'DPoP' || error.code === 'ERR_TOKEN_BOUND' ? 'DPoP' : 'Bearer';
  const schemeAlgs = challengeScheme === 'DPoP' ? `, ${algs}` : '';
  switch (error.status) {
    case 403: {
      // RFC 6750 §3.1: insufficient_scope, with the scope necessary to access the resource.
      const scope = quote((error.requiredScopes ?? []).join(' '));
      return { status: 403, headers: { 'WWW-Authenticate': `${challengeScheme} error="insufficient_scope", scope=${scope}${schemeAlgs}, ${metadata}` }, body };
    }
    case 503:
      // Not a credentials problem, so no challenge; the client should retry shortly.
      return { status: 503, headers: { 'Retry-After': '5' }, body };
    default: {
      const header = `${challengeScheme} error="${error.oauthError}", error_description=${quote(error.message)}${schemeAlgs}, ${metadata}`;
      // RFC 9449 §9: use_dpop_nonce comes with the nonce to use.
      const headers: Record<string, string> = { 'WWW-Authenticate': header };
      if (error.dpopNonce) headers['DPoP-Nonce'] = error.dpopNonce;
      return { status: 401, headers, body };
    }
  }
}

/** RFC 9110 §5.6.4 quoted-string. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}
