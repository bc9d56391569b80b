// The server and the verify SDK judge a delegation token by the same rules (issue 9 item 7): one act depth cap, act
// required, revocation reaching every actor. Real service over HTTP, real Redis, the SDK against the service's JWKS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, SignJWT, type JWTPayload } from 'jose';
import { createVerifier, MAX_ACT_DEPTH, VerifyError, type Verifier } from 'delegation-token-verify';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { adminToken, call } from '../admin/helpers.js';
import { BILLING, CRM, startService, type TestService } from '../helpers/service.js';
import { configSchema } from '../../src/config/schema.js';
import type { DecisionEvent, ExchangeDecisionEvent } from '../../src/audit/events.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };

/** A chain of `n` actors, a{n} outermost. */
const chain = (n: number): Record<string, unknown> => (n === 1 ? { sub: 'a1' } : { sub: `a${n}`, act: chain(n - 1) });

describe('server and verify SDK agree on the delegation token rules', () => {
  let svc: TestService;
  let sdk: Verifier;
  let issued: JWTPayload;
  const events: ExchangeDecisionEvent[] = [];
  const lastEvent = () => events.at(-1)!;

  /** One of our delegation tokens for CRM, re-signed with the service's own signing key after `edit`. */
  async function ownToken(edit: (claims: JWTPayload) => JWTPayload): Promise<string> {
    const { kid, alg, key } = svc.service.keys.signing;
    return new SignJWT(edit({ ...issued })).setProtectedHeader({ alg, typ: 'at+jwt', kid }).sign(key);
  }

  /** What the server says when crm-server re-exchanges the token for BILLING, and what the SDK says for CRM. */
  async function judge(token: string): Promise<{ status: number; body: Record<string, unknown>; reasons: string[]; sdk: string }> {
    const res = await exchangeFor(svc, 'crm-server', token, BILLING, { scope: 'billing.refund_lookup' });
    let sdkOutcome = 'accepted';
    try {
      await sdk.verify(token);
    } catch (err) {
      assert.ok(err instanceof VerifyError, String(err));
      sdkOutcome = `${err.status} ${err.code}`;
    }
    return { status: res.status, body: res.body, reasons: lastEvent().reasons ?? [], sdk: sdkOutcome };
  }

  before(async () => {
    svc = await startService();
    svc.service.events.on((e: DecisionEvent) => {
      if (e.type === 'exchange') events.push(e);
    });
    sdk = createVerifier({ issuer: svc.url, audience: CRM, cache: false });
    const user = await loginUser(svc, { username: 'bob' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'billing.refund_lookup' });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    issued = decodeJwt(crm.body.access_token as string);
  });
  after(async () => {
    sdk.close();
    await svc.stop();
  });

  it('one cap constant: exchange.maxActDepth may not exceed the SDK\'s MAX_ACT_DEPTH (10)', () => {
    assert.equal(MAX_ACT_DEPTH, 10);
    assert.equal(configSchema.shape.exchange.parse({ maxActDepth: MAX_ACT_DEPTH }).maxActDepth, MAX_ACT_DEPTH);
    assert.throws(() => configSchema.shape.exchange.parse({ maxActDepth: MAX_ACT_DEPTH + 1 }));
  });

  it('the token as issued: accepted by both', async () => {
    const r = await judge(await ownToken((c) => c));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.sdk, 'accepted');
  });

  it(`act ${MAX_ACT_DEPTH + 1} deep: both refuse it as a malformed act chain`, async () => {
    const r = await judge(await ownToken((c) => ({ ...c, act: chain(MAX_ACT_DEPTH + 1) })));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, SUBJECT_INVALID);
    assert.deepEqual(r.reasons, ['subject_token:malformed_act']);
    assert.equal(r.sdk, '401 ERR_ACT_INVALID');
  });

  it(`act ${MAX_ACT_DEPTH} deep: both parse it (the server then refuses the hop by exchange.maxActDepth, not as malformed)`, async () => {
    const r = await judge(await ownToken((c) => ({ ...c, act: chain(MAX_ACT_DEPTH) })));
    assert.equal(r.sdk, 'accepted');
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: 'invalid_request', error_description: 'the delegation chain is too long' });
    assert.deepEqual(r.reasons, ['act_depth_exceeded']);
  });

  it('no act: both refuse it (a delegation token always names its actor)', async () => {
    const r = await judge(await ownToken(({ act: _act, ...c }) => c));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, SUBJECT_INVALID);
    assert.deepEqual(r.reasons, ['subject_token:claim_missing']);
    assert.equal(r.sdk, '401 ERR_CLAIM_MISSING');
  });

  it('an actor sub that is not a revocable identifier: both refuse it', async () => {
    const r = await judge(await ownToken((c) => ({ ...c, act: { sub: 'agent', act: { sub: 'up\u0000stream' } } })));
    assert.deepEqual(r.body, SUBJECT_INVALID);
    assert.deepEqual(r.reasons, ['subject_token:malformed_act']);
    assert.equal(r.sdk, '401 ERR_ACT_INVALID');
  });

  // Last: it revokes agent2 for every token issued so far.
  it('revoking a client reaches it anywhere in the act chain, also as an actor with a foreign iss (server and SDK feed)', async () => {
    const feed = createVerifier({
      issuer: svc.url,
      audience: CRM,
      cache: false,
      revocation: { mode: 'feed', clientId: 'crm-server', clientSecret: svc.secrets['crm-server']! },
    });
    try {
      await feed.ready();
      const token = await ownToken((c) => ({ ...c, act: { sub: 'agent', act: { sub: 'agent2', iss: 'https://agents.partner.example' } } }));
      const before = await exchangeFor(svc, 'crm-server', token, BILLING, { scope: 'billing.refund_lookup' });
      assert.equal(before.status, 200, JSON.stringify(before.body));
      assert.equal((await feed.verify(token)).sub, issued.sub);

      const admin = await adminToken(svc);
      const res = await call(svc, 'POST', '/admin/clients/agent2/revoke', { token: admin, json: { reason: 'agreement test' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));

      const after = await exchangeFor(svc, 'crm-server', token, BILLING, { scope: 'billing.refund_lookup' });
      assert.equal(after.status, 400, JSON.stringify(after.body));
      assert.deepEqual(after.body, SUBJECT_INVALID);
      assert.deepEqual(lastEvent().reasons, ['subject_token:client_revoked']);
      // The feed delivers the record within moments; poll rather than sleep a fixed time.
      let code = '';
      for (let i = 0; i < 50 && code !== 'ERR_REVOKED'; i++) {
        code = await feed.verify(token).then(() => 'accepted', (err: VerifyError) => err.code);
        if (code !== 'ERR_REVOKED') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(code, 'ERR_REVOKED');
    } finally {
      feed.close();
    }
  });
});
