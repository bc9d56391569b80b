// The OpenID Back-Channel Logout 1.0 receiver (we are the relying party of the company's provider): a valid logout
// token ends our sessions that came from that upstream session, or every one of that user, with all tokens derived.
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { asymmetricAlgorithm } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import { ServiceUnavailable } from '../provider/errors.js';
import type { RevocationService } from '../sessions/revoke.js';
import type { UpstreamLoginStore } from '../stores/types.js';
import { sidPrefixFor } from '../token_types/context.js';
import { accountIdFor, storeOutageAs503, upstreamSessionKey } from './account.js';
import { UpstreamUnavailable, type UpstreamClient } from './client.js';

export const BACKCHANNEL_LOGOUT_PATH = '/backchannel-logout';
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** How old a logout token may be (its `iat`), and how long its `jti` is remembered beyond that. */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 600;
const CLOCK_TOLERANCE_SECONDS = 60;

export interface BackchannelLogoutDeps {
  client: UpstreamClient;
  clientId: string;
  store: UpstreamLoginStore;
  revocation: Pick<RevocationService, 'revoke'>;
  logger: Logger;
}

const invalid = (detail: string) => new HttpError(400, 'invalid_request', 'invalid logout token', { detail });

/** What a valid logout token names: the upstream session, the user, or both. */
export interface LogoutTarget {
  issuer: string;
  sid?: string;
  sub?: string;
  jti: string;
  exp: number;
}

export class LogoutTokenVerifier {
  readonly #d: Pick<BackchannelLogoutDeps, 'client' | 'clientId'>;
  #keys: { uri: string; get: JWTVerifyGetKey } | undefined;

  constructor(deps: Pick<BackchannelLogoutDeps, 'client' | 'clientId'>) {
    this.#d = deps;
  }

  /** Back-Channel Logout §2.6, in its order; a refusal is an HttpError 400 (detail for the log), an outage a 503. */
  async verify(token: string): Promise<LogoutTarget> {
    let config;
    try {
      config = await this.#d.client.configuration();
    } catch (err) {
      throw new ServiceUnavailable(err instanceof UpstreamUnavailable ? err.message : String(err));
    }
    const metadata = config.serverMetadata();
    if (!metadata.jwks_uri) throw new ServiceUnavailable('upstream publishes no jwks_uri');
    if (this.#keys?.uri !== metadata.jwks_uri) this.#keys = { uri: metadata.jwks_uri, get: createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: 5000 }) };
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw invalid('not a JWS');
    }
    // §2.4 / RFC 8725 §3.11: explicitly typed `logout+jwt`, or untyped / `JWT`; any other JWT kind is refused.
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : undefined;
    if (typ !== undefined && typ !== 'jwt' && typ !== 'logout+jwt') throw invalid(`typ ${typ}`);
    const signing = metadata.id_token_signing_alg_values_supported?.filter((a) => (asymmetricAlgorithm.options as readonly string[]).includes(a));
    let payload: JWTPayload;
    try {
      // §2.6 points 2-3: signature with the provider's keys, as for ID tokens; iss, aud (our client_id), iat and exp.
      // §2.4: iat, exp and jti are each "REQUIRED" in a Logout Token.
      ({ payload } = await jwtVerify(token, this.#keys.get, {
        issuer: metadata.issuer,
        audience: this.#d.clientId,
        algorithms: signing?.length ? signing : ['RS256'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
        requiredClaims: ['iat', 'exp', 'jti'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout || (err instanceof TypeError && /fetch failed/.test(err.message))) throw new ServiceUnavailable(`upstream jwks: ${err.message}`);
      throw invalid(`jwt: ${(err as { code?: string }).code ?? (err as Error).name}`);
    }
    // §2.4: jti is a string identifier (bounded here: it becomes a store key).
    if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) throw invalid('jti');
    // §2.6 point 4: a sub, a sid or both.
    const sub = payload.sub;
    const sid = (payload as { sid?: unknown }).sid;
    if (sub === undefined && sid === undefined) throw invalid('neither sub nor sid');
    if ((sub !== undefined && (typeof sub !== 'string' || !sub)) || (sid !== undefined && (typeof sid !== 'string' || !sid || sid.length > 256))) throw invalid('sub or sid malformed');
    // §2.6 point 5: an `events` object with the back-channel logout member, itself a JSON object.
    const events = (payload as { events?: unknown }).events;
    const event = events && typeof events === 'object' && !Array.isArray(events) ? (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT] : undefined;
    if (!event || typeof event !== 'object' || Array.isArray(event)) throw invalid('events');
    // §2.6 point 6: no nonce (so an ID token can never pass as a logout token).
    if ('nonce' in payload) throw invalid('nonce present');
    return {
      issuer: metadata.issuer,
      jti: payload.jti,
      ...(typeof sub === 'string' ? { sub } : {}),
      ...(typeof sid === 'string' ? { sid } : {}),
      exp: payload.exp as number, // required above: jose checked it is a number
    };
  }
}

export function backchannelLogoutRoutes(d: BackchannelLogoutDeps): Router {
  const verifier = new LogoutTokenVerifier(d);
  const router = new Router();
  router.use((_ctx, next) => storeOutageAs503(next));
  router.post(BACKCHANNEL_LOGOUT_PATH, bodyParser({ enableTypes: ['form'] }), async (ctx) => {
    // §2.8: responses are not cached.
    ctx.set('Cache-Control', 'no-store');
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    // §2.5: one `logout_token` form parameter.
    if (typeof body.logout_token !== 'string' || !body.logout_token) throw new HttpError(400, 'invalid_request', 'logout_token is required');
    const target = await verifier.verify(body.logout_token);
    // §2.6 point 7 (optional there, done here): a logout token id is accepted once, remembered as long as it could be.
    const now = Math.floor(Date.now() / 1000);
    const keep = Math.max(LOGOUT_TOKEN_MAX_AGE_SECONDS, target.exp - now) + CLOCK_TOLERANCE_SECONDS;
    if (!(await d.store.claimLogoutToken(`${sidPrefixFor(target.issuer)}.${target.jti}`, keep))) throw invalid('jti replayed');
    // §2.7: with a sid, the sessions of that upstream session; with only a sub, every session of that user there.
    const sessions = target.sid
      ? await d.store.sessionsOf({ upstreamSid: upstreamSessionKey(target.issuer, target.sid) })
      : await d.store.sessionsOf({ accountId: accountIdFor(target.issuer, target.sub!) });
    for (const sid of sessions) {
      // A sid revocation ends the provider session, its grants and every delegation token derived from them.
      await d.revocation.revoke({ kind: 'sid', value: sid, by: 'backchannel_logout', reason: 'upstream logout', ...(ctx.state.requestId ? { requestId: String(ctx.state.requestId) } : {}) });
    }
    d.logger.info({ reqId: ctx.state.requestId, sessions: sessions.length, bySid: Boolean(target.sid) }, 'back-channel logout');
    // §2.8: 200 OK on success.
    ctx.status = 200;
    ctx.body = '';
  });
  return router;
}
