// The gate in front of oidc-provider's Dynamic Client Registration endpoint (RFC 7591): CORS for browser clients,
// a per-IP rate shared by replicas, the cap on stored clients, and the rules every registered client must meet.
import { randomBytes } from 'node:crypto';
import type { Middleware } from 'koa';
import { bodyParser } from '@koa/bodyparser';
import type { OnboardingConfig } from '../config/schema.js';
import type { OnboardingStore } from '../stores/types.js';
import { HttpError } from '../http/errors.js';
import { reachesProviderRoute } from '../http/route_template.js';
import { dropMembers, refusalOf } from './client_rules.js';

/** oidc-provider's default route of the registration endpoint. */
export const REGISTRATION_PATH = '/reg';

type RegistrationConfig = OnboardingConfig['registration'];

export interface RegistrationDeps {
  config: RegistrationConfig;
  store: Pick<OnboardingStore, 'hit' | 'addClient' | 'removeClient'>;
  /** Refusals with their reason, for the log (never sent). */
  onRefused?: (reason: string, ip: string) => void;
}

/** The client_id the gate reserved in the cap before oidc-provider creates the client (its `idFactory` reads it). */
export const reservedClientId = (ctx: { state?: Record<string, unknown> }) => ctx.state?.dcrClientId as string | undefined;

const newClientId = () => `dcr_${randomBytes(16).toString('base64url')}`;

const jsonBody = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb', encoding: 'utf-8' });

export function registrationGate({ config, store, onRefused = () => undefined }: RegistrationDeps): Middleware {
  const anyOrigin = config.corsOrigins.includes('*');
  return async function registration(ctx, next) {
    if (!config.enabled || !reachesProviderRoute(ctx.path, REGISTRATION_PATH)) return next();
    const origin = ctx.get('Origin');
    // Fetch standard (CORS protocol): a browser client such as MCP Inspector may read the answer only when its origin is allowed.
    if (origin && (anyOrigin || config.corsOrigins.includes(origin))) {
      ctx.set('Access-Control-Allow-Origin', anyOrigin ? '*' : origin);
      if (!anyOrigin) ctx.vary('Origin');
      if (ctx.method === 'OPTIONS') {
        ctx.set('Access-Control-Allow-Methods', 'POST');
        ctx.set('Access-Control-Allow-Headers', 'Content-Type, Authorization');
        ctx.set('Access-Control-Max-Age', '3600');
        ctx.status = 204;
        return;
      }
    }
    if (ctx.method !== 'POST') return next();

    // RFC 6585 §4: 429 "indicates that the user has sent too many requests"; "MAY include a Retry-After header".
    const { count, resetSeconds } = await store.hit(`dcr:${ctx.ip}`, 60);
    if (count > config.perIpPerMinute) {
      onRefused('rate_limited', ctx.ip);
      throw new HttpError(429, 'too_many_requests', 'too many client registrations', { headers: { 'Retry-After': String(resetSeconds) }, detail: `ip ${ctx.ip}` });
    }

    if (!ctx.is('application/json')) throw new HttpError(400, 'invalid_request', 'the body must be application/json');
    try {
      await jsonBody(ctx as never, async () => undefined);
    } catch {
      throw new HttpError(400, 'invalid_request', 'the body is not valid JSON');
    }
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'invalid_client_metadata', 'the body must be a JSON object');
    // RFC 7591 §3.2.2: invalid_client_metadata when "the value of one of the client metadata fields is invalid".
    const reason = refusalOf(body);
    if (reason) {
      onRefused(reason, ctx.ip);
      throw new HttpError(400, 'invalid_client_metadata', 'registered clients may only use authorization_code and refresh_token, as none or private_key_jwt clients', { detail: reason });
    }
    // RFC 7591 §2: the server "MAY reject or replace any of the client's requested metadata values": `scope` and
    // `post_logout_redirect_uris` are dropped (client_rules.ts), so the registration response does not name them either.
    dropMembers(body);
    // Clients registered here are public unless they bring keys (RFC 7591 §2 default is client_secret_basic).
    body.token_endpoint_auth_method ??= 'none';

    const clientId = newClientId();
    const expiresAt = Math.floor(Date.now() / 1000) + config.unusedClientTtlSeconds;
    if (!(await store.addClient(clientId, expiresAt, config.maxClients))) {
      onRefused('registry_full', ctx.ip);
      throw new HttpError(503, 'temporarily_unavailable', 'client registration is not available now', { headers: { 'Retry-After': '3600' }, detail: 'maxClients reached' });
    }
    ctx.state.dcrClientId = clientId;
    try {
      await next();
    } finally {
      if (ctx.status !== 201) await store.removeClient(clientId).catch(() => undefined);
    }
  };
}
