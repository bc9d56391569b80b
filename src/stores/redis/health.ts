// Redis liveness for /readyz and the fail-closed rule.
import type { Cluster, Redis } from 'ioredis';
import { isCluster } from './client.js';
import type { StoreHealth } from '../types.js';

/**
 * PING answered within `timeoutMs` means healthy; anything else (error, timeout, closed client) is false, never a throw.
 * On a Redis Cluster every master must answer: a master that does not leaves its slots unserved (and, with Redis'
 * default cluster-require-full-coverage, the whole cluster refuses commands once it is marked failed).
 */
export function redisHealth(redis: Redis, timeoutMs = 500): StoreHealth {
  return {
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(resolve, timeoutMs, false);
      });
      try {
        return await Promise.race([isCluster(redis) ? pingMasters(redis as unknown as Cluster) : redis.ping().then((reply) => reply === 'PONG'), timedOut]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

async function pingMasters(cluster: Cluster): Promise<boolean> {
  const masters = cluster.nodes('master');
  if (masters.length === 0) return false;
  const replies = await Promise.all(masters.map((node) => node.ping()));
  return replies.every((reply) => reply === 'PONG');
}
