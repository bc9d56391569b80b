// RFC 7515 / 7519 / 8725 rules applied to incoming subject JWTs from a trusted external IdP (JW-01..09).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK } from 'jose';
import { exchangeFor } from '../../helpers/http.js';
import { hmacJws, startTestIdp, unsecured, type TestIdp } from '../../helpers/test_idp.js';
import { AT, CRM, ID_TOKEN, JWT_TYPE, startService, type TestService } from '../../helpers/service.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };

describe('JOSE rules for incoming subject JWTs', () => {
  let svc: TestService;
  let idp: TestIdp;
  let rotating: TestIdp;
  let attacker: TestIdp;
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (who: TestIdp, extra: Record<string, unknown> = {}) => who.claims({ sub: 'ext-carol', aud: svc.url, sid: 'idp-session-1', ...extra });

  async function expect(token: string, type: string, status: 200 | 400) {
    const res = await exchangeFor(svc, 'agent', token, CRM, { subject_token_type: type });
    assert.equal(res.status, status, JSON.stringify(res.body));
    if (status === 400) assert.deepEqual(res.body, SUBJECT_INVALID);
  }

  before(async () => {
    [idp, rotating, attacker] = await Promise.all([startTestIdp(), startTestIdp({ kid: 'rot-1' }), startTestIdp()]);
    svc = await startService({
      extra: (port) => ({
        trustedIssuers: [idp, rotating].map((i) => ({
          issuer: i.issuer, jwksUri: i.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: ['crm.lookup_customer'], algorithms: ['RS256', 'PS256', 'ES256'] as const,
        })) as never,
      }),
    });
  });
  after(async () => {
    await svc.stop();
    await Promise.all([idp.stop(), rotating.stop(), attacker.stop()]);
  });

  it('control: a well-formed token from the IdP, signed by jose and by hand, is accepted', async () => {
    await expect(await idp.sign(claims(idp)), JWT_TYPE, 200);
    await expect(idp.signRaw(JSON.stringify({ alg: 'RS256', kid: idp.kid }), JSON.stringify(claims(idp))), JWT_TYPE, 200);
  });

  it('JW-01 alg none, None and NONE are refused whatever the declared type', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      for (const type of [JWT_TYPE, ID_TOKEN]) await expect(unsecured({ alg, kid: idp.kid }, claims(idp)), type, 400);
      await expect(unsecured({ alg, kid: idp.kid, typ: 'at+jwt' }, claims(idp)), AT, 400);
    }
  });

  it('JW-02 HS256 keyed with the IdP RSA public key (PEM or JWK text) is refused', async () => {
    const pem = idp.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    for (const secret of [pem, JSON.stringify(idp.publicJwk), Buffer.from(idp.publicJwk.n!, 'base64url')]) {
      await expect(hmacJws({ alg: 'HS256', kid: idp.kid }, claims(idp), secret), JWT_TYPE, 400);
    }
  });

  it('JW-03 an alg that does not match the key: ES256 under the RSA kid, PS256 with the RS256 key', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect(await idp.sign(claims(idp), {}, { key: ec.privateKey, alg: 'ES256' }), JWT_TYPE, 400);
    // RFC 8725 §3.1: one algorithm per key; the JWKS says RS256 for this key.
    await expect(await idp.sign(claims(idp), {}, { alg: 'PS256' }), JWT_TYPE, 400);
  });

  it('JW-04 an unknown kid: at most one JWKS refetch per cooldown, then refused', async (t) => {
    await expect(await rotating.sign(claims(rotating)), JWT_TYPE, 200);
    assert.equal(rotating.jwksFetches(), 1);
    // Within the cooldown the unknown kid does not trigger a fetch at all.
    await expect(await rotating.sign(claims(rotating), { kid: 'rot-2' }), JWT_TYPE, 400);
    assert.equal(rotating.jwksFetches(), 1);
    // After the cooldown (30 s), exactly one refetch; the key is still unknown, so the token is refused.
    const realNow = Date.now.bind(Date);
    t.mock.method(Date, 'now', () => realNow() + 31_000);
    await expect(await rotating.sign(claims(rotating), { kid: 'rot-2' }), JWT_TYPE, 400);
    assert.equal(rotating.jwksFetches(), 2);
    await expect(await rotating.sign(claims(rotating), { kid: 'rot-3' }), JWT_TYPE, 400);
    assert.equal(rotating.jwksFetches(), 2);
  });

  it('JW-04 injection strings in kid are harmless: invalid_request, never an error', async () => {
    for (const kid of ["' OR '1'='1", '../../../../etc/passwd', 'http://127.0.0.1:1/jwks', 'a'.repeat(2000), '\u0000', ' ']) {
      await expect(await idp.sign(claims(idp), { kid }), JWT_TYPE, 400);
    }
  });

  it('JW-05 keys named by jku, x5u or an embedded jwk are never used', async () => {
    const attackerJwk = await exportJWK(attacker.publicKey);
    const forged = claims(idp);
    const headers = [
      { jku: attacker.jwksUri },
      { jku: attacker.jwksUri, kid: 'unknown-kid' },
      { x5u: attacker.jwksUri },
      { jwk: attackerJwk },
      { jwk: attackerJwk, kid: 'unknown-kid' },
    ];
    for (const header of headers) {
      await expect(await attacker.sign(forged, header), JWT_TYPE, 400);
    }
    assert.equal(attacker.jwksFetches(), 0);
  });

  it('JW-06 crit naming an extension we do not understand, and an empty crit, are refused', async () => {
    await expect(await idp.sign(claims(idp), { crit: ['x'], x: 1 }, { crit: { x: true } }), JWT_TYPE, 400);
    await expect(idp.signRaw(JSON.stringify({ alg: 'RS256', kid: idp.kid, crit: [] }), JSON.stringify(claims(idp))), JWT_TYPE, 400);
    await expect(idp.signRaw(JSON.stringify({ alg: 'RS256', kid: idp.kid, crit: ['exp'], exp: 1 }), JSON.stringify(claims(idp))), JWT_TYPE, 400);
  });

  it('JW-07 duplicate header names are refused', async () => {
    const body = JSON.stringify(claims(idp));
    await expect(idp.signRaw(`{"alg":"RS256","kid":"${idp.kid}","typ":"at+jwt","typ":"JWT"}`, body), JWT_TYPE, 400);
    await expect(idp.signRaw(`{"alg":"RS256","alg":"RS256","kid":"${idp.kid}"}`, body), JWT_TYPE, 400);
  });

  it('JW-07 duplicate claim names are refused, also when escaped or nested', async () => {
    const header = JSON.stringify({ alg: 'RS256', kid: idp.kid });
    const base = JSON.stringify(claims(idp)).slice(1, -1);
    for (const extra of ['"sub":"ext-mallory"', '"\\u0073ub":"ext-mallory"', `"aud":"${svc.url}"`, '"may_act":{"sub":"agent","sub":"other"}']) {
      await expect(idp.signRaw(header, `{${base},${extra}}`), JWT_TYPE, 400);
    }
  });

  it('JW-08 exp 10 minutes in the past is refused', async () => {
    await expect(await idp.sign(claims(idp, { iat: now() - 900, exp: now() - 600 })), JWT_TYPE, 400);
  });

  it('JW-08 exp 20 s in the past passes the 30 s JWT leeway (see test/token_types/jwt.test.ts), but the exchange refuses it: the issued token may not outlive its subject', async () => {
    await expect(await idp.sign(claims(idp, { iat: now() - 300, exp: now() - 20 })), JWT_TYPE, 400);
  });

  it('JW-08 a subject that expires in 20 s: the issued token expires with it', async () => {
    const res = await exchangeFor(svc, 'agent', await idp.sign(claims(idp, { exp: now() + 20 })), CRM, { subject_token_type: JWT_TYPE });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok((res.body.expires_in as number) <= 20 && (res.body.expires_in as number) >= 18, String(res.body.expires_in));
  });

  it('JW-08 nbf in the future is refused beyond the leeway, accepted within it', async () => {
    await expect(await idp.sign(claims(idp, { nbf: now() + 600 })), JWT_TYPE, 400);
    await expect(await idp.sign(claims(idp, { nbf: now() + 20 })), JWT_TYPE, 200);
  });

  it('JW-08 a JWT without exp, iat, sub, iss or aud is refused', async () => {
    for (const missing of ['exp', 'iat', 'sub', 'iss', 'aud']) {
      const c = claims(idp) as Record<string, unknown>;
      delete c[missing];
      await expect(idp.signRaw(JSON.stringify({ alg: 'RS256', kid: idp.kid }), JSON.stringify(c)), JWT_TYPE, 400);
    }
  });

  it('JW-09 DPoP proofs, SETs, transaction tokens, status lists and logout tokens are refused for every type', async () => {
    for (const typ of ['dpop+jwt', 'secevent+jwt', 'txntoken+jwt', 'statuslist+jwt', 'logout+jwt', 'application/dpop+jwt', 'DPoP+JWT']) {
      for (const type of [JWT_TYPE, ID_TOKEN, AT]) await expect(await idp.sign(claims(idp), { typ }), type, 400);
    }
  });

  it('JW-09 access_token type needs typ at+jwt (case-insensitive, application/ prefix allowed)', async () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) await expect(await idp.sign(claims(idp), { typ }), AT, 200);
    for (const typ of ['JWT', 'jwt', 'at+jwt+x', undefined]) await expect(await idp.sign(claims(idp), typ ? { typ } : {}), AT, 400);
  });
});
