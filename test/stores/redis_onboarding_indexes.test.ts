// The Redis indexes of the onboarding listings (keys.ts): the two registered-client indexes hold the same members and
// stay in step (expired members leave both, lazily on a page or all at once on a registration), and the keys written
// together share a slot on a Redis Cluster.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { clusterKeys, redisKeys } from '../../src/stores/redis/keys.js';
import { orderEntry } from '../../src/stores/onboarding_order.js';
import { connectTestCluster } from '../helpers/redis_cluster.js';
import { openRedisHarness } from './redis_harness.js';

const now = () => Math.floor(Date.now() / 1000);

describe('redis: the registered-client indexes stay in step', () => {
  it('a page removes the expired members it passes from both indexes; a registration prunes every expired one from both', async () => {
    const h = await openRedisHarness();
    try {
      const keys = redisKeys.onboarding;
      const [index, order] = [keys.clients(h.prefix), keys.clientOrder(h.prefix)];
      const ids = Array.from({ length: 10 }, () => `dcr_${randomUUID()}`);
      for (const id of ids) await h.stores.onboarding.addClient(id, now() + 600, 100);
      assert.deepEqual(await h.redis.zrange(order, '0', '-1'), ids.map(orderEntry).sort());
      assert.deepEqual(await h.redis.zscore(index, orderEntry(ids[0]!)), String(now() + 600));
      // Half expire; listing every live one passes (and drops) them all.
      for (const id of ids.slice(0, 5)) await h.stores.onboarding.touchClient(id, now() - 1);
      assert.deepEqual((await h.stores.onboarding.listClients(100)).map((c) => c.clientId).sort(), ids.slice(5).sort());
      assert.deepEqual([await h.redis.zcard(index), await h.redis.zcard(order)], [5, 5]);
      // The rest expire; a registration drops them from both before it counts against the cap.
      for (const id of ids.slice(5)) await h.stores.onboarding.touchClient(id, now() - 1);
      assert.equal(await h.stores.onboarding.addClient('dcr_new', now() + 600, 1), true);
      assert.deepEqual([await h.redis.zrange(index, '0', '-1'), await h.redis.zrange(order, '0', '-1')], [[orderEntry('dcr_new')], [orderEntry('dcr_new')]]);
      assert.equal(await h.stores.onboarding.removeClient('dcr_new'), true);
      assert.deepEqual([await h.redis.exists(index), await h.redis.exists(order)], [0, 0]);
    } finally {
      await h.close();
    }
  });

  it('on a Redis Cluster the keys written together share a slot: both client indexes, and the consents with their document index', async () => {
    const redis = await connectTestCluster();
    try {
      const prefix = `test:${randomUUID()}:`;
      const k = clusterKeys.onboarding;
      const slots = async (...keys: string[]) => new Set(await Promise.all(keys.map((key) => redis.cluster('KEYSLOT', key))));
      assert.equal((await slots(k.clients(prefix), k.clientOrder(prefix))).size, 1);
      assert.equal((await slots(k.consents(prefix), k.consentDocuments(prefix), k.consentCounts(prefix))).size, 1);
    } finally {
      redis.disconnect();
    }
  });
});
