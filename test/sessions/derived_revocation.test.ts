// Issue 8 item 13: revoking a token revokes what was derived from it. RFC 7009 revocation of a user's opaque token and
// admin revoke-token of a middle delegation token kill every descendant (multi-hop included) at re-exchange, at
// introspection and in a feed-mode verifier; the parent of a revoked middle token lives on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { createVerifier, MAX_ACT_DEPTH, type Verifier } from 'delegation-token-verify';
import { exchangeFor, loginUser, postForm } from '../helpers/http.js';
import { BILLING, CRM, startService, testConfig, type TestService } from '../helpers/service.js';
import { adminToken, basicFor, call, introspectDelegation } from '../admin/helpers.js';
import type { ExchangeDecisionEvent } from '../../src/audit/events.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };
const digest = (id: string) => createHash('sha256').update(id).digest('base64url');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` rejects with `code`. */
async function refusedWith(fn: () => Promise<unknown>, code: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const err = await fn().then(() => undefined, (e: unknown) => e as { code?: string });
    if (err?.code === code) return;
    if (Date.now() > deadline) assert.fail(`no ${code} within ${ms} ms (last: ${err?.code ?? 'accepted'})`);
    await sleep(25);
  }
}

describe('revoking a token revokes what was derived from it', () => {
  let svc: TestService;
  let admin: string;
  const events: ExchangeDecisionEvent[] = [];
  const verifiers: Verifier[] = [];
  const feedVerifier = (audience: string, clientId: string) => {
    const v = createVerifier({ issuer: svc.url, audience, revocation: { mode: 'feed', clientId, clientSecret: svc.secrets[clientId]! } });
    verifiers.push(v);
    return v;
  };

  /** user token -> agent: CRM -> crm-server: BILLING -> billing-server: CRM (three hops). */
  async function chain() {
    const user = await loginUser(svc, { username: 'bob', clientId: 'agent' });
    const c = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    const child = c.body.access_token as string;
    const g = await exchangeFor(svc, 'crm-server', child, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(g.status, 200, JSON.stringify(g.body));
    const grandchild = g.body.access_token as string;
    const gg = await exchangeFor(svc, 'billing-server', grandchild, CRM, { scope: 'billing.refund_lookup' });
    assert.equal(gg.status, 200, JSON.stringify(gg.body));
    const grantId = (await svc.service.provider.AccessToken.find(user.accessToken))!.grantId!;
    return { user: user.accessToken, grantId, child, grandchild, greatGrandchild: gg.body.access_token as string };
  }

  before(async () => {
    // billing-server may hop back to CRM with the billing scope, so a chain can be three hops deep.
    svc = await startService({
      extra: (port) => ({
        agents: (testConfig(port, '', '').agents ?? []).map((a) =>
          a.clientId === 'billing-server' ? { clientId: 'billing-server', toolServers: [{ resource: CRM, scopes: ['crm.lookup_customer', 'billing.refund_lookup'] }] } : a,
        ),
        exchange: { maxActDepth: MAX_ACT_DEPTH },
      }),
    });
    svc.service.events.on((e) => {
      if (e.type === 'exchange') events.push(e);
    });
    admin = await adminToken(svc);
  });
  after(async () => {
    for (const v of verifiers) v.close();
    await svc.stop();
  });

  it('derived tokens carry base64url(SHA-256) digests of their ancestors, root first, never the ids', async () => {
    const { user, grantId, child, grandchild, greatGrandchild } = await chain();
    const [c, g, gg] = [child, grandchild, greatGrandchild].map((t) => decodeJwt(t));
    // The user token's grant is the root (ending the grant publishes it), then the user token itself.
    const root = [digest(`grant:${grantId}`), digest(user)];
    assert.deepEqual(c!.ancestors, root);
    assert.deepEqual(g!.ancestors, [...root, digest(c!.jti!)]);
    assert.deepEqual(gg!.ancestors, [...root, digest(c!.jti!), digest(g!.jti!)]);
    assert.ok(!JSON.stringify(c).includes(user));
    assert.ok(!JSON.stringify(c).includes(grantId));
  });

  it("verify SDK parseAncestors: a chain from a user token stops where it would carry more than MAX_ACT_DEPTH ancestors", async () => {
    // exchange.maxActDepth is 10 here (the SDK's cap): the grant and the user token make one ancestor more than actors.
    const user = await loginUser(svc, { username: 'bob', clientId: 'agent' });
    const first = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    let token = first.body.access_token as string;
    for (let depth = 2; depth <= MAX_ACT_DEPTH - 1; depth++) {
      const [client, target] = depth % 2 === 0 ? ['crm-server', BILLING] : ['billing-server', CRM];
      const res = await exchangeFor(svc, client, token, target, { scope: 'billing.refund_lookup' });
      assert.equal(res.status, 200, `depth ${depth}: ${JSON.stringify(res.body)}`);
      token = res.body.access_token as string;
    }
    // Depth 9: ten ancestors, the most a tool server accepts.
    assert.equal((decodeJwt(token).ancestors as string[]).length, MAX_ACT_DEPTH);
    assert.equal((await introspectDelegation(svc, token, 'crm-server')).body.active, true);
    const tooLong = await exchangeFor(svc, 'crm-server', token, BILLING, { scope: 'billing.refund_lookup' });
    assert.deepEqual([tooLong.status, tooLong.body], [400, { error: 'invalid_request', error_description: 'the delegation chain is too long' }]);
    assert.deepEqual(events.at(-1)!.reasons, ['ancestors_exceeded']);
  });

  it("RFC 7009 revocation of the user's opaque token: every derived token is refused at re-exchange, inactive, and refused by a feed verifier", async () => {
    const crmVerifier = feedVerifier(CRM, 'crm-server');
    const billingVerifier = feedVerifier(BILLING, 'billing-server');
    await Promise.all([crmVerifier.ready(), billingVerifier.ready()]);
    const { user, child, grandchild, greatGrandchild } = await chain();
    const bystander = await chain();
    assert.equal((await crmVerifier.verify(child)).sub, 'user-bob');

    const revoked = await postForm(`${svc.url}/token/revocation`, { token: user, token_type_hint: 'access_token' }, { authorization: basicFor(svc, 'agent') });
    assert.equal(revoked.status, 200);

    assert.deepEqual((await exchangeFor(svc, 'crm-server', child, BILLING, { scope: 'billing.refund_lookup' })).body, SUBJECT_INVALID);
    const hop = await exchangeFor(svc, 'billing-server', grandchild, CRM, { scope: 'billing.refund_lookup' });
    assert.equal(hop.status, 400);
    assert.deepEqual(hop.body, SUBJECT_INVALID);
    assert.deepEqual((await exchangeFor(svc, 'crm-server', greatGrandchild, BILLING, { scope: 'billing.refund_lookup' })).body, SUBJECT_INVALID);
    for (const [token, as] of [[child, 'crm-server'], [grandchild, 'billing-server'], [greatGrandchild, 'crm-server']] as const) {
      const res = await introspectDelegation(svc, token, as);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { active: false });
    }
    await refusedWith(() => crmVerifier.verify(child), 'ERR_REVOKED');
    await refusedWith(() => billingVerifier.verify(grandchild), 'ERR_REVOKED');
    await refusedWith(() => crmVerifier.verify(greatGrandchild), 'ERR_REVOKED');

    // Another login's chain is untouched.
    assert.equal((await introspectDelegation(svc, bystander.greatGrandchild)).body.active, true);
    assert.equal((await crmVerifier.verify(bystander.child)).sub, 'user-bob');
    assert.equal((await exchangeFor(svc, 'crm-server', bystander.child, BILLING, { scope: 'billing.refund_lookup' })).status, 200);

    // The marker is the digest, never the token; who and why are recorded.
    const { revocations } = await svc.service.stores.revocations.snapshot();
    assert.deepEqual(
      revocations.filter((r) => r.kind === 'token_digest' && r.value === digest(user)).map((r) => [r.by, r.reason]),
      [['revocation_endpoint', 'access token revoked (RFC 7009)']],
    );
    assert.ok(!JSON.stringify(revocations).includes(user));
  });

  it('admin revoke-token of a middle delegation token: its descendants die, its parent does not', async () => {
    const verifier = feedVerifier(CRM, 'crm-server');
    await verifier.ready();
    const { user, child, grandchild, greatGrandchild } = await chain();
    const res = await call(svc, 'POST', `/admin/tokens/${decodeJwt(grandchild).jti}/revoke`, { token: admin, json: { reason: 'leaked' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.created, true);

    assert.deepEqual((await introspectDelegation(svc, grandchild, 'billing-server')).body, { active: false });
    assert.deepEqual((await introspectDelegation(svc, greatGrandchild)).body, { active: false });
    assert.deepEqual((await exchangeFor(svc, 'crm-server', greatGrandchild, BILLING, { scope: 'billing.refund_lookup' })).body, SUBJECT_INVALID);
    await refusedWith(() => verifier.verify(greatGrandchild), 'ERR_REVOKED');

    // The parent (and the user's own token) live on.
    assert.equal((await introspectDelegation(svc, child)).body.active, true);
    assert.equal((await verifier.verify(child)).sub, 'user-bob');
    assert.equal((await exchangeFor(svc, 'crm-server', child, BILLING, { scope: 'billing.refund_lookup' })).status, 200);
    assert.equal((await exchangeFor(svc, 'agent', user, CRM)).status, 200);
  });

  it('feed wire format v2: the snapshot says v 2; a consumer that does not ask for v2 gets a reset instead of a token_digest record', async () => {
    const snap = await fetch(`${svc.url}/revocations`, { headers: { authorization: basicFor(svc, 'crm-server') } });
    const { v, cursor } = (await snap.json()) as { v: number; cursor: string };
    assert.equal(v, 2);
    const { grandchild } = await chain();
    const revoked = await call(svc, 'POST', `/admin/tokens/${decodeJwt(grandchild).jti}/revoke`, { token: admin, json: { reason: 'v2' } });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const read = async (query: string) => {
      const res = await fetch(`${svc.url}/revocations/events${query}`, {
        headers: { authorization: basicFor(svc, 'crm-server'), accept: 'text/event-stream', 'last-event-id': cursor },
        signal: AbortSignal.timeout(2000),
      });
      let text = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) {
          text += decoder.decode(chunk, { stream: true });
          if (text.includes('event: reset') || (text.includes('"kind":"jti"') && text.includes('"kind":"token_digest"'))) break;
        }
      } catch {
        // the timeout ends a stream that stays open
      }
      return text;
    };
    const v2 = await read('?v=2');
    assert.match(v2, /"kind":"token_digest"/);
    assert.match(v2, /"kind":"jti"/);
    const v1 = await read('');
    assert.match(v1, /event: reset/);
    assert.doesNotMatch(v1, /token_digest/);
  });
});
