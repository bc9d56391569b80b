// Memory only: expiry on an injected clock, sweeping, and no eviction of live entries (unlike oidc-provider's dev LRU).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpiringMap } from '../../src/stores/memory/expiring_map.js';
import { createMemoryStores } from '../../src/stores/memory/index.js';

describe('ExpiringMap', () => {
  it('never returns an expired entry, and sweep drops only expired ones', () => {
    let now = 1_000_000;
    const map = new ExpiringMap<string>(() => now);
    map.set('short', 'a', now + 1000);
    map.set('long', 'b', now + 5000);
    map.set('forever', 'c');
    assert.equal(map.get('short'), 'a');
    assert.equal(map.expiresAt('forever'), Number.POSITIVE_INFINITY);

    now += 1000; // expiry is inclusive: at expiresAt the entry is gone
    assert.equal(map.get('short'), undefined);
    assert.equal(map.expiresAt('short'), undefined);
    map.set('short2', 'd', now + 1);
    now += 10_000;
    assert.equal(map.size, 3); // long and short2 expired but not yet swept
    assert.equal(map.sweep(), 2);
    assert.equal(map.size, 1);
    assert.equal(map.get('forever'), 'c');
  });
});

describe('memory stores', () => {
  it('expire records and markers on the injected clock', async () => {
    let now = Date.UTC(2030, 0, 1);
    const stores = createMemoryStores({ now: () => now });
    try {
      const tokens = stores.adapterFor('AccessToken');
      await tokens.upsert('t', { jti: 't', grantId: 'g' }, 60);
      await tokens.consume('t');
      assert.deepEqual(await tokens.find('t'), { jti: 't', grantId: 'g', consumed: now / 1000 });
      const nowSec = now / 1000;
      const marker = { kind: 'sub', value: 'alice', revokedAt: nowSec, expiresAt: nowSec + 30 } as const;
      await stores.exchange.revoke(marker);

      now += 30_000;
      assert.deepEqual(await stores.exchange.readRevocations({ sub: 'alice', clientIds: [] }), { clients: [] });
      assert.deepEqual(await tokens.find('t'), { jti: 't', grantId: 'g', consumed: nowSec });
      now += 30_000;
      assert.equal(await tokens.find('t'), undefined);
    } finally {
      await stores.close();
    }
  });

  it('keeps every live entry however many there are', async () => {
    const stores = createMemoryStores();
    try {
      const sessions = stores.adapterFor('Session');
      const count = 20_000; // oidc-provider's development adapter holds 1000
      for (let i = 0; i < count; i += 1) await sessions.upsert(`s${i}`, { jti: `s${i}`, uid: `u${i}` }, 600);
      for (let i = 0; i < count; i += 1) assert.deepEqual(await sessions.findByUid(`u${i}`), { jti: `s${i}`, uid: `u${i}` });
    } finally {
      await stores.close();
    }
  });

  it('caps the revocation event log, dropping the oldest, and resets cursors that fell off', async () => {
    const stores = createMemoryStores({ revocationEventsMax: 5 });
    try {
      const record = (i: number) => ({ kind: 'jti', value: `j${i}`, revokedAt: 1, expiresAt: 2 ** 31 }) as const;
      for (let i = 0; i < 8; i += 1) await stores.exchange.revoke(record(i));
      assert.deepEqual(await stores.revocations.since('0-0'), { events: [], reset: true });
      const { cursor, revocations } = await stores.revocations.snapshot();
      assert.equal(revocations.length, 8);
      assert.deepEqual(await stores.revocations.since(cursor), { events: [], reset: false });
      await stores.exchange.revoke(record(8));
      const { events, reset } = await stores.revocations.since(cursor);
      assert.equal(reset, false);
      assert.deepEqual(events.map((e) => e.record), [record(8)]);
    } finally {
      await stores.close();
    }
  });
});
