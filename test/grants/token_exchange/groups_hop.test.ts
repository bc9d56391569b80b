// Groups on every hop are the original subject's (carried in the delegation token's `groups` claim), never a local
// lookup by bare `sub`; and a tool server's `allowedGroups` holds on every exchange, first or multi-hop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { devLogin } from '../../../tools/dev_login.js';
import { startLocalSts, type LocalSts } from '../../../tools/local_sts.js';
import { freePort } from '../../../tools/local.js';
import { exchangeFor, loginUser, postForm } from '../../helpers/http.js';
import { startTestIdp, type TestIdp } from '../../helpers/test_idp.js';
import { AT, BILLING, CRM, EXCHANGE, JWT_TYPE, REDIS_URL, startService, testConfig, type TestService } from '../../helpers/service.js';
import type { ExchangeDecisionEvent } from '../../../src/audit/events.js';
import { sidPrefixFor } from '../../../src/token_types/context.js';

const NOT_DELEGABLE = { error: 'invalid_request', error_description: 'the subject may not be delegated to this client' };
const CRM_SCOPE = 'crm.lookup_customer billing.refund_lookup';

/** Records the exchange decisions of a service, so a test can assert the audit reason of a refusal. */
function recordExchanges(svc: TestService): ExchangeDecisionEvent[] {
  const seen: ExchangeDecisionEvent[] = [];
  svc.service.events.on((e) => {
    if (e.type === 'exchange') seen.push(e);
  });
  return seen;
}

/** agent → CRM, then crm-server re-exchanges that token for billing: the two responses. */
async function viaCrm(svc: TestService, subjectToken: string, subjectTokenType = AT) {
  const crm = await exchangeFor(svc, 'agent', subjectToken, CRM, { scope: CRM_SCOPE, subject_token_type: subjectTokenType });
  assert.equal(crm.status, 200, JSON.stringify(crm.body));
  const hop = await exchangeFor(svc, 'crm-server', crm.body.access_token as string, BILLING, { scope: 'billing.refund_lookup' });
  return { crmClaims: decodeJwt(crm.body.access_token as string), hop };
}

describe('groups on a hop come from the original subject', () => {
  let svc: TestService;
  let idp: TestIdp;
  let rolesIdp: TestIdp;
  let events: ExchangeDecisionEvent[];
  const ext = (issuer: TestIdp, claims: Record<string, unknown>) => issuer.sign({ aud: svc.url, sid: `s-${randomBytes(4).toString('hex')}`, scope: CRM_SCOPE, ...claims });

  before(async () => {
    [idp, rolesIdp] = await Promise.all([startTestIdp(), startTestIdp()]);
    svc = await startService({
      extra: (port) => {
        const base = testConfig(port, '', '');
        const audience = `http://127.0.0.1:${port}`;
        const allowedScopes = CRM_SCOPE.split(' ');
        return {
          trustedIssuers: [
            { issuer: idp.issuer, jwksUri: idp.jwksUri, audience, allowedScopes },
            { issuer: rolesIdp.issuer, jwksUri: rolesIdp.jwksUri, audience, allowedScopes, groupsClaim: 'roles' },
          ],
          // The hop rule itself needs finance: the group check a hop makes is the one under test.
          agents: base.agents!.map((a) => (a.clientId === 'crm-server' ? { ...a, toolServers: [{ resource: BILLING, scopes: ['billing.refund_lookup'], groups: ['finance'] }] } : a)),
        };
      },
    });
    events = recordExchanges(svc);
  });
  after(async () => {
    await svc.stop();
    await Promise.all([idp.stop(), rolesIdp.stop()]);
  });

  it('an external sub "user-bob" without finance does not inherit local bob\'s groups on the hop; local bob passes', async () => {
    const external = await viaCrm(svc, await ext(idp, { sub: 'user-bob' }), JWT_TYPE);
    assert.equal(external.crmClaims.groups, undefined);
    assert.equal(external.hop.status, 400);
    assert.deepEqual(external.hop.body, NOT_DELEGABLE);
    const refused = events.at(-1)!;
    // The external user is its own account (`x-<issuer hash>|user-bob`), never local bob.
    assert.deepEqual([refused.clientId, refused.sub, refused.decision, refused.error, refused.reasons], ['crm-server', `${sidPrefixFor(idp.issuer)}|user-bob`, 'deny', 'invalid_request', ['user_not_in_allowed_groups']]);

    const bob = await loginUser(svc, { username: 'bob' });
    const local = await viaCrm(svc, bob.accessToken);
    assert.deepEqual(local.crmClaims.groups, ['finance']);
    assert.equal(local.hop.status, 200, JSON.stringify(local.hop.body));
    assert.deepEqual(decodeJwt(local.hop.body.access_token as string).groups, ['finance']);
  });

  it("an external subject's groups come from its issuer's groupsClaim, and only the groups the policy names are carried", async () => {
    const withRoles = await viaCrm(svc, await ext(rolesIdp, { sub: 'ext-dora', roles: ['finance', 'ops'], groups: [] }), JWT_TYPE);
    assert.deepEqual(withRoles.crmClaims.groups, ['finance']);
    assert.equal(withRoles.hop.status, 200, JSON.stringify(withRoles.hop.body));
    assert.deepEqual(decodeJwt(withRoles.hop.body.access_token as string).groups, ['finance']);

    // The same issuer's `groups` claim is not its groupsClaim: it is not read.
    const wrongClaim = await viaCrm(svc, await ext(rolesIdp, { sub: 'ext-erin', groups: ['finance'] }), JWT_TYPE);
    assert.equal(wrongClaim.crmClaims.groups, undefined);
    assert.deepEqual([wrongClaim.hop.status, wrongClaim.hop.body], [400, NOT_DELEGABLE]);

    const defaultClaim = await viaCrm(svc, await ext(idp, { sub: 'ext-frank', groups: ['finance'] }), JWT_TYPE);
    assert.equal(defaultClaim.hop.status, 200, JSON.stringify(defaultClaim.hop.body));
  });
});

