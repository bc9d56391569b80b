// Contract: the session registry (recordIssued, get, list with cursors and filters, sidsOf).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SessionHop, SessionSummary } from '../../src/stores/types.js';
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
