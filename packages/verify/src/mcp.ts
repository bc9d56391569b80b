// Adapter from our Verifier to the MCP TypeScript SDK's OAuthTokenVerifier, without importing the SDK.
import { VerifyError } from './errors.js';
import type { McpToolDetails } from './constraints.js';
import type { Actor, VerifiedToken, Verifier } from './types.js';

/**
 * Structurally the MCP SDK's `AuthInfo` (server/auth/types.ts).
 *
 * @example
 * ```ts
 * const auth: McpAuthInfo = await mcpTokenVerifier(verifier).verifyAccessToken(bearer)
 * ```
 */
export interface McpAuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  expiresAt?: number;
  resource?: URL;
  extra?: Record<string, unknown>;
}

/**
 * What we put in `AuthInfo.extra`.
 *
 * @example
 * ```ts
 * const { sub, actors } = extra.authInfo?.extra as McpAuthExtra // inside an MCP tool handler
 * ```
 */
export interface McpAuthExtra {
  sub: string;
  sid: string;
  jti: string;
  /** Current actor first; only `actors[0]` may drive access decisions (RFC 8693 §4.1). */
  actors: readonly Actor[];
  /** The token's `mcp_tool` authorization details for this audience (`VerifiedToken.authorizationDetails`). */
  authorizationDetails: readonly McpToolDetails[];
  /** RFC 9449: the thumbprint of the key a DPoP-bound token is bound to (its proof was checked on this request). */
  jkt?: string;
}

type ErrorClass = new (message: string) => Error;

/**
 * The SDK's error classes. `requireBearerAuth` picks the HTTP status with `instanceof` on its own classes, so they
 * must come from the application, which already depends on the SDK. Passing the module namespace works.
 *
 * @example
 * ```ts
 * import * as mcpErrors from '@modelcontextprotocol/sdk/server/auth/errors.js'
 * const classes: McpErrorClasses = mcpErrors
 * ```
 */
export interface McpErrorClasses {
  InvalidTokenError: ErrorClass;
  InsufficientScopeError: ErrorClass;
  ServerError: ErrorClass;
}

/**
 * Options of `mcpTokenVerifier`.
 *
 * @example
 * ```ts
 * // Scopes go to requireBearerAuth, which names them in its 403 challenge (MCP scope challenge handling).
 * requireBearerAuth({ verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }), requiredScopes: ['crm.lookup_customer'], resourceMetadataUrl })
 * ```
 */
export interface McpTokenVerifierOptions {
  /**
   * Without these, failures are thrown as `VerifyError` and `requireBearerAuth` answers 500 to everything (still
   * fail-closed, but a bad token should be 401): always pass them when using `requireBearerAuth`.
   */
  errors?: McpErrorClasses;
  /**
   * Scopes checked by our verifier. Prefer `requireBearerAuth`'s own `requiredScopes`: the SDK builds the challenge's
   * `scope` attribute only from that option, so a token refused here gets 403 `insufficient_scope` with no `scope` in
   * `WWW-Authenticate`, and the client is not told which scope to ask for (MCP scope challenge handling, RFC 6750
   * §3.1). Given to both, the challenge names it.
   */
  requiredScopes?: readonly string[];
}

/**
 * Wrap a Verifier as an MCP SDK `OAuthTokenVerifier`. Maps 401 failures to `InvalidTokenError`, 403 to
 * `InsufficientScopeError` and unavailability (503) to `ServerError` (the SDK answers 500: it has no 503).
 *
 * @example
 * ```ts
 * import * as mcpErrors from '@modelcontextprotocol/sdk/server/auth/errors.js'
 * import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js'
 *
 * app.post('/mcp', requireBearerAuth({
 *   verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }),
 *   resourceMetadataUrl: resourceMetadataUrl('https://tools.example/mcp'),
 * }), handleMcp)
 * // in a tool handler: extra.authInfo.extra.sub, .sid, .actors
 * ```
 */
export function mcpTokenVerifier(
  verifier: Verifier,
  options: McpTokenVerifierOptions = {},
): { verifyAccessToken(token: string): Promise<McpAuthInfo> } {
  const resource = new URL(verifier.audience);
  return {
    async verifyAccessToken(token: string): Promise<McpAuthInfo> {
      try {
        const verified = await verifier.verify(token, { requiredScopes: options.requiredScopes ?? [] });
        return toMcpAuthInfo(token, verified, resource);
      } catch (err) {
        throw toMcpError(err, options.errors);
      }
    },
  };
}

/** The MCP SDK's `AuthInfo` for a verified token (shared by `mcpTokenVerifier` and `mcpAuth`). */
export function toMcpAuthInfo(token: string, verified: VerifiedToken, resource: URL): McpAuthInfo {
  const extra: McpAuthExtra = {
    sub: verified.sub,
    sid: verified.sid,
    jti: verified.jti,
    actors: verified.actors,
    authorizationDetails: verified.authorizationDetails,
    ...(verified.jkt ? { jkt: verified.jkt } : {}),
  };
  return {
    token,
    clientId: verified.clientId,
    scopes: [...verified.scopes],
    expiresAt: verified.exp,
    // Our audience check already passed; reporting it lets the SDK's `expectedResource` check agree.
    resource,
    extra: { ...extra },
  };
}

function toMcpError(err: unknown, classes: McpErrorClasses | undefined): unknown {
  if (!classes || !(err instanceof VerifyError)) return err;
  // Only the fixed public description crosses over; the SDK sends `message` to the client.
  switch (err.status) {
    case 403:
      return withCause(new classes.InsufficientScopeError(err.message), err);
    case 503:
      return withCause(new classes.ServerError(err.message), err);
    default:
      return withCause(new classes.InvalidTokenError(err.message), err);
  }
}

function withCause(error: Error, cause: VerifyError): Error {
  Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
  return error;
}
