// The gateway's composition root: keys, secrets, stores, verifiers, decision, audit and the HTTP server are built
// here and nowhere else. The process entry (main.ts) only loads the configuration and calls createGateway.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createVerifier, MemoryDpopReplayStore, protectedResourceMetadata, resourceMetadataPath, resourceMetadataUrl, type FetchLike, type VerifyError, type Verifier } from 'delegation-token-verify';
import { createDecisionEvents } from '../audit/events.js';
import { attachAuditWriter } from '../audit/writer.js';
import { ConfigError } from '../config/load.js';
import { acknowledged, generatedWhere, isProduction, keyGenerationRefusal, missingKeyFile, refusalLine } from '../config/production.js';
import { resolveSecret } from '../config/secrets.js';
import { requestIdOf } from '../http/request_id.js';
import { loggableFailure } from '../http/scrub.js';
import { closeServer, createLifecycle, keepAliveBeyondBalancers, type DrainTimings } from '../http/shutdown.js';
import { loadOrCreateKeys, type LoadedKeys } from '../keys/index.js';
import { createMemoryStores } from '../stores/memory/index.js';
import { connectRedis, createRedisClient, createRedisStores } from '../stores/redis/index.js';
import type { Stores } from '../stores/types.js';
import { createAssertionSigner } from './assertion.js';
import type { GatewayConfig } from './config.js';
import { createDecider } from './decide.js';
import { redisDpopReplayStore } from './dpop_replay.js';
import { handleMcp, type RouteDeps } from './handler.js';
import { InFlightRequests } from './in_flight.js';
import { jsonRpcError } from './jsonrpc.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { cachedSessionBindings, memorySessionBindings, redisSessionBindings } from './sessions.js';
import { createUpstreamTokens } from './upstream_token.js';

/** Where the gateway publishes its assertion keys (`<publicUrl>/.well-known/jwks.json`). */
const JWKS_PATH = '/.well-known/jwks.json';

export interface Gateway {
  server: Server;
  keys: LoadedKeys;
  metrics: GatewayMetrics;
  /** Resolves when every route's revocation feed has its first snapshot. */
  ready(): Promise<void>;
  listen(port: number, host?: string): Promise<number>;
  /**
   * Graceful shutdown: /readyz 503 `draining` at once; after the de-registration delay the listener closes, open event
   * streams end and in-flight requests get the grace period, then their connections are cut; once every request has
   * emitted its decision event the audit queue is flushed and Redis closed. Resolves `true` when every request
   * finished in time.
   */
  shutdown(timings: DrainTimings, log?: (msg: string) => void): Promise<boolean>;
  /** Stops at once (tests, a failed start): connections cut, queued events flushed, Redis closed. */
  close(): Promise<void>;
}

