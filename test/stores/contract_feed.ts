// Contract: the revocation feed (snapshot + cursor, catch-up with reset, live subscription).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RevocationView } from '../../src/sessions/revocation_view.js';
import type { RevocationEvent, RevocationKind, RevocationQuery, RevocationRecord } from '../../src/stores/types.js';
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
        assert.deepEqual(all.events.map((e) => e.record), [late, early, client, expired, widened, next]);
        assert.equal(all.events[4]?.id, snap.cursor);
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

    it('a repeat with a later expiresAt publishes the widened record: a view loaded before it refuses until the new expiry', () =>
      withFresh(context, {}, async ({ stores }) => {
        const { exchange, revocations } = stores;
        const t = nowSec();
        const clock = { ms: t * 1000 };
        let behind = 0;
        const view = new RevocationView({ feed: revocations, store: exchange, maxStalenessMs: 5000, now: () => clock.ms, onBehind: () => behind++ });
        const queries: Record<RevocationKind, (value: string) => RevocationQuery> = {
          sid: (value) => ({ sid: value, clientIds: [] }),
          jti: (value) => ({ jti: value, clientIds: [] }),
          token_digest: (value) => ({ clientIds: [], ancestors: [value] }),
          sub: (value) => ({ sub: value, clientIds: [] }),
          client: (value) => ({ clientIds: [value] }),
        };
        const hits = (r: RevocationRecord) =>
          r.kind === 'client' ? { clients: [r] } : r.kind === 'token_digest' ? { clients: [], ancestor: r } : { [r.kind]: r, clients: [] };
        const seen: RevocationEvent[] = [];
        const unsubscribe = revocations.subscribe((e) => seen.push(e));
        await view.start();
        try {
          for (const kind of Object.keys(queries) as RevocationKind[]) {
            const first = { kind, value: randomUUID(), revokedAt: t, expiresAt: t + 600 };
            await exchange.revoke(first);
            // A repeat, later and retained longer: not a new revocation (an absolute kind keeps its first revokedAt, a
            // cutoff only moves on a later revokedAt, so the same one here), but the marker is kept until t + 900.
            const repeat = { ...first, revokedAt: kind === 'sub' || kind === 'client' ? t : t + 300, expiresAt: t + 900 };
            const widened = { ...first, expiresAt: t + 900 };
            assert.deepEqual(await exchange.revoke(repeat), { record: widened, created: false });
            const events = () => seen.filter((e) => e.record.value === first.value).map((e) => e.record);
            // Given time to arrive (asserted below, after what it is for).
            await eventually(() => assert.equal(events().length, 2), 1000).catch(() => {});
            // README: an acknowledged revocation is in force on every replica until the store forgets it; between the
            // first expiry and the widened one the view must still refuse, from memory (not behind the stream).
            clock.ms = (t + 610) * 1000;
            assert.deepEqual(await view.read(queries[kind](first.value)), hits(widened));
            assert.equal(behind, 0);
            assert.deepEqual(events(), [first, widened]);
            clock.ms = (t + 900) * 1000;
            assert.deepEqual(await view.read(queries[kind](first.value)), { clients: [] });
            clock.ms = t * 1000;
          }
        } finally {
          unsubscribe();
          view.close();
        }
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
