// The browser side of the upstream login: start (a fresh authorization request bound to the interaction), the fixed
// callback (back to the interaction's own path, whose cookie it needs), the finish (the code exchanged, the account
// stored, the login handed to oidc-provider), and the link of our session to the upstream session once it exists.
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { HttpError } from '../http/errors.js';
import { ServiceUnavailable } from '../provider/errors.js';
import { routeTemplate } from '../http/route_template.js';
import { storeOutageAs503 } from './account.js';
import type { UpstreamLoginStore } from '../stores/types.js';
import { upstreamSessionKey } from './account.js';
import { UPSTREAM_CALLBACK_PATH, UpstreamLoginFailed, UpstreamUnavailable, type UpstreamClient, type UpstreamReauthentication } from './client.js';

export interface UpstreamLoginDeps {
  provider: Provider;
  client: UpstreamClient;
  store: UpstreamLoginStore;
  /** Pending records live as long as an interaction (oidc-provider's Interaction TTL). */
  interactionTtlSeconds: number;
  /** Session links live as long as the login session; accounts that long after the interaction could still resume. */
  sessionTtlSeconds: number;
  logger: Logger;
}

/** oidc-provider's interaction uids (nanoid): the only thing a callback `state` may send the browser to. */
const UID = /^[\w-]{1,64}$/;

const failed = (detail: string) => new HttpError(400, 'invalid_request', 'upstream login failed', { detail });

/** Clock skew allowed between us and the upstream provider on `auth_time` (openid-client's default for ID token times). */
const AUTH_TIME_TOLERANCE_SECONDS = 30;

/** What the client's authorization request asks of the authentication; oidc-provider already made max_age=0 prompt=login. */
function reauthenticationOf(params: Record<string, unknown>): UpstreamReauthentication {
  const prompts = typeof params.prompt === 'string' ? params.prompt.split(' ') : [];
  const maxAge = params.max_age === undefined ? undefined : Number(params.max_age);
  return { login: prompts.includes('login'), ...(maxAge !== undefined && Number.isSafeInteger(maxAge) && maxAge >= 0 ? { maxAge } : {}) };
}

async function upstream<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof UpstreamUnavailable) throw new ServiceUnavailable(`upstream: ${err.message}`);
    throw err;
  }
}

