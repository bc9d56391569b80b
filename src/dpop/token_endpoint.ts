// The DPoP step in front of oidc-provider's own grants at POST /token (authorization_code, refresh_token,
// client_credentials, ...): the exchange's proof checks (proof.ts) for their proofs too, so every grant answers a proof
// alike and spends it in one replay key space, and the profile's `toolServers[].requireDpop` at client_credentials.
import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring';
import type { Context, Middleware } from 'koa';
import { errors } from 'oidc-provider';
import { DPOP_PROOF_REQUIRED, type DpopProofChecker } from './proof.js';
import { markRoute, reachesProviderRoute } from '../http/route_template.js';
import { ServiceUnavailable } from '../provider/errors.js';
import { StoreUnavailable } from '../stores/errors.js';
import { SigningUnavailable } from '../keys/jws_thread.js';

export interface TokenEndpointDpopDeps {
  /** The exchange's checker: same checks, window, nonces and `dpop:` replay keys (service.ts passes the one instance). */
  proofs: DpopProofChecker;
  /** Grant types whose handler checks the request's proof itself (the token exchange, grants/token_exchange/dpop.ts):
   * passed through untouched, so a proof is checked and spent once. */
  checkedByGrant: ReadonlySet<string>;
  /** Resources of the tool servers with `requireDpop`: only DPoP-bound tokens are issued for them. */
  requireDpop: ReadonlySet<string>;
}

/** oidc-provider's cap on a token request body (lib/shared/selective_body.js), applied the same way here. */
const BODY_LIMIT = 56 * 1024;

/**
 * The token request's form, read here because the grant type decides whether this step applies, and handed to
 * oidc-provider as an already read body (`ctx.request.body`, the raw text, which it parses exactly as it would have
 * read it). Undefined for any other content type: oidc-provider then refuses the request or sees no `grant_type`, so no
 * grant runs. The same limits and refusal as oidc-provider's own reader.
 */
async function readForm(ctx: Context): Promise<ParsedUrlQuery | undefined> {
  const request = ctx.request as Context['request'] & { body?: unknown };
  if (request.body !== undefined) return typeof request.body === 'string' ? parseQuery(request.body) : (request.body as ParsedUrlQuery);
  if (!ctx.is('application/x-www-form-urlencoded')) return undefined;
  let text: string;
  try {
    const length = request.length;
    if (length !== undefined && length > BODY_LIMIT) throw new Error('request entity too large');
    const chunks: Buffer[] = [];
    let received = 0;
    // Not destroyed when the loop ends early: the socket must stay to answer.
    for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > BODY_LIMIT) throw new Error('request entity too large');
      if (length !== undefined && received > length) throw new Error('request size did not match content length');
      chunks.push(chunk);
    }
    if (length !== undefined && received !== length) throw new Error('request size did not match content length');
    const body = Buffer.concat(chunks, received);
    text = ctx.request.charset ? new TextDecoder(ctx.request.charset).decode(body) : body.toString();
  } catch (cause) {
    throw new errors.InvalidRequest('failed to parse the request body', undefined, cause instanceof Error ? cause.message : String(cause));
  }
  request.body = text;
  return parseQuery(text);
}

/** A refusal answered as the token endpoint answers (RFC 6749 §5.1 `Pragma`; errorRenderer adds `no-store`); outages 503. */
function refusal(ctx: Context, err: unknown): unknown {
  markRoute(ctx, '/token');
  ctx.set('Pragma', 'no-cache');
  // Fail closed: the replay store or the signing thread down is an outage, never a verdict on the proof.
  if (err instanceof StoreUnavailable || err instanceof SigningUnavailable) return new ServiceUnavailable(err.message);
  return err;
}

/**
 * Mounted in front of oidc-provider's routes. oidc-provider's own DPoP checks then still run in its grants (its binding
 * of the token comes from them); they are weaker than these (replay per client only, `htu` against the Host the
 * request came with, a fixed ±300 s `iat` window, no `iat` check at all beside a nonce, duplicate JSON members
 * accepted), and its nonces are the ones ours are (nonces.ts), so a proof passing here fails there only for its `htu`:
 * when the request did not come to the configured issuer's address, or when the `htu` percent-encodes characters that
 * need none (`/%74oken`: this step decodes them, RFC 3986 §6.2.2.2; oidc-provider compares the parsed URL as it is, so
 * it refuses, with the proof already spent here; README says to write the plain URL).
 *
 * @example
 * mount(provider, tokenEndpointDpop({ proofs, checkedByGrant: new Set([TOKEN_EXCHANGE_GRANT]), requireDpop: new Set([ledger]) }));
 */
export function tokenEndpointDpop(deps: TokenEndpointDpopDeps): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !reachesProviderRoute(ctx.path, '/token')) return next();
    const proofSent = ctx.req.headers.dpop !== undefined;
    if (!proofSent && deps.requireDpop.size === 0) return next();
    let params: ParsedUrlQuery | undefined;
    try {
      params = await readForm(ctx);
    } catch (err) {
      throw refusal(ctx, err);
    }
    const grantType = params?.grant_type;
    if (typeof grantType === 'string' && deps.checkedByGrant.has(grantType)) return next();

    if (proofSent) {
      // RFC 9449 §5: a proof is "applicable for all access token requests regardless of grant type", and §4.3: "To
      // validate a DPoP proof, the receiving server MUST ensure" every check, so every grant gets the exchange's: its
      // `htu` against the configured issuer, its window, strict JSON, its nonces, and §11.1's replay check in the one
      // `dpop:` key space, shared by the grants and the replicas: a proof spent at one grant is spent at all.
      try {
        await deps.proofs.check({ values: ctx.req.headersDistinct.dpop, method: ctx.method, setNonce: (nonce) => ctx.set('DPoP-Nonce', nonce) });
      } catch (err) {
        throw refusal(ctx, err);
      }
    } else if (grantType === 'client_credentials' && [params?.resource ?? []].flat().some((r) => deps.requireDpop.has(r))) {
      // SPEC profile (toolServers[].requireDpop): only DPoP-bound tokens for that tool server, from every grant.
      throw refusal(ctx, new errors.InvalidRequest(DPOP_PROOF_REQUIRED, undefined, 'dpop_required_by_tool_server'));
    }
    await next();
  };
}
