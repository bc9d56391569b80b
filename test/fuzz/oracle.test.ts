// The fuzz oracle itself: a 200 for a case that must not issue, or a token wider than allowed, is a finding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Case } from '../../fuzz/cases.js';
import { judge } from '../../fuzz/oracle.js';

const AUD = 'http://tools.test/crm/mcp';

async function setup() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] });
  const now = Math.floor(Date.now() / 1000);
  const issue = (scope: string, act: unknown = { sub: 'agent' }) =>
    new SignJWT({ scope, client_id: 'agent', act, sid: 'sid-1' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' })
      .setSubject('user-alice').setAudience(AUD).setIssuedAt(now).setExpirationTime(now + 60).sign(privateKey);
  return { keys, issue };
}

const exchangeCase = (mustNot: string[]): Case => ({
  index: 7,
  recipe: {} as Case['recipe'],
  request: { method: 'POST', url: 'http://127.0.0.1/token', headers: {} },
  expect: { kind: 'exchange', mustNot, token: { client: 'agent', aud: AUD, maxTtl: 300, allowed: new Set(['crm.lookup_customer']), sub: 'user-alice', sid: 'sid-1' } },
});

test('a 200 on a case that must not issue is a wrongly issued token', async () => {
  const { keys, issue } = await setup();
  const body = JSON.stringify({ access_token: await issue('crm.lookup_customer'), token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  assert.deepEqual(await judge(exchangeCase([]), { status: 200, body }, { outage: false, keys }), []);
  const findings = await judge(exchangeCase(['bound_to_other_client']), { status: 200, body }, { outage: false, keys });
  assert.deepEqual(findings, [{ kind: 'wrongly_issued', index: 7, status: 200, detail: 'must not issue: bound_to_other_client' }]);
});

test('an allowed case whose token widens scope or changes the actor is flagged', async () => {
  const { keys, issue } = await setup();
  const body = JSON.stringify({ access_token: await issue('crm.lookup_customer crm.export_customers', { sub: 'agent2' }), token_type: 'Bearer' });
  const [f] = await judge(exchangeCase([]), { status: 200, body }, { outage: false, keys });
  assert.equal(f?.kind, 'bad_token_claims');
  assert.equal(f?.detail, 'scope_widened:crm.export_customers,act_outermost_not_client');
});

test('5xx is a finding except 503 during an injected outage', async () => {
  const { keys } = await setup();
  const c = exchangeCase([]);
  assert.equal((await judge(c, { status: 500, body: '{}' }, { outage: false, keys }))[0]?.kind, 'server_error');
  assert.equal((await judge(c, { status: 503, body: '{}' }, { outage: false, keys }))[0]?.kind, 'server_error');
  assert.deepEqual(await judge(c, { status: 503, body: '{}' }, { outage: true, keys }), []);
  assert.equal((await judge(c, { status: 500, body: '{}' }, { outage: true, keys }))[0]?.kind, 'server_error');
});