export interface GatewayDeps {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

/**
 * Verifier failures that mean the gateway cannot trust what it would decide: unready until a token verifies again.
 * The feed's freshness is not here: `verifier.health()` reports it directly, traffic or not.
 */
const DEPENDENCY_FAILURES = new Set(['ERR_JWKS_UNAVAILABLE']);

/**
 * The audit writer stores a batch per tick by default; a gateway decides far more often than the service exchanges, so
 * its appends are spaced by at least this long and the events of the window share one round trip (per-batch MULTI,
 * trims and reply parsing were a third of the audit's CPU per call). An event waits at most this much longer.
 */
const AUDIT_WINDOW_MS = 5;
/** Half the shortest `sessionTtlSeconds` (60): a session in use keeps its Redis TTL sliding. */
const SESSION_REFRESH_SECONDS = 30;
/**
 * A request whose connection was cut still finishes its handler (the upstream call ends, the decision event is
 * emitted) before the audit queue is flushed; one stuck elsewhere (a Redis command, the JWKS) is not waited for longer.
 */
const SETTLE_AFTER_CUT_MS = 2000;
/**
 * RFC 2104 §3: an HMAC key shorter than the hash output (32 bytes for SHA-256) is refused, as the verify SDK refuses it;
 * the DPoP nonce secret likewise (RFC 9449 §9: nonces must be unpredictable).
 */
const MIN_SECRET_BYTES = 32;

/** Resolves with the port once listening; rejects with the listen error (EADDRINUSE names its port: one start-up line). */
function listenOn(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

export async function createGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const { logger } = deps;
  const env = deps.env ?? process.env;
  const onGenerated = (file: string) => logger.warn({ file }, 'generated a development secret');
  // The production gate (as the service's, config/production.ts): nothing generated unless acknowledged.
  const generating = [
    ...(config.client.clientSecret.generate ? ['client.clientSecret'] : []),
    ...(config.audit.argumentsKey.generate ? ['audit.argumentsKey'] : []),
    ...(config.dpop.nonceSecret?.generate ? ['dpop.nonceSecret'] : []),
  ];
  if (isProduction(env)) {
    const ack = acknowledged(config, env).values;
    // Named with the rest, so the first refusal is the whole list; the key store refuses again if the file goes missing.
    const keyFile = ack.has('generatedKeys') ? undefined : missingKeyFile(config.keys.file);
    const refused = [
      ...(generating.length && !ack.has('generatedSecrets') ? [{ kind: 'generatedSecrets' as const, where: generatedWhere(generating) }] : []),
      ...(keyFile ? [keyFile] : []),
      // In memory, replicas would not share session bindings or DPoP replays, and decisions would never reach the audit stream.
      ...(!config.redis.url && !ack.has('memoryStore') ? [{ kind: 'memoryStore' as const, where: 'redis.url is unset (env REDIS_URL), so session bindings, DPoP replays and the audit trail are in-memory' }] : []),
    ];
    if (refused.length) throw new ConfigError(refusalLine(refused));
  }
  const clientSecret = resolveSecret(config.client.clientSecret, 'client.clientSecret', { env, onGenerated });
  const argumentsKey = resolveSecret(config.audit.argumentsKey, 'audit.argumentsKey', { env, onGenerated });
  if (Buffer.byteLength(argumentsKey) < MIN_SECRET_BYTES) throw new ConfigError(`audit.argumentsKey: must be at least ${MIN_SECRET_BYTES} bytes`);
  const nonceSecret = config.dpop.nonceSecret ? resolveSecret(config.dpop.nonceSecret, 'dpop.nonceSecret', { env, onGenerated }) : undefined;
  // RFC 9449 §9: nonces must be unpredictable, so must the key they are derived from.
  if (nonceSecret !== undefined && Buffer.byteLength(nonceSecret) < MIN_SECRET_BYTES) throw new ConfigError(`dpop.nonceSecret: must be at least ${MIN_SECRET_BYTES} bytes`);
  const keys = await loadOrCreateKeys({
    file: config.keys.file,
    alg: config.keys.alg,
    onWarning: (m) => logger.warn(m),
    refuseCreation: keyGenerationRefusal(config, env, 'assertion keys', `dts keys generate --file ${config.keys.file}`),
  });
  if (keys.generated) logger.warn({ file: keys.file }, 'generated new gateway assertion keys');

  let redis: Redis | undefined;
  let stores: Stores;
  if (config.redis.url) {
    redis = createRedisClient(config.redis.url, { onError: (err) => logger.warn({ err: err.message }, 'redis error') });
    await connectRedis(redis, config.redis.url);
    stores = createRedisStores(redis, { keyPrefix: config.redis.keyPrefix });
  } else {
    stores = createMemoryStores();
    logger.warn('SINGLE-REPLICA MODE: no redis.url (REDIS_URL); session bindings, the DPoP proof replay cache and the audit trail are in this process only. Never run two gateway replicas like this.');
  }
  if (!config.enforcement) logger.warn('ENFORCEMENT OFF: requests are proxied without authentication, decision, assertion or audit (benchmarks only)');
  // RFC 9449 §11.1: a proof's jti is accepted once, by whichever replica sees it first (one store for every route:
  // the SDK's key already names the proof key and htu).
  const dpopReplay = redis ? redisDpopReplayStore(redis, config.redis.keyPrefix) : new MemoryDpopReplayStore();
  // Redis: read again (and its TTL slid) at most every SESSION_REFRESH_SECONDS per binding and replica (sessions.ts).
  const sessions = redis
    ? cachedSessionBindings(redisSessionBindings(redis, config.redis.keyPrefix, config.sessionTtlSeconds), SESSION_REFRESH_SECONDS)
    : memorySessionBindings(config.sessionTtlSeconds);

  const metrics = createGatewayMetrics();
  const events = createDecisionEvents((err) => logger.error({ err }, 'decision listener failed'));
  events.on((event) => logger.info({ event }, 'gateway decision'));
  const audit = attachAuditWriter(events, { log: stores.audit, logger, onDropped: (n) => metrics.auditDropped.inc(n), minIntervalMs: AUDIT_WINDOW_MS });
  const signer = createAssertionSigner(keys, config.publicUrl, config.assertionTtlSeconds);
  const upstreamTokens = config.routes.some((r) => r.upstreamAuth === 'exchange')
    ? createUpstreamTokens({ tokenEndpoint: `${config.issuer}/token`, tokenUrl: `${config.serviceUrl}/token`, clientId: config.client.clientId, clientSecret, timeoutMs: config.upstreamTimeoutMs })
    : undefined;

  const lifecycle = createLifecycle();
  // Aborted when the grace period starts: open event streams end (handler.ts), so they cannot hold the drain.
  const streams = new AbortController();
  let dependencyFailure: string | undefined;
  const onVerify = (error: VerifyError | undefined) => {
    if (!error) dependencyFailure = undefined;
    else if (DEPENDENCY_FAILURES.has(error.code)) dependencyFailure = error.code;
  };
  // The SDK derives the feed's URLs from `issuer`; with `serviceUrl` they are sent there instead (same paths).
  const viaService: FetchLike | undefined =
    config.serviceUrl === config.issuer ? undefined : (input, init) => fetch(String(input).startsWith(`${config.issuer}/`) ? `${config.serviceUrl}${String(input).slice(config.issuer.length)}` : input, init);
  const verifiers: Verifier[] = [];
  const byPath = new Map<string, RouteDeps>();
  const metadata = new Map<string, string>();
  for (const route of config.routes) {
    const verifier = createVerifier({
      issuer: config.issuer,
      audience: route.resource,
      jwksUri: config.jwksUri,
      revocation: { mode: 'feed', clientId: config.client.clientId, clientSecret, maxStalenessSeconds: config.revocation.maxStalenessSeconds, ...(viaService ? { fetch: viaService } : {}) },
      dpop: { algorithms: config.dpop.algorithms, proofWindowSeconds: config.dpop.proofWindowSeconds, replay: dpopReplay, ...(nonceSecret !== undefined ? { nonceSecret } : {}) },
    });
    verifiers.push(verifier);
    const metadataUrl = resourceMetadataUrl(route.resource);
    byPath.set(new URL(route.resource).pathname, {
      route,
      upstreamUrl: new URL(route.upstream),
      verifier,
      resourceMetadataUrl: metadataUrl,
      decider: createDecider(route, {
        resourceMetadataUrl: metadataUrl,
        argumentsKey,
        logArguments: config.audit.logArguments,
        dpopAlgorithms: verifier.dpopAlgorithms,
        maxBufferedBytes: config.maxBufferedBytes,
      }),
      signer,
      upstreamTokens,
      sessions,
      inFlight: new InFlightRequests(),
      metrics,
      allowedOrigins: new Set(config.allowedOrigins),
      maxBodyBytes: config.maxBodyBytes,
      timeoutMs: route.timeoutMs ?? config.upstreamTimeoutMs,
      enforcement: config.enforcement,
      onVerify,
      audit: (event) => events.emit(event),
      streamsEnd: streams.signal,
      logger,
    });
    // RFC 9728 §3: each route's metadata at the well-known path derived from its resource URI.
    metadata.set(
      resourceMetadataPath(route.resource),
      JSON.stringify(protectedResourceMetadata({ resource: route.resource, authorizationServers: [config.issuer], scopesSupported: route.scopesSupported })),
    );
  }

  // Readiness: every route's feed is fresh (first snapshot delivered, heard from within maxStalenessSeconds: the
  // SDK's health(), so a feed that goes silent turns the gateway unready with no traffic), the service's JWKS
  // answered, and no verification since the last success failed to reach the JWKS.
  let feedsReady = false;
  const readyPromise = Promise.all(verifiers.map((v) => v.ready())).then(() => {
    feedsReady = true;
  });
  // The SDK rejects ready() only when the verifier is closed before its first snapshot: worth a line unless we closed it.
  readyPromise.catch((err: unknown) => {
    if (!lifecycle.draining) logger.error({ err: (err as Error).message }, 'revocation feed not ready');
  });
  let jwksCheckedAt = 0;
  let jwksOk = false;
  const checkJwks = async (): Promise<boolean> => {
    if (Date.now() - jwksCheckedAt < 10_000) return jwksOk;
    jwksCheckedAt = Date.now();
    try {
      const res = await fetch(config.jwksUri, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { keys?: unknown };
      jwksOk = res.ok && Array.isArray(body.keys) && body.keys.length > 0;
    } catch {
      jwksOk = false;
    }
    return jwksOk;
  };
  void checkJwks();

  const jwksBody = JSON.stringify(keys.publicJwks);
  const json = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
    res.end(body);
  };
  /**
   * /healthz, /readyz and, `withMetrics`, /metrics: resolves true once answered, false for any other path. The public
   * port serves /metrics only without `management.port`; the management port serves all three.
   */
  const probe = async (path: string, res: ServerResponse, withMetrics: boolean): Promise<boolean> => {
    if (path === '/healthz') {
      json(res, 200, '{"status":"ok"}');
      return true;
    }
    if (path === '/readyz') {
      // Draining: 503 at once, whatever the checks, so load balancers stop routing here during the delay.
      if (lifecycle.draining) {
        json(res, 503, '{"status":"draining"}');
        return true;
      }
      const feeds = verifiers.map((v) => v.health());
      const checks = {
        feeds: feedsReady && feeds.every((h) => h.ready),
        jwks: await checkJwks(),
        verification: dependencyFailure === undefined,
        // Only a Redis there is: without one (a single replica, acknowledged in production) nothing is claimed about it.
        ...(redis ? { redis: await stores.health.ping().catch(() => false) } : {}),
      };
      const ok = Object.values(checks).every(Boolean);
      const feedAgeMs = Math.max(...feeds.map((h) => h.revocation.ageMs ?? Infinity));
      json(res, ok ? 200 : 503, JSON.stringify({ status: ok ? 'ready' : 'not ready', checks, ...(Number.isFinite(feedAgeMs) ? { feedAgeMs } : {}) }));
      return true;
    }
    // Per-tool counts and deny reasons: never cached by anything between the scraper and here.
    if (path === '/metrics' && withMetrics) {
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
      res.end(await metrics.registry.metrics());
      return true;
    }
    return false;
  };
  const handle = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = byPath.get(path);
    if (route) return handleMcp(route, req, res, requestId);
    // RFC 9728 metadata and the JWKS are public documents that a browser-based MCP client reads from its own origin
    // (the MCP TypeScript SDK's metadata router answers them the same way): readable from any origin, no credentials.
    if (req.method === 'OPTIONS' && (metadata.has(path) || path === JWKS_PATH)) {
      res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, HEAD', 'access-control-allow-headers': 'mcp-protocol-version', 'access-control-max-age': '600' });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 404, JSON.stringify({ error: 'not_found' }));
    if (await probe(path, res, management === undefined)) return;
    if (path === JWKS_PATH) {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
      res.end(jwksBody);
      return;
    }
    const doc = metadata.get(path);
    if (doc) return json(res, 200, doc, { 'access-control-allow-origin': '*' });
    return json(res, 404, JSON.stringify({ error: 'not_found' }));
  };
  // Handlers still running: shutdown flushes the audit queue only after each has emitted its decision event.
  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    // On every answer (writeHead merges it), in the decision event and in the log lines of this request.
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    const handled = handle(req, res, requestId).catch((err: unknown) => {
      // A route's failures are answered, logged and audited by handleMcp; this is the rest (the gateway's own paths,
      // which are no decision and so not audited, or a failure inside that handling): logged, answered without detail.
      logger.error({ reqId: requestId, error: loggableFailure(err) }, 'gateway request failed');
      if (res.headersSent) {
        if (!res.writableEnded) res.destroy();
      } else if (byPath.has((req.url ?? '/').split('?')[0]!)) json(res, 500, jsonRpcError(null, -32603, 'internal error'));
      else json(res, 500, JSON.stringify({ error: 'server_error', error_description: 'internal error' }));
    });
    inFlight.add(handled);
    void handled.finally(() => inFlight.delete(handled));
  });
  keepAliveBeyondBalancers(server);
  // With management.port: /metrics only there, probes on both (as the service's management listener).
  const management = config.management.port === undefined
    ? undefined
    : keepAliveBeyondBalancers(
        createServer((req, res) => {
          const path = (req.url ?? '/').split('?')[0]!;
          const answered = req.method === 'GET' || req.method === 'HEAD' ? probe(path, res, true) : Promise.resolve(false);
          answered.then(
            (done) => {
              if (!done) json(res, 404, JSON.stringify({ error: 'not_found' }));
            },
            (err: unknown) => {
              logger.error({ error: loggableFailure(err) }, 'gateway management request failed');
              if (!res.headersSent) json(res, 500, JSON.stringify({ error: 'server_error', error_description: 'internal error' }));
              else res.destroy();
            },
          );
        }),
      );
  const settle = () => Promise.race([Promise.allSettled([...inFlight]), sleep(SETTLE_AFTER_CUT_MS, undefined, { ref: false })]);

  return {
    server,
    keys,
    metrics,
    ready: () => readyPromise,
    async listen(port, host) {
      const listening = await listenOn(server, port, host);
      if (management) await listenOn(management, config.management.port!, host);
      return listening;
    },
    async shutdown({ deregistrationDelayMs, gracePeriodMs }, log = () => undefined) {
      lifecycle.startDraining();
      log(`draining: /readyz answers 503; the listener closes in ${deregistrationDelayMs} ms`);
      if (deregistrationDelayMs > 0) await sleep(deregistrationDelayMs);
      streams.abort();
      const inTime = server.listening ? await closeServer(server, gracePeriodMs) : true;
      log(inTime ? 'listener closed; every in-flight request finished' : `grace period of ${gracePeriodMs} ms ran out; remaining connections cut`);
      if (management?.listening) await closeServer(management, 0);
      // Verifiers stay open until here: a request admitted during the delay or the grace is verified as usual.
      for (const v of verifiers) v.close();
      await settle();
      await audit.flush();
      await stores.close();
      return inTime;
    },
    async close() {
      lifecycle.startDraining();
      streams.abort();
      for (const v of verifiers) v.close();
      if (server.listening) await closeServer(server, 0);
      if (management?.listening) await closeServer(management, 0);
      await settle();
      await audit.flush();
      await stores.close();
    },
  };
}
