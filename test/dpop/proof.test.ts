// The exchange's proof checker in isolation: its synchronous RFC 7638 thumbprint agrees with jose's for every key type
// it accepts, and refuses what has no thumbprint. The HTTP behaviour is in test/grants/token_exchange/dpop.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { jwkThumbprint } from '../../src/dpop/proof.js';

describe('jwkThumbprint (RFC 7638)', () => {
  for (const alg of ['ES256', 'ES384', 'ES512', 'Ed25519', 'PS256', 'RS256']) {
    it(`equals jose's calculateJwkThumbprint for an ${alg} key, whatever other members the JWK carries`, async () => {
      const { publicKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k', use: 'sig', alg };
      assert.equal(jwkThumbprint(jwk)!.jkt, await calculateJwkThumbprint(jwk, 'sha256'));
    });
  }

  it('RFC 7638 §3.1 example key', () => {
    const n = '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    assert.equal(jwkThumbprint({ kty: 'RSA', n, e: 'AQAB', alg: 'RS256', kid: '2011-04-29' })!.jkt, 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('undefined for an unknown kty, a missing or non-string member, or an inherited kty name', () => {
    assert.equal(jwkThumbprint({ kty: 'oct', k: 'c2VjcmV0' }), undefined);
    assert.equal(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'AAAA' }), undefined);
    assert.equal(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 7 }), undefined);
    assert.equal(jwkThumbprint({ kty: 'constructor' }), undefined);
  });
});
