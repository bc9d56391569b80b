// Contract: the oidc-provider Adapter (upsert/find, indexes, consume, destroy, revokeByGrantId).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { AlreadyConsumed } from '../../src/stores/errors.js';
import { consumeStamp } from '../../src/stores/oidc_records.js';
import type { AdapterPayload } from '../../src/stores/types.js';
import type { StoreHarness } from './contract.js';

type HarnessRef = () => StoreHarness;

const id = () => randomUUID();
const nowSec = () => Math.floor(Date.now() / 1000);

export function oidcAdapterContract(harness: HarnessRef): void {
  const adapter = (model: string) => harness().stores.adapterFor(model);

  describe('oidc adapter', () => {
    it('finds exactly the payload it stored', async () => {
      const jti = id();
      const payload: AdapterPayload = {
        jti,
        kind: 'AccessToken',
        iat: nowSec(),
        exp: nowSec() + 60,
        accountId: 'alice',
        clientId: 'agent-1',
        scope: 'openid tools:read',
        resource: ['https://tools.example/a'],
        claims: {},
        rar: [],
        extra: { nested: { deep: [1, 'two', null, true] }, unicode: 'żółw ✓', slash: 'a/b' },
      };
      await adapter('AccessToken').upsert(jti, payload, 60);
      assert.deepEqual(await adapter('AccessToken').find(jti), payload);
    });

    it('keeps models apart and returns undefined for unknown ids', async () => {
      const jti = id();
      await adapter('AccessToken').upsert(jti, { jti, kind: 'AccessToken' }, 60);
      assert.equal(await adapter('RefreshToken').find(jti), undefined);
      assert.equal(await adapter('AccessToken').find(id()), undefined);
    });

    it('upsert replaces the whole record, a consumed stamp included', async () => {
      const jti = id();
      const codes = adapter('AuthorizationCode');
      await codes.upsert(jti, { jti, kind: 'AuthorizationCode', scope: 'openid', nonce: 'n' }, 60);
      await codes.consume(jti);
      await codes.upsert(jti, { jti, kind: 'AuthorizationCode', scope: 'profile' }, 60);
      assert.deepEqual(await codes.find(jti), { jti, kind: 'AuthorizationCode', scope: 'profile' });
    });

    it('stores a record without expiresIn (e.g. a Client)', async () => {
      const clientId = id();
      const payload = { client_id: clientId, redirect_uris: ['https://app.example/cb'] };
      await adapter('Client').upsert(clientId, payload, undefined as unknown as number);
      assert.deepEqual(await adapter('Client').find(clientId), payload);
    });

    it('treats expiresIn <= 0 as already expired', async () => {
      const jti = id();
      await adapter('Interaction').upsert(jti, { jti, kind: 'Interaction' }, 60);
      await adapter('Interaction').upsert(jti, { jti, kind: 'Interaction' }, 0);
      assert.equal(await adapter('Interaction').find(jti), undefined);
    });

    it('finds a Session by uid, and only a Session', async () => {
      const [sessionId, uid, interactionId, otherUid] = [id(), id(), id(), id()];
      const session = { jti: sessionId, uid, kind: 'Session', accountId: 'alice', loginTs: nowSec(), authorizations: {} };
      await adapter('Session').upsert(sessionId, session, 60);
      // An Interaction carries a uid too; it must not take over the Session index.
      await adapter('Interaction').upsert(interactionId, { jti: interactionId, kind: 'Interaction', uid: otherUid }, 60);
      assert.deepEqual(await adapter('Session').findByUid(uid), session);
      assert.equal(await adapter('Session').findByUid(otherUid), undefined);
      assert.equal(await adapter('Session').findByUid(id()), undefined);
    });

    it("lists an account's provider sessions: every Session stored for it, an anonymous one and other accounts' not", async () => {
      const [account, other] = [`user-${id()}`, `user-${id()}`];
      const sessions = [[id(), id(), account], [id(), id(), account], [id(), id(), other], [id(), id(), undefined]] as const;
      for (const [sessionId, uid, accountId] of sessions) {
        await adapter('Session').upsert(sessionId, { jti: sessionId, uid, kind: 'Session', ...(accountId ? { accountId } : {}) }, 60);
      }
      // Saved again (oidc-provider saves a session on every use): listed once.
      await adapter('Session').upsert(sessions[0][0], { jti: sessions[0][0], uid: sessions[0][1], kind: 'Session', accountId: account }, 120);
      const stores = harness().stores;
      assert.deepEqual((await stores.providerSessionsOf(account)).sort(), [sessions[0][1], sessions[1][1]].sort());
      assert.deepEqual(await stores.providerSessionsOf(other), [sessions[2][1]]);
      assert.deepEqual(await stores.providerSessionsOf(`user-${id()}`), []);
    });

    it('finds a DeviceCode by user code', async () => {
      const [deviceCode, userCode] = [id(), `UC-${id()}`];
      const payload = { jti: deviceCode, kind: 'DeviceCode', userCode, clientId: 'tv', params: { scope: 'openid' } };
      await adapter('DeviceCode').upsert(deviceCode, payload, 60);
      assert.deepEqual(await adapter('DeviceCode').findByUserCode(userCode), payload);
      assert.equal(await adapter('DeviceCode').findByUserCode(`UC-${id()}`), undefined);
    });

    it('consume stamps epoch seconds and keeps every other field', async () => {
      const jti = id();
      const payload = { jti, kind: 'AuthorizationCode', accountId: 'alice', clientId: 'agent-1', scope: 'openid', grantId: id() };
      const codes = adapter('AuthorizationCode');
      await codes.upsert(jti, payload, 60);
      const before = nowSec();
      await codes.consume(jti);
      const after = nowSec();
      const found = await codes.find(jti);
      const consumed = found?.consumed;
      assert.ok(typeof consumed === 'number' && consumed >= before && consumed <= after, `consumed=${String(consumed)}`);
      assert.deepEqual(found, { ...payload, consumed });
    });

    // RFC 6749 §4.1.2: a code "MUST NOT be used more than once"; RFC 9700 §4.14.2: nor a rotated refresh token.
    it('consume is a compare-and-set: of concurrent consumes exactly one succeeds, the others are refused naming the grant', async () => {
      const [jti, grantId] = [id(), id()];
      const payload = { jti, kind: 'RefreshToken', accountId: 'alice', rotations: 0, grantId };
      const tokens = adapter('RefreshToken');
      await tokens.upsert(jti, payload, 60);
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => tokens.consume(jti)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
        assert.ok(r.reason instanceof AlreadyConsumed, String(r.reason));
        assert.equal(r.reason.code, 'ERR_ALREADY_CONSUMED');
        assert.equal(r.reason.model, 'RefreshToken');
        assert.equal(r.reason.grantId, grantId);
        assert.doesNotMatch(r.reason.message, new RegExp(jti), 'the record id (a token value) is never in the message');
      }
      const found = await tokens.find(jti);
      assert.equal(typeof found?.consumed, 'number');
      assert.deepEqual(found, { ...payload, consumed: found?.consumed });
    });

    it('consume twice in sequence: the second is refused and leaves the first stamp', async () => {
      const jti = id();
      const codes = adapter('AuthorizationCode');
      await codes.upsert(jti, { jti, kind: 'AuthorizationCode' }, 60);
      await codes.consume(jti);
      const first = (await codes.find(jti))?.consumed;
      await assert.rejects(codes.consume(jti), (err: AlreadyConsumed) => err instanceof AlreadyConsumed && err.grantId === undefined);
      assert.equal((await codes.find(jti))?.consumed, first);
    });

    // A command resent after its reply was lost (ioredis, on a reconnect) is the same call: it must win again.
    it('consume repeated with its own stamp succeeds again and keeps the first stamp; any other consume is refused naming the grant', async () => {
      const [jti, grantId] = [id(), id()];
      const codes = adapter('AuthorizationCode');
      await codes.upsert(jti, { jti, kind: 'AuthorizationCode', grantId }, 60);
      const stamp = consumeStamp();
      await codes.consume(jti, stamp);
      const first = (await codes.find(jti))?.consumed;
      await codes.consume(jti, stamp);
      assert.equal((await codes.find(jti))?.consumed, first);
      for (const other of [consumeStamp(), undefined]) {
        await assert.rejects(codes.consume(jti, other), (err: AlreadyConsumed) => err instanceof AlreadyConsumed && err.grantId === grantId);
      }
      assert.deepEqual(await codes.find(jti), { jti, kind: 'AuthorizationCode', grantId, consumed: first });
    });

    it('a record saved consumed has no stamp to match: even a stamped consume is refused', async () => {
      const [jti, grantId] = [id(), id()];
      const codes = adapter('AuthorizationCode');
      const stamp = consumeStamp();
      await codes.upsert(jti, { jti, kind: 'AuthorizationCode', grantId }, 60);
      await codes.consume(jti, stamp);
      const consumed = (await codes.find(jti))?.consumed as number;
      // oidc-provider saving the consumed model: the stamp is not in the payload, so it is gone.
      await codes.upsert(jti, { jti, kind: 'AuthorizationCode', grantId, consumed }, 60);
      await assert.rejects(codes.consume(jti, stamp), (err: AlreadyConsumed) => err instanceof AlreadyConsumed && err.grantId === grantId);
      await assert.rejects(codes.consume(id(), stamp), (err: AlreadyConsumed) => err instanceof AlreadyConsumed && err.grantId === undefined);
    });

    // RFC 6749 §4.1.2: a reuse ends the grant, so the refusal must name it whatever else the record holds: JSON that
    // Redis' cjson cannot decode (a lone surrogate; nesting past its limit) but JSON.parse can.
    it('a reuse names the grant whatever the payload holds (a lone surrogate, deep nesting)', async () => {
      for (const odd of ['a\ud800b', JSON.parse('['.repeat(1100) + ']'.repeat(1100)) as unknown]) {
        const [jti, grantId] = [id(), id()];
        const tokens = adapter('RefreshToken');
        await tokens.upsert(jti, { jti, kind: 'RefreshToken', grantId, odd }, 60);
        await tokens.consume(jti);
        await assert.rejects(tokens.consume(jti), (err: AlreadyConsumed) => err instanceof AlreadyConsumed && err.grantId === grantId);
      }
    });

    it('consume of a missing record is refused and creates nothing', async () => {
      const missing = id();
      await assert.rejects(adapter('RefreshToken').consume(missing), (err: AlreadyConsumed) => err instanceof AlreadyConsumed && err.grantId === undefined);
      assert.equal(await adapter('RefreshToken').find(missing), undefined);
    });

    it('a record saved with `consumed` in its payload is already consumed; a re-upsert without it may be consumed again', async () => {
      const [jti, grantId] = [id(), id()];
      const codes = adapter('AuthorizationCode');
      await codes.upsert(jti, { jti, kind: 'AuthorizationCode', grantId, consumed: 1_700_000_000 }, 60);
      await assert.rejects(codes.consume(jti), (err: AlreadyConsumed) => err instanceof AlreadyConsumed && err.grantId === grantId);
      assert.deepEqual(await codes.find(jti), { jti, kind: 'AuthorizationCode', grantId, consumed: 1_700_000_000 });
      await codes.upsert(jti, { jti, kind: 'AuthorizationCode', grantId }, 60);
      await codes.consume(jti);
    });

    it('destroy removes the record and what its indexes point at', async () => {
      const [sessionId, uid, deviceCode, userCode] = [id(), id(), id(), id()];
      await adapter('Session').upsert(sessionId, { jti: sessionId, uid, kind: 'Session' }, 60);
      await adapter('DeviceCode').upsert(deviceCode, { jti: deviceCode, userCode, kind: 'DeviceCode' }, 60);
      await adapter('Session').destroy(sessionId);
      await adapter('DeviceCode').destroy(deviceCode);
      assert.equal(await adapter('Session').find(sessionId), undefined);
      assert.equal(await adapter('Session').findByUid(uid), undefined);
      assert.equal(await adapter('DeviceCode').findByUserCode(userCode), undefined);
      await adapter('Session').destroy(id()); // unknown ids are fine
    });

    it('revokeByGrantId removes every record issued under the grant, and nothing else', async () => {
      const [grantId, otherGrant] = [id(), id()];
      const members = [
        ['AccessToken', id()],
        ['RefreshToken', id()],
        ['AuthorizationCode', id()],
        ['AccessToken', id()],
      ] as const;
      for (const [model, jti] of members) await adapter(model).upsert(jti, { jti, kind: model, grantId }, 60);
      const survivor = id();
      await adapter('AccessToken').upsert(survivor, { jti: survivor, kind: 'AccessToken', grantId: otherGrant }, 60);
      // oidc-provider's adapters leave non-token models (an Interaction naming the grant) to expire on their own.
      const interaction = id();
      await adapter('Interaction').upsert(interaction, { jti: interaction, kind: 'Interaction', grantId }, 60);

      await adapter('AccessToken').revokeByGrantId(grantId);

      for (const [model, jti] of members) assert.equal(await adapter(model).find(jti), undefined, `${model} ${jti}`);
      assert.deepEqual(await adapter('AccessToken').find(survivor), { jti: survivor, kind: 'AccessToken', grantId: otherGrant });
      assert.deepEqual(await adapter('Interaction').find(interaction), { jti: interaction, kind: 'Interaction', grantId });
      await adapter('AccessToken').revokeByGrantId(grantId); // again: a no-op
      await adapter('AccessToken').revokeByGrantId(id()); // unknown grant: a no-op
    });
  });
}
