// The configuration schema: the single source of every default and its description (docs/configuration.md is generated from it).
// Objects are strict: a misspelt key fails the start with its name instead of silently falling back to a default.
import { z } from 'zod';
import { isIdentifier } from '../sessions/identifiers.js';
import { MAX_ACT_DEPTH } from 'delegation-token-verify';
import { ruleArgumentsError } from '../policy/details.js';

const uri = z.url({ protocol: /^https?$/ });

/** A secret taken from the environment or a file, never only from the committed config. */
/** Every asymmetric JWS algorithm we accept anywhere (RFC 8725 §3.1: never `none`, never a MAC). */
export const asymmetricAlgorithm = z.enum(['ES256', 'ES384', 'ES512', 'Ed25519', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512']);

/** Graceful shutdown's two waits, shared by the service and the gateway (same keys, bounds and defaults). */
export const deregistrationDelaySeconds = z.number().min(0).max(300).default(5);
/** A management listener's port (service and gateway): `/metrics` only there, probes there too. */
export const managementPort = z.number().int().min(1).max(65535).optional();
export const gracePeriodSeconds = z.number().min(0).max(600).default(10);

/** RFC 9449 §11.1: how far a DPoP proof's `iat` may be from the receiver's clock, either way (seconds). */
export const dpopProofWindowSeconds = z.number().int().min(5).max(300).default(60);

const secretSources = {
  env: z.string().min(1).optional().describe('Environment variable holding the secret; wins over `file`.'),
  file: z.string().min(1).optional().describe('File holding the secret (trailing newline ignored).'),
};

/** A host as a URL writes it, with an optional port: `name`, `name:port`, `[v6]`, `[v6]:port`. */
const hostOrHostPort = z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i);

export const secretRef = z
  .strictObject({
    ...secretSources,
    generate: z
      .boolean()
      .default(false)
      .describe('Development only: when neither source has a value, generate a random secret into `file` (mode 0600) and warn.'),
  })
  .refine((s) => s.env !== undefined || s.file !== undefined, { message: 'needs env or file' });

/** A secret another party issued (our client secret at the upstream provider): from env or a file, never generated. */
const issuedSecretRef = z
  .strictObject({
    ...secretSources,
    generate: z.boolean().default(false).describe('Not allowed (`true` is refused): the secret is issued by the upstream provider.'),
  })
  .refine((s) => s.env !== undefined || s.file !== undefined, { message: 'needs env or file' })
  .refine((s) => !s.generate, { message: 'is issued by the upstream provider: `generate` is not allowed' });

const jwkPublic = z.record(z.string(), z.unknown());

export const clientSchema = z.strictObject({
  client_id: z
    .string()
    .refine(isIdentifier, { message: 'must be 1 to 512 characters without control characters (the bounds of every revocable identifier)' })
    .describe('The OAuth client identifier: 1 to 512 characters without control characters, so the admin API can revoke it.'),
  client_secret: secretRef.optional().describe('Where the client secret comes from (for client_secret_basic / client_secret_post).'),
  token_endpoint_auth_method: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
    .default('client_secret_basic')
    .describe('How the client authenticates at the token endpoint. Only confidential methods may exchange.'),
  jwks: z.object({ keys: z.array(jwkPublic).min(1) }).optional().describe('Public keys for private_key_jwt.'),
  grant_types: z
    .array(z.enum(['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange']))
    .default(['urn:ietf:params:oauth:grant-type:token-exchange'])
    .describe('Grant types the client may use.'),
  redirect_uris: z.array(uri).default([]).describe('Redirect URIs (authorization_code clients).'),
  dpop_bound_access_tokens: z
    .boolean()
    .optional()
    .describe('RFC 9449 §5.2: every access token this client obtains must be DPoP-bound, at every grant (authorization code, client_credentials, token exchange); a request without a DPoP proof is refused.'),
  scope: z.string().optional().describe('Space-separated scopes the client may request for itself (client_credentials), e.g. `admin`.'),
});

export const toolServerSchema = z.strictObject({
  resource: uri.describe('Canonical resource URI of the tool server (RFC 8707); becomes the token `aud`.'),
  audiences: z.array(z.string().min(1)).default([]).describe('Logical names accepted in the `audience` parameter for this tool server.'),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/)).min(1).describe('The scopes (tool names) this tool server accepts.'),
  maxTtlSeconds: z.number().int().min(10).max(3600).default(300).describe('Upper bound on the lifetime of a delegation token for this tool server.'),
  clientId: z.string().optional().describe('The client this tool server authenticates as; only it may exchange tokens issued for this tool server (multi-hop).'),
  allowedGroups: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      "When set, only users in one of these groups may ever hold this tool server's tokens: checked on every exchange, first or multi-hop, against the original user's groups, whichever agent or chain asks. Absent: no limit.",
    ),
  requireDpop: z
    .boolean()
    .optional()
    .describe('Issue only DPoP-bound tokens (RFC 9449) for this tool server, at every grant: an exchange, a login or refresh naming it as `resource`, or `client_credentials` without a DPoP proof is refused (`invalid_request`).'),
});

