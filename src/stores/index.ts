// Chooses and builds the service's Stores: Redis (a URL) or Redis Cluster (seed URLs) when configured, memory (single
// instance, dev) otherwise.
import { createMemoryStores } from './memory/index.js';
import { connectRedis, createRedisClient, createRedisClusterClient, createRedisStores, type RevocationDurability } from './redis/index.js';
import type { StoreLimits, Stores } from './types.js';

export { adapterClass } from './adapter_class.js';
export type * from './types.js';

export interface StoresOptions {
  /** `redis://` or `rediss://` URL; omitted means in-memory stores. */
  redisUrl?: string;
  /** Redis Cluster seed URLs (`redis://` or `rediss://`, same credentials); exclusive with `redisUrl`. */
  clusterNodes?: readonly string[];
  /** Replicas a revocation write waits for (Redis WAIT) before it is acknowledged; default none. */
  revocationDurability?: RevocationDurability;
  /** Prepended to every Redis key, so several services (or test runs) can share one Redis. */
  keyPrefix: string;
  /** Audit and session-registry bounds; each defaults to the service configuration's default. */
  limits?: Partial<StoreLimits>;
  /** Receives Redis connection errors after startup; without it they are dropped, since failing calls and
   * `health.ping()` already report an unavailable Redis (reconnects happen in the background). */
  onRedisError?: (error: Error) => void;
  /** Receives every Redis command that failed (error reply, timeout, dropped connection): each is an answer refused
   * with 503 somewhere, or a write retried or dropped. */
  onRedisCommandError?: (error: Error) => void;
}

/**
 * Fails with a clear Error when Redis is configured but unreachable at startup: running on without the shared store
 * would split state between instances.
 *
 * @example
 * const stores = await createStores({ redisUrl: process.env.REDIS_URL, keyPrefix: 'dts:' });
 */
export async function createStores(options: StoresOptions): Promise<Stores> {
  const limits = options.limits ?? {};
  const clusterNodes = options.clusterNodes ?? [];
  if (options.redisUrl && clusterNodes.length > 0) throw new TypeError('set a Redis URL or Redis Cluster nodes, not both');
  if (!options.redisUrl && clusterNodes.length === 0) return createMemoryStores({ limits });
  const onError = options.onRedisError ?? (() => {});
  const clientOptions = { onError, ...(options.onRedisCommandError ? { onCommandError: options.onRedisCommandError } : {}) };
  const redis = options.redisUrl ? createRedisClient(options.redisUrl, clientOptions) : createRedisClusterClient(clusterNodes, clientOptions);
  await connectRedis(redis, options.redisUrl ?? clusterNodes.join(','));
  return createRedisStores(redis, {
    keyPrefix: options.keyPrefix,
    limits,
    ...(options.revocationDurability ? { revocationDurability: options.revocationDurability } : {}),
  });
}
