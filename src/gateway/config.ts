// The gateway's configuration schema: the single source of every default and its description
// (docs/gateway-configuration.md is generated from it). Objects are strict: a misspelt key fails the start by name.
import { z } from 'zod';
import { asymmetricAlgorithm, deregistrationDelaySeconds, dpopProofWindowSeconds, gracePeriodSeconds, managementPort, redisUrl, secretRef } from '../config/schema.js';
import { uriProblem } from './resource_uri.js';

const uri = z.url({ protocol: /^https?$/ });

/** JSON-RPC methods every route forwards without a rule: the session's plumbing, never a tool, resource or prompt. */
export const ALWAYS_FORWARDED = ['initialize', 'ping', 'tools/list'] as const;

export const gatewayRouteSchema = z.strictObject({
  resource: uri.describe(
    'Public resource URI of this MCP server at the gateway (RFC 8707): the `aud` its tokens carry. The gateway serves the route at this URI\'s path and its RFC 9728 metadata at `/.well-known/oauth-protected-resource<path>`.',
  ),
  // A user:password@ would be sent upstream as Basic credentials, logged at start-up and put in the assertion's `aud`.
  upstream: uri
    .refine((u) => !/^[a-z]+:\/\/[^/?#]*@/i.test(u), { message: 'must not carry credentials (user:password@)' })
    .describe('URL of the upstream MCP server (Streamable HTTP endpoint), without credentials; the `aud` of the `Delegation-Assertion` it receives.'),
  upstreamAuth: z
    .enum(['assertion', 'exchange'])
    .default('assertion')
    .describe(
      'How upstream learns who calls: `assertion` sends the gateway-signed `Delegation-Assertion` JWT; `exchange` re-exchanges the delegation token at the service (RFC 8693 §2.3) for a token whose `aud` is `upstream` (registered there as a tool server whose `clientId` is `client.clientId`) and sends it as `Authorization: Bearer`.',
    ),
  resources: z
    .array(
      z
        .string()
        .min(1)
        .superRefine((prefix, ctx) => {
          // The decision compares only URIs in their own WHATWG normal form (resource_uri.ts); a prefix in any other
          // form would match nothing, or not what it says.
          const problem = prefix === '*' ? undefined : uriProblem(prefix);
          if (problem) ctx.addIssue({ code: 'custom', message: `resource prefix ${JSON.stringify(prefix)} ${problem}` });
        }),
    )
    .default([])
    .describe(
      '`resources/read` rule: URI prefixes that may be read (`*`: any), each a URL in its own WHATWG normal form (`new URL(p).href === p`: no `.`/`..` segments or `%2e`, lowercase scheme, no userinfo; a start-up error names the normal form otherwise). A URI is covered when it equals a prefix, or starts with it and the prefix ends with `/` or the URI goes on with `/`, `?` or `#`; a URI not in its own normal form is refused. Empty: `resources/read` is refused (deny by default).',
    ),
  prompts: z
    .array(z.string().min(1))
    .default([])
    .describe('`prompts/get` rule: prompt names that may be fetched (`*`: any). Empty: `prompts/get` is refused (deny by default).'),
  methods: z
    .array(z.string().regex(/^[a-z][a-zA-Z0-9_/]*$/))
    .default([])
    .describe(
      'Other JSON-RPC request methods this route forwards (e.g. `resources/list`, `prompts/list`, `completion/complete`, `logging/setLevel`). `initialize`, `ping`, `tools/list` (filtered), `tools/call` (decided per call), notifications and client responses always pass; anything else is refused.',
    ),
  timeoutMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .optional()
    .describe('Longest wait for the upstream\'s response headers on this route (default `upstreamTimeoutMs`); then 504 with a JSON-RPC error.'),
  scopesSupported: z.array(z.string().min(1)).default([]).describe('`scopes_supported` of this route\'s protected-resource metadata (the tool names).'),
});

export const gatewayConfigSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(4100).describe('HTTP port (env `PORT`).'),
  host: z.string().default('0.0.0.0').describe('Listen address (env `HOST`).'),
  publicUrl: uri
    .optional()
    .describe('The gateway\'s public URL (env `GATEWAY_PUBLIC_URL`; default `http://localhost:$PORT`): the `iss` of every `Delegation-Assertion`, its keys at `<publicUrl>/.well-known/jwks.json`.'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level (env `LOG_LEVEL`).'),
  management: z
    .strictObject({
      port: managementPort.describe(
        'Management port, on `host` (the service\'s `management.port`). When set, `/metrics` is served only there (the public port answers 404 for it) and `/healthz` and `/readyz` are served there as well as on the public port. Unset: `/metrics` on the public port, open to whoever reaches it (per-tool counts and deny reasons): keep it internal by network policy.',
      ),
    })
    .prefault({})
    .describe('The management listener for metrics and probes.'),
  issuer: uri.describe('Issuer of the delegation tokens: the service\'s issuer URL (env `ISSUER`).'),
  serviceUrl: uri
    .optional()
    .describe(
      'Where the gateway itself reaches the service (revocation feed, token endpoint, and the JWKS unless `jwksUri` is set) when that is not `issuer`: e.g. `http://sts:3000` on a compose network, where `issuer` (`http://localhost:3000`, right for clients on the host) would name the gateway\'s own container. Tokens\' `iss`, the metadata\'s `authorization_servers` and DPoP proofs\' `htu` still use `issuer`. Default: `issuer`.',
    ),
  jwksUri: uri.optional().describe('The service\'s JWKS (default `<serviceUrl>/jwks`).'),
  client: z
    .strictObject({
      clientId: z.string().min(1).describe('The gateway\'s client at the service: a tool server\'s `clientId` or a client with `revocation` scope (reads the revocation feed); with `upstreamAuth: exchange`, allowed the token exchange grant.'),
      clientSecret: secretRef.describe('Its client secret (HTTP Basic at the feed and token endpoints).'),
    })
    .describe('How the gateway authenticates at the service.'),
  revocation: z
    .strictObject({
      maxStalenessSeconds: z
        .number()
        .int()
        .min(1)
        .max(300)
        .default(30)
        .describe('Revocations reach the gateway by the service\'s feed (verify SDK `feed` mode); when nothing, not even a heartbeat, arrived for this long every token is refused with 503 (fail closed) and `/readyz` answers 503.'),
    })
    .prefault({})
    .describe('Revocation feed.'),
  redis: z
    .strictObject({
      url: redisUrl
        .optional()
        .describe('Redis URL (env `REDIS_URL`; an empty `REDIS_URL` unsets it, except with `NODE_ENV=production`, where it is refused): session bindings shared by replicas and the service\'s audit stream. Unset: in memory, one replica only (a loud warning at start; refused with `NODE_ENV=production` unless acknowledged, `memoryStore`).'),
      keyPrefix: z.string().default('dts:').describe('Key prefix: the service\'s `redis.keyPrefix`, so gateway decisions land in the same audit stream.'),
    })
    .prefault({})
    .describe('Shared state.'),
  dpop: z
    .strictObject({
      algorithms: z
        .array(asymmetricAlgorithm)
        .min(1)
        .default(['ES256', 'EdDSA', 'RS256', 'PS256'])
        .describe('Accepted DPoP proof algorithms (asymmetric only), sent as `algs` in every `DPoP` challenge (RFC 9449 §7.1).'),
      proofWindowSeconds: dpopProofWindowSeconds
        .describe("A proof's `iat` must be within this many seconds of the gateway's clock, either way (RFC 9449 §11.1); its `jti` is remembered for twice that plus a second (in Redis when `redis.url` is set, shared by replicas; otherwise in this process) and a second use is refused."),
      nonceSecret: secretRef
        .optional()
        .describe('Require resource-server nonces (RFC 9449 §9): a proof without a current `nonce` gets 401 `use_dpop_nonce` with a `DPoP-Nonce`. Nonces are derived from this secret (at least 32 bytes) and the minute, so replicas sharing it accept each other\'s. Unset: no nonces.'),
    })
    .prefault({})
    .describe('DPoP (RFC 9449): `Authorization: DPoP` with a `DPoP` proof whose `htu` is the route\'s `resource`, never the Host header (docs/gateway.md, "DPoP").'),
  keys: z
    .strictObject({
      file: z.string().default('keys/gateway-jwks.json').describe('Private JWKS file of the gateway\'s assertion keys (mode 0600); generated when missing; `dts keys rotate --file` rotates it.'),
      alg: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256').describe('Algorithm of generated assertion keys.'),
    })
    .prefault({})
    .describe('Keys signing the `Delegation-Assertion`.'),
  assertionTtlSeconds: z.number().int().min(5).max(60).default(30).describe('Lifetime of a `Delegation-Assertion` (at most 60 seconds).'),
  allowedOrigins: z
    .array(z.string().regex(/^https?:\/\/[^/]+$/, 'must be an origin: scheme://host[:port]'))
    .default([])
    .describe('Origins a browser request may come from (MCP transport, DNS rebinding): a request whose `Origin` is not listed gets 403; a listed one gets its CORS preflight answered and may read the answers (docs/gateway.md). Requests without `Origin` are not affected.'),
  maxBodyBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024).describe('Largest POST body; a larger one gets 400 before it is read further.'),
  maxBufferedBytes: z
    .number()
    .int()
    .min(1)
    .max(256 * 1024 * 1024)
    .default(16 * 1024 * 1024)
    .describe(
      'Largest upstream answer the gateway holds to filter tool lists (the verify SDK\'s `maxBufferedBytes`), in bytes: a JSON body, held whole, or one event of an event stream up to its blank line. An answer over it is cut (JSON or event stream) and logged with its request id; nothing unfiltered is relayed. Default 16 MiB: a list of hundreds of tools with their schemas is under 1 MiB, but every JSON answer is held whole, so a tool result with a few MiB of embedded content must fit; each answer in flight can make the gateway hold this much text and what `JSON.parse` builds from it.',
    ),
  upstreamTimeoutMs: z.number().int().min(100).max(600_000).default(30_000).describe('Longest wait for an upstream\'s response headers; then 504 with a JSON-RPC error (upstream unreachable: 502).'),
  sessionTtlSeconds: z.number().int().min(60).default(86_400).describe('How long an `Mcp-Session-Id` stays bound to the (`sub`, `sid`, `client_id`) that opened it, since its last use.'),
  audit: z
    .strictObject({
      argumentsKey: secretRef
        .default({ file: 'keys/gateway-arguments.key', generate: true })
        .describe('Key (at least 32 bytes) of the HMAC of each call\'s arguments in decision events.'),
      logArguments: z.boolean().default(false).describe('Also put the raw arguments in decision events (they may be personal data).'),
    })
    .prefault({})
    .describe('Decision events (audit stream and log).'),
  shutdown: z
    .strictObject({
      deregistrationDelaySeconds: deregistrationDelaySeconds.describe('On SIGTERM/SIGINT, `/readyz` answers 503 `{"status":"draining"}` at once; the listener keeps serving this long so load balancers stop routing here first. A second signal exits at once (code 1).'),
      gracePeriodSeconds: gracePeriodSeconds.describe('After the listener closes, how long in-flight requests (a tool call waiting for its upstream) may take to finish before their connections are cut; open event streams (GET) are ended when it starts. Then queued decision events are stored and Redis is closed; the whole shutdown is bounded by delay + grace + 10 s, then exit 1.'),
    })
    .prefault({})
    .describe('Graceful shutdown (the service\'s `shutdown`, same keys and defaults).'),
  production: z
    .strictObject({
      allowDevelopmentDefaults: z
        .array(z.enum(['generatedSecrets', 'generatedKeys', 'memoryStore']))
        .default([])
        .describe(
          'With `NODE_ENV=production` the gateway refuses to start (exit 2) while a secret has `generate: true` (`generatedSecrets`; `audit.argumentsKey` has it by default), its assertion key file is missing (`generatedKeys`: replicas that each generate their own keys sign assertions upstream cannot all verify), or `redis.url` is unset (`memoryStore`: session bindings, the DPoP proof replay cache and the audit trail would live in this process only). List here the ones you mean to run with (env `ALLOW_DEVELOPMENT_DEFAULTS`, comma-separated, wins; values only the service knows are ignored here).',
        ),
    })
    .prefault({})
    .describe('What a production start refuses, and the acknowledgements that let it start anyway (as the service\'s `production`).'),
  enforcement: z
    .boolean()
    .default(true)
    .describe('Benchmarks only: `false` proxies without authentication, decision, assertion or audit (a loud warning; refused with `NODE_ENV=production`).'),
  routes: z.array(gatewayRouteSchema).min(1).describe('The MCP servers behind the gateway.'),
});

export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type GatewayConfig = z.infer<typeof gatewayConfigSchema> & { publicUrl: string; serviceUrl: string; jwksUri: string };
export type GatewayRoute = z.infer<typeof gatewayRouteSchema>;
