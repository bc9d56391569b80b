// The store contract on a real Redis Cluster (three masters: TEST_REDIS_CLUSTER_NODES, or one started for this file).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis, type Cluster } from 'ioredis';
import { createRedisStores } from '../../src/stores/redis/index.js';
import { clusterKeys } from '../../src/stores/redis/keys.js';
import { connectTestCluster, deleteClusterKeysWithPrefix } from '../helpers/redis_cluster.js';
import { storeContract, type HarnessOptions } from './contract.js';
import { tokenDigest } from '../../src/sessions/revocation.js';

storeContract('redis cluster', async (options: HarnessOptions = {}) => {
  const prefix = `test:${randomUUID()}:`;
  const redis = await connectTestCluster();
  const stores = createRedisStores(redis, { keyPrefix: prefix, ...options });
  return {
    stores,
    async close() {
      await deleteClusterKeysWithPrefix(redis, prefix);
      await stores.close();
    },
  };
});

describe('redis cluster key layout', () => {
  it('spreads sessions, records and markers over the masters; the keys one script touches share a slot; feed keys share one', async () => {
    const prefix = `test:${randomUUID()}:`;
    const redis = await connectTestCluster();
    const stores = createRedisStores(redis, { keyPrefix: prefix });
    try {
      const now = Math.floor(Date.now() / 1000);
      const sids = Array.from({ length: 30 }, () => randomUUID());
      const hop = { at: now, clientId: 'agent', priorActors: [], toolServer: 'https://t.example', scopes: [], jti: 'j', exp: now + 60 };
      await stores.sessions.recordIssuedMany(sids.map((sid) => ({ session: { sid, sub: `user-${sid}`, issuer: 'self' }, hop, retentionSeconds: 60 })));
      for (const sid of sids) await stores.exchange.revoke({ kind: 'sid', value: sid, revokedAt: now, expiresAt: now + 60 });
      const s = clusterKeys.session;
      for (const sid of sids.slice(0, 5)) {
        const slots = new Set(await Promise.all([s.record, s.clients, s.tools, s.jtis, s.hops].map((key) => redis.cluster('KEYSLOT', key(prefix, sid)))));
        assert.equal(slots.size, 1, sid);
      }
      const feedSlots = new Set(
        await Promise.all([clusterKeys.revocationEvents, clusterKeys.revocationIndex, clusterKeys.revocationRecords].map((key) => redis.cluster('KEYSLOT', key(prefix)))),
      );
      assert.equal(feedSlots.size, 1);
      // Every master holds some of this test's keys: no global tag pins them to one shard.
      const perMaster = await Promise.all(
        (redis as unknown as Cluster).nodes('master').map(async (node) => (await node.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000))[1].length),
      );
      assert.equal(perMaster.length, 3);
      for (const count of perMaster) assert.ok(count > 0, `keys per master: ${perMaster.join(', ')}`);
      assert.equal((await stores.revocations.snapshot()).revocations.length, sids.length);
    } finally {
      await deleteClusterKeysWithPrefix(redis, prefix);
      await stores.close();
    }
  });

  it('reads a token seen before, its session and the stream head in one batch (HMGET, XREVRANGE, HMGET); a new token also follows the uid index', async () => {
    const prefix = `test:${randomUUID()}:`;
    const redis = await connectTestCluster();
    const stores = createRedisStores(redis, { keyPrefix: prefix });
    const proto = Redis.prototype as unknown as { sendCommand(command: { name: string; args: unknown[] }, stream?: unknown): unknown };
    const original = proto.sendCommand;
    const sent: string[] = [];
    try {
      const [tokenId, sessionId, sessionUid] = [randomUUID(), randomUUID(), randomUUID()];
      const session = { jti: sessionId, uid: sessionUid, kind: 'Session', accountId: 'alice' };
      const token = { jti: tokenId, kind: 'AccessToken', accountId: 'alice', clientId: 'agent', sessionUid };
      await stores.adapterFor('Session').upsert(sessionId, session, 60);
      await stores.adapterFor('AccessToken').upsert(tokenId, token, 60);
      // Every master's connection open first: a command that opens one is sent again once it is ready.
      await Promise.all((redis as unknown as Cluster).nodes('master').map((node) => node.ping()));
      // Only this store's keys: connection set-up and other clients' commands in this process are not the read.
      proto.sendCommand = function (this: unknown, command: { name: string; args: unknown[] }, stream?: unknown) {
        if (String(command.args[0]).startsWith(prefix)) sent.push(command.name);
        return original.call(this, command, stream);
      };
      const first = await stores.exchange.readOpaqueToken(tokenId, tokenDigest(tokenId));
      assert.deepEqual(sent.sort(), ['get', 'hmget', 'hmget', 'xrevrange']);
      sent.length = 0;
      const second = await stores.exchange.readOpaqueToken(tokenId, tokenDigest(tokenId));
      assert.deepEqual(sent.sort(), ['hmget', 'hmget', 'xrevrange']);
      assert.deepEqual(second, first);
      assert.deepEqual(second.session, session);
    } finally {
      proto.sendCommand = original;
      await deleteClusterKeysWithPrefix(redis, prefix);
      await stores.close();
    }
  });

  it('refuses a key prefix with a brace (it would become every key’s hash tag)', async () => {
    const redis = await connectTestCluster();
    try {
      assert.throws(() => createRedisStores(redis, { keyPrefix: 'dts:{x}:' }), /keyPrefix may not contain/);
    } finally {
      redis.disconnect();
    }
  });
});
