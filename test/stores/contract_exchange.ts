// Contract: the exchange state store (readOpaqueSubject, readRevocations, idempotent revoke) and health.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { tokenDigest } from '../../src/sessions/revocation.js';
import type { RevocationKind, RevocationRecord } from '../../src/stores/types.js';
import type { StoreHarness } from './contract.js';

type HarnessRef = () => StoreHarness;

const id = () => randomUUID();
const nowSec = () => Math.floor(Date.now() / 1000);
const marker = (kind: RevocationKind, value: string, extra: Partial<RevocationRecord> = {}): RevocationRecord => ({
  kind,
  value,
  revokedAt: nowSec(),
  expiresAt: nowSec() + 600,
  ...extra,
});

export function exchangeContract(harness: HarnessRef): void {
  const stores = () => harness().stores;
  const exchange = () => stores().exchange;
  /** Revokes and returns the stored record. */
  const revoked = async (record: RevocationRecord) => (await exchange().revoke(record)).record;

  /** The revocation events recorded for one value, oldest first. */
  async function eventsFor(value: string): Promise<RevocationRecord[]> {
    const { events, reset } = await stores().revocations.since('0-0');
    assert.equal(reset, false);
    return events.filter((e) => e.record.value === value).map((e) => e.record);
  }

  /** An AccessToken bound to a stored Session, both under fresh ids. */
  async function tokenWithSession() {
    const [tokenId, sessionId, sessionUid, accountId, clientId] = [id(), id(), id(), `user-${id()}`, `agent-${id()}`];
    const session = { jti: sessionId, uid: sessionUid, kind: 'Session', accountId, loginTs: nowSec() };
    const token = { jti: tokenId, kind: 'AccessToken', accountId, clientId, sessionUid, grantId: id(), scope: 'openid' };
    await stores().adapterFor('Session').upsert(sessionId, session, 60);
    await stores().adapterFor('AccessToken').upsert(tokenId, token, 60);
    return { tokenId, sessionUid, accountId, clientId, token, session };
  }

  describe('exchange state: readOpaqueSubject', () => {
    it('answers undefineds for an unknown token', async () => {
      assert.deepEqual(await exchange().readOpaqueSubject(id(), []), {
        token: undefined,
        session: undefined,
        revocations: { clients: [] },
      });
    });

    it('still reports revoked extra clients for an unknown token', async () => {
      const extra = await revoked(marker('client', `agent-${id()}`));
      assert.deepEqual(await exchange().readOpaqueSubject(id(), [extra.value, `agent-${id()}`]), {
        token: undefined,
        session: undefined,
        revocations: { clients: [extra] },
      });
    });

    it('returns the token alone when it has no session', async () => {
      const tokenId = id();
      const token = { jti: tokenId, kind: 'AccessToken', clientId: `agent-${id()}`, scope: 'tools:read' };
      await stores().adapterFor('AccessToken').upsert(tokenId, token, 60);
      assert.deepEqual(await exchange().readOpaqueSubject(tokenId, []), { token, session: undefined, revocations: { clients: [] } });
    });

    it('follows the session uid to the Session record', async () => {
      const { tokenId, token, session } = await tokenWithSession();
      assert.deepEqual(await exchange().readOpaqueSubject(tokenId, [`agent-${id()}`]), { token, session, revocations: { clients: [] } });
    });

    it('returns every revocation hit: sid, sub, the token client first, then extra clients, once each', async () => {
      const { tokenId, token, session, sessionUid, accountId, clientId } = await tokenWithSession();
      const extraClient = `agent-${id()}`;
      const sid = await revoked(marker('sid', sessionUid, { by: 'admin', reason: 'logout' }));
      const sub = await revoked(marker('sub', accountId));
      const extra = await revoked(marker('client', extraClient));
      const own = await revoked(marker('client', clientId));
      await exchange().revoke(marker('jti', tokenId)); // jti markers are not part of this read

      const state = await exchange().readOpaqueSubject(tokenId, [extraClient, clientId, `agent-${id()}`, extraClient]);
      assert.deepEqual(state, { token, session, revocations: { sid, sub, clients: [own, extra] } });
    });

    it('reads the sid marker even when the Session record is gone', async () => {
      const { tokenId, token, sessionUid } = await tokenWithSession();
      const sid = await revoked(marker('sid', sessionUid));
      const sessionId = (await stores().adapterFor('Session').findByUid(sessionUid))?.jti;
      assert.ok(sessionId);
      await stores().adapterFor('Session').destroy(sessionId);
      assert.deepEqual(await exchange().readOpaqueSubject(tokenId, []), { token, session: undefined, revocations: { sid, clients: [] } });
    });

    it('returns the consumed stamp of a consumed token', async () => {
      const { tokenId, token } = await tokenWithSession();
      await stores().adapterFor('AccessToken').consume(tokenId);
      const state = await exchange().readOpaqueSubject(tokenId, []);
      assert.equal(typeof state.token?.consumed, 'number');
      assert.deepEqual(state.token, { ...token, consumed: state.token?.consumed });
    });
  });

  describe('exchange state: readOpaqueToken', () => {
    const readOpaqueToken = (tokenId: string) => exchange().readOpaqueToken(tokenId, tokenDigest(tokenId));
    it('answers the token and its session, no marker, and the revocation stream head read with them', async () => {
      const { tokenId, token, session, sessionUid } = await tokenWithSession();
      await exchange().revoke(marker('sid', sessionUid));
      const { cursor } = await stores().revocations.snapshot();
      assert.deepEqual(await readOpaqueToken(tokenId), { token, session, revocationHead: cursor });
      assert.equal(await stores().revocations.head(), cursor);
      await exchange().revoke(marker('jti', id()));
      const after = await readOpaqueToken(id());
      assert.deepEqual({ ...after, revocationHead: undefined }, { token: undefined, session: undefined, revocationHead: undefined });
      assert.notEqual(after.revocationHead, cursor);
      assert.equal(after.revocationHead, await stores().revocations.head());
    });

    it('answers the token alone when its session record is gone', async () => {
      const { tokenId, token, sessionUid } = await tokenWithSession();
      const sessionId = (await stores().adapterFor('Session').findByUid(sessionUid))?.jti;
      await stores().adapterFor('Session').destroy(sessionId!);
      const state = await readOpaqueToken(tokenId);
      assert.deepEqual({ token: state.token, session: state.session }, { token, session: undefined });
    });

    it('reads the session again after it got a new id (login), and answers none once it is gone', async () => {
      const { tokenId, token, session, sessionUid } = await tokenWithSession();
      assert.deepEqual((await readOpaqueToken(tokenId)).session, session);
      // oidc-provider's resetIdentifier(): the same uid under a new id, the old record destroyed.
      const sessions = stores().adapterFor('Session');
      const [oldId, newId] = [session.jti, id()];
      const moved = { ...session, jti: newId, authorizations: { agent: { grantId: token.grantId } } };
      await sessions.upsert(newId, moved, 60);
      await sessions.destroy(oldId);
      assert.deepEqual((await readOpaqueToken(tokenId)).session, moved);
      assert.deepEqual((await readOpaqueToken(tokenId)).session, moved);
      await sessions.destroy(newId);
      assert.equal((await readOpaqueToken(tokenId)).session, undefined);
      assert.equal((await sessions.findByUid(sessionUid)), undefined);
    });

    it('never answers a record that no longer belongs to the token\'s session uid', async () => {
      const { tokenId, token, session } = await tokenWithSession();
      assert.deepEqual((await readOpaqueToken(tokenId)).session, session);
      const sessions = stores().adapterFor('Session');
      const newId = id();
      const moved = { ...session, jti: newId };
      await sessions.upsert(newId, moved, 60);
      // The old id now holds another session (another uid).
      await sessions.upsert(session.jti, { ...session, uid: id(), accountId: `user-${id()}` }, 60);
      assert.deepEqual(await readOpaqueToken(tokenId), { token, session: moved, revocationHead: await stores().revocations.head() });
    });

    it('claims a DPoP replay key with the read, once, in the replay store\'s own namespace (both ways), whatever the token', async () => {
      const { tokenId, token, session } = await tokenWithSession();
      const claimWith = (tokenOrNone: string, key: string) => exchange().readOpaqueToken(tokenOrNone, tokenDigest(tokenOrNone), { key, ttlSeconds: 60 });
      const [first, second, third] = [id(), id(), id()];
      assert.deepEqual(await claimWith(tokenId, first), { token, session, revocationHead: await stores().revocations.head(), replayClaimed: true });
      assert.equal((await claimWith(tokenId, first)).replayClaimed, false);
      assert.equal(await stores().dpopReplay.claim(first, 60), false);
      // An unknown token still claims the key: the proof is spent either way.
      assert.deepEqual(await claimWith(id(), second), { token: undefined, session: undefined, revocationHead: await stores().revocations.head(), replayClaimed: true });
      assert.equal((await claimWith(tokenId, second)).replayClaimed, false);
      assert.equal(await stores().dpopReplay.claim(third, 60), true);
      assert.equal((await claimWith(tokenId, third)).replayClaimed, false);
      // Without a claim the answer has no replayClaimed member at all.
      assert.equal(Object.hasOwn(await readOpaqueToken(tokenId), 'replayClaimed'), false);
    });

    it('of concurrent reads claiming one key exactly one gets it', async () => {
      const { tokenId } = await tokenWithSession();
      const key = id();
      const results = await Promise.all(Array.from({ length: 10 }, () => exchange().readOpaqueToken(tokenId, tokenDigest(tokenId), { key, ttlSeconds: 60 })));
      assert.equal(results.filter((r) => r.replayClaimed).length, 1);
    });
  });

  describe('exchange state: revocations', () => {
    it('readRevocations returns exactly the markers that exist', async () => {
      const [sidValue, subValue, jtiValue, c1, c2, c3] = [id(), id(), id(), id(), id(), id()];
      const sid = await revoked(marker('sid', sidValue));
      const jti = await revoked(marker('jti', jtiValue, { reason: 'leaked' }));
      const client3 = await revoked(marker('client', c3));
      const client1 = await revoked(marker('client', c1));
      await exchange().revoke(marker('sub', sidValue)); // same value, other kind: must not answer for sid
      assert.deepEqual(
        await exchange().readRevocations({ sid: sidValue, sub: subValue, jti: jtiValue, clientIds: [c1, c2, c3, c1] }),
        { sid, jti, clients: [client1, client3] },
      );
      assert.deepEqual(await exchange().readRevocations({ sub: subValue, clientIds: [c2] }), { clients: [] });
      assert.deepEqual(await exchange().readRevocations({ clientIds: [] }), { clients: [] });
    });

    it('revoke stores and returns the record, without fields the interface does not name', async () => {
      const record = marker('sub', id(), { by: 'admin@example', reason: 'offboarded' });
      assert.deepEqual(await exchange().revoke({ ...record, extra: 'dropped' } as RevocationRecord), { record, created: true });
      assert.deepEqual(await exchange().readRevocations({ sub: record.value, clientIds: [] }), { sub: record, clients: [] });
    });

    it('revoke is idempotent: earliest revokedAt, latest expiresAt, first by/reason; an event for each change, created once', async () => {
      const value = id();
      const t = nowSec();
      const first = { kind: 'sid', value, revokedAt: t, expiresAt: t + 600, by: 'alice', reason: 'first' } as const;
      assert.deepEqual(await exchange().revoke(first), { record: first, created: true });
      // Later and shorter: nothing changes.
      assert.deepEqual(await exchange().revoke({ ...first, revokedAt: t + 5, expiresAt: t + 300, by: 'bob' }), { record: first, created: false });
      // Earlier and longer: widened, but still the first record's by/reason.
      const widened = { ...first, revokedAt: t - 10, expiresAt: t + 900 };
      assert.deepEqual(await exchange().revoke({ ...first, revokedAt: t - 10, expiresAt: t + 900, by: 'carol', reason: 'x' }), {
        record: widened,
        created: false,
      });
      assert.deepEqual(await exchange().readRevocations({ sid: value, clientIds: [] }), { sid: widened, clients: [] });
      assert.deepEqual(await eventsFor(value), [first, widened]);
    });

    it('concurrent revokes of one marker: one created; events only for changes, their expiry rising to the latest', async () => {
      const value = id();
      const t = nowSec();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => exchange().revoke({ kind: 'client', value, revokedAt: t, expiresAt: t + 600 - i })),
      );
      assert.equal(results.filter((r) => r.created).length, 1);
      // Which call lands first is up to the scheduler: it is the created event, and each later one that widened the
      // expiry is one more event, so the expiries are strictly rising and end at the latest.
      const events = await eventsFor(value);
      const expiries = events.map((r) => r.expiresAt);
      assert.deepEqual(events[0], results.find((r) => r.created)!.record);
      assert.deepEqual(expiries, [...new Set(expiries)].sort((a, b) => a - b));
      assert.deepEqual(events.at(-1), { kind: 'client', value, revokedAt: t, expiresAt: t + 600 });
      assert.deepEqual(await exchange().readRevocations({ clientIds: [value] }), { clients: [{ kind: 'client', value, revokedAt: t, expiresAt: t + 600 }] });
    });

    for (const kind of ['sub', 'client'] as const) {
      it(`re-revoking a ${kind} moves the cutoff to the latest revokedAt, with its own by/reason and a new event`, async () => {
        const value = id();
        const t = nowSec();
        const query = kind === 'sub' ? { sub: value, clientIds: [] } : { clientIds: [value] };
        const hits = (r: RevocationRecord) => (kind === 'sub' ? { sub: r, clients: [] } : { clients: [r] });
        const first = { kind, value, revokedAt: t, expiresAt: t + 600, by: 'alice', reason: 'first' };
        assert.deepEqual(await exchange().revoke(first), { record: first, created: true });
        // Same cutoff, longer retention: a repeat (not created), widened, and published so feeds keep it as long.
        const widened = { ...first, expiresAt: t + 700 };
        assert.deepEqual(await exchange().revoke({ ...first, expiresAt: t + 700, by: 'bob' }), { record: widened, created: false });
        // An earlier cutoff changes nothing: the later one already covers every token it would.
        assert.deepEqual(await exchange().revoke({ ...first, revokedAt: t - 30, by: 'eve' }), { record: widened, created: false });
        // A later cutoff is a new revocation: recorded with who and why, retention never shrinks, a second event.
        const later = { kind, value, revokedAt: t + 20, expiresAt: t + 650, by: 'carol', reason: 'again' };
        const moved = { ...later, expiresAt: t + 700 };
        assert.deepEqual(await exchange().revoke(later), { record: moved, created: true });
        assert.deepEqual(await exchange().readRevocations(query), hits(moved));
        const latest = { ...later, revokedAt: t + 40, expiresAt: t + 900 };
        assert.deepEqual(await exchange().revoke(latest), { record: latest, created: true });
        assert.deepEqual(await exchange().revoke(latest), { record: latest, created: false });
        assert.deepEqual(await exchange().readRevocations(query), hits(latest));
        assert.deepEqual(await eventsFor(value), [first, widened, moved, latest]);
        const snap = await stores().revocations.snapshot();
        assert.deepEqual(snap.revocations.filter((r) => r.value === value), [latest]);
      });
    }

    it('token_digest markers answer for a token whose ancestors carry them, in the same read', async () => {
      const [a, b, c] = [id(), id(), id()];
      const revokedB = await revoked(marker('token_digest', b, { by: 'revocation_endpoint' }));
      assert.deepEqual(await exchange().readRevocations({ clientIds: [], ancestors: [a, b, c] }), { clients: [], ancestor: revokedB });
      assert.deepEqual(await exchange().readRevocations({ clientIds: [], ancestors: [a, c] }), { clients: [] });
      // Absolute, like jti: a later revoke changes nothing and publishes nothing.
      assert.deepEqual(await exchange().revoke({ ...revokedB, revokedAt: revokedB.revokedAt + 9 }), { record: revokedB, created: false });
      assert.deepEqual(await eventsFor(b), [revokedB]);
    });

    it('sid and jti are absolute: a later revoke of the same value changes nothing and publishes nothing', async () => {
      for (const kind of ['sid', 'jti'] as const) {
        const value = id();
        const t = nowSec();
        const first = { kind, value, revokedAt: t, expiresAt: t + 600, by: 'alice' };
        await exchange().revoke(first);
        assert.deepEqual(await exchange().revoke({ ...first, revokedAt: t + 50, by: 'bob' }), { record: first, created: false });
        assert.deepEqual(await eventsFor(value), [first]);
      }
    });

    it('revoke rejects malformed records', async () => {
      const good = marker('jti', id());
      await assert.rejects(exchange().revoke({ ...good, kind: 'token' as RevocationKind }), TypeError);
      await assert.rejects(exchange().revoke({ ...good, value: '' }), TypeError);
      await assert.rejects(exchange().revoke({ ...good, expiresAt: good.expiresAt + 0.5 }), TypeError);
      await assert.rejects(exchange().revoke({ ...good, revokedAt: Date.now() * 1e6 }), TypeError);
      assert.deepEqual(await exchange().readRevocations({ jti: good.value, clientIds: [] }), { clients: [] });
    });
  });

  describe('health', () => {
    it('ping answers true while the store is up', async () => {
      assert.equal(await stores().health.ping(), true);
    });
  });
}
