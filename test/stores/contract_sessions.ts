// Contract: the session registry (recordIssuedMany / recordIssued, get, list with cursors and filters, sidsOf).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { IssuedEntry, SessionHop, SessionRecord, SessionSummary } from '../../src/stores/types.js';
import { withFresh, type ContractContext } from './contract.js';

const nowSec = () => Math.floor(Date.now() / 1000);

function hop(overrides: Partial<SessionHop> = {}): SessionHop {
  return {
    at: nowSec(),
    clientId: 'agent-a',
    priorActors: [],
    toolServer: 'https://tools.example/mail',
    scopes: ['mail:read'],
    jti: randomUUID(),
    exp: nowSec() + 300,
    ...overrides,
  };
}

export function sessionsContract(context: ContractContext): void {
  describe('session registry', () => {
    it('records hops: first/last times, counts, every client in the chain, live jtis, bounded hops', async () => {
      const { sessions } = context.shared().stores;
      const [sid, sub] = [randomUUID(), `user-${randomUUID()}`];
      const t = nowSec();
      const hops = [
        hop({ at: t - 50, exp: t + 100, jti: 'j1' }),
        hop({ at: t - 60, exp: t - 1, jti: 'j2', clientId: 'agent-b', priorActors: ['agent-a'], parentJti: 'j1' }), // expired
        hop({ at: t - 10, exp: t + 50, jti: 'j3', toolServer: 'https://tools.example/cal', scopes: [] }),
        hop({ at: t - 20, exp: t + 200, jti: 'j4', clientId: 'agent-c', priorActors: ['agent-b', 'agent-a'] }),
      ];
      for (const h of hops) await sessions.recordIssued({ sid, sub, issuer: 'self' }, h, 600);

      assert.deepEqual(await sessions.get(sid), {
        sid,
        sub,
        issuer: 'self',
        firstAt: t - 60,
        lastAt: t - 10,
        tokensIssued: 4,
        clients: ['agent-a', 'agent-b', 'agent-c'],
        toolServers: ['https://tools.example/cal', 'https://tools.example/mail'],
        liveJtis: [
          { jti: 'j3', exp: t + 50 },
          { jti: 'j1', exp: t + 100 },
          { jti: 'j4', exp: t + 200 },
        ],
        hops: hops.slice(1), // the 3 most recent, oldest first
      });
      assert.equal(await sessions.get(randomUUID()), undefined);
    });

    it('records a batch as if its entries came one by one, in order, sessions interleaved', async () => {
      const { sessions } = context.shared().stores;
      const [a, b, sub] = [randomUUID(), randomUUID(), `user-${randomUUID()}`];
      const t = nowSec();
      const entry = (sid: string, h: SessionHop): IssuedEntry => ({ session: { sid, sub, issuer: sid === a ? 'self' : 'https://idp.example' }, hop: h, retentionSeconds: 600 });
      const hopsA = [
        hop({ at: t - 50, exp: t + 100, jti: 'a1' }),
        hop({ at: t - 60, exp: t - 1, jti: 'a2', clientId: 'agent-b', priorActors: ['agent-a'], parentJti: 'a1' }), // expired
        hop({ at: t - 10, exp: t + 50, jti: 'a3', toolServer: 'https://tools.example/cal', scopes: [] }),
        hop({ at: t - 20, exp: t + 200, jti: 'a4', clientId: 'agent-c', priorActors: ['agent-b', 'agent-a'] }),
      ];
      const hopsB = [hop({ at: t - 30, exp: t + 70, jti: 'b1', clientId: 'agent-b' }), hop({ at: t - 25, exp: t + 60, jti: 'b2', clientId: 'agent-b' })];
      const batch = [entry(a, hopsA[0]!), entry(b, hopsB[0]!), entry(a, hopsA[1]!), entry(a, hopsA[2]!), entry(b, hopsB[1]!), entry(a, hopsA[3]!)];
      assert.equal(await sessions.recordIssuedMany(batch), undefined);

      assert.deepEqual(await sessions.get(a), {
        sid: a,
        sub,
        issuer: 'self',
        firstAt: t - 60,
        lastAt: t - 10,
        tokensIssued: 4,
        clients: ['agent-a', 'agent-b', 'agent-c'],
        toolServers: ['https://tools.example/cal', 'https://tools.example/mail'],
        liveJtis: [
          { jti: 'a3', exp: t + 50 },
          { jti: 'a1', exp: t + 100 },
          { jti: 'a4', exp: t + 200 },
        ],
        hops: hopsA.slice(1),
      } satisfies SessionRecord);
      assert.deepEqual(await sessions.get(b), {
        sid: b,
        sub,
        issuer: 'https://idp.example',
        firstAt: t - 30,
        lastAt: t - 25,
        tokensIssued: 2,
        clients: ['agent-b'],
        toolServers: ['https://tools.example/mail'],
        liveJtis: [
          { jti: 'b2', exp: t + 60 },
          { jti: 'b1', exp: t + 70 },
        ],
        hops: hopsB,
      } satisfies SessionRecord);
      assert.deepEqual(await sessions.sidsOf(sub), [a, b]);
      assert.deepEqual((await sessions.list({ sub, clientId: 'agent-b' }, { limit: 10 })).items.map((s) => [s.sid, s.lastAt]), [
        [a, t - 10],
        [b, t - 25],
      ]);
    });

    it('records an empty batch as nothing, and a batch longer than one store call exactly', () =>
      withFresh(context, {}, async ({ stores: { sessions } }) => {
        await sessions.recordIssuedMany([]);
        assert.deepEqual(await sessions.list({}, { limit: 10 }), { items: [] });

        const t = nowSec();
        const sids = ['long-0', 'long-1', 'long-2'];
        const batch: IssuedEntry[] = Array.from({ length: 250 }, (_, i) => ({
          session: { sid: sids[i % 3]!, sub: 'alice', issuer: 'self' },
          hop: hop({ at: t - 300 + i, exp: t + 100 + i, jti: `j${String(i).padStart(3, '0')}`, clientId: `agent-${i % 5}` }),
          retentionSeconds: 600,
        }));
        await sessions.recordIssuedMany(batch);
        for (const [k, sid] of sids.entries()) {
          const mine = batch.filter((e) => e.session.sid === sid).map((e) => e.hop);
          assert.deepEqual(await sessions.get(sid), {
            sid,
            sub: 'alice',
            issuer: 'self',
            firstAt: t - 300 + k,
            lastAt: mine.at(-1)!.at,
            tokensIssued: mine.length,
            clients: ['agent-0', 'agent-1', 'agent-2', 'agent-3', 'agent-4'],
            toolServers: ['https://tools.example/mail'],
            liveJtis: mine.map((h) => ({ jti: h.jti, exp: h.exp })),
            hops: mine.slice(-3),
          } satisfies SessionRecord);
        }
        assert.deepEqual(
          (await sessions.list({}, { limit: 10 })).items.map((s) => [s.sid, s.tokensIssued]),
          [
            ['long-0', 84],
            ['long-2', 83],
            ['long-1', 83],
          ],
        );
        assert.deepEqual(await sessions.sidsOf('alice'), ['long-0', 'long-2', 'long-1']);
        assert.deepEqual((await sessions.list({ clientId: 'agent-3' }, { limit: 10 })).items.map((s) => s.sid), ['long-0', 'long-2', 'long-1']);
      }));

    it('keeps the sub and issuer of the first token; a session past its retention on arrival is not recorded', async () => {
      const { sessions } = context.shared().stores;
      const [sid, gone, late, sub, other] = [randomUUID(), randomUUID(), randomUUID(), `user-${randomUUID()}`, `user-${randomUUID()}`];
      const t = nowSec();
      await sessions.recordIssuedMany([
        { session: { sid, sub, issuer: 'self' }, hop: hop({ at: t - 2, jti: 'k1' }), retentionSeconds: 600 },
        { session: { sid: late, sub: other, issuer: 'self' }, hop: hop({ at: t - 100, exp: t - 50, jti: 'l1' }), retentionSeconds: 10 },
        { session: { sid, sub: other, issuer: 'https://idp.example' }, hop: hop({ at: t - 1, jti: 'k2' }), retentionSeconds: 600 },
        { session: { sid: gone, sub, issuer: 'self' }, hop: hop({ at: t - 100, exp: t - 50, jti: 'k3' }), retentionSeconds: 10 },
        // Within one batch too, the token past retention does not start the session; the next one does.
        { session: { sid: late, sub, issuer: 'https://idp.example' }, hop: hop({ at: t - 3, jti: 'l2' }), retentionSeconds: 600 },
      ]);
      const record = await sessions.get(sid);
      assert.deepEqual([record?.sub, record?.issuer, record?.tokensIssued, record?.lastAt], [sub, 'self', 2, t - 1]);
      assert.equal(await sessions.get(gone), undefined);
      const started = await sessions.get(late);
      assert.deepEqual([started?.sub, started?.issuer, started?.tokensIssued, started?.firstAt, started?.liveJtis.map((j) => j.jti), started?.hops.map((h) => h.jti)], [sub, 'https://idp.example', 1, t - 3, ['l2'], ['l2']]);
      assert.deepEqual(await sessions.sidsOf(sub), [sid, late]);
      assert.deepEqual(await sessions.sidsOf(other), []);
      assert.deepEqual((await sessions.list({ sub }, { limit: 10 })).items.map((s) => s.sid), [sid, late]);
    });

    it('rejects a batch with a malformed entry as a whole, writing none of it', async () => {
      const { sessions } = context.shared().stores;
      const [good, bad] = [randomUUID(), randomUUID()];
      const entry = (sid: string, h: SessionHop = hop()): IssuedEntry => ({ session: { sid, sub: 'alice', issuer: 'self' }, hop: h, retentionSeconds: 600 });
      await assert.rejects(sessions.recordIssuedMany([entry(good), entry(bad, hop({ at: -1 }))]), TypeError);
      await assert.rejects(sessions.recordIssuedMany([entry(good), { ...entry(bad), retentionSeconds: 0.5 }]), TypeError);
      await assert.rejects(sessions.recordIssuedMany([entry(good), entry(bad, hop({ toolServer: '' }))]), TypeError);
      await assert.rejects(sessions.recordIssuedMany([entry(good), { ...entry(bad), session: { sid: bad, sub: 'alice', issuer: '' } }]), TypeError);
      assert.equal(await sessions.get(good), undefined);
      assert.equal(await sessions.get(bad), undefined);
    });

    it('rejects malformed hops', async () => {
      const { sessions } = context.shared().stores;
      const session = { sid: randomUUID(), sub: 'alice', issuer: 'self' };
      await assert.rejects(sessions.recordIssued(session, hop({ exp: 1.5 }), 600), TypeError);
      await assert.rejects(sessions.recordIssued({ ...session, sid: '' }, hop(), 600), TypeError);
      await assert.rejects(sessions.recordIssued(session, hop({ jti: '' }), 600), TypeError);
      assert.equal(await sessions.get(session.sid), undefined);
    });

    it('lists most recently active first, pages with cursors, and filters by subject and client', () =>
      withFresh(context, {}, async ({ stores: { sessions } }) => {
        const t = nowSec();
        // s3 and s2 tie on lastAt: the larger sid comes first.
        const plan = [
          { sid: 's1', sub: 'alice', at: t - 40, clientId: 'agent-a', priorActors: [] },
          { sid: 's2', sub: 'bob', at: t - 10, clientId: 'agent-b', priorActors: ['agent-a'] },
          { sid: 's3', sub: 'alice', at: t - 10, clientId: 'agent-b', priorActors: [] },
          { sid: 's4', sub: 'alice', at: t - 5, clientId: 'agent-c', priorActors: [] },
          { sid: 's5', sub: 'carol', at: t - 30, clientId: 'agent-a', priorActors: [] },
        ];
        for (const p of plan) {
          await sessions.recordIssued({ sid: p.sid, sub: p.sub, issuer: 'self' }, hop({ at: p.at, clientId: p.clientId, priorActors: p.priorActors }), 600);
        }
        const summary = (sid: string): SessionSummary => {
          const p = plan.find((x) => x.sid === sid);
          assert.ok(p);
          return {
            sid,
            sub: p.sub,
            issuer: 'self',
            firstAt: p.at,
            lastAt: p.at,
            tokensIssued: 1,
            clients: [p.clientId, ...p.priorActors].sort(),
            toolServers: ['https://tools.example/mail'],
          };
        };

        const first = await sessions.list({}, { limit: 2 });
        assert.deepEqual(first.items, [summary('s4'), summary('s3')]);
        assert.ok(first.next);
        const second = await sessions.list({}, { cursor: first.next, limit: 2 });
        assert.deepEqual(second.items, [summary('s2'), summary('s5')]);
        assert.ok(second.next);
        assert.deepEqual(await sessions.list({}, { cursor: second.next, limit: 2 }), { items: [summary('s1')] });
        assert.deepEqual(await sessions.list({}, { limit: 5 }), { items: ['s4', 's3', 's2', 's5', 's1'].map(summary) });

        assert.deepEqual(await sessions.list({ sub: 'alice' }, { limit: 10 }), { items: ['s4', 's3', 's1'].map(summary) });
        assert.deepEqual(await sessions.list({ clientId: 'agent-a' }, { limit: 10 }), { items: ['s2', 's5', 's1'].map(summary) });
        assert.deepEqual(await sessions.list({ sub: 'alice', clientId: 'agent-b' }, { limit: 10 }), { items: [summary('s3')] });
        assert.deepEqual(await sessions.list({ sub: 'nobody' }, { limit: 10 }), { items: [] });

        assert.deepEqual(await sessions.sidsOf('alice'), ['s4', 's3', 's1']);
        assert.deepEqual(await sessions.sidsOf('nobody'), []);

        await assert.rejects(sessions.list({}, { cursor: 'garbage', limit: 2 }), TypeError);
        await assert.rejects(sessions.list({}, { limit: 0 }), TypeError);
      }));
  });
}
