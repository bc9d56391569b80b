// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// Redis only: when Redis is unreachable, stopped or hung, calls reject within about a second and ping says false,
// so the service can answer 503 quickly instead of queueing requests.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createStores } from '../../src/stores/index.js';
import { connectRedis, createRedisClient, createRedisStores } from '../../src/stores/redis/index.js';
import type { Stores } from '../../src/stores/types.js';
import { startProxy } from './redis_proxy.js';
import { tokenDigest } from '../../src/sessions/revocation.js';

/** Nothing listens here. */
const closedUrl = 'redis://127.0.0.1:6399';
const budgetMs = 1500;

async function elapsed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** Every kind of store call rejects within the budget, and ping answers false within it. */
async function assertFailsFast(stores: Stores): Promise<void> {
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['find', () => stores.adapterFor('AccessToken').find('x')],
    ['upsert', () => stores.adapterFor('AccessToken').upsert('x', { jti: 'x' }, 60)],
    ['consume', () => stores.adapterFor('AuthorizationCode').consume('x')],
    ['revokeByGrantId', () => stores.adapterFor('AccessToken').revokeByGrantId('g')],
    ['readOpaqueSubject', () => stores.exchange.readOpaqueSubject('x', ['c'])],
    ['readOpaqueToken', () => stores.exchange.readOpaqueToken('x', tokenDigest('x'))],
    ['readRevocations', () => stores.exchange.readRevocations({ sub: 's', clientIds: ['c'] })],
    ['revoke', () => stores.exchange.revoke({ kind: 'sub', value: 's', revokedAt: 1, expiresAt: 2 ** 31 })],
  ];
  const results = await Promise.all(calls.map(([name, call]) => elapsed(() => assert.rejects(call(), Error, name))));
  for (const [i, ms] of results.entries()) assert.ok(ms < budgetMs, `${calls[i]?.[0]} took ${Math.round(ms)} ms`);
  let healthy: boolean | undefined;
  const pingMs = await elapsed(async () => {
    healthy = await stores.health.ping();
  });
  assert.equal(healthy, false);
  assert.ok(pingMs < budgetMs, `ping took ${Math.round(pingMs)} ms`);
}

describe('redis stores fail fast', () => {
  it('reject quickly and ping false when Redis was never reachable', async () => {
    const redis = createRedisClient(closedUrl, { onError: () => {} });
    const stores = createRedisStores(redis, { keyPrefix: `test:${randomUUID()}:` });
    try {
      await assertFailsFast(stores);
    } finally {
      await stores.close();
    }
  });

  it('createStores fails at startup with a clear Error when Redis is unreachable', async () => {
    const ms = await elapsed(() =>
      assert.rejects(createStores({ redisUrl: 'redis://user:secret@127.0.0.1:6399', keyPrefix: 'test:' }), (error: Error) => {
        assert.match(error.message, /^cannot connect to Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:6399\/?: Connection is closed\. \(connect ECONNREFUSED 127\.0\.0\.1:6399\)$/);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      }),
    );
    assert.ok(ms < budgetMs, `startup failure took ${Math.round(ms)} ms`);
    // ioredis also takes the password from the query: the message drops the query.
    await assert.rejects(createStores({ redisUrl: 'redis://127.0.0.1:6399/2?password=s3cret-in-query&db=2', keyPrefix: 'test:' }), (error: Error) => {
      assert.match(error.message, /^cannot connect to Redis at redis:\/\/127\.0\.0\.1:6399\/2: /);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
  });

  it('reject quickly when Redis goes away after startup, and recover when it is back', async () => {
    const proxy = await startProxy();
    const redis = createRedisClient(proxy.url, { onError: () => {} });
    const stores = createRedisStores(redis, { keyPrefix: `test:${randomUUID()}:` });
    try {
      await connectRedis(redis, proxy.url);
      assert.equal(await stores.health.ping(), true);
      await proxy.kill();
      await assertFailsFast(stores);

      const revived = await startProxy(proxy.port);
      try {
        const deadline = Date.now() + 5000;
        while (!(await stores.health.ping())) {
          assert.ok(Date.now() < deadline, 'never reconnected');
          await sleep(50);
        }
        assert.equal(await stores.adapterFor('AccessToken').find('x'), undefined);
      } finally {
        await revived.kill();
      }
    } finally {
      await stores.close();
      await proxy.kill();
    }
  });

  it('reject quickly when Redis stops answering (commandTimeout)', async () => {
    const proxy = await startProxy();
    const redis = createRedisClient(proxy.url, { onError: () => {} });
    const stores = createRedisStores(redis, { keyPrefix: `test:${randomUUID()}:` });
    try {
      await connectRedis(redis, proxy.url);
      assert.equal(await stores.health.ping(), true);
      proxy.hang();
      await assertFailsFast(stores);
    } finally {
      await stores.close();
      await proxy.kill();
    }
  });
});
