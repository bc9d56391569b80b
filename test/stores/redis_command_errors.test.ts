// Failed Redis commands are reported (dts_redis_errors_total counts them): ioredis emits 'error' only for connection
// problems, so error replies and timeouts were invisible to the metric.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRedisClient } from '../../src/stores/redis/client.js';
import { REDIS_URL } from '../helpers/service.js';

describe('Redis client: failed commands', () => {
  it('reports each failed command (direct, auto-pipelined, in a pipeline), not a missing script ioredis reloads', async () => {
    const failures: string[] = [];
    const redis = createRedisClient(REDIS_URL, { onCommandError: (err) => failures.push(err.message) });
    const key = `test:${randomUUID()}:s`;
    try {
      await redis.connect();
      await redis.set(key, 'text');
      await assert.rejects(redis.incr(key), /WRONGTYPE|not an integer/);
      // Two in one tick: auto-pipelined into one write.
      await Promise.allSettled([redis.lpush(key, 'x'), redis.hget(key, 'f')]);
      const results = await redis.pipeline().get(key).lpush(key, 'y').exec();
      assert.equal(results!.filter(([err]) => err).length, 1);
      assert.deepEqual(failures.map((m) => m.split(' ')[0]).sort(), ['ERR', 'WRONGTYPE', 'WRONGTYPE', 'WRONGTYPE']);
      // A script the server does not have: ioredis sends EVALSHA, gets NOSCRIPT, loads and retries it; nothing failed.
      redis.defineCommand(`probe${randomUUID().replace(/-/g, '')}`, { numberOfKeys: 1, lua: `return redis.call('GET', KEYS[1]) .. '${randomUUID()}'` });
      const name = Object.keys(redis).find((k) => k.startsWith('probe'))!;
      await (redis as unknown as Record<string, (k: string) => Promise<string>>)[name]!(key);
      assert.equal(failures.length, 4);
      // Successful commands report nothing.
      await redis.get(key);
      assert.equal(failures.length, 4);
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });
});