describe('toolServers[].allowedGroups: who may ever hold a tool server\'s tokens', () => {
  let svc: TestService;
  let idp: TestIdp;
  let events: ExchangeDecisionEvent[];
  const lastReasons = () => [events.at(-1)!.clientId, events.at(-1)!.error, events.at(-1)!.reasons];

  before(async () => {
    idp = await startTestIdp();
    svc = await startService({
      extra: (port) => {
        const base = testConfig(port, '', '');
        return {
          trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: CRM_SCOPE.split(' ') }],
          // Only the tool server's limit restricts billing here: no rule names a group.
          toolServers: base.toolServers!.map((t) => (t.resource === BILLING ? { ...t, allowedGroups: ['finance'] } : t)),
          agents: base.agents!.map((a) => (a.clientId === 'agent' ? { ...a, toolServers: a.toolServers!.map((r) => ({ resource: r.resource, scopes: r.scopes, ...(r.defaultScopes ? { defaultScopes: r.defaultScopes } : {}) })) } : a)),
        };
      },
    });
    events = recordExchanges(svc);
  });
  after(async () => {
    await svc.stop();
    await idp.stop();
  });

  it('first exchange: alice (support) refused for billing with a fixed body, bob (finance) allowed', async () => {
    const alice = await loginUser(svc, { username: 'alice' });
    const refused = await exchangeFor(svc, 'agent', alice.accessToken, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, NOT_DELEGABLE);
    assert.equal(refused.headers.get('cache-control'), 'no-store');
    assert.deepEqual(lastReasons(), ['agent', 'invalid_request', ['user_not_in_tool_server_groups']]);

    const bob = await loginUser(svc, { username: 'bob' });
    const allowed = await exchangeFor(svc, 'agent', bob.accessToken, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    assert.deepEqual(decodeJwt(allowed.body.access_token as string).groups, ['finance']);
  });

  it('multi-hop: alice → CRM → billing refused although the CRM hop rule has no group limit; bob allowed', async () => {
    const alice = await viaCrm(svc, (await loginUser(svc, { username: 'alice' })).accessToken);
    assert.equal(alice.crmClaims.groups, undefined);
    assert.equal(alice.hop.status, 400);
    assert.deepEqual(alice.hop.body, NOT_DELEGABLE);
    assert.deepEqual(lastReasons(), ['crm-server', 'invalid_request', ['user_not_in_tool_server_groups']]);

    const bob = await viaCrm(svc, (await loginUser(svc, { username: 'bob' })).accessToken);
    assert.equal(bob.hop.status, 200, JSON.stringify(bob.hop.body));
  });

  it('external subjects: the limit reads their groups claim, never the local user with the same sub', async () => {
    const asBob = await viaCrm(svc, await idp.sign({ sub: 'user-bob', aud: svc.url, sid: 'ext-s1', scope: CRM_SCOPE }), JWT_TYPE);
    assert.deepEqual([asBob.hop.status, asBob.hop.body], [400, NOT_DELEGABLE]);
    assert.deepEqual(lastReasons(), ['crm-server', 'invalid_request', ['user_not_in_tool_server_groups']]);
    const finance = await viaCrm(svc, await idp.sign({ sub: 'ext-gina', aud: svc.url, sid: 'ext-s2', scope: CRM_SCOPE, groups: ['finance'] }), JWT_TYPE);
    assert.equal(finance.hop.status, 200, JSON.stringify(finance.hop.body));
  });
});