export const agentRuleSchema = z.strictObject({
  resource: uri.describe('Tool server resource URI this rule is for.'),
  scopes: z.array(z.string()).min(1).describe('Scopes the agent may obtain for this tool server.'),
  defaultScopes: z.array(z.string()).optional().describe('Scopes granted when the request names none (default: `scopes`).'),
  groups: z.array(z.string()).optional().describe('When set, only users in one of these groups may be delegated through this rule.'),
  arguments: z
    .record(z.string(), z.record(z.string(), z.unknown()))
    .optional()
    .describe(
      'Argument constraints per tool (RFC 9396 `mcp_tool` authorization details): `{ "<tool>": { "<argument>": <constraint> } }`, in the JSON Schema subset of README "Authorization details" (`const`, `enum`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `maxLength`, `maxItems`, `items`, `properties`, `required`, `additionalProperties: false`, `type`). Every named argument is required. A `const` or `enum` value may be `${subject.<claim>}`, resolved at issue time from the subject (an external JWT\'s claims, a demo user\'s `claims`); unresolvable refuses the exchange. A tool with constraints is never granted without them.',
    ),
}).superRefine((rule, ctx) => {
  const error = rule.arguments === undefined ? undefined : ruleArgumentsError(rule.arguments, rule.scopes);
  if (error !== undefined) ctx.addIssue({ code: 'custom', path: ['arguments'], message: error });
});

export const agentPolicySchema = z.strictObject({
  clientId: z.string().min(1).describe('The agent (client) this policy is for.'),
  toolServers: z.array(agentRuleSchema).default([]).describe('The tool servers, and scopes, this agent may obtain tokens for. Deny by default.'),
  subjectClients: z
    .array(z.string())
    .default([])
    .describe("Other clients whose users' access tokens this agent may exchange (by default only tokens issued to itself); the token it gets names that client as prior actor (one more level of act)."),
});

/** The message never quotes the value: a Redis URL may hold a password. */
const REDIS_URL_MESSAGE = 'must be a redis:// or rediss:// URL with a host (percent-encode reserved characters in the user and password)';

/** A URL ioredis can take: parsed as WHATWG URL, redis: or rediss:, a host, user and password percent-decodable. */
export const redisUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}, REDIS_URL_MESSAGE);

export const onboardedClientPolicySchema = z.strictObject({
  clientIdHosts: z
    .array(z.string().regex(/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/i))
    .default([])
    .describe('Client ID Metadata Document clients this rule is for, by the host (`host` or `host:port`) of their https `client_id`; `*.example.com` matches any subdomain (not the bare domain).'),
  dynamicallyRegistered: z.boolean().default(false).describe('Whether the rule is also for clients registered by Dynamic Client Registration (RFC 7591), whose `client_id` names no host.'),
  toolServers: z
    .array(agentRuleSchema)
    .min(1)
    .describe('The tool servers, and scopes, such a client may obtain delegation tokens for (authorization code + refresh only; a rule\'s `arguments` go into the token as its `authorization_details`).'),
});

