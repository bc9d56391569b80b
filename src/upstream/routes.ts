// The browser side of the upstream login: start (a fresh authorization request bound to the interaction), the fixed
// callback (back to the interaction's own path, whose cookie it needs), the finish (the code exchanged, the account
// stored, the login handed to oidc-provider), and the link of our session to the upstream session once it exists.
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { HttpError } from '../http/errors.js';
import { ServiceUnavailable } from '../provider/errors.js';
import { storeOutageAs503 } from './account.js';
import type { UpstreamLoginStore } from '../stores/types.js';
import { upstreamSessionKey } from './account.js';
import { UPSTREAM_CALLBACK_PATH, UpstreamLoginFailed, UpstreamUnavailable, type UpstreamClient } from './client.js';

export interface UpstreamLoginDeps {
  provider: Provider;
  client: UpstreamClient;
  store: UpstreamLoginStore;
  /** Pending records live as long as an interaction (oidc-provider's Interaction TTL). */
  interactionTtlSeconds: number;
  /** Accounts and session links live as long as a login session. */
  sessionTtlSeconds: number;
  logger: Logger;
}

/** oidc-provider's interaction uids (nanoid): the only thing a callback `state` may send the browser to. */
const UID = /^[\w-]{1,64}$/;

const failed = (detail: string) => new HttpError(400, 'invalid_request', 'upstream login failed', { detail });

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
    const { url, checks } = await upstream(() => d.client.authorizationRequest(details.uid));
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
    const { account, sid } = result;
    await d.store.putAccount(account, d.sessionTtlSeconds);
    await d.store.putLogin(details.uid, { accountId: account.id, ...(sid ? { upstreamSid: upstreamSessionKey(account.issuer, sid) } : {}) }, d.interactionTtlSeconds);
    d.logger.info({ reqId: ctx.state.requestId, accountId: account.id, upstreamSession: Boolean(sid) }, 'upstream login');
    await d.provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: account.id, amr: ['ext'] } }, { mergeWithLastSubmission: false });
  });
  return router;
}

/**
 * After oidc-provider resumed an authorization (`/auth/<uid>`) whose login came from upstream: our session uid exists
 * now, so it is linked to the upstream session and account (for back-channel logout) before the response leaves.
 * Fail closed: without the link an upstream logout could not reach this session, so a store failure answers 503.
 */
export function upstreamSessionLinks(store: UpstreamLoginStore, sessionTtlSeconds: number): Middleware {
  return async (ctx, next) => {
    await next();
    const uid = /^\/auth\/([\w-]{1,64})$/.exec(ctx.path)?.[1];
    if (!uid) return;
    const session = (ctx as unknown as { oidc?: { session?: { uid?: string; accountId?: string; exp?: number } } }).oidc?.session;
    if (!session?.uid || !session.accountId) return;
    try {
      const login = await store.takeLogin(uid);
      if (!login || login.accountId !== session.accountId) return;
      const expiresAt = session.exp ?? Math.floor(Date.now() / 1000) + sessionTtlSeconds;
      await store.linkSession({ accountId: login.accountId, ...(login.upstreamSid ? { upstreamSid: login.upstreamSid } : {}), sessionUid: session.uid }, expiresAt);
    } catch (err) {
      throw new ServiceUnavailable(`upstream session link: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
}
