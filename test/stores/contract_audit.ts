// Contract: the audit log (batched append, newest-first filtered queries with cursors, length bound).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredAuditEvent } from '../../src/stores/types.js';
import { contractLimits, withFresh, type ContractContext } from './contract.js';

// Event times near now: the Redis log bounds `since` scans by append time (see SINCE_SLACK_MS in redis/audit_log.ts).
const base = Date.now() - 60_000;

function event(i: number, overrides: Partial<StoredAuditEvent> = {}): StoredAuditEvent {
  return { time: base + i * 1000, type: 'exchange', decision: 'allow', sub: 'alice', sid: 's1', clientId: 'agent-a', seq: i, reasons: ['ok'], ...overrides };
}

/** Drops the store-assigned ids, after checking they are newest first. */
function withoutIds(items: Array<StoredAuditEvent & { id: string }>): StoredAuditEvent[] {
  const ids = items.map((item) => item.id);
  const [ms, seq] = [(id: string) => Number(id.split('-')[0]), (id: string) => Number(id.split('-')[1])];
  for (let i = 1; i < ids.length; i += 1) {
    const [a, b] = [ids[i - 1] as string, ids[i] as string];
    assert.ok(ms(a) > ms(b) || (ms(a) === ms(b) && seq(a) > seq(b)), `ids not newest first: ${ids.join(', ')}`);
  }
  return items.map(({ id: _id, ...rest }) => rest as StoredAuditEvent);
}

export function auditContract(context: ContractContext): void {
  describe('audit log', () => {
    it('appends batches and returns them newest first, exactly', () =>
      withFresh(context, {}, async ({ stores: { audit } }) => {
        const events = [event(1), event(2, { nested: { a: [1, 'b'] } }), event(3, { decision: 'deny', error: 'invalid_target' })];
        await audit.append(events.slice(0, 2));
        await audit.append(events.slice(2));
        await audit.append([]);
        assert.equal(await audit.length(), 3);
        const page = await audit.query({}, { limit: 10 });
        assert.equal(page.next, undefined);
        assert.deepEqual(withoutIds(page.items), [...events].reverse());
      }));

    it('filters combine with AND, and since compares the event time', () =>
      withFresh(context, {}, async ({ stores: { audit } }) => {
        const events = [
          event(1),
          event(2, { sub: 'bob', sid: 's2' }),
          event(3, { decision: 'deny' }),
          event(4, { type: 'revocation', clientId: 'admin' }),
          event(5, { clientId: 'agent-b' }),
        ];
        await audit.append(events);
        const seqs = async (filter: Parameters<typeof audit.query>[0]) => (await audit.query(filter, { limit: 10 })).items.map((e) => e.seq);
        assert.deepEqual(await seqs({ sub: 'alice' }), [5, 4, 3, 1]);
        assert.deepEqual(await seqs({ sid: 's2' }), [2]);
        assert.deepEqual(await seqs({ clientId: 'agent-a', decision: 'allow' }), [2, 1]);
        assert.deepEqual(await seqs({ decision: 'deny' }), [3]);
        assert.deepEqual(await seqs({ type: 'revocation' }), [4]);
        assert.deepEqual(await seqs({ since: base + 3000 }), [5, 4, 3]);
        assert.deepEqual(await seqs({ since: base + 3000, sub: 'alice', type: 'exchange' }), [5, 3]);
        assert.deepEqual(await seqs({ sub: 'nobody' }), []);
      }));

    it('pages with cursors, and rejects a malformed cursor', () =>
      withFresh(context, {}, async ({ stores: { audit } }) => {
        await audit.append(Array.from({ length: 7 }, (_, i) => event(i, { decision: i % 2 ? 'deny' : 'allow' })));
        const first = await audit.query({ decision: 'allow' }, { limit: 2 });
        assert.deepEqual(first.items.map((e) => e.seq), [6, 4]);
        assert.ok(first.next);
        const second = await audit.query({ decision: 'allow' }, { cursor: first.next, limit: 2 });
        assert.deepEqual(second.items.map((e) => e.seq), [2, 0]);
        assert.equal(second.next, undefined);
        await assert.rejects(audit.query({}, { cursor: 'nope', limit: 2 }), TypeError);
        // The first possible id: nothing comes before it (Redis refuses the interval `(0-0`; never an outage).
        assert.deepEqual(await audit.query({}, { cursor: '0-0', limit: 2 }), { items: [] });
      }));

    it('keeps about auditMaxLength events (never fewer; at most one Redis stream node more), dropping the oldest', () =>
      withFresh(context, {}, async ({ stores: { audit } }) => {
        const max = contractLimits.auditMaxLength ?? 0;
        // Redis trims with `MAXLEN ~`, whole stream nodes only: a node holds at most 100 entries (stream-node-max-entries).
        const slack = 100;
        const total = max + 2 * slack + 5;
        for (let from = 0; from < total; from += 25) await audit.append(Array.from({ length: Math.min(25, total - from) }, (_, i) => event(from + i)));
        const length = await audit.length();
        assert.ok(length >= max && length <= max + slack, `length ${length}`);
        const { items } = await audit.query({}, { limit: 500 });
        assert.deepEqual(items.map((e) => e.seq), Array.from({ length }, (_, i) => total - 1 - i));
      }));
  });
}
