// Contract: records, indexes, grant sets and revocation markers expire on time, and not before.
// Everything short-lived is set up first so the whole suite waits only once (about 1-2 s).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContractContext } from './contract.js';

const id = () => randomUUID();

export function expiryContract(context: ContractContext): void {
  describe('expiry', () => {
    it('expires records, indexes, grant sets, markers, sessions and old audit events; keeps what is live', async () => {
      const { stores } = context.shared();
      const aged = await context.open({ limits: { auditMaxAgeSeconds: 1 } });
      try {
        const adapter = (model: string) => stores.adapterFor(model);
        const startedMs = Date.now();
        // Document URLs first: the one known for a second must be gone by the time the suite looks, and its place in the
        // capped set free (`aged` is a fresh store: its set holds only what is recorded here).
        const [shortDocument, longDocument] = [`https://docs.example/${id()}.json`, `https://docs.example/${id()}.json`];
        assert.equal(await stores.onboarding.rememberDocument(shortDocument, 1, 10_000), true);
        assert.equal(await stores.onboarding.rememberDocument(longDocument, 60, 10_000), true);
        const [fullShort, fullLate] = [`https://docs.example/${id()}.json`, `https://docs.example/${id()}.json`];
        assert.equal(await aged.stores.onboarding.rememberDocument(fullShort, 1, 1), true);
        assert.equal(await aged.stores.onboarding.rememberDocument(fullLate, 60, 1), false);

        const shortToken = id();
        await adapter('AccessToken').upsert(shortToken, { jti: shortToken, kind: 'AccessToken' }, 1);
        const consumedCode = id();
        await adapter('AuthorizationCode').upsert(consumedCode, { jti: consumedCode, kind: 'AuthorizationCode' }, 1);
        await adapter('AuthorizationCode').consume(consumedCode); // consuming must not make it immortal
        const [sessionId, uid, account, longSessionId, longUid] = [id(), id(), `user-${id()}`, id(), id()];
        await adapter('Session').upsert(sessionId, { jti: sessionId, uid, kind: 'Session', accountId: account }, 1);
        await adapter('Session').upsert(longSessionId, { jti: longSessionId, uid: longUid, kind: 'Session', accountId: account }, 60);
        const [deviceCode, userCode] = [id(), id()];
        await adapter('DeviceCode').upsert(deviceCode, { jti: deviceCode, userCode, kind: 'DeviceCode' }, 1);

        // A short member must neither shorten the grant set (g1) nor, arriving first, cap it (g2), nor give an expiry to
        // the set of a member that never expires (g3).
        const [g1, g2, long1, short1, short2, long2] = [id(), id(), id(), id(), id(), id()];
        const [g3, forever3, short3] = [id(), id(), id()];
        await adapter('RefreshToken').upsert(forever3, { jti: forever3, kind: 'RefreshToken', grantId: g3 }, undefined as unknown as number);
        await adapter('AccessToken').upsert(short3, { jti: short3, kind: 'AccessToken', grantId: g3 }, 1);
        await adapter('RefreshToken').upsert(long1, { jti: long1, kind: 'RefreshToken', grantId: g1 }, 60);
        await adapter('AccessToken').upsert(short1, { jti: short1, kind: 'AccessToken', grantId: g1 }, 1);
        await adapter('AccessToken').upsert(short2, { jti: short2, kind: 'AccessToken', grantId: g2 }, 1);
        await adapter('RefreshToken').upsert(long2, { jti: long2, kind: 'RefreshToken', grantId: g2 }, 60);

        const longToken = id();
        await adapter('AccessToken').upsert(longToken, { jti: longToken, kind: 'AccessToken' }, 60);

        // Markers expire on whole seconds; +2 keeps this one alive for at least 1 s after it is written.
        const expiresAt = Math.floor(startedMs / 1000) + 2;
        const shortMarker = { kind: 'jti', value: id(), revokedAt: expiresAt - 2, expiresAt } as const;
        await stores.exchange.revoke(shortMarker);
        const longMarker = { kind: 'jti', value: id(), revokedAt: expiresAt - 2, expiresAt: expiresAt + 600 } as const;
        await stores.exchange.revoke(longMarker);
        const pastMarker = { kind: 'client', value: id(), revokedAt: expiresAt - 100, expiresAt: expiresAt - 50 } as const;
        await stores.exchange.revoke(pastMarker);

        // A session lives `retention` after its latest token expiry: here until expiresAt, like the short marker.
        const [shortSid, longSid, sub] = [id(), id(), `user-${id()}`];
        const hop = { at: expiresAt - 2, clientId: 'agent', priorActors: [], toolServer: 'https://tools.example', scopes: [], jti: id() };
        await stores.sessions.recordIssued({ sid: shortSid, sub, issuer: 'self' }, { ...hop, exp: expiresAt - 1 }, 1);
        await stores.sessions.recordIssued({ sid: longSid, sub, issuer: 'self' }, { ...hop, at: expiresAt - 3, exp: expiresAt + 60 }, 1);
        assert.deepEqual(await stores.sessions.sidsOf(sub), [shortSid, longSid]);

        await aged.stores.audit.append([{ time: startedMs, type: 'exchange', decision: 'allow', n: 1 }]);

        assert.deepEqual(await stores.exchange.readRevocations({ jti: shortMarker.value, clientIds: [pastMarker.value] }), {
          jti: shortMarker,
          clients: [],
        });
        assert.equal((await adapter('Session').findByUid(uid))?.jti, sessionId);

        await sleep(Math.max(startedMs + 1100, expiresAt * 1000 + 50) - Date.now());

        assert.equal(await adapter('AccessToken').find(shortToken), undefined);
        assert.equal(await adapter('AuthorizationCode').find(consumedCode), undefined);
        assert.equal(await adapter('Session').findByUid(uid), undefined);
        assert.deepEqual(await stores.providerSessionsOf(account), [longUid]);
        assert.equal(await adapter('Session').find(sessionId), undefined);
        assert.equal(await adapter('DeviceCode').findByUserCode(userCode), undefined);
        assert.equal(await adapter('AccessToken').find(short1), undefined);
        assert.deepEqual(await adapter('AccessToken').find(longToken), { jti: longToken, kind: 'AccessToken' });
        assert.deepEqual(await stores.exchange.readRevocations({ jti: shortMarker.value, clientIds: [] }), { clients: [] });
        assert.deepEqual(await stores.exchange.readRevocations({ jti: longMarker.value, clientIds: [] }), { jti: longMarker, clients: [] });

        assert.equal(await stores.onboarding.knownDocument(shortDocument), false);
        assert.equal(await stores.onboarding.knownDocument(longDocument), true);
        assert.equal(await aged.stores.onboarding.knownDocument(fullShort), false);
        assert.equal(await aged.stores.onboarding.rememberDocument(fullLate, 60, 1), true);
        assert.equal(await aged.stores.onboarding.knownDocument(fullLate), true);
        assert.equal(await stores.sessions.get(shortSid), undefined);
        assert.equal((await stores.sessions.get(longSid))?.sid, longSid);
        assert.deepEqual(await stores.sessions.sidsOf(sub), [longSid]);
        assert.deepEqual((await stores.sessions.list({ sub }, { limit: 10 })).items.map((s) => s.sid), [longSid]);
        const snapshotValues = (await stores.revocations.snapshot()).revocations.map((r) => r.value);
        assert.ok(!snapshotValues.includes(shortMarker.value) && snapshotValues.includes(longMarker.value));

        // Age trimming happens on append: the event older than a second goes, the new one stays.
        await aged.stores.audit.append([{ time: Date.now(), type: 'exchange', decision: 'allow', n: 2 }]);
        assert.deepEqual((await aged.stores.audit.query({}, { limit: 10 })).items.map((e) => e.n), [2]);

        await adapter('RefreshToken').revokeByGrantId(g1);
        await adapter('RefreshToken').revokeByGrantId(g2);
        assert.deepEqual(await adapter('RefreshToken').find(forever3), { jti: forever3, kind: 'RefreshToken', grantId: g3 });
        await adapter('RefreshToken').revokeByGrantId(g3);
        assert.equal(await adapter('RefreshToken').find(long1), undefined);
        assert.equal(await adapter('RefreshToken').find(long2), undefined);
        assert.equal(await adapter('RefreshToken').find(forever3), undefined);

        // Once a marker has expired, revoking again creates it anew, and that is a new event.
        const again = { ...shortMarker, revokedAt: expiresAt, expiresAt: expiresAt + 600 };
        assert.deepEqual(await stores.exchange.revoke(again), { record: again, created: true });
        const { events } = await stores.revocations.since('0-0');
        assert.deepEqual(
          events.filter((e) => e.record.value === shortMarker.value).map((e) => e.record),
          [shortMarker, again],
        );
      } finally {
        await aged.close();
      }
    });
  });
}
