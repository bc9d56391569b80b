// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// Revocation durability: with redis.revocationReplicas set, a revocation is acknowledged only once that many replicas
// have it (Redis WAIT); when they do not within redis.revocationWaitMs, revoke() fails as an outage (503 upstream). A
// private primary of this test's own, then a replica of it (never the shared Redis).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailable } from '../../src/stores/errors.js';
import { connectRedis, createRedisClient, createRedisStores } from '../../src/stores/redis/index.js';
import type { Stores } from '../../src/stores/types.js';
import { startRedis } from '../helpers/private_redis.js';
import { freePort, startService } from '../helpers/service.js';
import { adminToken, call } from '../admin/helpers.js';

describe('revocation writes wait for replicas (redis.revocationReplicas)', () => {
  const children: ChildProcess[] = [];
  let primaryPort: number;
  let stores: Stores;

  before(async () => {
    primaryPort = await freePort();
    children.push(await startRedis(primaryPort));
    const url = `redis://127.0.0.1:${primaryPort}`;
    const redis = createRedisClient(url, { onError: () => {} });
    await connectRedis(redis, url);
    stores = createRedisStores(redis, { keyPrefix: `test:${randomUUID()}:`, revocationDurability: { replicas: 1, timeoutMs: 300 } });
  });
  after(async () => {
    await stores.close();
    for (const child of children) child.kill('SIGKILL');
  });

  const now = () => Math.floor(Date.now() / 1000);

  it('no replica acknowledges within the wait: revoke rejects with StoreUnavailable; the marker is in force on the primary', async () => {
    const record = { kind: 'jti', value: randomUUID(), revokedAt: now(), expiresAt: now() + 60 } as const;
    const started = performance.now();
    await assert.rejects(stores.exchange.revoke(record), (err: unknown) => {
      assert.ok(err instanceof StoreUnavailable, String(err));
      assert.match(err.message, /acknowledged by 0 of 1 replicas within 300 ms/);
      return true;
    });
    assert.ok(performance.now() - started < 1000);
    assert.deepEqual(await stores.exchange.readRevocations({ jti: record.value, clientIds: [] }), { jti: record, clients: [] });
    // A retry is idempotent: still waiting for the replica, still refused, nothing published twice.
    await assert.rejects(stores.exchange.revoke(record), StoreUnavailable);
    assert.equal((await stores.revocations.since('0-0')).events.filter((e) => e.record.value === record.value).length, 1);
  });

  it('over HTTP: the admin revocation answers 503 temporarily_unavailable while no replica acknowledges', async () => {
    const svc = await startService({
      extra: () => ({ redis: { url: `redis://127.0.0.1:${primaryPort}`, keyPrefix: `test:${randomUUID()}:`, revocationReplicas: 1, revocationWaitMs: 200 } }),
    });
    try {
      const token = await adminToken(svc);
      const res = await call(svc, 'POST', `/admin/subjects/${encodeURIComponent('user-nobody')}/revoke`, { token, json: { reason: 'test' } });
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.deepEqual(res.body, { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' });
    } finally {
      await svc.stop();
    }
  });

  it('with a replica attached, the same revoke is acknowledged', async () => {
    const probe = createRedisClient(`redis://127.0.0.1:${primaryPort}`);
    await connectRedis(probe, `redis://127.0.0.1:${primaryPort}`);
    // Redis waits 5 s by default before a diskless full sync, to batch replicas; this test has one.
    await probe.config('SET', 'repl-diskless-sync-delay', '0');
    const replicaPort = await freePort();
    const replica = spawn('redis-server', ['--port', String(replicaPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--replicaof', '127.0.0.1', String(primaryPort)], { stdio: 'ignore' });
    children.push(replica);
    try {
      const deadline = Date.now() + 10_000;
      while (!/slave0:.*state=online/.test(await probe.info('replication'))) {
        assert.ok(Date.now() < deadline, 'replica never attached');
        await sleep(100);
      }
    } finally {
      probe.disconnect();
    }
    // A wait long enough for a loaded CI machine: the replica is online, so the acknowledgement comes (WAIT returns as
    // soon as it does); 300 ms, the other tests' wait, is too tight when the two cores are busy.
    const url = `redis://127.0.0.1:${primaryPort}`;
    const redis = createRedisClient(url, { onError: () => {} });
    await connectRedis(redis, url);
    const patient = createRedisStores(redis, { keyPrefix: `test:${randomUUID()}:`, revocationDurability: { replicas: 1, timeoutMs: 5000 } });
    try {
      const record = { kind: 'sub', value: randomUUID(), revokedAt: now(), expiresAt: now() + 60 } as const;
      const started = Date.now();
      assert.deepEqual(await patient.exchange.revoke(record), { record, created: true });
      assert.ok(Date.now() - started < 5000);
    } finally {
      await patient.close();
    }
  });
});
