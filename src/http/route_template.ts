// The route template a request matched (`/admin/tokens/:jti/revoke`), never its raw path: the label for logs, audit and metrics.
// A raw path is caller input and may carry a token pasted into a path parameter; a template is one of a fixed set.
import type { Context } from 'koa';

/** What a request that matched no route is labelled as: a constant, so no part of an unknown path is ever recorded. */
export const UNMATCHED_ROUTE = 'unmatched';

interface Routed {
  /** Set by @koa/router and by oidc-provider's router to the matched layer's path (its template, prefix included). */
  _matchedRoute?: unknown;
}

/** The matched route's template, or `unmatched`. */
export function routeTemplate(ctx: Pick<Context, 'path'>): string {
  const template = (ctx as Routed)._matchedRoute;
  return typeof template === 'string' ? template : UNMATCHED_ROUTE;
}

/**
 * Whether a request path reaches oidc-provider's static route `route`. Its router compares paths ASCII
 * case-insensitively and also takes the path with one trailing slash (lib/helpers/router.js, `match`), so `/TOKEN` and
 * `/token/` are its token endpoint: a middleware of ours in front of a provider route must match it the same way, or a
 * caller walks around it by spelling the path differently.
 */
export function reachesProviderRoute(path: string, route: string): boolean {
  const bare = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return bare.length === route.length && /^[\x21-\x7e]*$/.test(bare) && bare.toLowerCase() === route.toLowerCase();
}

/** For middleware that answers a fixed path itself (no router involved): records that fixed path as the template. */
export function markRoute(ctx: Pick<Context, 'path'>, template: string): void {
  (ctx as Routed)._matchedRoute = template;
}