export const trustedIssuerSchema = z.strictObject({
  issuer: z.string().min(1).describe('Exact `iss` of the external identity provider.'),
  jwksUri: uri.describe('Where its signing keys are published.'),
  audience: z.string().min(1).describe('The `aud` its tokens must carry to be accepted here (this service).'),
  algorithms: z.array(z.enum(['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'])).default(['RS256', 'ES256']).describe('Allowed JWS algorithms.'),
  sessionClaim: z.string().default('sid').describe('Claim carrying the session id; becomes the namespaced `sid` of delegation tokens.'),
  groupsClaim: z.string().default('groups').describe('Claim carrying the user groups used by policy.'),
  allowedScopes: z
    .array(z.string())
    .default([])
    .describe("Scopes this issuer's users may delegate. A token's `scope` claim narrows them further; a `scope` that is not a space-delimited string is refused, never read as absent."),
  tokenTypes: z
    .array(
      z.enum([
        'urn:ietf:params:oauth:token-type:jwt',
        'urn:ietf:params:oauth:token-type:id_token',
        'urn:ietf:params:oauth:token-type:access_token',
      ]),
    )
    .default(['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token', 'urn:ietf:params:oauth:token-type:access_token'])
    .describe('Subject token types accepted from this issuer.'),
  clients: z
    .record(z.string().min(1), z.array(z.string().min(1)).min(1))
    .default({})
    .describe(
      "Which of our clients may exchange a token this issuer issued to one of its clients: `{ \"<its client id>\": [\"<our client id>\", ...] }`. A token naming its client (`azp`, `client_id`; one carrying both must satisfy both) may be exchanged only by the clients listed for it here, or, when it is not listed, by our client with the same client_id. Tokens naming no client are not bound.",
    ),
});

export const demoUserSchema = z.strictObject({
  sub: z.string().min(1).describe('Subject identifier.'),
  username: z.string().min(1).describe('Login name on the demo login page.'),
  name: z.string().default('').describe('Display name.'),
  groups: z.array(z.string()).default([]).describe('Groups, used by agent policies.'),
  claims: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .default({})
    .describe('Attributes a policy\'s argument constraints may reference as `${subject.<name>}` (besides `sub`, `username`, `name`), e.g. `{ customer_id: "c-42" }`.'),
});

