// createStores picks the backend; adapterClass is what oidc-provider instantiates per model.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { adapterClass, createStores } from '../../src/stores/index.js';
import { connectRedis, createRedisClient } from '../../src/stores/redis/index.js';
import { deleteByPrefix, redisUrl } from './redis_harness.js';

describe('createStores', () => {
  it('builds memory stores without a Redis URL', async () => {
    const stores = await createStores({ keyPrefix: 'unused:' });
    assert.equal(stores.kind, 'memory');
    assert.equal(await stores.health.ping(), true);
    await stores.close();
  });

  it('builds connected Redis stores with a Redis URL', async () => {
    const keyPrefix = `test:${randomUUID()}:`;
    const stores = await createStores({ redisUrl, keyPrefix });
    try {
      assert.equal(stores.kind, 'redis');
      assert.equal(await stores.health.ping(), true);
      const now = Math.floor(Date.now() / 1000);
      const record = { kind: 'jti', value: 'x', revokedAt: now, expiresAt: now + 5 } as const;
      assert.deepEqual(await stores.exchange.revoke(record), { record, created: true });
      assert.deepEqual(await stores.exchange.readRevocations({ jti: 'x', clientIds: [] }), { jti: record, clients: [] });
    } finally {
      await stores.close();
      const redis = createRedisClient(redisUrl);
      await connectRedis(redis, redisUrl);
      await deleteByPrefix(redis, keyPrefix);
      await redis.quit();
    }
  });
});

describe('adapterClass', () => {
  it('is constructed per model by name and delegates to that model adapter', async () => {
    const stores = await createStores({ keyPrefix: 'unused:' });
    try {
      const Adapter = adapterClass(stores);
      const sessions = new Adapter('Session');
      await sessions.upsert('s1', { jti: 's1', uid: 'u1', accountId: 'alice' }, 60);
      assert.deepEqual(await new Adapter('Session').findByUid('u1'), { jti: 's1', uid: 'u1', accountId: 'alice' });
      assert.deepEqual(await stores.adapterFor('Session').find('s1'), { jti: 's1', uid: 'u1', accountId: 'alice' });
      assert.equal(await new Adapter('AccessToken').find('s1'), undefined);
      await sessions.destroy('s1');
      assert.equal(await sessions.find('s1'), undefined);
    } finally {
      await stores.close();
    }
  });
});
