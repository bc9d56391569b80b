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

const exchangeCase = (mustNot: string[], priorAct?: unknown): Case => ({
  index: 7,
  recipe: {} as Case['recipe'],
  request: { method: 'POST', url: 'http://127.0.0.1/token', headers: {} },
  expect: {
    kind: 'exchange',
    mustNot,
    token: { client: 'agent', aud: AUD, maxTtl: 300, allowed: new Set(['crm.lookup_customer']), sub: 'user-alice', sid: 'sid-1', ...(priorAct !== undefined ? { priorAct } : {}) },
  },
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

test('the nested act must be exactly the expected prior actors: none when none, the holder when another client presented the token', async () => {
  const { keys, issue } = await setup();
  const judged = async (act: unknown, priorAct?: unknown) => {
    const body = JSON.stringify({ access_token: await issue('crm.lookup_customer', act), token_type: 'Bearer' });
    return (await judge(exchangeCase([], priorAct), { status: 200, body }, { outage: false, keys })).map((f) => `${f.kind}: ${f.detail}`);
  };
  // None expected: an extra nested actor is a finding (RFC 8693 §4.1: act names every prior actor, and only those).
  assert.deepEqual(await judged({ sub: 'agent', act: { sub: 'someone-else' } }), ['bad_token_claims: unexpected_prior_act:{"sub":"someone-else"}']);
  // The user token was issued to agent2 (subjectClients): agent2 must be nested, and nothing else.
  assert.deepEqual(await judged({ sub: 'agent' }, { sub: 'agent2' }), ['bad_token_claims: prior_act_not_as_expected:none≠{"sub":"agent2"}']);
  assert.deepEqual(await judged({ sub: 'agent', act: { sub: 'agent2', act: { sub: 'x' } } }, { sub: 'agent2' }), [
    'bad_token_claims: prior_act_not_as_expected:{"sub":"agent2","act":{"sub":"x"}}≠{"sub":"agent2"}',
  ]);
  assert.deepEqual(await judged({ sub: 'agent', act: { sub: 'agent2' } }, { sub: 'agent2' }), []);
  // An IdP JWT issued to another client: the holder with the issuer, whatever the member order.
  const holder = { sub: 'agent2', iss: 'http://idp.test' };
  assert.deepEqual(await judged({ sub: 'agent', act: { iss: 'http://idp.test', sub: 'agent2' } }, holder), []);
  assert.equal((await judged({ sub: 'agent', act: { sub: 'agent2' } }, holder)).length, 1);
  // The outermost actor is the client alone.
  assert.deepEqual(await judged({ sub: 'agent', iss: 'http://idp.test' }), ['bad_token_claims: act_outermost_extra_member:sub,iss']);
});

test('5xx is a finding except 503 during an injected outage', async () => {
  const { keys } = await setup();
  const c = exchangeCase([]);
  assert.equal((await judge(c, { status: 500, body: '{}' }, { outage: false, keys }))[0]?.kind, 'server_error');
  assert.equal((await judge(c, { status: 503, body: '{}' }, { outage: false, keys }))[0]?.kind, 'server_error');
  assert.deepEqual(await judge(c, { status: 503, body: '{}' }, { outage: true, keys }), []);
  assert.equal((await judge(c, { status: 500, body: '{}' }, { outage: true, keys }))[0]?.kind, 'server_error');
});
