// Redis test plumbing: a connected client under a random key prefix, cleaned up (SCAN MATCH prefix*) on close.
import { deleteKeysWithPrefix } from '../../tools/local.js';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connectRedis, createRedisClient, createRedisStores } from '../../src/stores/redis/index.js';
import type { Stores } from '../../src/stores/types.js';
import type { HarnessOptions, StoreHarness } from './contract.js';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface RedisHarness extends StoreHarness {
  redis: Redis;
  prefix: string;
  stores: Stores;
}

export async function openRedisHarness(options: HarnessOptions = {}, url = redisUrl): Promise<RedisHarness> {
  const prefix = `test:${randomUUID()}:`;
  const redis = createRedisClient(url);
  await connectRedis(redis, url);
  const stores = createRedisStores(redis, { keyPrefix: prefix, ...options });
  return {
    redis,
    prefix,
    stores,
    async close() {
      await deleteKeysWithPrefix(redis, prefix);
      await stores.close();
    },
  };
}


export { deleteKeysWithPrefix as deleteByPrefix };
