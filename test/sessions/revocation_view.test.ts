// The replica's in-memory revocation view on real Redis: loaded from the snapshot, fed by the stream, ordered after
// every acknowledged revocation by the stream-head fence, and refusing (StoreUnavailable -> 503) when stale.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createStores } from '../../src/stores/index.js';
import type { RevocationFeed, RevocationRecord, Stores } from '../../src/stores/types.js';
import { StoreUnavailable } from '../../src/stores/errors.js';
import { RevocationView } from '../../src/sessions/revocation_view.js';
import { deleteKeysWithPrefix } from '../../tools/local.js';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../helpers/service.js';
import { createRedisStores } from '../../src/stores/redis/index.js';
import { connectTestCluster, deleteClusterKeysWithPrefix } from '../helpers/redis_cluster.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const marker = (kind: RevocationRecord['kind'], value: string, revokedAt = nowSeconds()): RevocationRecord => ({ kind, value, revokedAt, expiresAt: nowSeconds() + 600 });

/** The real feed, with live events held back (an event still in flight to this replica) and an adjustable tail age. */
function throttledFeed(feed: RevocationFeed) {
  const control = { deliver: true, tailAgeMs: undefined as number | undefined };
  const wrapped: RevocationFeed = {
    snapshot: () => feed.snapshot(),
    since: (c) => feed.since(c),
    head: () => feed.head(),
    tailAgeMs: () => control.tailAgeMs ?? feed.tailAgeMs(),
    subscribe: (listener) => feed.subscribe((e) => control.deliver && listener(e)),
  };
  return { wrapped, control };
}

