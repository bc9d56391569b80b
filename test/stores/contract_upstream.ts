// Contract: upstream login state (issue 12 item 6): pending records taken once, accounts, session links by upstream
// session and by account (expiring with our session), logout token ids claimed once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { StoreHarness } from './contract.js';

export function upstreamLoginContract(harness: () => StoreHarness): void {
  const store = () => harness().stores.upstreamLogin;
  const now = () => Math.floor(Date.now() / 1000);

  describe('upstream login', () => {
    it('a pending authorization and a pending login are taken exactly once', async () => {
      const uid = randomUUID();
      await store().putAuthorization(uid, { state: 's', nonce: 'n', codeVerifier: 'v' }, 60);
      await store().putLogin(uid, { accountId: 'x-a|alice', upstreamSid: 'up-1' }, 60);
      const takes = await Promise.all(Array.from({ length: 10 }, () => store().takeAuthorization(uid)));
      assert.deepEqual(takes.filter(Boolean), [{ state: 's', nonce: 'n', codeVerifier: 'v' }]);
      assert.deepEqual(await store().takeLogin(uid), { accountId: 'x-a|alice', upstreamSid: 'up-1' });
      assert.equal(await store().takeLogin(uid), undefined);
      assert.equal(await store().takeAuthorization(randomUUID()), undefined);
    });

    it('a pending record expires', async () => {
      const uid = randomUUID();
      await store().putAuthorization(uid, { state: 's', nonce: 'n', codeVerifier: 'v' }, 1);
      await sleep(1100);
      assert.equal(await store().takeAuthorization(uid), undefined);
    });

    it('accounts are stored, replaced by a later login and read back', async () => {
      const id = `x-test|${randomUUID()}`;
      assert.equal(await store().getAccount(id), undefined);
      await store().putAccount({ id, issuer: 'https://idp', sub: 'u', groups: ['a'], claims: { name: 'U' } }, 60);
      await store().putAccount({ id, issuer: 'https://idp', sub: 'u', groups: ['b', 'c'], claims: { name: 'U' } }, 60);
      assert.deepEqual(await store().getAccount(id), { id, issuer: 'https://idp', sub: 'u', groups: ['b', 'c'], claims: { name: 'U' } });
    });

    it('sessions are found by upstream session and by account; expired links are not', async () => {
      const accountId = `x-test|${randomUUID()}`;
      const upstreamSid = randomUUID();
      await store().linkSession({ accountId, upstreamSid, sessionUid: 'ours-1' }, now() + 60);
      await store().linkSession({ accountId, sessionUid: 'ours-2' }, now() + 60);
      await store().linkSession({ accountId, upstreamSid, sessionUid: 'ours-3' }, now() + 1);
      assert.deepEqual((await store().sessionsOf({ upstreamSid })).sort(), ['ours-1', 'ours-3']);
      assert.deepEqual((await store().sessionsOf({ accountId })).sort(), ['ours-1', 'ours-2', 'ours-3']);
      await sleep(2100);
      assert.deepEqual(await store().sessionsOf({ upstreamSid }), ['ours-1']);
      assert.deepEqual((await store().sessionsOf({ accountId })).sort(), ['ours-1', 'ours-2']);
      assert.deepEqual(await store().sessionsOf({ upstreamSid: randomUUID() }), []);
    });

    it('a logout token id is claimed once, atomically, and expires', async () => {
      const key = randomUUID();
      const results = await Promise.all(Array.from({ length: 20 }, () => store().claimLogoutToken(key, 1)));
      assert.equal(results.filter(Boolean).length, 1);
      await sleep(1100);
      assert.equal(await store().claimLogoutToken(key, 1), true);
    });
  });
}
