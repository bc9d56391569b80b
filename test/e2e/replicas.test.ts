// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// Three replicas on one store (single Redis, and a Redis Cluster: test/helpers/redis_cluster.ts): a user
// logs in on replica 1, exchanges on replica 2, is revoked on replica 3 through the admin API; every replica refuses
// the session's next exchange (its user token and its delegation token), delegation introspection answers
// active:false everywhere, and a feed-mode verifier attached to each replica refuses within 100 ms.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { VerifyError, type Verifier } from 'delegation-token-verify';
import { replicaFeedVerifier } from '../../tools/replica_verifier.js';
import { AT, BILLING, CRM, startService, type TestService } from '../helpers/service.js';
import { exchange, exchangeFor, loginUser, postForm, revokeSessionViaAdmin } from '../helpers/http.js';

type Replica = TestService & { keysDir: string };

/** A feed-mode verifier whose issuer is the shared one but whose requests go to this replica. */
function verifierOn(replica: TestService, issuer: string): Verifier {
  return replicaFeedVerifier({ issuer, replicaUrl: replica.url, audience: CRM, clientId: 'crm-server', clientSecret: replica.secrets['crm-server']! });
}

for (const backend of ['redis', 'redis cluster'] as const) describe(`three replicas on one store (${backend})`, () => {
  const cluster = backend === 'redis cluster';
  const replicas: Replica[] = [];
  let issuer: string;

  before(async () => {
    const first = await startService({ cluster });
    issuer = first.url;
    replicas.push(first);
    for (let i = 0; i < 2; i++) {
      replicas.push(await startService({ cluster, share: { keysDir: first.keysDir, prefix: first.prefix, secrets: first.secrets }, extra: () => ({ issuer }) }));
    }
  });
  after(async () => {
    for (const r of replicas.slice(1)) await r.stop();
    await replicas[0]?.stop();
  });

  it('each replica reports its revocation view in /readyz', async () => {
    for (const r of replicas) {
      const res = await fetch(`${r.url}/readyz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ready', checks: { store: 'ok', keys: 'ok', revocations: 'ok' } });
    }
  });

  it('login on 1, exchange on 2, revoke on 3: every replica refuses, introspection says inactive, feed verifiers refuse within 100 ms', async () => {
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const user = await loginUser(r1, { username: 'bob' });
    const first = await exchangeFor(r2, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(first.status, 200);
    const token = first.body.access_token as string;
    const { sid } = decodeJwt(token);
    // Delegation tokens of the session minted on every replica before the revocation (the hop's subject later).
    const crmTokens: string[] = [];
    for (const r of replicas) {
      const res = await exchangeFor(r, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
      assert.equal(res.status, 200);
      crmTokens.push(res.body.access_token as string);
    }

    const verifiers = replicas.map((r) => verifierOn(r, issuer));
    try {
      for (const v of verifiers) {
        await v.ready();
        await v.verify(token); // accepted before the revocation
      }

      assert.equal(await revokeSessionViaAdmin(r3.url, r3.basic('admin-cli'), sid as string, 'replica test'), 200);
      const returned = performance.now();

      // Each feed verifier, attached to its own replica, refuses within 100 ms of the revoke response.
      await Promise.all(
        verifiers.map(async (v, i) => {
          for (;;) {
            try {
              await v.verify(token);
            } catch (err) {
              assert.ok(err instanceof VerifyError, String(err));
              assert.equal(err.code, 'ERR_REVOKED', `replica ${i + 1}`);
              break;
            }
            assert.ok(performance.now() - returned < 100, `replica ${i + 1}'s verifier still accepts after 100 ms`);
            await new Promise((r) => setTimeout(r, 2));
          }
          assert.ok(performance.now() - returned < 100, `replica ${i + 1}'s verifier refused only after 100 ms`);
        }),
      );

      const invalid = { error: 'invalid_request', error_description: 'subject_token is invalid' };
      for (const [i, r] of replicas.entries()) {
        // The session's user token.
        const again = await exchangeFor(r, 'agent', user.accessToken, CRM);
        assert.equal(again.status, 400, `replica ${i + 1}`);
        assert.equal(again.headers.get('cache-control'), 'no-store');
        assert.deepEqual(again.body, invalid);
        // A delegation token of the session (multi-hop), minted on each replica before the revocation.
        for (const crm of crmTokens) {
          const hop = await exchange(r, 'crm-server', { subject_token: crm, subject_token_type: AT, resource: BILLING, scope: 'billing.refund_lookup' });
          assert.equal(hop.status, 400, `replica ${i + 1}`);
          assert.deepEqual(hop.body, invalid);
        }
        // Delegation introspection by the tool server of the token's aud.
        const introspection = await postForm(`${r.url}/token/introspection/delegation`, { token }, { authorization: r.basic('crm-server') });
        assert.equal(introspection.status, 200);
        assert.deepEqual(introspection.body, { active: false });
      }
    } finally {
      for (const v of verifiers) v.close();
    }
  });

  it('a client revoked on replica 3 is refused at once on replicas 1 and 2 (no wait for the feed)', async () => {
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const user = await loginUser(r1, { username: 'alice' });
    assert.equal((await exchangeFor(r2, 'agent2', user.accessToken, CRM, { scope: 'crm.lookup_customer' })).status, 400); // not issued to agent2
    const before = await exchangeFor(r1, 'agent', user.accessToken, CRM);
    assert.equal(before.status, 200);
    // A cutoff revocation: it does not end the session, so only the revocation check can refuse what follows.
    await new Promise((r) => setTimeout(r, 1000)); // the login's iat strictly before the cutoff second
    await r3.service.revocation.revoke({ kind: 'client', value: 'agent', by: 'test', reason: 'replica test' });
    const [on1, on2] = await Promise.all([exchangeFor(r1, 'agent', user.accessToken, CRM), exchangeFor(r2, 'agent', user.accessToken, CRM)]);
    for (const res of [on1, on2]) {
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
    }
  });
});