describe('revocation view (real Redis)', () => {
  let stores: Stores;
  let redis: Redis;
  const prefix = `test:${randomUUID()}:`;

  before(async () => {
    stores = await createStores({ redisUrl: REDIS_URL, keyPrefix: prefix });
    redis = new Redis(REDIS_URL);
  });
  after(async () => {
    await stores.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('loads the snapshot at start, then follows live events', async () => {
    await stores.exchange.revoke(marker('sid', 'before-start'));
    const view = new RevocationView({ feed: stores.revocations, store: stores.exchange, maxStalenessMs: 5000 });
    assert.equal(view.fresh(), false);
    await view.start();
    try {
      assert.equal(view.fresh(), true);
      assert.equal((await view.read({ sid: 'before-start', clientIds: [] })).sid?.value, 'before-start');
      await stores.exchange.revoke(marker('jti', 'live-one'));
      // The fence makes the very next read see it, delivered or not.
      assert.equal((await view.read({ jti: 'live-one', clientIds: [] })).jti?.value, 'live-one');
      assert.deepEqual(await view.read({ sid: 'other', sub: 'nobody', clientIds: ['c'] }), { clients: [] });
    } finally {
      view.close();
    }
  });

  it('a revocation acknowledged but not yet delivered to this replica is read from the store (the fence)', async () => {
    const { wrapped, control } = throttledFeed(stores.revocations);
    let behind = 0;
    const view = new RevocationView({ feed: wrapped, store: stores.exchange, maxStalenessMs: 5000, onBehind: () => behind++ });
    await view.start();
    try {
      control.deliver = false;
      await stores.exchange.revoke(marker('client', 'in-flight-agent', nowSeconds() + 1));
      const hits = await view.read({ clientIds: ['in-flight-agent'] });
      assert.equal(hits.clients[0]?.value, 'in-flight-agent');
      assert.equal(behind, 1);
      control.deliver = true;
      await stores.exchange.revoke(marker('sub', 'caught-up'));
      // Once the events arrive, the view answers alone again.
      for (let i = 0; i < 100 && behind > 1; i++) await new Promise((r) => setTimeout(r, 10));
      const before = behind;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await view.read({ sub: 'caught-up', clientIds: [] })).sub?.value, 'caught-up');
      assert.equal(behind, before);
    } finally {
      view.close();
    }
  });

  it('a stale reader makes every read fail closed (StoreUnavailable) until it reads again and the view re-snapshots', async () => {
    const { wrapped, control } = throttledFeed(stores.revocations);
    const view = new RevocationView({ feed: wrapped, store: stores.exchange, maxStalenessMs: 5000 });
    await view.start();
    try {
      control.tailAgeMs = 5001;
      await assert.rejects(view.read({ sid: 'x', clientIds: [] }), StoreUnavailable);
      assert.equal(view.fresh(), false);
      control.tailAgeMs = undefined;
      for (let i = 0; i < 50 && !view.fresh(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(view.fresh(), true);
      assert.deepEqual(await view.read({ sid: 'x', clientIds: [] }), { clients: [] });
    } finally {
      view.close();
    }
  });

  it('a failed head read is StoreUnavailable', async () => {
    const feed: RevocationFeed = { ...throttledFeed(stores.revocations).wrapped, head: () => Promise.reject(new Error('connection lost')) };
    const view = new RevocationView({ feed, store: stores.exchange, maxStalenessMs: 5000 });
    await view.start();
    try {
      await assert.rejects(view.read({ sid: 'x', clientIds: [] }), StoreUnavailable);
    } finally {
      view.close();
    }
  });
});

/** This replica's clock, ahead of Redis' (whose clock makes the stream ids) by more than any guess of skew would allow. */
const SKEW_MS = 4000;

/**
 * README: a revocation acknowledged by the admin API on any replica is in force for every exchange that starts
 * afterwards, on every replica. Here for a replica whose clock runs SKEW_MS ahead of Redis': a revocation appended
 * right after its view started must reach the view, and still be there once a later, unrelated one moved its cursor.
 */
async function skewedReplicaKeepsRevocation(stores: Stores): Promise<void> {
  const realNow = Date.now;
  Date.now = () => realNow() + SKEW_MS;
  let behind = 0;
  const view = new RevocationView({ feed: stores.revocations, store: stores.exchange, maxStalenessMs: 5000, onBehind: () => behind++ });
  const seen: string[] = [];
  const unsubscribe = stores.revocations.subscribe((e) => seen.push(e.record.value));
  try {
    await view.start();
    const victim = marker('sid', randomUUID());
    await stores.exchange.revoke(victim);
    // Past the local clock's time at start, as Redis tells it, so the later event follows any start this replica's
    // clock could have chosen.
    await new Promise((r) => setTimeout(r, SKEW_MS));
    const other = marker('sid', randomUUID());
    await stores.exchange.revoke(other);
    for (let i = 0; i < 150 && !seen.includes(other.value); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await view.read({ sid: victim.value, clientIds: [] }), { sid: victim, clients: [] });
    assert.equal(behind, 0); // answered by the view itself, its cursor at the stream's head
    assert.deepEqual(seen, [victim.value, other.value]);
  } finally {
    Date.now = realNow;
    unsubscribe();
    view.close();
  }
}

describe('revocation view on a replica whose clock is ahead of Redis', () => {
  it('single Redis: a revocation appended right after start stays revoked after a later unrelated one', async () => {
    const prefix = `test:${randomUUID()}:`;
    const stores = await createStores({ redisUrl: REDIS_URL, keyPrefix: prefix });
    const redis = new Redis(REDIS_URL);
    try {
      await skewedReplicaKeepsRevocation(stores);
    } finally {
      await stores.close();
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    }
  });

  it('Redis Cluster: a revocation appended right after start stays revoked after a later unrelated one', async () => {
    const prefix = `test:${randomUUID()}:`;
    const redis = await connectTestCluster();
    const stores = createRedisStores(redis, { keyPrefix: prefix });
    try {
      await skewedReplicaKeepsRevocation(stores);
    } finally {
      await deleteClusterKeysWithPrefix(redis, prefix);
      await stores.close();
    }
  });
});

describe('revocation view in the service (HTTP, real Redis)', () => {
  it('a replica whose stream reader went silent answers exchanges 503 and /readyz 503, then recovers', async () => {
    const { startService, CRM } = await import('../helpers/service.js');
    const { exchangeFor, loginUser } = await import('../helpers/http.js');
    const svc = await startService();
    const feed = svc.service.stores.revocations;
    const tailAgeMs = feed.tailAgeMs.bind(feed);
    try {
      const user = await loginUser(svc);
      assert.equal((await exchangeFor(svc, 'agent', user.accessToken, CRM)).status, 200);
      const reasons: string[][] = [];
      svc.service.events.on((e) => e.type === 'exchange' && reasons.push(e.reasons));
      feed.tailAgeMs = () => 5001; // the reader's last good read was more than 5 s ago

      const refused = await exchangeFor(svc, 'agent', user.accessToken, CRM);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('cache-control'), 'no-store');
      assert.deepEqual(refused.body, { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' });
      assert.deepEqual(reasons, [['store_unavailable']]);
      const ready = await fetch(`${svc.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'unavailable', checks: { store: 'ok', keys: 'ok', revocations: 'fail' } });

      feed.tailAgeMs = tailAgeMs; // reads again: the view re-loads the snapshot, then serves
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await fetch(`${svc.url}/readyz`)).status;
      }
      assert.equal(status, 200);
      assert.equal((await exchangeFor(svc, 'agent', user.accessToken, CRM)).status, 200);
    } finally {
      feed.tailAgeMs = tailAgeMs;
      await svc.stop();
    }
  });
});
