// Error responses of the authorization endpoint for clients the operator did not configure (onboarded by Client ID
// Metadata Document or Dynamic Client Registration): a page that names the destination, never an automatic redirect.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { consentPolicy, escapeHtml } from './consent.js';

/** The routes whose errors oidc-provider redirects to the client (lib/shared/authorization_error_handler.js). */
const AUTHORIZATION_ROUTES: ReadonlySet<string> = new Set(['authorization', 'resume']);

/** URL schemes a page must never link to (oidc-provider refuses them as redirect URIs already). */
const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'file:', 'about:']);

/** How the user may deliver the error to the client: the exact redirect, the exact form post, or not at all. */
export type Continuation = { method: 'get'; url: string } | { method: 'post'; action: string; fields: Record<string, string> } | undefined;

export interface ErrorRedirectOptions {
  provider: Provider;
  /** Clients in the configuration file: the operator's own, their error redirects stay automatic. */
  trustedClients: ReadonlySet<string>;
}

interface OidcView {
  route?: string;
  client?: { clientId: string };
  params?: Record<string, unknown>;
  body?: Record<string, unknown>;
}

const safe = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

/** Where the answer would go, as the page names it: `host[:port]`, or a native app's private-use scheme. */
export function destinationOf(uri: string): string {
  const parsed = URL.parse(uri);
  if (!parsed) return uri;
  return parsed.host || parsed.protocol;
}

/**
 * The error response oidc-provider sends (lib/helpers/err_out.js, plus `iss`): the exposed error, or a fixed
 * `server_error` for anything it does not expose. Used for form_post, whose page cannot be read back reliably.
 */
export function errorResponse(err: unknown, state: string | undefined, issuer: string): Record<string, string> {
  const e = (err ?? {}) as { expose?: boolean; message?: unknown; error_description?: unknown; scope?: unknown };
  const out: Record<string, unknown> = e.expose
    ? { error: e.message, error_description: e.error_description, scope: e.scope, state }
    : { error: 'server_error', error_description: 'oops! something went wrong', state };
  // RFC 9207 §2: the issuer identifier goes with every authorization response, error responses included.
  out.iss = issuer;
  return Object.fromEntries(Object.entries(out).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/** The page: what happened, where the answer would go, and a plain link or button to go there (no script). */
export function errorRedirectPage(v: { error: string; destination: string; next: Continuation }): string {
  const e = escapeHtml;
  const label = `Continue to ${e(v.destination)}`;
  let action = '<p>This answer cannot be delivered from this page. Close it and return to the application.</p>';
  if (v.next?.method === 'get') {
    action = `<p><a class="continue" href="${e(v.next.url)}" rel="noreferrer">${label}</a></p>`;
  } else if (v.next?.method === 'post') {
    const fields = Object.entries(v.next.fields).map(([name, value]) => `<input type="hidden" name="${e(name)}" value="${e(value)}">`).join('');
    action = `<form method="post" action="${e(v.next.action)}">${fields}<button class="continue">${label}</button></form>`;
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>Request not completed</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto}</style></head><body>
<h1>The request could not be completed</h1>
<p>Error: <code class="error">${e(v.error)}</code></p>
<p>The application that sent you here receives its answer at <strong class="destination">${e(v.destination)}</strong>, a site this service does not vouch for.</p>
<p>Continue only if you trust that site; otherwise close this page.</p>
${action}
</body></html>`;
}

/** The redirect oidc-provider made (query, fragment, and JARM's query.jwt/fragment.jwt), or the form it rendered. */
function continuationOf(location: string | undefined, responseMode: string | undefined, redirectUri: string | undefined, payload: () => Record<string, string>): Continuation {
  const target = location ?? (responseMode === 'form_post' ? redirectUri : undefined);
  const scheme = target === undefined ? undefined : URL.parse(target)?.protocol;
  if (target === undefined || scheme === undefined || FORBIDDEN_SCHEMES.has(scheme)) return undefined;
  return location !== undefined ? { method: 'get', url: location } : { method: 'post', action: target, fields: payload() };
}

/**
 * Holds the error responses of `/auth` and its resume for clients outside `trustedClients`: 400 and a page that says
 * the request could not be completed, names the destination host, and offers the exact redirect (or form post)
 * oidc-provider would have made, so a client still gets its `error` when the user goes on. Every error: before login
 * (a malformed request, `prompt=none`) and after it (the user's Deny on the consent page, a refused upstream login).
 * Successful responses (a code) are untouched. Errors oidc-provider renders itself (no client, an unregistered
 * redirect URI) never redirect: they are untouched too.
 */
export function untrustedErrorRedirects({ provider, trustedClients }: ErrorRedirectOptions): Middleware {
  // The outcome oidc-provider reached for a request (its authorization error handler emits the error just before it
  // responds; a success is emitted just before the code response), by request context.
  const errors = new WeakMap<object, unknown>();
  provider.on('authorization.error', (ctx, err) => errors.set(ctx, err));
  provider.on('server_error', (ctx, err) => {
    if (AUTHORIZATION_ROUTES.has((ctx as { oidc?: OidcView }).oidc?.route ?? '')) errors.set(ctx, err);
  });
  provider.on('authorization.success', (ctx) => errors.delete(ctx));

  return async (ctx, next) => {
    await next();
    if (!errors.has(ctx)) return;
    const err = errors.get(ctx);
    const oidc = (ctx as { oidc?: OidcView }).oidc;
    const client = oidc?.client;
    if (!oidc?.route || !AUTHORIZATION_ROUTES.has(oidc.route) || !client || trustedClients.has(client.clientId)) return;
    const location = ctx.status === 303 ? ctx.response.get('Location') || undefined : undefined;
    // Only what went to the client: a redirect, or a response mode's page; oidc-provider's own error (JSON) stays.
    if (location === undefined && !ctx.response.is('html')) return;

    const params = oidc.params ?? (ctx.method === 'POST' ? oidc.body : (ctx.query as Record<string, unknown>)) ?? {};
    const redirectUri = safe(params.redirect_uri);
    // RFC 9700 §4.11.2: "The authorization server SHOULD only automatically redirect the user agent if it trusts the redirection URI. If the URI is not trusted, the authorization server MAY inform the user and rely on the user to make the correct decision."
    // A Deny too: "If the user notices an issue with the request and declines the request, the authorization server still redirects the user agent to the phishing site."
    const continuation = continuationOf(location, safe(params.response_mode), redirectUri, () => errorResponse(err, safe(params.state), provider.issuer));
    const destination = destinationOf(continuation?.method === 'get' ? continuation.url : (redirectUri ?? ''));
    const error = errorResponse(err, undefined, provider.issuer).error ?? 'server_error';
    ctx.remove('Location');
    ctx.type = 'html';
    ctx.body = errorRedirectPage({ error, destination, next: continuation });
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Security-Policy', consentPolicy(continuation?.method === 'post' ? continuation.action : ''));
    ctx.set('X-Frame-Options', 'DENY');
    // The page's URL (the authorization request) stays here when the user follows the link or posts the form.
    ctx.set('Referrer-Policy', 'no-referrer');
  };
}
