// The composition root: wires one service instance from a parsed config (secrets, keys, stores, provider, the token
// exchange grant and its policy, routes, event subscribers). Nothing else decides what is built with what.
import type { Server } from 'node:http';
import type { Middleware } from 'koa';
import { sidPrefixFor, trustedIssuersFrom } from './token_types/context.js';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { resolveSecret } from './config/secrets.js';
import { loadOrCreateKeys, type LoadedKeys } from './keys/index.js';
import { ownAccount } from './token_types/user_access_token.js';
import { createJwsThread, type JwsThread } from './keys/jws_thread.js';
import { adapterClass, createStores } from './stores/index.js';
import type { Stores } from './stores/types.js';
import { createDecisionEvents, type DecisionEvents } from './audit/events.js';
import { beforeDestroy as withBeforeDestroy, createProvider, failClosed } from './provider/index.js';
import { FINAL_ATTEMPT_BUDGET_MS, GrantEndRetry } from './provider/grant_end_retry.js';
import { Policy } from './policy/decide.js';
import { MCP_TOOL_TYPE } from 'delegation-token-verify';
import { delegationTokenResponses } from './grants/authorization_code/delegation.js';
import { grantRoot } from './sessions/revocation.js';
import { registerTokenExchange } from './grants/token_exchange/register.js';
import { hkdfSync } from 'node:crypto';
import { isProduction, keyGenerationRefusal } from './config/production.js';
import { createDpopNonces } from './dpop/nonces.js';
import { createDpopProofChecker } from './dpop/proof.js';
import { tokenEndpointDpop } from './dpop/token_endpoint.js';
import { TOKEN_EXCHANGE_GRANT } from './grants/token_exchange/params.js';
import { interactionRoutes } from './provider/interactions.js';
import { errorRenderer, healthRoutes, mount, postOnly, requestLog } from './http/app.js';
import { closeServer, createLifecycle, keepAliveBeyondBalancers, type DrainTimings } from './http/shutdown.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientAuthenticatedResponses } from './provider/client_auth_responses.js';
import { untrustedErrorRedirects } from './provider/error_redirect.js';
import { createMetrics, metricsRoutes, type Metrics } from './http/metrics.js';
import { createManagementServer, listenManagement } from './http/management.js';
import { routeTemplate } from './http/route_template.js';
import { serverSpans } from './telemetry/spans.js';
import { attachAuditWriter } from './audit/writer.js';
import { attachSessionRecorder } from './sessions/recorder.js';
import { RevocationService } from './sessions/revoke.js';
import { REVOCATION_VIEW_MAX_STALENESS_MS, RevocationView } from './sessions/revocation_view.js';
import { statusRoutes, paths as statusPaths } from './sessions/status_routes.js';
import { ADMIN_SCOPES } from './provider/configuration.js';
import { ownTokens } from './token_types/own_tokens.js';
import { adminRoutes } from './admin/routes.js';
import { cimdHooks } from './onboarding/cimd.js';
import { registrationGate } from './onboarding/registration.js';
import { expiringRegisteredClients, extendRegisteredClientsOnUse } from './onboarding/registered_clients.js';
import { UpstreamClient } from './upstream/client.js';
import { upstreamLoginRoutes, upstreamSessionLinks } from './upstream/routes.js';
import { backchannelLogoutRoutes } from './upstream/backchannel_logout.js';
import { ServiceUnavailable } from './provider/errors.js';
import { Consent, consentRoutes } from './provider/consent.js';

export interface Service {
  provider: Provider;
  stores: Stores;
  keys: LoadedKeys;
  events: DecisionEvents;
  metrics: Metrics;
  revocation: RevocationService;
  /** The worker thread that signs delegation tokens and checks DPoP proofs' signatures (keys/jws_thread.ts); closed
   * with the service. */
  signing: JwsThread;
  /** Waits until queued audit events and session records are stored (tests, shutdown). */
  flushAudit(): Promise<void>;
  listen(port: number, host?: string): Promise<Server>;
  /**
   * Graceful shutdown: /readyz 503 at once; after the de-registration delay the listener closes; in-flight requests
   * finish within the grace period; feed streams get a `reconnect` event; grant ends waiting for a retry get one last
   * attempt (provider/grant_end_retry.ts); queued audit events and session records are flushed; Redis is closed.
   * Resolves whether every request finished in time.
   */
  shutdown(timings: DrainTimings, log?: (msg: string) => void): Promise<boolean>;
  /** Immediate stop (tests): flushes, cuts connections, closes the store. */
  close(): Promise<void>;
}