export const configSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(3000).describe('HTTP port (env `PORT`).'),
  issuer: uri.optional().describe('Issuer URL, the service root (env `ISSUER`; default `http://localhost:$PORT`).'),
  proxy: z.boolean().default(false).describe('Trust X-Forwarded-* headers (behind a TLS-terminating proxy).'),
  proxyHops: z
    .number()
    .int()
    .min(1)
    .max(16)
    .default(1)
    .describe(
      'With `proxy`: how many proxies you run in front of the service, each appending the address it saw to `X-Forwarded-For`. The client address (per-IP limits) is that many entries from the right; entries left of it are the client\'s own and never trusted (Koa `maxIpsCount`).',
    ),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level (env `LOG_LEVEL`).'),
  shutdown: z
    .strictObject({
      deregistrationDelaySeconds: deregistrationDelaySeconds.describe('On SIGTERM/SIGINT, /readyz answers 503 at once; the listener keeps serving this long so load balancers stop routing here first. A second signal exits at once.'),
      gracePeriodSeconds: gracePeriodSeconds.describe('After the listener closes, how long in-flight requests may take to finish before their connections are cut.'),
    })
    .prefault({})
    .describe('Graceful shutdown.'),
  management: z
    .strictObject({
      port: managementPort.describe(
        'Management port (Keycloak uses 9000). When set, `/metrics` is served only there (the main port answers 404 for it) and `/healthz` and `/readyz` are served there as well as on the main port. Unset: `/metrics` on the main port.',
      ),
    })
    .prefault({})
    .describe('The management listener for metrics and probes.'),
  redis: z
    .strictObject({
      url: redisUrl
        .optional()
        .describe('Redis URL (env `REDIS_URL`; an empty `REDIS_URL` unsets it, except with `NODE_ENV=production`, where it is refused). Unset: embedded in-memory store, single instance only (refused in production unless acknowledged: `production.allowDevelopmentDefaults`).'),
      clusterNodes: z
        .array(redisUrl.refine((s) => !/[,\s]/.test(s), REDIS_URL_MESSAGE))
        .optional()
        .describe(
          'Redis Cluster seed nodes (env `REDIS_CLUSTER_NODES`, comma-separated; empty: as for `REDIS_URL`), e.g. `redis://10.0.0.1:6379`: `rediss://` for TLS, `user:password@` for ACL auth, the same on every seed (every node is reached with them). Exclusive with `url`. Unset (and no `url`): embedded in-memory store.',
        ),
      keyPrefix: z.string().default('dts:').describe('Prefix of every Redis key this service writes (no `{` or `}` on a Redis Cluster).'),
      revocationReplicas: z
        .number()
        .int()
        .min(0)
        .default(0)
        .describe(
          'Replicas every revocation write must reach (Redis `WAIT`) before the revocation is acknowledged. 0: acknowledged once the primary has it (a failover in the next moment can lose it). See docs/operations.md.',
        ),
      revocationWaitMs: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .default(500)
        .describe('How long a revocation write waits for `revocationReplicas`; fewer acknowledgements by then answer 503 (the revocation is in force on the primary; retry it).'),
    })
    .prefault({})
    .refine((r) => !(r.url && r.clusterNodes?.length), { message: 'set url (REDIS_URL) or clusterNodes (REDIS_CLUSTER_NODES), not both' })
    .describe('Storage.'),
  keys: z
    .strictObject({
      file: z.string().default('keys/jwks.json').describe('Private JWKS file (git-ignored, mode 0600); generated at first start when missing.'),
      alg: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256').describe('Algorithm of generated signing keys.'),
    })
    .prefault({})
    .describe('Signing keys.'),
  cookieSecret: secretRef
    .default({ file: 'keys/cookie.secret', generate: true })
    .describe('Secret that signs the login session cookies.'),
  userTokens: z
    .strictObject({
      accessTokenTtlSeconds: z.number().int().min(60).max(86400).default(3600).describe("Lifetime of users' opaque access tokens."),
      sessionTtlSeconds: z.number().int().min(300).default(8 * 3600).describe('Lifetime of a login session, from login: it does not slide with use, and its upstream link and account record live as long.'),
    })
    .prefault({})
    .describe('Tokens issued to users by the login flow.'),
  exchange: z
    .strictObject({
      maxActDepth: z.number().int().min(1).max(MAX_ACT_DEPTH).default(4).describe(`Longest allowed \`act\` chain (RFC 8693 §4.1); at most ${MAX_ACT_DEPTH}, the verify SDK's cap, so no tool server refuses a token the service issues.`),
      clockToleranceSeconds: z.number().int().min(0).max(300).default(30).describe('Leeway for `exp`/`nbf`/`iat` of incoming JWTs.'),
    })
    .prefault({})
    .describe('The token exchange grant.'),
  dpop: z
    .strictObject({
      algorithms: z
        .array(asymmetricAlgorithm)
        .min(1)
        .default(['ES256', 'Ed25519', 'EdDSA'])
        .describe('Accepted DPoP proof algorithms (asymmetric only; `none` and MACs can never be listed), published as `dpop_signing_alg_values_supported`.'),
      proofWindowSeconds: dpopProofWindowSeconds
        .describe("A proof's `iat` must be within this many seconds of the server's clock, either way (RFC 9449 §11.1); a proof's `jti` is remembered for twice that plus a second (as long as the proof could pass), across replicas, to refuse replays."),
      requireNonce: z
        .boolean()
        .optional()
        .describe('Require a server-provided `nonce` in every DPoP proof at the token endpoint (RFC 9449 §8): a proof without a valid one gets 400 `use_dpop_nonce` and a fresh `DPoP-Nonce`. Unset: required when `NODE_ENV=production`, not otherwise.'),
    })
    .prefault({})
    .describe('DPoP (RFC 9449) at the token endpoint: sender-constrained user, client and delegation tokens (README, "Sender-constrained tokens").'),
  revocation: z
    .strictObject({
      retentionSeconds: z
        .number()
        .int()
        .min(600)
        .default(86400)
        .describe(
          "How long a revocation (and a session record) is kept; raised automatically to outlive the longest token this service issues (user sessions and access tokens, delegation tokens). A trusted issuer's subject or actor JWT must fit in it too: one whose `exp` (plus `exchange.clockToleranceSeconds`) is later than its `iat` (now, for an actor JWT without `iat`) plus this retention is refused (`invalid_request`, audit reason `lifetime_exceeds_retention`), so a revocation outlives every such token that existed when it was made (JWTs the issuer mints later for a revoked session or user are refused only while the revocation is kept).",
        ),
      feedHeartbeatSeconds: z
        .number()
        .int()
        .min(1)
        .max(10)
        .default(5)
        .describe(
          'Heartbeat interval of the revocation event feed (consumers detect a stale feed by it). A heartbeat vouches for a read of the shared stream at most max(this, 5) s old and the next one comes this much later, so what a consumer knows can be up to this + max(this, 5) s old (20 at most): at most 10 keeps that well under the verify SDK\'s default `maxStalenessSeconds` (30). A consumer\'s own staleness bound must stay above this interval, or it refuses tokens on a quiet feed.',
        ),
      maxFeedConnectionsPerClient: z
        .number()
        .int()
        .min(1)
        .max(10000)
        .default(8)
        .describe('Most open revocation event feed (SSE) connections per client, counted per process; one more is answered 429 with Retry-After.'),
      sessionRecordIntervalMs: z
        .number()
        .int()
        .min(0)
        .max(1000)
        .default(100)
        .describe(
          "Session records (the admin API's sessions and their hops) are written after the response, in batches at most this often per process; under load a token shows in the session view up to this long after it was issued, and a batch writes each session once. 0: every event-loop tick. Revocation never depends on these records.",
        ),
    })
    .prefault({})
    .describe('Revocation and session records.'),
  audit: z
    .strictObject({
      maxLength: z.number().int().min(100).default(100000).describe('About the most events kept in the audit stream (Redis trims whole stream nodes: never fewer, at most about 100 more).'),
      maxAgeSeconds: z.number().int().min(60).default(7 * 86400).describe('Oldest event kept in the audit stream (trimmed at most once a second: an event may outlive it by about a second).'),
      maxHopsPerSession: z.number().int().min(10).max(10000).default(200).describe('Most delegation hops kept per session record.'),
    })
    .prefault({})
    .describe('Audit trail.'),
  demoLogin: z
    .strictObject({
      enabled: z.boolean().default(false).describe('Serve the development login page (pick a demo user, no password). Never enable in production.'),
      users: z.array(demoUserSchema).default([]).describe('The demo users.'),
    })
    .prefault({})
    .describe('Development login.'),
  upstreamLogin: z
    .strictObject({
      issuer: uri
        // OpenID Connect Discovery 1.0 §4: the issuer is an https URL (plain http only on a loopback host: tests, development).
        .refine((u) => u.startsWith('https://') || /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(u), { message: 'must be https (http only on a loopback host)' })
        .describe('Issuer of the company\'s OpenID Connect provider; its metadata is discovered at `/.well-known/openid-configuration` (exact `iss` checked). https, or http on a loopback host.'),
      clientId: z.string().min(1).describe('Our `client_id` at the upstream provider (the `aud` of its ID tokens and logout tokens).'),
      clientSecret: issuedSecretRef.describe('Our client secret at the upstream provider (`client_secret_basic`), from env or a file.'),
      scopes: z.array(z.string().min(1)).default(['openid', 'profile', 'email']).refine((s) => s.includes('openid'), { message: 'must include openid' }).describe('Scopes asked of the upstream provider.'),
      groupsClaim: z.string().min(1).default('groups').describe('Claim of the ID token (or, when absent there, of userinfo) carrying the user\'s groups (an array of strings), used by the delegation policy.'),
      backchannelLogout: z
        .boolean()
        .default(false)
        .describe('Accept OpenID Back-Channel Logout 1.0 logout tokens at `/backchannel-logout` (register that URL at the provider): a logout ends our sessions mapped from the upstream session (`sid`) or user (`sub`) and every token derived from them.'),
      label: z.string().min(1).default('Sign in with your company account').describe('Text of the login page\'s upstream button (when the demo login is enabled too).'),
    })
    .optional()
    .describe('Log users in through an upstream OpenID Connect provider (authorization code + PKCE, openid-client). Account ids are `x-<issuer hash>|<sub>`. With the demo login disabled, the login page sends users straight there.'),
  onboarding: z
    .strictObject({
      clientIdMetadataDocument: z
        .strictObject({
          enabled: z.boolean().default(false).describe('Accept https URLs as `client_id` and fetch the client\'s metadata document (draft-ietf-oauth-client-id-metadata-document-02, oidc-provider\'s experimental feature acknowledged for that draft). Such clients may only use authorization code + refresh.'),
          allowedHosts: z
            .array(hostOrHostPort)
            .default([])
            .describe('Document hosts (`host` for the default port 443, `host:port` for that port) fetched even when they resolve to a private or loopback address (internal deployments, tests). Unlisted hosts are fetched only from public addresses (SSRF guard), or not at all with `onlyAllowedHosts`.'),
          onlyAllowedHosts: z.boolean().default(false).describe('Refuse, without fetching, every document host not in `allowedHosts`.'),
          deniedHosts: z
            .array(hostOrHostPort)
            .default([])
            .describe('Document hosts never fetched, whatever `allowedHosts` says: `host` on every port, `host:port` on that port only.'),
          maxDocumentBytes: z.number().int().min(256).max(65536).default(5120).describe('Largest accepted document (bytes); a larger one is refused while it is read.'),
          fetchTimeoutMs: z.number().int().min(100).max(2500).default(2500).describe('Time limit of one document fetch (oidc-provider never waits longer than 2500 ms).'),
          cacheSeconds: z
            .strictObject({
              min: z.number().int().min(0).default(300).describe('Shortest time a fetched document is reused (the document\'s `Cache-Control: max-age` is clamped to [min, max]).'),
              max: z.number().int().min(1).default(86400).describe('Longest time a fetched document is reused. An accepted document stays known (see `fetchesPerMinutePerHost`) for the longer of 24 hours and this plus one hour.'),
            })
            .prefault({})
            .describe('Per-process cache of fetched documents (each replica fetches at most once per window and host limit).'),
          fetchesPerMinutePerHost: z.number().int().min(1).default(30).describe('Most document fetches per document host per minute, counted across replicas in the store; more are refused without fetching. Each host has two such budgets: one for URLs not known, and one its known documents (fetched and accepted in the last 24 hours, or `cacheSeconds.max` plus one hour when longer) share, so made-up URLs on a host cannot lock its known clients out, and a host is fetched at most twice this a minute.'),
          maxKnownDocuments: z.number().int().min(1).default(10000).describe('Most document URLs known at once (counted across replicas in the store). A document accepted while this many others are known is used as usual but not known: its fetches stay on its host\'s budget for URLs not known.'),
          caFile: z.string().min(1).optional().describe('PEM file of extra CA certificates trusted for fetches from `allowedHosts` (an internal PKI; the tests\' own CA).'),
        })
        .prefault({})
        .describe('Client ID Metadata Documents: MCP clients that name themselves by an https URL.'),
      registration: z
        .strictObject({
          enabled: z.boolean().default(false).describe('Open Dynamic Client Registration (RFC 7591) at `/reg`. Registered clients are public (`none`) or `private_key_jwt` clients limited to authorization code + refresh.'),
          perIpPerMinute: z.number().int().min(1).default(10).describe('Most registrations per client IP per minute, counted across replicas; more answer 429 with `Retry-After`.'),
          maxClients: z.number().int().min(1).default(10000).describe('Most registered clients kept at once; a registration beyond it answers 503 `temporarily_unavailable`.'),
          unusedClientTtlSeconds: z.number().int().min(60).default(86400).describe('A registered client that never obtains a token is deleted after this long.'),
          clientTtlSeconds: z.number().int().min(3600).default(30 * 86400).describe('A registered client that obtained a token lives this long after its latest token.'),
          corsOrigins: z.array(z.string().min(1)).default(['*']).describe('Origins allowed to register from a browser (CORS), e.g. MCP Inspector; `*` allows any (registration carries no credentials).'),
        })
        .prefault({})
        .describe('Dynamic Client Registration (RFC 7591), off unless enabled.'),
    })
    .prefault({})
    .describe('Onboarding of MCP clients that are not in `clients`: Client ID Metadata Documents and Dynamic Client Registration (see docs/onboarding.md).'),
  production: z
    .strictObject({
      allowDevelopmentDefaults: z
        .array(z.enum(['demoLogin', 'generatedSecrets', 'generatedKeys', 'httpIssuer', 'memoryStore']))
        .default([])
        .describe(
          'With `NODE_ENV=production` the service refuses to start (exit 2) while `demoLogin.enabled` is true (`demoLogin`), a secret has `generate: true` (`generatedSecrets`; `cookieSecret` has it by default), the signing key file is missing (`generatedKeys`: it would be generated, and replicas that each generate their own publish different keys), the issuer is not https and not a loopback host (`httpIssuer`), or no Redis is configured (`memoryStore`: the in-memory store is one process\'s, so replicas do not share revocations and a restart forgets them). List here the ones you mean to run with (env `ALLOW_DEVELOPMENT_DEFAULTS`, comma-separated, wins).',
        ),
    })
    .prefault({})
    .describe('What a production start (`NODE_ENV=production`) refuses, and the explicit acknowledgements that let it start anyway.'),
  clients: z.array(clientSchema).default([]).describe('Registered clients: agents, tool servers, admin tools.'),
  toolServers: z.array(toolServerSchema).default([]).describe('Tool servers (resource servers) tokens can be issued for.'),
  agents: z.array(agentPolicySchema).default([]).describe('Delegation policy per agent client. Deny by default.'),
  onboardedClients: z
    .array(onboardedClientPolicySchema)
    .default([])
    .describe('Delegation policy for MCP clients that are not in `clients` (onboarded by Client ID Metadata Document or Dynamic Client Registration): the first rule matching the client and naming the tool server applies. Deny by default: a client no rule matches gets `invalid_target`.'),
  refreshTokens: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Issue refresh tokens to authorization code clients that ask for `offline_access` and list the `refresh_token` grant; rotated on every use, a reused one revokes the grant. Never longer than the login session.'),
      ttlSeconds: z.number().int().min(60).default(8 * 3600).describe('Absolute lifetime of a refresh token chain (rotation keeps the first expiry); also bounded by the login session, which it dies with.'),
    })
    .prefault({})
    .describe('Refresh tokens of the authorization code flow (delegation tokens for MCP clients).'),
  trustedIssuers: z.array(trustedIssuerSchema).default([]).describe('External identity providers whose JWTs are accepted as subject tokens. A token\'s user is the account `x-<issuer hash>|<sub>` (the account an upstream login through the same issuer has), never a local user or another issuer\'s.'),
}).refine((c) => c.management.port === undefined || c.management.port !== c.port, {
  message: 'must differ from `port`',
  path: ['management', 'port'],
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.infer<typeof configSchema> & { issuer: string };
export type ClientConfig = z.infer<typeof clientSchema>;
export type ToolServerConfig = z.infer<typeof toolServerSchema>;
export type AgentPolicyConfig = z.infer<typeof agentPolicySchema>;
export type TrustedIssuerConfig = z.infer<typeof trustedIssuerSchema>;
export type OnboardedClientPolicyConfig = z.infer<typeof onboardedClientPolicySchema>;
export type DemoUser = z.infer<typeof demoUserSchema>;
export type OnboardingConfig = z.infer<typeof configSchema>['onboarding'];
export type SecretRef = z.infer<typeof secretRef>;
export type UpstreamLoginConfig = NonNullable<z.infer<typeof configSchema>['upstreamLogin']>;