export function upstreamLoginRoutes(d: UpstreamLoginDeps): Router {
  const router = new Router();
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await storeOutageAs503(next);
  });

  router.get('/interaction/:uid/upstream/start', async (ctx) => {
    // interactionDetails needs the interaction's cookie: only the browser that began this authorization starts its login.
    const details = await d.provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid || details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'no login to start');
    const { url, checks } = await upstream(() => d.client.authorizationRequest(details.uid, reauthenticationOf(details.params)));
    await d.store.putAuthorization(details.uid, checks, d.interactionTtlSeconds);
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  // Our redirect URI is fixed, while the interaction cookie is scoped to /interaction/<uid>: the state names the uid.
  router.get(UPSTREAM_CALLBACK_PATH, async (ctx) => {
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    const uid = state.slice(0, state.indexOf('.'));
    // RFC 6749 §10.12: state binds the response to the request; the check against the stored value happens at the finish.
    if (!UID.test(uid)) throw failed('callback without a usable state');
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}/upstream?${ctx.querystring}`);
  });

  router.get('/interaction/:uid/upstream', async (ctx) => {
    const details = await d.provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid || details.prompt.name !== 'login') throw failed('interaction is not at its login prompt');
    // Taken once: a replayed callback finds nothing.
    const checks = await d.store.takeAuthorization(details.uid);
    if (!checks) throw failed('no pending upstream authorization for this interaction');
    let result;
    try {
      result = await upstream(() => d.client.complete(ctx.querystring, checks));
    } catch (err) {
      if (!(err instanceof UpstreamLoginFailed)) throw err;
      if (err.upstreamError === 'access_denied') {
        // The user refused upstream: the client gets access_denied (RFC 6749 §4.1.2.1), through oidc-provider.
        await d.provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'upstream login refused' }, { mergeWithLastSubmission: false });
        return;
      }
      throw failed(err.message);
    }
    const { account, sid, authTime } = result;
    const now = Math.floor(Date.now() / 1000);
    const { maxAge } = reauthenticationOf(details.params);
    // OpenID Connect Core §3.1.2.1: "If the elapsed time is greater than this value, the OP MUST attempt to actively
    // re-authenticate the End-User"; an upstream login older than max_age (or without the auth_time it then MUST carry)
    // is no re-authentication, so the client gets login_required (§3.1.2.6), through oidc-provider.
    if (maxAge !== undefined && (authTime === undefined || now - authTime > maxAge + AUTH_TIME_TOLERANCE_SECONDS)) {
      d.logger.info({ reqId: ctx.state.requestId, accountId: account.id, authTime, maxAge }, 'upstream login older than max_age');
      await d.provider.interactionFinished(ctx.req, ctx.res, { error: 'login_required', error_description: 'authentication is older than max_age' }, { mergeWithLastSubmission: false });
      return;
    }
    // The account must outlive every session this login starts: a session is saved (with the session TTL) when the
    // interaction resumes, at most an interaction TTL from now.
    await d.store.putAccount(account, d.sessionTtlSeconds + d.interactionTtlSeconds);
    await d.store.putLogin(details.uid, { accountId: account.id, ...(sid ? { upstreamSid: upstreamSessionKey(account.issuer, sid) } : {}) }, d.interactionTtlSeconds);
    d.logger.info({ reqId: ctx.state.requestId, accountId: account.id, upstreamSession: Boolean(sid) }, 'upstream login');
    // The session's login time is this login's (oidc-provider's default `ts`: now), not the provider's `auth_time`: it is
    // what user and agent revocations compare their cutoff with ("a later login starts afresh"), and a login here after
    // a cutoff must count as later even when the company's provider answered from an older single sign-on session
    // (whose auth_time the max_age check above has already judged). Tokens carry it as `auth_time`, as a broker's do.
    await d.provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: account.id, amr: ['ext'] } }, { mergeWithLastSubmission: false });
  });
  return router;
}

/**
 * After oidc-provider resumed an authorization (`/auth/<uid>`) whose login came from upstream: our session uid exists
 * now, so it is linked to the upstream session and account (for back-channel logout) before the response leaves.
 * The pending login is taken only by the pass that applied it to the session: when another account is logged in in
 * this browser, oidc-provider first answers a logout confirmation (the login not applied) and the browser comes back
 * to the same /auth/<uid>, where the new session is created and must be linked.
 * Fail closed: without the link an upstream logout could not reach this session, so a store failure answers 503, and
 * the session must not live on unlinked: it is ended with its grants, and the error answer carries none of
 * oidc-provider's redirect and cookies (errorRenderer drops them).
 */
export function upstreamSessionLinks(store: UpstreamLoginStore, sessionTtlSeconds: number, endSession: (sessionUid: string) => Promise<unknown>): Middleware {
  return async (ctx, next) => {
    await next();
    // The route oidc-provider ran (its router also takes `/AUTH/<uid>` and a trailing slash), and the uid it read.
    if (routeTemplate(ctx) !== '/auth/:uid') return;
    const uid = String((ctx.params as { uid?: unknown } | undefined)?.uid ?? '');
    if (!uid) return;
    const oidc = (ctx as unknown as { oidc?: { session?: { uid?: string; accountId?: string; exp?: number }; result?: { login?: { accountId?: string } } } }).oidc;
    const session = oidc?.session;
    if (!session?.uid || !session.accountId) return;
    // oidc-provider sets the interaction result only once it logged its account into the session (resume.js).
    if (oidc?.result?.login?.accountId !== session.accountId) return;
    try {
      const login = await store.takeLogin(uid);
      if (!login || login.accountId !== session.accountId) return;
      const expiresAt = session.exp ?? Math.floor(Date.now() / 1000) + sessionTtlSeconds;
      await store.linkSession({ accountId: login.accountId, ...(login.upstreamSid ? { upstreamSid: login.upstreamSid } : {}), sessionUid: session.uid }, expiresAt);
    } catch (err) {
      const ended = await endSession(session.uid).then(
        () => 'ended',
        (endErr: unknown) => `not ended: ${endErr instanceof Error ? endErr.message : String(endErr)}`,
      );
      throw new ServiceUnavailable(`upstream session link: ${err instanceof Error ? err.message : String(err)}; session ${ended}`);
    }
  };
}
