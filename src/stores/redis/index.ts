// The Redis-backed Stores: single Redis (or a Sentinel-managed primary) or Redis Cluster (see keys.ts and scripts.ts).
import type { Redis } from 'ioredis';
import { storeLimits } from '../limits.js';
import type { OidcAdapter, StoreLimits, Stores } from '../types.js';
import { RedisAuditLog } from './audit_log.js';
import { closeRedis, isCluster } from './client.js';
import { RedisExchangeStateStore, type RevocationDurability } from './exchange_state_store.js';
import { storeFailuresAsUnavailable, toUnavailable } from '../errors.js';
import { redisHealth } from './health.js';
import { RedisOidcAdapter, accountSessionUids } from './oidc_adapter.js';
import { RedisRevocationFeed } from './revocation_feed.js';
import { withScripts } from './scripts.js';
import { RedisSessionRegistry } from './session_registry.js';
import { RedisOnboardingStore } from './onboarding_store.js';
import { RedisConsentStore } from './consent_store.js';
import { RedisDpopReplayStore } from './dpop_replay.js';
import { RedisUpstreamLoginStore } from './upstream_login.js';

export { createRedisClient, createRedisClusterClient, connectRedis, isCluster, parseClusterNodes, type RedisClientOptions } from './client.js';
export type { RevocationDurability } from './exchange_state_store.js';

export interface RedisStoresOptions {
  /** Prepended to every key, so several services (or test runs) can share one Redis. */
  keyPrefix: string;
  limits?: Partial<StoreLimits>;
  /** Approximate cap of the revocation event stream; lowered in tests to exercise trimming. */
  revocationEventsMax?: number;
  /** Replicas a revocation write waits for (Redis WAIT); default none. */
  revocationDurability?: RevocationDurability;
}

/**
 * Stores on an existing client. `close()` stops the feed's reader and quits the client.
 *
 * @example
 * const redis = createRedisClient('redis://127.0.0.1:6379');
 * await connectRedis(redis, 'redis://127.0.0.1:6379');
 * const stores = createRedisStores(redis, { keyPrefix: 'dts:' });
 */
export function createRedisStores(redis: Redis, options: RedisStoresOptions): Stores {
  const scripted = withScripts(redis);
  const prefix = options.keyPrefix;
  const cluster = isCluster(redis);
  // A brace in the prefix would become every key's hash tag: the whole store in one slot.
  if (cluster && /[{}]/.test(prefix)) throw new TypeError('redis.keyPrefix may not contain { or } on a Redis Cluster');
  const limits = storeLimits(options.limits);
  const adapters = new Map<string, OidcAdapter>();
  const revocations = new RedisRevocationFeed(scripted, prefix, cluster, options.revocationEventsMax);
  return {
    kind: 'redis',
    adapterFor(model) {
      let adapter = adapters.get(model);
      if (!adapter) adapters.set(model, (adapter = new RedisOidcAdapter(scripted, prefix, model, cluster)));
      return adapter;
    },
    providerSessionsOf: (accountId) => accountSessionUids(scripted, prefix, cluster, accountId).catch(toUnavailable),
    // Every Redis failure on the exchange path is a StoreUnavailable: the exchange answers 503 for it, 500 for a bug.
    exchange: storeFailuresAsUnavailable(new RedisExchangeStateStore(scripted, prefix, options.revocationEventsMax, cluster, options.revocationDurability)),
    sessions: new RedisSessionRegistry(scripted, prefix, limits, cluster),
    audit: new RedisAuditLog(scripted, prefix, limits),
    revocations,
    onboarding: storeFailuresAsUnavailable(new RedisOnboardingStore(scripted, prefix, cluster)),
    consents: storeFailuresAsUnavailable(new RedisConsentStore(scripted, prefix, cluster)),
    dpopReplay: storeFailuresAsUnavailable(new RedisDpopReplayStore(scripted, prefix)),
    upstreamLogin: storeFailuresAsUnavailable(new RedisUpstreamLoginStore(scripted, prefix)),
    health: redisHealth(redis),
    async close() {
      await revocations.close();
      await closeRedis(redis);
    },
  };
}
