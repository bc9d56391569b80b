// Redis liveness for /readyz and the fail-closed rule.
import type { Redis } from 'ioredis';
import type { StoreHealth } from '../types.js';

/** PING answered within `timeoutMs` means healthy; anything else (error, timeout, closed client) is false, never a throw. */
export function redisHealth(redis: Redis, timeoutMs = 500): StoreHealth {
  return {
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(resolve, timeoutMs, false);
      });
      try {
        return await Promise.race([redis.ping().then((reply) => reply === 'PONG'), timedOut]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
