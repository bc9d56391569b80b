// One authorization code or refresh token presented by concurrent requests (RFC 6749 §4.1.2, RFC 9700 §4.14.2): at most
// one is answered with tokens, the others get invalid_grant, and the grant ends with every token issued from it, the
// winner's and their delegation tokens included; on a single Redis, a Redis Cluster and the memory store. Sequential
// reuse is refused as before; a store outage while consuming stays 503 and burns nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { introspectDelegation, introspectOpaque } from '../../admin/helpers.js';
import { exchangeFor, postForm, type FormResponse } from '../../helpers/http.js';
import { CRM, REDIRECT, startService, type TestService } from '../../helpers/service.js';
import { authorize, codeFlow, codeFlowConfig, MCP, refresh } from './helpers.js';

const ROUNDS = 4;

/** The reuse refusal, as oidc-provider answers a sequential one: a fixed description, `no-store`. */
function assertReuseRefused(res: FormResponse): void {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.deepEqual(res.body, { error: 'invalid_grant', error_description: 'grant request is invalid' });
  assert.equal(res.headers.get('cache-control'), 'no-store');
}

/**
 * A refusal in a race: the losers' (assertReuseRefused), or the winner's when the grant ended while it was issuing, in
 * oidc-provider (the same answer) or in the delegation step, whose opaque token was revoked under it (its own fixed
 * descriptions). Always invalid_grant, never 5xx.
 */
function assertRefusedInRace(res: FormResponse): void {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error, 'invalid_grant');
  assert.ok(['grant request is invalid', 'the grant is not bound to a session', 'the grant has been revoked'].includes(res.body.error_description as string), JSON.stringify(res.body));
  assert.equal(res.headers.get('cache-control'), 'no-store');
}

/** Nothing of what `res` carried still works: its refresh token is refused, its delegation token is inactive. */
async function assertDead(svc: TestService, res: FormResponse): Promise<void> {
  assert.deepEqual((await introspectDelegation(svc, res.body.access_token as string)).body, { active: false });
  if (typeof res.body.refresh_token === 'string') assert.equal((await refresh(svc, res.body.refresh_token)).body.error, 'invalid_grant');
}

const codeForm = (code: string, verifier: string) => ({ grant_type: 'authorization_code', client_id: MCP, code, redirect_uri: REDIRECT, code_verifier: verifier, resource: CRM });

for (const backend of ['redis', 'redis cluster', 'memory'] as const) {
  describe(`concurrent use of a code or a refresh token (${backend})`, () => {
    let svc: TestService & { keysDir: string };
    before(async () => {
      svc = await startService({ ...(backend === 'memory' ? { memory: true } : backend === 'redis cluster' ? { cluster: true } : {}), extra: (port) => codeFlowConfig(port) });
    });
    after(() => svc.stop());

    it('one code redeemed by 4 concurrent requests: at most one 200, the others invalid_grant; every token issued dies', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { redirect, verifier } = await authorize(svc, { resource: CRM });
        const form = codeForm(redirect.searchParams.get('code')!, verifier);
        const answers = await Promise.all([0, 1, 2, 3].map(() => postForm(`${svc.url}/token`, form)));
        const issued = answers.filter((r) => r.status === 200);
        assert.ok(issued.length <= 1, `round ${round}: ${answers.map((r) => r.status).join(',')}`);
        const refused = answers.filter((r) => r.status !== 200);
        for (const res of refused) assertRefusedInRace(res);
        // The losers at least were refused as a reuse is.
        assert.ok(refused.filter((r) => r.body.error_description === 'grant request is invalid').length >= answers.length - 1);
        for (const winner of issued) await assertDead(svc, winner);
      }
    });

    it('one refresh token used by 2 concurrent requests: at most one 200, the other invalid_grant; the whole family dies', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const first = await codeFlow(svc, { resource: CRM });
        assert.equal(first.status, 200);
        const rt = first.body.refresh_token as string;
        const answers = await Promise.all([refresh(svc, rt), refresh(svc, rt)]);
        const issued = answers.filter((r) => r.status === 200);
        assert.ok(issued.length <= 1, `round ${round}: ${answers.map((r) => r.status).join(',')}`);
        const refused = answers.filter((r) => r.status !== 200);
        for (const res of refused) assertRefusedInRace(res);
        // The losers at least were refused as a reuse is.
        assert.ok(refused.filter((r) => r.body.error_description === 'grant request is invalid').length >= answers.length - 1);
        for (const res of [first, ...issued]) await assertDead(svc, res);
      }
    });
  });
}

