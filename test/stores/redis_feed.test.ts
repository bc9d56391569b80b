// Redis only: the revocation feed is shared by every instance on the same Redis, and survives dropped connections.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis, createRedisClient, createRedisStores } from '../../src/stores/redis/index.js';
import type { RevocationEvent, RevocationRecord } from '../../src/stores/types.js';
import { openRedisHarness, redisUrl, type RedisHarness } from './redis_harness.js';
import { startProxy } from './redis_proxy.js';

const nowSec = () => Math.floor(Date.now() / 1000);
const record = (): RevocationRecord => ({ kind: 'jti', value: randomUUID(), revokedAt: nowSec(), expiresAt: nowSec() + 600 });

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('redis revocation feed across instances', () => {
  let writer: RedisHarness;
  before(async () => {
    writer = await openRedisHarness();
  });
  after(() => writer.close());

  it('delivers a revocation made by one instance to listeners of another, once', async () => {
    // The same REDIS_URL as the writer (db number included): both instances must share one stream.
    const redis = createRedisClient(redisUrl);
    const reader = createRedisStores(redis, { keyPrefix: writer.prefix });
    try {
      await connectRedis(redis, redisUrl);
      const seenA: RevocationEvent[] = [];
      const seenB: RevocationEvent[] = [];
      const offA = reader.revocations.subscribe((e) => seenA.push(e));
      const offB = reader.revocations.subscribe((e) => seenB.push(e));
      // The live reader starts at the stream's head as read when subscribe() is called (stream_tail.ts): a command sent
      // on the reader's client afterwards, as the view's snapshot is, runs after that read, so what follows is delivered.
      await reader.revocations.head();
      const r = record();
      await writer.stores.exchange.revoke(r);
      await writer.stores.exchange.revoke(r);
      await until(() => seenA.length > 0 && seenB.length > 0, 3000, 'delivery');
      await sleep(100);
      assert.deepEqual(seenA.map((e) => e.record), [r]);
      assert.deepEqual(seenB, seenA);
      assert.deepEqual(seenA, (await writer.stores.revocations.since('0-0')).events);
      offA();
      offB();
    } finally {
      await reader.close();
    }
  });

  it('resumes after its connection drops, without losing what was revoked meanwhile', async () => {
    const proxy = await startProxy();
    const redis = createRedisClient(proxy.url, { onError: () => {} });
    const reader = createRedisStores(redis, { keyPrefix: writer.prefix });
    let revived: Awaited<ReturnType<typeof startProxy>> | undefined;
    try {
      await connectRedis(redis, proxy.url);
      const seen: RevocationEvent[] = [];
      const off = reader.revocations.subscribe((e) => seen.push(e));
      await reader.revocations.head(); // as above: the writer's revocations come after the reader's start
      const before = record();
      await writer.stores.exchange.revoke(before);
      await until(() => seen.some((e) => e.record.value === before.value), 3000, 'first delivery');

      await proxy.kill();
      const during = record();
      await writer.stores.exchange.revoke(during);
      revived = await startProxy(proxy.port);
      await until(() => seen.some((e) => e.record.value === during.value), 8000, 'delivery after reconnect');
      // The reader starts at the stream's head (stream_tail.ts): the previous test's event is not replayed.
      assert.deepEqual(
        seen.map((e) => e.record),
        [before, during],
      );
      off();
    } finally {
      // Whatever failed above, nothing may stay listening or connected: an open proxy keeps the file alive until its timeout.
      await reader.close();
      await proxy.kill();
      await revived?.kill();
    }
  });
});
