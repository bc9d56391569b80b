// Contract: the revocation feed (snapshot + cursor, catch-up with reset, live subscription).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RevocationEvent, RevocationKind, RevocationRecord } from '../../src/stores/types.js';
import { withFresh, type ContractContext } from './contract.js';

const nowSec = () => Math.floor(Date.now() / 1000);
const record = (kind: RevocationKind, expiresIn = 600, value = randomUUID()): RevocationRecord => ({
  kind,
  value,
  revokedAt: nowSec(),
  expiresAt: nowSec() + expiresIn,
});

/** Waits until `check` passes (live delivery is asynchronous), failing after `ms`. */
async function eventually(check: () => void, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(20);
    }
  }
}

export function feedContract(context: ContractContext): void {
  describe('revocation feed', () => {
    it('an empty store snapshots to cursor 0-0 and nothing to catch up', () =>
      withFresh(context, {}, async ({ stores }) => {
        assert.deepEqual(await stores.revocations.snapshot(), { cursor: '0-0', revocations: [] });
        assert.deepEqual(await stores.revocations.since('0-0'), { events: [], reset: false });
      }));

    it('snapshot lists live markers (widened ones as stored) in expiry order; since(cursor) picks up after it', () =>
      withFresh(context, {}, async ({ stores }) => {
        const { exchange, revocations } = stores;
        const late = record('sub', 900);
        const early = record('jti', 300);
        const client = record('client', 600);
        for (const r of [late, early, client]) await exchange.revoke(r);
        const expired = { ...record('sid'), revokedAt: 1000, expiresAt: 2000 };
        assert.equal((await exchange.revoke(expired)).created, true); // an event, but never a live marker
        const widened = (await exchange.revoke({ ...early, expiresAt: early.expiresAt + 1000 })).record;

        const snap = await revocations.snapshot();
        assert.deepEqual(snap.revocations, [client, late, widened]);
        assert.deepEqual(await revocations.since(snap.cursor), { events: [], reset: false });

        const next = record('client');
        await exchange.revoke(next);
        await exchange.revoke(next); // a repeat is not an event
        const caughtUp = await revocations.since(snap.cursor);
        assert.equal(caughtUp.reset, false);
        assert.deepEqual(caughtUp.events.map((e) => e.record), [next]);
        assert.deepEqual(await revocations.since(caughtUp.events[0]?.id ?? ''), { events: [], reset: false });

        const all = await revocations.since('0-0');
        assert.deepEqual(all.events.map((e) => e.record), [late, early, client, expired, next]);
        assert.equal(all.events[3]?.id, snap.cursor);
      }));

    it('asks for a re-snapshot when the cursor is malformed, from elsewhere, or fell out of the retained events', () =>
      withFresh(context, { revocationEventsMax: 10 }, async ({ stores }) => {
        const { exchange, revocations } = stores;
        await exchange.revoke(record('jti'));
        const { cursor } = await revocations.snapshot();
        assert.deepEqual(await revocations.since('not-a-cursor'), { events: [], reset: true });
        assert.deepEqual(await revocations.since('99999999999999-0'), { events: [], reset: true });
        // Redis trims whole stream nodes (100 entries), so go well past the cap.
        await Promise.all(Array.from({ length: 300 }, () => exchange.revoke(record('jti'))));
        assert.deepEqual(await revocations.since(cursor), { events: [], reset: true });
        const { cursor: fresh } = await revocations.snapshot();
        const last = record('client');
        await exchange.revoke(last);
        const { events, reset } = await revocations.since(fresh);
        assert.equal(reset, false);
        assert.deepEqual(events.map((e) => e.record), [last]);
      }));

    it('subscribe delivers newly created revocations live, in order, until unsubscribed', () =>
      withFresh(context, {}, async ({ stores }) => {
        const { exchange, revocations } = stores;
        const seen: RevocationEvent[] = [];
        const unsubscribe = revocations.subscribe((event) => seen.push(event));
        const other: RevocationEvent[] = [];
        const unsubscribeOther = revocations.subscribe(() => {
          throw new Error('a failing listener must not stop the others');
        });
        const [a, b] = [record('sid'), record('sub')];
        await exchange.revoke(a);
        await exchange.revoke(a); // repeat: no event
        await exchange.revoke(b);
        const mine = () => seen.filter((e) => [a.value, b.value].includes(e.record.value));
        await eventually(() => assert.deepEqual(mine().map((e) => e.record), [a, b]));
        assert.deepEqual(mine(), (await revocations.since('0-0')).events);

        unsubscribe();
        unsubscribeOther();
        const c = record('client');
        await exchange.revoke(c);
        await sleep(300);
        assert.equal(seen.some((e) => e.record.value === c.value), false);
        assert.deepEqual(other, []);
      }));
  });
}