describe('concurrent use of a code for this service itself (the opaque user token the exchange accepts)', () => {
  let svc: TestService & { keysDir: string };
  before(async () => {
    svc = await startService({ extra: (port) => codeFlowConfig(port) });
  });
  after(() => svc.stop());

  it('control: a code redeemed once gives an opaque token the exchange accepts', async () => {
    const { redirect, verifier } = await authorize(svc, { clientId: 'agent', scope: 'openid crm.lookup_customer' });
    const form = { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
    const res = await postForm(`${svc.url}/token`, form, { authorization: svc.basic('agent') });
    assert.equal(res.status, 200);
    assert.equal((await introspectOpaque(svc, res.body.access_token as string)).body.active, true);
    assert.equal((await exchangeFor(svc, 'agent', res.body.access_token as string, CRM)).status, 200);
  });

  it("the winner's opaque token dies with the grant: inactive at introspection, refused by the exchange", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { redirect, verifier } = await authorize(svc, { clientId: 'agent', scope: 'openid crm.lookup_customer' });
      const form = { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
      const answers = await Promise.all([0, 1, 2, 3].map(() => postForm(`${svc.url}/token`, form, { authorization: svc.basic('agent') })));
      const issued = answers.filter((r) => r.status === 200);
      assert.ok(issued.length <= 1, `round ${round}: ${answers.map((r) => r.status).join(',')}`);
      const refused = answers.filter((r) => r.status !== 200);
        for (const res of refused) assertRefusedInRace(res);
        // The losers at least were refused as a reuse is.
        assert.ok(refused.filter((r) => r.body.error_description === 'grant request is invalid').length >= answers.length - 1);
      for (const winner of issued) {
        const token = winner.body.access_token as string;
        assert.deepEqual((await introspectOpaque(svc, token)).body, { active: false });
        // RFC 8693 §2.2.2: a subject token that is not valid is invalid_request.
        const exchanged = await exchangeFor(svc, 'agent', token, CRM);
        assert.equal(exchanged.status, 400, JSON.stringify(exchanged.body));
        assert.equal(exchanged.body.error, 'invalid_request');
      }
    }
  });
});

describe('a winner still saving its tokens when a loser ends the grant', () => {
  let svc: TestService & { keysDir: string };
  before(async () => {
    svc = await startService({ extra: (port) => codeFlowConfig(port) });
  });
  after(() => svc.stop());

  it('the token it saves after the grant ended is deleted, and it is refused too', async () => {
    const { redirect, verifier } = await authorize(svc, { clientId: 'agent', scope: 'openid crm.lookup_customer' });
    const form = { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
    // Every access token is saved late: the winner's lands after the losers have ended the grant.
    const tokens = svc.service.stores.adapterFor('AccessToken');
    const upsert = tokens.upsert;
    const saved: string[] = [];
    tokens.upsert = async (id, payload, expiresIn) => {
      await sleep(300);
      saved.push(id);
      return upsert.call(tokens, id, payload, expiresIn);
    };
    let answers: FormResponse[];
    try {
      answers = await Promise.all([0, 1, 2, 3].map(() => postForm(`${svc.url}/token`, form, { authorization: svc.basic('agent') })));
    } finally {
      tokens.upsert = upsert;
    }
    for (const res of answers) assertReuseRefused(res);
    assert.equal(saved.length, 1, 'only the winner saved a token');
    assert.equal(await tokens.find(saved[0]!), undefined);
    assert.equal((await exchangeFor(svc, 'agent', saved[0]!, CRM)).status, 400);
  });
});

describe('sequential reuse and store outages while consuming', () => {
  let svc: TestService & { keysDir: string };
  before(async () => {
    svc = await startService({ extra: (port) => codeFlowConfig(port) });
  });
  after(() => svc.stop());

  it('a code used again after its first use is refused, and the first use’s tokens die', async () => {
    const { redirect, verifier } = await authorize(svc, { resource: CRM });
    const form = codeForm(redirect.searchParams.get('code')!, verifier);
    const first = await postForm(`${svc.url}/token`, form);
    assert.equal(first.status, 200);
    assert.equal((await introspectDelegation(svc, first.body.access_token as string)).body.active, true);
    assertReuseRefused(await postForm(`${svc.url}/token`, form));
    await assertDead(svc, first);
  });

  it('a rotated refresh token used again is refused, and the family dies', async () => {
    const first = await codeFlow(svc, { resource: CRM });
    const second = await refresh(svc, first.body.refresh_token as string);
    assert.equal(second.status, 200);
    assertReuseRefused(await refresh(svc, first.body.refresh_token as string));
    await assertDead(svc, second);
    await assertDead(svc, first);
  });

  for (const [model, kind] of [['AuthorizationCode', 'code'], ['RefreshToken', 'refresh']] as const) {
    it(`a store outage while consuming a ${kind} is 503 temporarily_unavailable, and the ${kind} still works afterwards`, async () => {
      let use: () => Promise<FormResponse>;
      if (kind === 'code') {
        const { redirect, verifier } = await authorize(svc, { resource: CRM });
        const form = codeForm(redirect.searchParams.get('code')!, verifier);
        use = () => postForm(`${svc.url}/token`, form);
      } else {
        const rt = (await codeFlow(svc, { resource: CRM })).body.refresh_token as string;
        use = () => refresh(svc, rt);
      }
      const adapter = svc.service.stores.adapterFor(model);
      const consume = adapter.consume;
      adapter.consume = async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
      let down: FormResponse;
      try {
        down = await use();
      } finally {
        adapter.consume = consume;
      }
      assert.equal(down.status, 503, JSON.stringify(down.body));
      assert.equal(down.body.error, 'temporarily_unavailable');
      const retried = await use();
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      assert.equal((await introspectDelegation(svc, retried.body.access_token as string)).body.active, true);
    });
  }
});