describe('the demo policy (config/default.yaml): billing only for finance, by any route', () => {
  let sts: LocalSts;
  const redirect = 'http://127.0.0.1:8976/callback';
  const basic = (clientId: string) => `Basic ${Buffer.from(`${clientId}:${sts.secrets[clientId]}`).toString('base64')}`;
  const resources = { crm: '', billing: '' };

  async function login(username: string): Promise<string> {
    const verifier = randomBytes(32).toString('base64url');
    const auth = new URL(`${sts.issuer}/auth`);
    auth.search = new URLSearchParams({
      client_id: 'demo-agent', response_type: 'code', redirect_uri: redirect, scope: `openid ${CRM_SCOPE}`, state: 'st',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    }).toString();
    const code = (await devLogin(auth, redirect, username)).searchParams.get('code')!;
    const token = await postForm(`${sts.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier }, { authorization: basic('demo-agent') });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    return token.body.access_token as string;
  }
  const exchangeAs = (clientId: string, subjectToken: string, resource: string, scope: string) =>
    postForm(`${sts.issuer}/token`, { grant_type: EXCHANGE, subject_token: subjectToken, subject_token_type: AT, resource, scope }, { authorization: basic(clientId) });

  before(async () => {
    const [port, crmPort, billingPort] = [await freePort(), await freePort(), await freePort()];
    resources.crm = `http://127.0.0.1:${crmPort}/mcp`;
    resources.billing = `http://127.0.0.1:${billingPort}/mcp`;
    sts = await startLocalSts({ port, store: REDIS_URL, resources: { 'crm-server': resources.crm, 'billing-server': resources.billing } });
  });
  after(async () => {
    await sts.stop();
  });

  it('alice (support): no billing token directly, nor through the CRM hop; bob (finance): both', async () => {
    const alice = await login('alice');
    const direct = await exchangeAs('demo-agent', alice, resources.billing, 'billing.refund_lookup');
    assert.deepEqual([direct.status, direct.body], [400, NOT_DELEGABLE]);
    const crm = await exchangeAs('demo-agent', alice, resources.crm, CRM_SCOPE);
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    const hop = await exchangeAs('crm-server', crm.body.access_token as string, resources.billing, 'billing.refund_lookup');
    assert.equal(hop.status, 400);
    assert.deepEqual(hop.body, NOT_DELEGABLE);

    const bob = await login('bob');
    assert.equal((await exchangeAs('demo-agent', bob, resources.billing, 'billing.refund_lookup')).status, 200);
    const bobCrm = await exchangeAs('demo-agent', bob, resources.crm, CRM_SCOPE);
    assert.equal(bobCrm.status, 200, JSON.stringify(bobCrm.body));
    const bobHop = await exchangeAs('crm-server', bobCrm.body.access_token as string, resources.billing, 'billing.refund_lookup');
    assert.equal(bobHop.status, 200, JSON.stringify(bobHop.body));
    assert.deepEqual(decodeJwt(bobHop.body.access_token as string).groups, ['finance']);
  });
});
