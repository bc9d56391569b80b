// The consent step of the authorization code flow for clients the operator did not configure (onboarded by Client ID
// Metadata Document or Dynamic Client Registration): a server-rendered page naming the client, where it redirects, the
// tool server and the tools; the answer remembered per (user, client, resource) in the ConsentStore, shared by replicas.
import { createHmac, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { ConsentStore } from '../stores/types.js';
import { HttpError } from '../http/errors.js';

/** OpenID scopes a consent can cover besides the tool scopes (configuration.ts `scopes`). */
const OIDC_SCOPES = new Set(['openid', 'profile', 'groups', 'offline_access']);

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface ConsentDeps {
  provider: Provider;
  store: ConsentStore;
  /** The scopes a client may be granted for a resource (the same answer as getResourceServerInfo); [] = none. */
  resourceScopes: (clientId: string, resource: string) => string[];
  /** The resource a request without `resource` gets (oidc-provider's defaultResource for the code flow). */
  defaultResource: string;
  /** Keys the form's CSRF token (HMAC, domain-separated): the cookie secret every replica shares. */
  csrfKey: string;
  /** Seconds after a consent's write within which every token of its grant has expired: the login session's absolute
   * lifetime (refresh chains and delegation tokens die with the session) plus the longest token lifetime, as a margin. */
  grantTokensWithinSeconds: number;
  /** Consents given, remembered or denied (for the log; never sent to the client). */
  onDecision?: (d: { decision: 'allow' | 'remembered' | 'deny'; accountId: string; clientId: string; resources: string[] }) => void;
  now?: () => number;
}

/** What one authorization request asks the user to consent to. */
export interface ConsentRequest {
  accountId: string;
  clientId: string;
  oidcScopes: string[];
  /** Per resource indicator: the tool scopes asked for that the client may get. */
  resources: Array<{ resource: string; scopes: string[] }>;
}

export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const hostOf = (uri: string) => URL.parse(uri)?.host ?? uri;

/** How the page names where the client_id comes from: the document's host (CIMD), or how it was registered. */
export function clientIdHost(clientId: string): string {
  if (clientId.startsWith('https://')) return hostOf(clientId);
  if (clientId.startsWith('dcr_')) return 'dynamically registered';
  return 'registered by the operator';
}

const isLoopbackHost = (hostname: string) => {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
};

/**
 * Whether a redirect delivers the code only to the client that owns `client_id`. A public client
 * (`token_endpoint_auth_method: none`) proves nothing at the token endpoint, so only its redirect can: a claimed https URI
 * on a real host can (RFC 8252 §8.6: "Measures such as claimed "https" scheme redirects MAY be accepted by authorization
 * servers as identity proof"); a loopback redirect (any port, RFC 8252 §7.3), a private-use scheme (§7.1) or plain http
 * cannot, since any program on the user's computer may listen there or claim the scheme. A confidential or
 * private_key_jwt client proves itself when it redeems the code, so the code is of no use to anyone else.
 */
export function clientIdentityAssured(tokenEndpointAuthMethod: string | undefined, redirectUri: string): boolean {
  if (tokenEndpointAuthMethod !== 'none') return true;
  const uri = URL.parse(redirectUri);
  return uri !== null && uri.protocol === 'https:' && !isLoopbackHost(uri.hostname);
}

/** Every registered redirect URI is on this computer: any local program could pose as the client. */
export const onlyLoopbackRedirects = (redirectUris: readonly string[]) =>
  redirectUris.length > 0 && redirectUris.every((u) => LOOPBACK.has(URL.parse(u)?.hostname ?? ''));

export interface ConsentView {
  uid: string;
  csrf: string;
  clientName: string;
  clientId: string;
  redirectUri: string;
  onlyLoopback: boolean;
  request: ConsentRequest;
}

export function consentPage(v: ConsentView): string {
  const e = escapeHtml;
  const resources = v.request.resources
    .map((r) => `<li>Tool server <code>${e(r.resource)}</code>${r.scopes.length ? `, tools:<ul>${r.scopes.map((s) => `<li><code>${e(s)}</code></li>`).join('')}</ul>` : ' (no tools)'}</li>`)
    .join('');
  const offline = v.request.oidcScopes.includes('offline_access') ? '<p>It stays connected (refresh tokens) until you sign out or revoke this.</p>' : '';
  const warning = v.onlyLoopback
    ? `<p role="alert" class="warning"><strong>Warning:</strong> this application only redirects to this computer (localhost). Any program running here could claim to be it: allow only if you just started it yourself.</p>`
    : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>Allow access?</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto}.warning{background:#fff3cd;padding:.5em}</style></head><body>
<h1>Allow <span class="client-name">${e(v.clientName)}</span> to act for you?</h1>
<dl>
<dt>Application</dt><dd class="client-name">${e(v.clientName)}</dd>
<dt>Client ID from</dt><dd class="client-id-host">${e(clientIdHost(v.clientId))}</dd>
<dt>Client ID</dt><dd><code>${e(v.clientId)}</code></dd>
<dt>Sends you back to</dt><dd class="redirect-host">${e(hostOf(v.redirectUri))}</dd>
</dl>
${warning}
<p>It asks to use:</p><ul class="resources">${resources}</ul>
${offline}
<form method="post" action="/interaction/${e(v.uid)}/consent">
<input type="hidden" name="csrf" value="${e(v.csrf)}">
<button name="decision" value="allow">Allow</button> <button name="decision" value="deny">Deny</button>
</form>
</body></html>`;
}

const words = (v: unknown) => (typeof v === 'string' ? v.split(' ').filter(Boolean) : []);

/**
 * The consent page's Content-Security-Policy. CSP Level 3 §6.4.1 form-action restricts where the form may submit, and
 * browsers hold the redirects after the submission to it as well (Chromium 156, seen with MCP Inspector: "Sending form
 * data to '…/consent' violates … form-action 'self'. The request has been blocked."). The answer's redirects end at the
 * client's redirect URI (RFC 6749 §4.1.2 with the code, §4.1.2.1 with `access_denied`), so that URI's origin (or, for
 * a native app's private-use scheme, RFC 8252 §7.1, its scheme) is allowed beside 'self'. oidc-provider checked the URI
 * against the client's registration before the interaction began; only its parsed origin or scheme enters the header.
 */
export function consentPolicy(redirectUri: string): string {
  const uri = URL.parse(redirectUri);
  let target = '';
  if (uri && (uri.protocol === 'https:' || uri.protocol === 'http:')) target = ` ${uri.origin}`;
  else if (uri && /^[a-z][a-z0-9+.-]*:$/i.test(uri.protocol)) target = ` ${uri.protocol}`;
  return `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${target}; frame-ancestors 'none'`;
}

export class Consent {
  readonly #d: ConsentDeps;
  readonly #now: () => number;

  constructor(deps: ConsentDeps) {
    this.#d = deps;
    this.#now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** What the pending authorization request asks for: requested scopes within what the client may get per resource. */
  requestOf(details: Details): ConsentRequest {
    const accountId = details.session?.accountId;
    if (!accountId) throw new HttpError(400, 'invalid_request', 'no login session');
    const clientId = String(details.params.client_id);
    const requested = words(details.params.scope);
    const resourceParam = details.params.resource;
    const indicators = resourceParam === undefined ? [this.#d.defaultResource] : ([] as unknown[]).concat(resourceParam).map(String);
    return {
      accountId,
      clientId,
      oidcScopes: requested.filter((s) => OIDC_SCOPES.has(s)),
      resources: indicators.map((resource) => {
        const allowed = new Set(this.#d.resourceScopes(clientId, resource));
        return { resource, scopes: requested.filter((s) => allowed.has(s)) };
      }),
    };
  }

  /** Binds the form to this interaction and this user (the interaction cookie binds it to this browser). */
  csrfToken(uid: string, accountId: string): string {
    return createHmac('sha256', this.#d.csrfKey).update(`consent\0${uid}\0${accountId}`).digest('base64url');
  }

  /**
   * GET /interaction/:uid at the consent prompt: remembered (not forced, and the client's identity assured by its
   * redirect) → finish at once; else the page.
   */
  async show(ctx: Context, details: Details): Promise<void> {
    const request = this.requestOf(details);
    const client = await this.#d.provider.Client.find(request.clientId);
    if (!client) throw new HttpError(400, 'invalid_request', 'unknown client');
    const redirectUri = String(details.params.redirect_uri ?? '');
    // OpenID Connect Core §3.1.2.1 prompt=consent: "The Authorization Server SHOULD prompt the End-User for consent".
    const forced = words(details.params.prompt).includes('consent');
    // RFC 8252 §8.6: "the request SHOULD be processed as if no previous request had been approved" unless the client's identity can be proven.
    const assured = clientIdentityAssured(client.clientAuthMethod, redirectUri);
    if (!forced && assured && (await this.#remembered(request))) {
      await this.#finish(ctx, details, request, 'remembered');
      return;
    }
    const redirectUris = (client.redirectUris ?? []) as string[];
    ctx.type = 'html';
    // The page is never framed (clickjacking) and loads nothing from anywhere.
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Content-Security-Policy', consentPolicy(redirectUri));
    ctx.body = consentPage({
      uid: details.uid,
      csrf: this.csrfToken(details.uid, request.accountId),
      clientName: String(client.clientName ?? request.clientId),
      clientId: request.clientId,
      redirectUri,
      onlyLoopback: onlyLoopbackRedirects(redirectUris),
      request,
    });
  }

  /** POST /interaction/:uid/consent: allow → grant and remember; deny → access_denied to the client (with `iss`). */
  async answer(ctx: Context): Promise<void> {
    const { provider } = this.#d;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'consent') throw new HttpError(400, 'invalid_request', 'no consent is pending');
    const request = this.requestOf(details);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const expected = Buffer.from(this.csrfToken(details.uid, request.accountId));
    const given = Buffer.from(typeof body.csrf === 'string' ? body.csrf : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpError(400, 'invalid_request', 'the form is invalid or expired');
    if (body.decision === 'deny') {
      this.#d.onDecision?.({ decision: 'deny', accountId: request.accountId, clientId: request.clientId, resources: request.resources.map((r) => r.resource) });
      // RFC 6749 §4.1.2.1 access_denied: "The resource owner or authorization server denied the request"; oidc-provider
      // redirects it to the client with `state` and `iss` (RFC 9207 §2).
      await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user denied the request' }, { mergeWithLastSubmission: true });
      return;
    }
    if (body.decision !== 'allow') throw new HttpError(400, 'invalid_request', 'decision must be allow or deny');
    await this.#finish(ctx, details, request, 'allow');
  }

  /** Every resource has a remembered consent covering every scope asked for it (and the OpenID scopes asked). */
  async #remembered(request: ConsentRequest): Promise<boolean> {
    for (const { resource, scopes } of request.resources) {
      const record = await this.#d.store.find(request.accountId, request.clientId, resource);
      const have = new Set(record?.scopes ?? []);
      if (!record || ![...scopes, ...request.oidcScopes].every((s) => have.has(s))) return false;
    }
    return true;
  }

  async #finish(ctx: Context, details: Details, request: ConsentRequest, decision: 'allow' | 'remembered'): Promise<void> {
    const { provider, store } = this.#d;
    const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const grant = existing ?? new provider.Grant({ accountId: request.accountId, clientId: request.clientId });
    if (request.oidcScopes.length) grant.addOIDCScope(request.oidcScopes.join(' '));
    const missingClaims = (details.prompt.details as { missingOIDCClaims?: string[] }).missingOIDCClaims;
    if (missingClaims) grant.addOIDCClaims(missingClaims);
    for (const { resource, scopes } of request.resources) if (scopes.length) grant.addResourceScope(resource, scopes.join(' '));
    const grantId = await grant.save();
    const at = this.#now();
    // Remembered before the client gets its code: revoking the consent can always find this grant.
    for (const { resource, scopes } of request.resources) {
      // Kept while a token of this grant may live, so revoking the consent ends it (older ids are dropped on write).
      const keepUntil = at + this.#d.grantTokensWithinSeconds;
      await store.remember({ accountId: request.accountId, clientId: request.clientId, resource, scopes: [...scopes, ...request.oidcScopes], grantId, at, keepUntil });
    }
    this.#d.onDecision?.({ decision, accountId: request.accountId, clientId: request.clientId, resources: request.resources.map((r) => r.resource) });
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
}

/** POST /interaction/:uid/consent (the GET is the interaction page itself, interactions.ts). */
export function consentRoutes(consent: Consent): Router {
  const router = new Router();
  router.post('/interaction/:uid/consent', bodyParser({ enableTypes: ['form'], formLimit: '4kb' }), async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    await consent.answer(ctx as unknown as Context);
  });
  return router;
}
