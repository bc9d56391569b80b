// The oidc-provider configuration: clients, features, TTLs, adapter, accounts. Built from narrow slices of our config.
import { errors, interactionPolicy, type Client, type Configuration, type ClientMetadata, type JWK, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { ClientConfig, Config, DemoUser, ToolServerConfig } from '../config/schema.js';
import { TOKEN_EXCHANGE_GRANT } from '../grants/token_exchange/params.js';
import { CIMD_DRAFT, type CimdHooks } from '../onboarding/cimd.js';
import { reservedClientId } from '../onboarding/registration.js';
import type { UpstreamAccount } from '../stores/types.js';
import { clientIdentityAssured } from './consent.js';

/** Scopes of tokens for the service's own APIs (client_credentials, resource `${issuer}/admin`). */
export const ADMIN_SCOPES = ['admin', 'revocation'];

/** The resource indicator (and audience) of admin tokens: the admin API's own URL. */
export const adminResourceOf = (issuer: string) => `${issuer}/admin`;

export interface ProviderDeps {
  config: Pick<Config, 'issuer' | 'clients' | 'toolServers' | 'userTokens' | 'demoLogin' | 'refreshTokens'>;
  /** The scopes the delegation policy could grant a client for a tool server (authorization code flow); none = invalid_target. */
  delegationScopes: (clientId: string, toolServer: ToolServerConfig) => string[];
  /** Client secrets resolved from env or files, by client_id. */
  clientSecrets: Map<string, string>;
  privateJwks: { keys: JWK[] };
  cookieKeys: string[];
  adapter: NonNullable<Configuration['adapter']>;
  /** RFC 9449 for the built-in grants (authorization code, client_credentials); the exchange grant applies its own. */
  dpop: { algorithms: string[]; requireNonce: boolean; nonceSecret: Buffer };
  /** Client onboarding (docs/onboarding.md): Client ID Metadata Documents and Dynamic Client Registration; absent = both off. */
  onboarding?: ProviderOnboarding;
  /** Accounts of users who logged in through the upstream provider, by account id (issue 12 item 6); absent = none. */
  upstreamAccounts?: (accountId: string) => Promise<UpstreamAccount | undefined>;
}

export interface ProviderOnboarding {
  cimd?: { hooks: CimdHooks; cacheSeconds: { min: number; max: number }; maxDocumentBytes: number };
  registration: boolean;
}

/** Static client metadata for oidc-provider. Every client may reach the exchange grant here; the grant itself refuses
 * clients the config does not allow, so the answer is RFC 8693's `unauthorized_client`, not a generic one.
 * The client's `scope` is not passed on: oidc-provider checks that metadata against its OpenID scopes only (and refuses
 * the client for any other), so the resource scopes it allows are enforced in `getResourceServerInfo` instead. */
function clientMetadata(client: ClientConfig, secret: string | undefined): ClientMetadata {
  const grantTypes = new Set<string>(client.grant_types.filter((g) => g !== TOKEN_EXCHANGE_GRANT));
  grantTypes.add(TOKEN_EXCHANGE_GRANT);
  const usesCode = grantTypes.has('authorization_code');
  return {
    client_id: client.client_id,
    ...(secret !== undefined ? { client_secret: secret } : {}),
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    grant_types: [...grantTypes],
    response_types: usesCode ? ['code'] : [],
    redirect_uris: client.redirect_uris,
    ...(client.jwks ? { jwks: client.jwks as { keys: JWK[] } } : {}),
    // RFC 9449 §5.2: the client's tokens must all be DPoP-bound (oidc-provider enforces it in its own grants).
    ...(client.dpop_bound_access_tokens ? { dpop_bound_access_tokens: true } : {}),
  };
}

/** The demo users, and the users of the upstream login (their stored account), as oidc-provider accounts. */
export function findAccountIn(users: DemoUser[], upstreamAccounts?: ProviderDeps['upstreamAccounts']): NonNullable<Configuration['findAccount']> {
  const bySub = new Map(users.map((u) => [u.sub, u]));
  return async (_ctx, sub) => {
    const user = bySub.get(sub);
    if (user) return { accountId: user.sub, claims: () => ({ sub: user.sub, name: user.name, groups: user.groups }) };
    const upstream = await upstreamAccounts?.(sub);
    if (!upstream) return undefined;
    return { accountId: upstream.id, claims: () => ({ ...upstream.claims, sub: upstream.id, groups: upstream.groups }) };
  };
}

/**
 * oidc-provider's interaction policy, with two more checks. Login: a session whose account can no longer be found (an
 * upstream account record that is gone) logs in again, where oidc-provider would otherwise fail the request (500).
 * Consent: a public client the operator did not configure, redirecting where its identity cannot be assured (loopback,
 * private-use scheme, plain http: consent.ts `clientIdentityAssured`), always reaches the consent page, even when this
 * session's grant already covers the request; the page then ignores the remembered consent too. Configured clients
 * are the operator's own: their consent stays automatic (interactions.ts).
 */
export function interactionPolicyWithChecks(configuredClients: ReadonlySet<string>): interactionPolicy.Prompt[] {
  const { Check } = interactionPolicy;
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new Check('account_not_found', 'End-User authentication is required', 'login_required', (ctx) =>
      Boolean(ctx.oidc.session?.accountId) && ctx.oidc.account === undefined ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  // RFC 8252 §8.6: "the authorization server SHOULD NOT process authorization requests automatically without user consent or interaction, except when the identity of the client can be assured".
  policy.get('consent')!.checks.add(
    new Check('client_identity_not_assured', 'the client requires End-User consent on every authorization', 'consent_required', (ctx) => {
      const { client, params, result } = ctx.oidc;
      if (!client || configuredClients.has(client.clientId) || result?.consent) return Check.NO_NEED_TO_PROMPT;
      return clientIdentityAssured(client.clientAuthMethod, String(params?.redirect_uri ?? '')) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}

/**
 * A login session lives `sessionTtlSeconds` from its first save, however often it is used: oidc-provider saves the
 * session on every request with this TTL, so a fixed number would slide it past the upstream session link and account
 * record, which are written once, at login. A new login over an existing session (same account) keeps its end; another
 * account gets a new session (oidc-provider ends the old one first).
 */
export function absoluteSessionTtl(sessionTtlSeconds: number): (ctx: unknown, session: { exp?: number }) => number {
  return (_ctx, session) => (typeof session.exp === 'number' ? Math.max(1, session.exp - Math.floor(Date.now() / 1000)) : sessionTtlSeconds);
}

/** The refresh token a refresh request presents, as oidc-provider's RefreshToken model shows it. */
interface PresentedRefreshToken {
  resource?: string | string[];
  readonly resourceIndicators: Set<string>;
}

export interface ResourcePolicy {
  defaultResource: (ctx: KoaContextWithOIDC, client: Client, oneOf?: readonly string[]) => string | readonly string[] | undefined;
  getResourceServerInfo: (ctx: KoaContextWithOIDC, resourceIndicator: string, client: Client) => ResourceServer;
}

/**
 * `rotateRefreshToken`: every use rotates (SPEC §13, OAuth 2.1 §4.3.1), once the request's target is known to be good.
 * oidc-provider resolves and checks a refresh request's `resource` only after it consumed the presented token and saved
 * its successor (lib/actions/grants/refresh_token.js), so a request refused there burns the chain: the successor never
 * reaches the client, whose next use of the presented token looks like a reuse and ends the grant. This resolves the
 * target as oidc-provider will (lib/helpers/resolve_resource.js, granted resource used when none is asked) and asks the
 * same resource policy first, so the refusal comes before anything is consumed.
 */
export function rotateAfterTargetCheck(policy: ResourcePolicy): (ctx: KoaContextWithOIDC) => Promise<boolean> {
  return async (ctx) => {
    const token = ctx.oidc.entities.RefreshToken as PresentedRefreshToken | undefined;
    const client = ctx.oidc.client;
    if (!token || !client) return true;
    const requested = ctx.oidc.params?.resource as string | string[] | undefined;
    let resource: string | readonly string[] | undefined = requested || (Array.isArray(token.resource) && token.resource.length === 0 ? undefined : token.resource);
    if (Array.isArray(resource)) resource = policy.defaultResource(ctx, client, resource);
    if (Array.isArray(resource)) throw new errors.InvalidTarget('only a single resource indicator value must be requested/resolved during Access Token Request');
    if (typeof resource !== 'string' || resource === '') return true;
    // RFC 8707 §2: invalid_target, "The requested resource is invalid, missing, unknown, or malformed."
    if (!token.resourceIndicators.has(resource)) throw new errors.InvalidTarget();
    // Throws invalid_target too for a target the policy no longer allows this client.
    policy.getResourceServerInfo(ctx, resource, client);
    return true;
  };
}

export function providerConfiguration(deps: ProviderDeps): Configuration {
  const { config } = deps;
  const userScopes = [...new Set(config.toolServers.flatMap((t) => t.scopes))].join(' ');
  const toolServers = new Map(config.toolServers.map((t) => [t.resource, t]));
  const selfResource = config.issuer;
  const signingAlg = String(deps.privateJwks.keys[0]?.alg ?? 'ES256');
  const adminResource = adminResourceOf(config.issuer);
  // The scopes each client may request for itself (client_credentials); none unless configured.
  const clientScopes = new Map(config.clients.map((c) => [c.client_id, new Set((c.scope ?? '').split(' ').filter(Boolean))]));
  const allowedFor = (clientId: string, scopes: string[]) => scopes.filter((s) => clientScopes.get(clientId)?.has(s)).join(' ');

  // RFC 8707: which resource a token is for, and what it may hold there; oidc-provider and the refresh check ask it.
  const resources: ResourcePolicy = {
    // Users' tokens are issued for this service itself: the only place they are meant to be presented is the exchange.
    defaultResource: (ctx) => (ctx.oidc.params?.grant_type === 'client_credentials' ? adminResource : selfResource),
    getResourceServerInfo: (ctx, resourceIndicator, client) => {
      if (resourceIndicator === selfResource) {
        return {
          scope: userScopes,
          audience: selfResource,
          accessTokenFormat: 'opaque',
          accessTokenTTL: config.userTokens.accessTokenTtlSeconds,
        };
      }
      const tool = toolServers.get(resourceIndicator);
      if (tool && ctx.oidc.params?.grant_type !== 'client_credentials') {
        // RFC 8707 at /auth and /token (SPEC §13): a user's delegation to the client, as far as the policy could allow
        // it. The opaque token is swapped for a delegation token after the policy decided (grants/authorization_code).
        const scope = deps.delegationScopes(client.clientId, tool).join(' ');
        if (!scope) throw new errors.InvalidTarget('the client may not obtain tokens for this tool server');
        return { scope, audience: tool.resource, accessTokenFormat: 'opaque', accessTokenTTL: tool.maxTtlSeconds };
      }
      // client_credentials tokens for a tool server: only the scopes the client registered, as a JWT; none, no token.
      const toolScope = tool ? allowedFor(client.clientId, tool.scopes) : '';
      if (tool && toolScope) {
        return {
          scope: toolScope,
          audience: tool.resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: tool.maxTtlSeconds,
          jwt: { sign: { alg: signingAlg as 'ES256' } },
        };
      }
      if (resourceIndicator === adminResource) {
        // Only the admin scopes the client registered: a client_credentials client is not an admin by default.
        return { scope: allowedFor(client.clientId, ADMIN_SCOPES), audience: adminResource, accessTokenFormat: 'opaque', accessTokenTTL: 300 };
      }
      throw new errors.InvalidTarget();
    },
  };

  return {
    adapter: deps.adapter,
    // ID tokens and client_credentials JWTs are signed with the same current key as delegation tokens.
    clientDefaults: { id_token_signed_response_alg: signingAlg as 'ES256' },
    clients: config.clients.map((c) => clientMetadata(c, deps.clientSecrets.get(c.client_id))),
    jwks: deps.privateJwks,
    cookies: { keys: deps.cookieKeys },
    findAccount: findAccountIn(config.demoLogin.users, deps.upstreamAccounts),
    claims: { openid: ['sub'], profile: ['name'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'groups', ...(config.refreshTokens.enabled ? ['offline_access'] : [])],
    // SPEC §13 / OAuth 2.1 §4.3.1: refresh tokens rotate on every use; a reused one revokes the grant (oidc-provider).
    rotateRefreshToken: rotateAfterTargetCheck(resources),
    issueRefreshToken: (_ctx, client, source) => config.refreshTokens.enabled && client.grantTypeAllowed('refresh_token') && source.scopes.has('offline_access'),
    // Every token dies with the login session, offline_access included: a refresh never outlives the session.
    expiresWithSession: () => true,
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: interactionPolicyWithChecks(new Set(config.clients.map((c) => c.client_id))) },
    // RFC 8414 §2 dpop_signing_alg_values_supported: the same list the exchange grant's proof check accepts.
    enabledJWA: { dPoPSigningAlgValues: deps.dpop.algorithms as never },
    features: {
      devInteractions: { enabled: false },
      // RFC 9449: a login (authorization code + PKCE) or client_credentials request with a DPoP proof gets a bound token;
      // replayed proofs are refused through the adapter's ReplayDetection records; nonces per dpop.requireNonce (§8).
      dPoP: { enabled: true, nonceSecret: deps.dpop.nonceSecret, requireNonce: () => deps.dpop.requireNonce, allowReplay: false },
      introspection: {
        enabled: true,
        // RFC 7662 §2.2 / SPEC §6: a token "this caller may not see" is `{"active":false}`: only the client it was issued to
        // sees its own tokens (oidc-provider's default lets any confidential client read any token).
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId,
      } as never,
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the revocation request";
        // a confidential caller is told no, a public one gets the usual 200 without effect (oidc-provider's default, stated).
        allowedPolicy: async (_ctx: unknown, client: { clientId: string; clientAuthMethod: string }, token: { clientId?: string }) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      } as never,
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: resources.defaultResource,
        useGrantedResource: () => true,
        getResourceServerInfo: resources.getResourceServerInfo,
      },
      rpInitiatedLogout: { enabled: true },
      // RFC 9126 pushed authorization requests are on by default in oidc-provider; off here: the login, consent and CIMD
      // flows are built and tested on the plain authorization endpoint only, and an untested way in is not shipped.
      pushedAuthorizationRequests: { enabled: false },
      // draft-ietf-oauth-client-id-metadata-document-02 (MCP 2025-11-25 "SHOULD"); experimental in oidc-provider 9, pinned
      // to the draft it implements. Host rules, rate and client rules live in onboarding/cimd.ts.
      clientIdMetadataDocument: deps.onboarding?.cimd
        ? {
            enabled: true,
            ack: CIMD_DRAFT,
            allowFetch: deps.onboarding.cimd.hooks.allowFetch,
            allowClient: deps.onboarding.cimd.hooks.allowClient,
            cacheDuration: deps.onboarding.cimd.cacheSeconds,
          }
        : { enabled: false },
      // RFC 7591 open registration, only when the operator enables it; the gate in onboarding/registration.ts runs first
      // and reserves the client_id in the cap of stored clients.
      registration: deps.onboarding?.registration
        ? { enabled: true, initialAccessToken: false, issueRegistrationAccessToken: false, idFactory: (ctx) => reservedClientId(ctx as never) ?? `dcr_${crypto.randomUUID()}` }
        : { enabled: false },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.userTokens.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
      IdToken: 3600,
      Interaction: 600,
      Session: absoluteSessionTtl(config.userTokens.sessionTtlSeconds),
      Grant: config.userTokens.sessionTtlSeconds,
      // Rotation keeps the chain's first expiry; the session bounds it too (expiresWithSession).
      RefreshToken: (ctx) =>
        (ctx?.oidc?.entities.RotatedRefreshToken as { remainingTTL?: number } | undefined)?.remainingTTL ??
        Math.min(config.refreshTokens.ttlSeconds, config.userTokens.sessionTtlSeconds),
    },
    ...(deps.onboarding?.cimd
      ? {
          fetch: deps.onboarding.cimd.hooks.fetch as NonNullable<Configuration['fetch']>,
          fetchResponseBodyLimits: { 'client_id metadata document': deps.onboarding.cimd.maxDocumentBytes, jwks_uri: Infinity, sector_identifier_uri: Infinity },
        }
      : {}),
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}
