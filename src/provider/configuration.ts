// The oidc-provider configuration: clients, features, TTLs, adapter, accounts. Built from narrow slices of our config.
import { errors, type Configuration, type ClientMetadata, type JWK } from 'oidc-provider';
import type { ClientConfig, Config, DemoUser } from '../config/schema.js';
import { TOKEN_EXCHANGE_GRANT } from '../grants/token_exchange/params.js';

/** Scopes of tokens for the service's own APIs (client_credentials, resource `${issuer}/admin`). */
export const ADMIN_SCOPES = ['admin', 'revocation'];

/** The resource indicator (and audience) of admin tokens: the admin API's own URL. */
export const adminResourceOf = (issuer: string) => `${issuer}/admin`;

export interface ProviderDeps {
  config: Pick<Config, 'issuer' | 'clients' | 'toolServers' | 'userTokens' | 'demoLogin'>;
  /** Client secrets resolved from env or files, by client_id. */
  clientSecrets: Map<string, string>;
  privateJwks: { keys: JWK[] };
  cookieKeys: string[];
  adapter: NonNullable<Configuration['adapter']>;
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
  };
}

/** The demo users, as oidc-provider accounts. */
export function findAccountIn(users: DemoUser[]): NonNullable<Configuration['findAccount']> {
  const bySub = new Map(users.map((u) => [u.sub, u]));
  return (_ctx, sub) => {
    const user = bySub.get(sub);
    if (!user) return undefined;
    return {
      accountId: user.sub,
      claims: () => ({ sub: user.sub, name: user.name, groups: user.groups }),
    };
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

  return {
    adapter: deps.adapter,
    // ID tokens and client_credentials JWTs are signed with the same current key as delegation tokens.
    clientDefaults: { id_token_signed_response_alg: signingAlg as 'ES256' },
    clients: config.clients.map((c) => clientMetadata(c, deps.clientSecrets.get(c.client_id))),
    jwks: deps.privateJwks,
    cookies: { keys: deps.cookieKeys },
    findAccount: findAccountIn(config.demoLogin.users),
    claims: { openid: ['sub'], profile: ['name'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'groups'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      // DPoP is not yet applied to the exchange grant, so it is not advertised at all (see README, "Not yet").
      dPoP: { enabled: false },
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
        // Users' tokens are issued for this service itself: the only place they are meant to be presented is the exchange.
        defaultResource: (ctx) => (ctx.oidc.params?.grant_type === 'client_credentials' ? adminResource : selfResource),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator, client) => {
          if (resourceIndicator === selfResource) {
            return {
              scope: userScopes,
              audience: selfResource,
              accessTokenFormat: 'opaque',
              accessTokenTTL: config.userTokens.accessTokenTtlSeconds,
            };
          }
          const tool = toolServers.get(resourceIndicator);
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
      },
      rpInitiatedLogout: { enabled: true },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.userTokens.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
      IdToken: 3600,
      Interaction: 600,
      Session: config.userTokens.sessionTtlSeconds,
      Grant: config.userTokens.sessionTtlSeconds,
    },
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}