/** Adds our endpoints to the discovery documents (RFC 8414 §2 allows extension members). */
function discoveryExtensions(issuer: string, toolScopes: readonly string[]): Middleware {
  return async (ctx, next) => {
    await next();
    const route = routeTemplate(ctx);
    if (ctx.status === 200 && ctx.method === 'GET' && (route === '/.well-known/openid-configuration' || route === '/.well-known/oauth-authorization-server')) {
      ctx.body = {
        ...(ctx.body as object),
        // RFC 8414 §2 `scopes_supported`: the OpenID scopes (offline_access when refresh is on) and every tool scope.
        scopes_supported: [...new Set([...((ctx.body as { scopes_supported?: string[] }).scopes_supported ?? []), ...toolScopes])],
        delegation_introspection_endpoint: `${issuer}${statusPaths.introspect}`,
        revocation_feed_endpoint: `${issuer}${statusPaths.snapshot}`,
        revocation_events_endpoint: `${issuer}${statusPaths.events}`,
        // RFC 9396 §10: the authorization details types this server supports.
        authorization_details_types_supported: [MCP_TOOL_TYPE],
      };
    }
  };
}

export interface ServiceOptions {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

export async function createService(config: Config, { logger, env = process.env, now }: ServiceOptions): Promise<Service> {
  const warn = (msg: string) => logger.warn(`!!! ${msg}`);
  const onGenerated = (file: string) => warn(`generated a development secret at ${file}; provide secrets through env or files in production`);

  const clientSecrets = new Map<string, string>();
  config.clients.forEach((c, i) => {
    if (c.client_secret) clientSecrets.set(c.client_id, resolveSecret(c.client_secret, `clients.${i}.client_secret`, { env, onGenerated }));
  });
  const cookieKeys = [resolveSecret(config.cookieSecret, 'cookieSecret', { env, onGenerated })];
  // Log in with the company's OpenID provider (issue 12 item 6); discovery happens at the first login.
  const upstreamClient = config.upstreamLogin
    ? new UpstreamClient(config.upstreamLogin, resolveSecret(config.upstreamLogin.clientSecret, 'upstreamLogin.clientSecret', { env, onGenerated }), config.issuer)
    : undefined;

  const keys = await loadOrCreateKeys({
    file: config.keys.file,
    alg: config.keys.alg,
    maxTokenLifetimeSeconds: Math.max(300, ...config.toolServers.map((t) => t.maxTtlSeconds)),
    onWarning: warn,
    refuseCreation: keyGenerationRefusal(config, env, 'signing keys', `dts keys generate --file ${config.keys.file}`),
  });
  if (keys.generated) warn(`generated new ${config.keys.alg} signing keys at ${keys.file} (development default)`);

  const events = createDecisionEvents((err) => logger.error({ err }, 'decision event listener failed'));
  const metrics = createMetrics(events);

  const stores = await createStores({
    ...(config.redis.url ? { redisUrl: config.redis.url } : {}),
    ...(config.redis.clusterNodes?.length ? { clusterNodes: config.redis.clusterNodes } : {}),
    revocationDurability: { replicas: config.redis.revocationReplicas, timeoutMs: config.redis.revocationWaitMs },
    keyPrefix: config.redis.keyPrefix,
    onRedisError: (err) => {
      metrics.redisErrors.inc();
      logger.error({ err: err.message }, 'redis error');
    },
    // Counted, not logged: each failed command already shows in its request's 503 and log line (a brownout would
    // otherwise log every command twice).
    onRedisCommandError: () => metrics.redisErrors.inc(),
    limits: { auditMaxLength: config.audit.maxLength, auditMaxAgeSeconds: config.audit.maxAgeSeconds, maxHopsPerSession: config.audit.maxHopsPerSession },
  });
  if (stores.kind === 'memory') {
    warn('SINGLE-INSTANCE MODE: no REDIS_URL or REDIS_CLUSTER_NODES, state is kept in this process only (lost on restart, not shared between replicas)');
  }
  if (config.demoLogin.enabled) warn('the development login page is enabled (demoLogin.enabled): never in production');


  const longestTtl = Math.max(config.userTokens.sessionTtlSeconds, config.userTokens.accessTokenTtlSeconds, ...config.toolServers.map((t) => t.maxTtlSeconds));
  const retentionSeconds = Math.max(config.revocation.retentionSeconds, longestTtl);
  const audit = attachAuditWriter(events, { log: stores.audit, logger, onDropped: (n) => metrics.auditDropped.inc(n) });
  const externalIssuers = new Map(config.trustedIssuers.map((t) => [sidPrefixFor(t.issuer), t.issuer]));
  const recorder = attachSessionRecorder(events, {
    sessions: stores.sessions,
    issuerOf: (sid) => externalIssuers.get(sid.split('.')[0]!) ?? 'self',
    retentionSeconds,
    minIntervalMs: config.revocation.sessionRecordIntervalMs,
    logger,
    onError: () => metrics.sessionRecordErrors.inc(),
  });

  const own = ownTokens(config.issuer, keys.publicJwks, new Map(config.toolServers.map((t) => [t.resource, t])));
  // Every live revocation marker in memory, fed by the shared stream, loaded before this replica serves (issue 14).
  const revocationView = new RevocationView({ feed: stores.revocations, store: stores.exchange, maxStalenessMs: REVOCATION_VIEW_MAX_STALENESS_MS });
  await revocationView.start();
  // RFC 7009 revocation of a user's access token revokes every delegation token derived from it (item 13 of issue 8):
  // the marker is written before the provider destroys the token. Late-bound: the revocation service needs the provider.
  let revokeDerivedFrom: ((tokenId: string, by?: string, reason?: string) => Promise<void>) | undefined;
  const beforeDestroy = async (model: string, id: string) => {
    if (model === 'AccessToken') await revokeDerivedFrom?.(id);
    // A grant ended (its code or refresh token reused, its refresh token revoked, a logout, a revocation): every
    // delegation token of it carries its root digest (the authorization code flow's, and those exchanged from its user
    // access token), so they die with it.
    if (model === 'Grant') await revokeDerivedFrom?.(grantRoot(id), 'grant_end', 'grant ended');
  };
  // RFC 6749 §4.1.2 / RFC 9700 §4.14.2: a grant whose end failed for the store (a reuse answered 503) is ended again,
  // the same whole end oidc-provider's revoke runs (lib/helpers/revoke.js: the Grant model's adapter), until it is done.
  // Late-bound: the adapter is the provider's.
  const grantEnds = new GrantEndRetry({
    end: (grantId) => (provider.Grant as unknown as { adapter: { destroy(id: string): Promise<void> } }).adapter.destroy(grantId),
    logger,
    metrics: { pending: metrics.grantEndsPending, retries: metrics.grantEndRetries, dropped: metrics.grantEndsDropped },
  });
  // Delegation tokens are signed on a worker thread: the request thread is what binds the rate under load.
  const jws = createJwsThread();
  const demoAccounts = new Map(config.demoLogin.users.map((u) => [u.sub, u]));
  // Upstream users' accounts (groups as of their login); read inside oidc-provider's flows, where an outage must be a 503.
  const upstreamAccounts = async (id: string) => {
    if (!upstreamClient) return undefined;
    try {
      return await stores.upstreamLogin.getAccount(id);
    } catch (err) {
      throw new ServiceUnavailable(`upstream account: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const policy = new Policy(config.agents, config.toolServers, config.onboardedClients, config.clients.map((c) => c.client_id));
  // RFC 9449 §8: nonces must verify on every replica, so their key derives from the secret the replicas already share;
  // and one key for our checks and oidc-provider's (the same nonces, dpop/nonces.ts): one nonce serves every grant.
  const dpopNonceSecret = Buffer.from(hkdfSync('sha256', cookieKeys[0]!, '', 'dts dpop nonce', 32));
  const dpopNonceRequired = config.dpop.requireNonce ?? isProduction(env);
  const dpopProofs = createDpopProofChecker({
    htu: `${config.issuer}/token`,
    algorithms: config.dpop.algorithms,
    windowSeconds: config.dpop.proofWindowSeconds,
    requireNonce: dpopNonceRequired,
    nonces: createDpopNonces(dpopNonceSecret, () => Math.floor(Date.now() / 1000)),
    replay: stores.dpopReplay,
    now: () => Math.floor(Date.now() / 1000),
    verify: jws.verify,
  });
  const provider = createProvider({
    config,
    dpop: { algorithms: config.dpop.algorithms, requireNonce: dpopNonceRequired, nonceSecret: dpopNonceSecret },
    delegationScopes: (clientId, tool) => policy.scopesFor(clientId, tool),
    clientSecrets,
    privateJwks: keys.privateJwks as never,
    cookieKeys,
    ...(upstreamClient ? { upstreamAccounts } : {}),
    adapter: failClosed(expiringRegisteredClients(withBeforeDestroy(adapterClass(stores), beforeDestroy), config.onboarding.registration.unusedClientTtlSeconds), { grantEnds }),
    onboarding: {
      registration: config.onboarding.registration.enabled,
      ...(config.onboarding.clientIdMetadataDocument.enabled
        ? {
            cimd: {
              hooks: cimdHooks({
                config: config.onboarding.clientIdMetadataDocument,
                store: stores.onboarding,
                onRefused: (clientId, reason) => logger.info({ clientId, reason }, 'client_id metadata document refused'),
                onNotKnown: (clientId) => logger.warn({ clientId }, 'client_id metadata document accepted but not remembered: maxKnownDocuments reached'),
              }),
              cacheSeconds: config.onboarding.clientIdMetadataDocument.cacheSeconds,
              maxDocumentBytes: config.onboarding.clientIdMetadataDocument.maxDocumentBytes,
            },
          }
        : {}),
    },
  });
  registerTokenExchange(provider, {
    issuer: config.issuer,
    clients: new Map(config.clients.map((c) => [c.client_id, c])),
    toolServers: own.toolServers,
    audiences: new Map(config.toolServers.flatMap((t) => t.audiences.map((a) => [a, t] as const))),
    policy,
    maxActDepth: config.exchange.maxActDepth,
    tokenTypes: {
      issuer: config.issuer,
      store: stores.exchange,
      revocations: revocationView,
      own,
      clockTolerance: config.exchange.clockToleranceSeconds,
      retentionSeconds,
      trustedIssuers: trustedIssuersFrom(config.trustedIssuers),
      accounts: new Map(config.demoLogin.users.map((u) => [u.sub, u])),
      ...(upstreamClient ? { upstreamAccounts } : {}),
    },
    signer: () => keys.signing,
    sign: jws.sign,
    findClientCredentials: async (token) => {
      const found = await provider.ClientCredentials.find(token);
      const jkt = (found as { jkt?: unknown } | undefined)?.jkt;
      return found?.clientId ? { clientId: found.clientId, ...(typeof jkt === 'string' ? { jkt } : {}) } : undefined;
    },
    events,
    dpop: { proofs: dpopProofs, boundClients: new Set(config.clients.filter((c) => c.dpop_bound_access_tokens).map((c) => c.client_id)), toolServers: own.toolServers },
    details: { ruleFor: (agent, resource) => policy.ruleFor(agent, resource), toolServers: own.toolServers },
    ...(now ? { now } : {}),
  });
  extendRegisteredClientsOnUse(provider, {
    store: stores.onboarding,
    ttlSeconds: config.onboarding.registration.clientTtlSeconds,
    onError: (err) => logger.error({ err }, 'registered client expiry update failed'),
  });
  provider.on('server_error', (_ctx, err) => logger.error({ err }, 'provider server_error'));
  // Koa's fallback error log: a client closing a stream (an SSE consumer going away) is normal, not an error.
  provider.silent = true;
  (provider as unknown as import('node:events').EventEmitter).on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE' && err.code !== 'ECONNRESET') logger.error({ err }, 'unhandled koa error');
  });
  provider.on('grant.error', (ctx, err) => {
    const e = err as { error?: string; error_detail?: string };
    if (e.error_detail) logger.info({ reqId: ctx.state.requestId, error: e.error, detail: e.error_detail }, 'grant error');
  });

  const revocation = new RevocationService({
    provider,
    store: stores.exchange,
    sessions: stores.sessions,
    providerSessionsOf: (accountId) => stores.providerSessionsOf(accountId),
    isExternalSession: (sid) => externalIssuers.has(sid.split('.')[0]!),
    events,
    retentionSeconds,
    ...(now ? { now } : {}),
  });
  revokeDerivedFrom = (tokenId, by = 'revocation_endpoint', reason) => revocation.revokeDerivedFrom(tokenId, by, reason);
  // A full logout ends the session for tool servers too: every delegation token derived from it is revoked.
  provider.on('end_session.success', (ctx) => {
    const uid = ctx.oidc.session?.uid;
    if (uid && ctx.oidc.params?.logout) {
      revocation.revoke({ kind: 'sid', value: uid, by: 'logout', reason: 'user logged out' }).catch((err: unknown) => logger.error({ err: (err as Error).message }, 'logout revocation failed'));
    }
  });

  // Clients in the configuration are the operator's own: they skip the consent page (development login consents for the
  // user); every other client (CIMD, DCR) gets the page, its answer remembered per (user, client, resource).
  const configuredClients = new Set(config.clients.map((c) => c.client_id));
  const toolServersByResource = new Map(config.toolServers.map((t) => [t.resource, t]));
  const userScopes = [...new Set(config.toolServers.flatMap((t) => t.scopes))];
  const consent = new Consent({
    provider,
    store: stores.consents,
    resourceScopes: (clientId, resource) => {
      if (resource === config.issuer) return userScopes;
      const tool = toolServersByResource.get(resource);
      return tool ? policy.scopesFor(clientId, tool) : [];
    },
    defaultResource: config.issuer,
    csrfKey: cookieKeys[0]!,
    grantTokensWithinSeconds: config.userTokens.sessionTtlSeconds + Math.max(config.userTokens.accessTokenTtlSeconds, ...config.toolServers.map((t) => t.maxTtlSeconds)),
    onDecision: (d) => logger.info(d, 'consent'),
  });
  const clientAdapter = () => (provider.Client as unknown as { adapter: { find(id: string): Promise<unknown>; destroy(id: string): Promise<void> } }).adapter;

  const privileged = config.clients.filter((c) => (c.scope ?? '').split(' ').some((s) => ADMIN_SCOPES.includes(s))).map((c) => c.client_id);
  const lifecycle = createLifecycle();
  const health = healthRoutes({ store: stores.health, keysLoaded: () => Boolean(keys.signing), draining: () => lifecycle.draining, revocationView: () => revocationView.fresh() });
  // With management.port set, /metrics is served only on it (the main port answers 404); probes on both.
  const management = config.management.port === undefined ? undefined : createManagementServer({ logger, metrics, routers: [health, metricsRoutes(metrics)] });
  mount(
    provider,
    serverSpans(),
    requestLog(logger, metrics.httpDuration),
    errorRenderer(logger),
    ...(upstreamClient ? [upstreamSessionLinks(stores.upstreamLogin, config.userTokens.sessionTtlSeconds, (uid) => revocation.endProviderSession(uid))] : []),
    clientAuthenticatedResponses(config.issuer),
    // RFC 9700 §4.11.2: onboarded clients' authorization errors wait on a page for the user (docs/onboarding.md).
    untrustedErrorRedirects({ provider, trustedClients: configuredClients }),
    postOnly(['/token', '/token/introspection', '/token/revocation']),
    // RFC 9449 §4.3 at oidc-provider's own grants: the exchange's proof checks and replay keys (dpop/token_endpoint.ts).
    tokenEndpointDpop({
      proofs: dpopProofs,
      checkedByGrant: new Set([TOKEN_EXCHANGE_GRANT]),
      requireDpop: new Set(config.toolServers.filter((t) => t.requireDpop).map((t) => t.resource)),
    }),
    delegationTokenResponses({
      issuer: config.issuer,
      toolServers: own.toolServers,
      policy,
      store: stores.exchange,
      // The same account the exchange reads for this user's own token (token_types/user_access_token.ts).
      accountOf: async (sub) => {
        const demo = demoAccounts.get(sub);
        return ownAccount(demo, demo ? undefined : await upstreamAccounts(sub), sub);
      },
      details: { ruleFor: (agent, resource) => policy.ruleFor(agent, resource), toolServers: own.toolServers },
      signer: () => keys.signing,
      sign: jws.sign,
      events,
      endGrant: (grantId) => revocation.endGrant(grantId),
      destroyRefreshToken: async (value) => {
        await (await provider.RefreshToken.find(value, { ignoreExpiration: true }))?.destroy();
      },
      ...(now ? { now } : {}),
    }),
    discoveryExtensions(config.issuer, [...new Set(config.toolServers.flatMap((t) => t.scopes))]),
    health,
    ...(management ? [] : [metricsRoutes(metrics)]),
    registrationGate({
      config: config.onboarding.registration,
      store: stores.onboarding,
      onRefused: (reason, ip) => logger.info({ reason, ip }, 'client registration refused'),
    }),
    interactionRoutes(provider, config.demoLogin, { page: consent, automatic: (clientId) => configuredClients.has(clientId) }, config.upstreamLogin ? { label: config.upstreamLogin.label } : undefined),
    ...(upstreamClient
      ? [
          upstreamLoginRoutes({ provider, client: upstreamClient, store: stores.upstreamLogin, interactionTtlSeconds: 600, sessionTtlSeconds: config.userTokens.sessionTtlSeconds, logger }),
          ...(config.upstreamLogin!.backchannelLogout
            ? [backchannelLogoutRoutes({ client: upstreamClient, clientId: config.upstreamLogin!.clientId, store: stores.upstreamLogin, revocation, logger })]
            : []),
        ]
      : []),
    consentRoutes(consent),
    statusRoutes({
      provider,
      feed: stores.revocations,
      store: stores.exchange,
      own,
      feedClients: new Set([...config.toolServers.flatMap((t) => (t.clientId ? [t.clientId] : [])), ...privileged]),
      heartbeatSeconds: config.revocation.feedHeartbeatSeconds,
      maxFeedConnectionsPerClient: config.revocation.maxFeedConnectionsPerClient,
      metrics,
      closing: lifecycle.signal,
    }),
    adminRoutes({
      provider, issuer: config.issuer, revocation, sessions: stores.sessions, audit: stores.audit, clients: configuredClients, events,
      onboarding: {
        consents: stores.consents,
        registered: stores.onboarding,
        clientRecords: {
          find: async (clientId) => (await clientAdapter().find(clientId)) as Record<string, unknown> | undefined,
          destroy: (clientId) => clientAdapter().destroy(clientId),
        },
        endGrant: async (grantId, by, reason, requestId) => {
          await revocation.endGrant(grantId);
          // Also when the grant has already expired: its delegation tokens carry the root digest.
          await revocation.revokeDerivedFrom(grantRoot(grantId), by, reason, requestId);
        },
        revocation,
        configuredClients,
      },
    }),
  );

  let server: Server | undefined;
  return {
    signing: jws,
    provider,
    stores,
    keys,
    events,
    metrics,
    revocation,
    flushAudit: async () => {
      await Promise.all([audit.flush(), recorder.flush()]);
    },
    async listen(port, host) {
      const s = await new Promise<Server>((resolve, reject) => {
        const s = keepAliveBeyondBalancers(provider.listen(port, host, () => resolve(s)));
        s.once('error', reject);
        server = s;
      });
      if (management) await listenManagement(management, config.management.port!, host);
      return s;
    },
    async shutdown({ deregistrationDelayMs, gracePeriodMs }, log = () => undefined) {
      lifecycle.startDraining();
      log(`draining: /readyz answers 503; the listener closes in ${deregistrationDelayMs} ms`);
      if (deregistrationDelayMs > 0) await sleep(deregistrationDelayMs);
      const inTime = server ? await closeServer(server, gracePeriodMs) : true;
      log(inTime ? 'listener closed; every in-flight request finished' : `grace period of ${gracePeriodMs} ms ran out; remaining connections cut`);
      if (management?.listening) await closeServer(management, 0);
      // No request is left to fail one: a last attempt at the grant ends still waiting, before the store closes (it
      // logs those left); then the audit flush, which stores their revocation events.
      await grantEnds.finish(FINAL_ATTEMPT_BUDGET_MS);
      await Promise.all([audit.flush(), recorder.flush()]);
      revocationView.close();
      await Promise.all([stores.close(), jws.close()]);
      return inTime;
    },
    async close() {
      lifecycle.startDraining();
      grantEnds.stop();
      await Promise.all([audit.flush(), recorder.flush()]).catch(() => undefined);
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      if (management?.listening) {
        management.closeAllConnections();
        await new Promise<void>((resolve) => management.close(() => resolve()));
      }
      revocationView.close();
      await Promise.all([stores.close(), jws.close()]);
    },
  };
}
