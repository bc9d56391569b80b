// Fail closed when the signing thread cannot sign (or check a DPoP proof's signature): the exchange and the
// authorization code flow answer 503 temporarily_unavailable, issue nothing and audit `signing_unavailable`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { exchangeFor, loginUser, postForm } from '../helpers/http.js';
import { AT, CRM, EXCHANGE, startService, type TestService } from '../helpers/service.js';
import type { ExchangeDecisionEvent } from '../../src/audit/events.js';
import { codeFlow, startCodeFlowService } from './authorization_code/helpers.js';

const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' };

function decisions(svc: TestService): ExchangeDecisionEvent[] {
  const seen: ExchangeDecisionEvent[] = [];
  svc.service.events.on((e) => {
    if (e.type === 'exchange') seen.push(e);
  });
  return seen;
}

describe('signing thread unavailable', () => {
  let svc: TestService;
  let code: TestService;
  before(async () => {
    [svc, code] = await Promise.all([startService(), startCodeFlowService()]);
  });
  after(async () => {
    await Promise.all([svc?.stop(), code?.stop()]);
  });

  it('control: tokens are signed on the signing thread (the exchange answers 200)', async () => {
    const user = (await loginUser(svc)).accessToken;
    const res = await exchangeFor(svc, 'agent', user, CRM);
    assert.equal(res.status, 200);
    assert.equal(typeof res.body.access_token, 'string');
  });

  it('token exchange: 503 temporarily_unavailable, no token, audited as signing_unavailable', async () => {
    const user = (await loginUser(svc)).accessToken;
    const seen = decisions(svc);
    await svc.service.signing.close();
    const res = await exchangeFor(svc, 'agent', user, CRM);
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, UNAVAILABLE);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.decision, 'deny');
    assert.equal(seen[0]!.error, 'temporarily_unavailable');
    assert.deepEqual(seen[0]!.reasons, ['signing_unavailable']);
    assert.equal(seen[0]!.jti, undefined);
  });

  it('a DPoP proof cannot be checked: 503 temporarily_unavailable (an outage, not invalid_dpop_proof), audited as signing_unavailable', async () => {
    // The signing thread was closed by the test above. This proof's signature is broken: checked on this thread it
    // would be 400 invalid_dpop_proof; the service checks it on the signing thread, which cannot answer.
    const user = (await loginUser(svc)).accessToken;
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const proof = await new SignJWT({ htm: 'POST', htu: `${svc.url}/token`, iat: Math.floor(Date.now() / 1000), jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    const broken = `${proof.slice(0, proof.lastIndexOf('.') + 1)}${'A'.repeat(86)}`;
    const seen = decisions(svc);
    const res = await postForm(`${svc.url}/token`, { grant_type: EXCHANGE, subject_token: user, subject_token_type: AT, resource: CRM }, { authorization: svc.basic('agent'), dpop: broken });
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, UNAVAILABLE);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.reasons, ['signing_unavailable']);
  });

  it('authorization code for a tool server: 503 temporarily_unavailable, no token, audited as signing_unavailable', async () => {
    const seen = decisions(code);
    await code.service.signing.close();
    const res = await codeFlow(code, { resource: CRM });
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, UNAVAILABLE);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.error, 'temporarily_unavailable');
    assert.deepEqual(seen[0]!.reasons, ['signing_unavailable']);
  });
});
