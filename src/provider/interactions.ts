// The development login: a page that lists the configured demo users, and automatic consent. Disabled unless configured.
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import type { DemoUser } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import type { Consent } from './consent.js';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function loginPage(uid: string, clientId: string, users: DemoUser[], upstream?: { label: string }): string {
  const options = users
    .map((u) => `<li><button name="username" value="${escapeHtml(u.username)}">${escapeHtml(u.name || u.username)}</button> <small>${escapeHtml(u.groups.join(', '))}</small></li>`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in (development login)</h1>
<p>Client <code>${escapeHtml(clientId)}</code> asks to act for you. Pick a demo user:</p>
<form method="post" action="/interaction/${escapeHtml(uid)}/login"><ul>${options}</ul></form>
${upstream ? `<p><a href="/interaction/${escapeHtml(uid)}/upstream/start">${escapeHtml(upstream.label)}</a></p>` : ''}
</body></html>`;
}

/** The consent page (consent.ts) and which clients skip it: configured ones (the operator registered them) by default. */
export interface InteractionConsent {
  page: Consent;
  automatic: (clientId: string) => boolean;
}

/** Routes for /interaction/:uid. With neither the demo login nor the upstream login they answer 404: there is no way to
 * log in. With the upstream login alone, the login prompt goes straight to it (src/upstream/routes.ts). */
export function interactionRoutes(provider: Provider, demo: { enabled: boolean; users: DemoUser[] }, consent?: InteractionConsent, upstream?: { label: string }): Router {
  const router = new Router();
  const byUsername = new Map(demo.users.map((u) => [u.username, u]));
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    if (!demo.enabled && !upstream) {
      throw new HttpError(404, 'not_found', 'interactive login is disabled');
    }
    await next();
  });

  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name === 'login') {
      if (upstream && !demo.enabled) {
        ctx.status = 303;
        ctx.redirect(`/interaction/${details.uid}/upstream/start`);
        return;
      }
      ctx.type = 'html';
      ctx.body = loginPage(details.uid, String(details.params.client_id), demo.users, upstream);
      return;
    }
    // Clients the operator did not configure (onboarded by CIMD or DCR) get the real consent page (SPEC §13).
    if (consent && !consent.automatic(String(details.params.client_id))) {
      await consent.page.show(ctx, details);
      return;
    }
    // Development login consents automatically to what the client asked, within what the provider allows.
    const { accountId } = details.session ?? {};
    if (!accountId) {
      throw new HttpError(400, 'invalid_request', 'no login session');
    }
    const grant = details.grantId
      ? (await provider.Grant.find(details.grantId))!
      : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  });

  router.post('/interaction/:uid/login', bodyParser({ enableTypes: ['form'] }), async (ctx) => {
    // The demo users exist only while the demo login is on, whatever other login is configured.
    if (!demo.enabled) throw new HttpError(404, 'not_found', 'interactive login is disabled');
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const username = (ctx.request.body as Record<string, unknown> | undefined)?.username;
    const user = typeof username === 'string' ? byUsername.get(username) : undefined;
    if (details.prompt.name !== 'login' || !user) {
      throw new HttpError(400, 'invalid_request', 'unknown user');
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  });
  return router;
}
