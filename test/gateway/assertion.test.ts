// The Delegation-Assertion signer (src/gateway/assertion.ts): built by hand and signed with node:crypto, so every
// algorithm the service's keys offer is checked here by jose, claim by claim, call after call.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import type { VerifiedToken } from 'delegation-token-verify';
import { ASSERTION_TYP, createAssertionSigner } from '../../src/gateway/assertion.js';
import { loadOrCreateKeys, SIGNING_ALGS } from '../../src/keys/index.js';

const dir = mkdtempSync(join(tmpdir(), 'dts-assertion-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ISSUER = 'https://gateway.example';
const UPSTREAM = 'http://crm.internal:8080/mcp';
const NOW = 1_800_000_000_123;

function token(overrides: Partial<Record<string, unknown>> = {}): VerifiedToken {
  const act = { sub: 'agent-b', act: { sub: 'agent-a' } };
  return Object.freeze({
    sub: 'user-"bob"\u2028é',
    sid: 'sid-1',
    clientId: 'agent-b',
    scopes: ['crm.lookup_customer', 'crm.issue_refund'],
    jti: 'inbound-jti',
    claims: { act },
    ...overrides,
  }) as unknown as VerifiedToken;
}

describe('Delegation-Assertion signer', () => {
  for (const alg of SIGNING_ALGS) {
    it(`${alg}: the header and every claim verify with jose; jti fresh per call, tool per call`, async () => {
      const keys = await loadOrCreateKeys({ file: join(dir, `${alg}.json`), alg });
      const signer = createAssertionSigner(keys, ISSUER, 60, () => NOW);
      const publicKey = await importJWK(keys.publicJwks.keys[0]!, alg);
      const t = token();
      const first = await signer.sign(t, UPSTREAM, 'crm.lookup_customer');
      assert.deepEqual(decodeProtectedHeader(first), { alg, kid: keys.signing.kid, typ: ASSERTION_TYP });
      const { payload } = await jwtVerify(first, publicKey, { issuer: ISSUER, audience: UPSTREAM, typ: ASSERTION_TYP, algorithms: [alg], currentDate: new Date(NOW) });
      const { jti, ...rest } = payload;
      assert.deepEqual(rest, {
        sub: 'user-"bob"\u2028é',
        sid: 'sid-1',
        client_id: 'agent-b',
        act: { sub: 'agent-b', act: { sub: 'agent-a' } },
        scope: 'crm.lookup_customer crm.issue_refund',
        delegation_jti: 'inbound-jti',
        iss: ISSUER,
        aud: UPSTREAM,
        iat: 1_800_000_000,
        exp: 1_800_000_060,
        tool: 'crm.lookup_customer',
      });
      assert.match(jti as string, /^[A-Za-z0-9_-]{22}$/);
      // The same (cached) token again: its identity is reused, the per-call claims are not.
      const second = (await jwtVerify(await signer.sign(t, UPSTREAM, undefined), publicKey, { currentDate: new Date(NOW) })).payload;
      assert.notEqual(second.jti, jti);
      assert.equal('tool' in second, false);
      assert.equal(second.sub, payload.sub);
    });
  }

  it('jti never repeats across many calls (the random pool is refilled, not reused)', async () => {
    const keys = await loadOrCreateKeys({ file: join(dir, 'jti.json'), alg: 'ES256' });
    const signer = createAssertionSigner(keys, ISSUER, 60, () => NOW);
    const t = token();
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const payload = JSON.parse(Buffer.from((await signer.sign(t, UPSTREAM, 'x')).split('.')[1]!, 'base64url').toString()) as { jti: string };
      seen.add(payload.jti);
    }
    assert.equal(seen.size, 600);
  });

  it('a token without act gets no act claim; another token gets its own identity', async () => {
    const keys = await loadOrCreateKeys({ file: join(dir, 'noact.json'), alg: 'ES256' });
    const signer = createAssertionSigner(keys, ISSUER, 30, () => NOW);
    const publicKey = await importJWK(keys.publicJwks.keys[0]!, 'ES256');
    await signer.sign(token(), UPSTREAM, 'a');
    const { payload } = await jwtVerify(await signer.sign(token({ sub: 'user-carol', claims: {} }), UPSTREAM, 'a'), publicKey, { currentDate: new Date(NOW) });
    assert.equal(payload.sub, 'user-carol');
    assert.equal('act' in payload, false);
    assert.equal(payload.exp, 1_800_000_030);
  });
});
