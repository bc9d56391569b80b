// Unit tests of src/token_types/jwt.ts: typ normalization, the strict pre-parse, jose error mapping and verifyJwt.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, createRemoteJWKSet, errors, exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from 'jose';
import { AT_JWT, SUBJECT_TYP, joseReason, looksLikeJws, normalizeTyp, peek, verifyJwt, type JwtCheck } from '../../src/token_types/jwt.js';
import { TokenType } from '../../src/token_types/urns.js';
import { DependencyUnavailable, TokenRejected } from '../../src/token_types/types.js';
import { b64u } from '../helpers/test_idp.js';
import { freePort } from '../helpers/service.js';

const ISS = 'https://idp.example';
const AUD = 'https://sts.example';
const now = () => Math.floor(Date.now() / 1000);

function rejects(fn: () => unknown, reason: string, which: 'subject_token' | 'actor_token' = 'subject_token') {
  return assert.rejects(async () => fn(), (err: unknown) => {
    assert.ok(err instanceof TokenRejected, String(err));
    assert.equal(err.reason, reason);
    assert.equal(err.which, which);
    return true;
  });
}

describe('normalizeTyp and looksLikeJws', () => {
  it('RFC 7515 §4.1.9: typ compares case-insensitively, application/ implied', () => {
    assert.equal(normalizeTyp('AT+JWT'), 'at+jwt');
    assert.equal(normalizeTyp('application/at+jwt'), 'at+jwt');
    assert.equal(normalizeTyp('Application/DPoP+JWT'), 'dpop+jwt');
    assert.equal(normalizeTyp(undefined), undefined);
    assert.equal(normalizeTyp(42), undefined);
  });

  it('only three non-empty base64url segments look like a JWS', () => {
    assert.equal(looksLikeJws('a.b.c'), true);
    for (const t of ['a.b.', 'a.b', 'a.b.c.d.e', 'a.b.c\n', 'opaque-token_123', 'a+b.c.d']) assert.equal(looksLikeJws(t), false, t);
  });
});

describe('peek', () => {
  const sig = 'c2ln';
  it('reads iss and the normalized typ without verifying', () => {
    assert.deepEqual(peek(`${b64u('{"alg":"RS256","typ":"AT+JWT"}')}.${b64u(`{"iss":"${ISS}"}`)}.${sig}`, 'subject_token'), { iss: ISS, typ: 'at+jwt' });
    assert.deepEqual(peek(`${b64u('{"alg":"RS256"}')}.${b64u('{"iss":7}')}.${sig}`, 'subject_token'), { iss: undefined, typ: undefined });
  });

  it('JW-07 duplicate member names in the header or the payload, at any depth, are malformed', async () => {
    const header = b64u('{"alg":"RS256"}');
    await rejects(() => peek(`${b64u('{"alg":"RS256","alg":"none"}')}.${b64u('{}')}.${sig}`, 'subject_token'), 'malformed_jwt');
    await rejects(() => peek(`${header}.${b64u(`{"iss":"${ISS}","iss":"https://evil.example"}`)}.${sig}`, 'actor_token'), 'malformed_jwt', 'actor_token');
    await rejects(() => peek(`${header}.${b64u('{"iss":"a","\\u0069ss":"b"}')}.${sig}`, 'subject_token'), 'malformed_jwt');
    await rejects(() => peek(`${header}.${b64u('{"act":{"sub":"a","sub":"b"}}')}.${sig}`, 'subject_token'), 'malformed_jwt');
    // The same names in different objects are fine.
    assert.deepEqual(peek(`${header}.${b64u(`{"sub":"a","act":{"sub":"b","act":{"sub":"c"}},"iss":"${ISS}"}`)}.${sig}`, 'subject_token'), { iss: ISS, typ: undefined });
  });

  it('RFC 8725 §3.7: invalid UTF-8, non-JSON, non-object segments and wrong segment counts are malformed', async () => {
    const header = b64u('{"alg":"RS256"}');
    const badUtf8 = Buffer.from([0x7b, 0x22, 0x69, 0x73, 0x73, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]).toString('base64url');
    for (const token of [`${header}.${badUtf8}.${sig}`, `${header}.${b64u('not json')}.${sig}`, `${header}.${b64u('[1]')}.${sig}`, `${b64u('"x"')}.${b64u('{}')}.${sig}`, `${header}.${b64u('{}')}`, `${header}.${b64u('{}')}.a.b.c`, `${header}.e30=.${sig}`]) {
      await rejects(() => peek(token, 'subject_token'), 'malformed_jwt');
    }
  });
});

describe('joseReason', () => {
  it('maps each jose error code to one reason, through the verify SDK\'s fromJoseError', () => {
    const cases: Array<[unknown, string]> = [
      [new errors.JWTExpired('x', {}, 'exp', 'check_failed'), 'expired'],
      [new errors.JWTClaimValidationFailed('x', {}, 'aud', 'check_failed'), 'claim_aud_invalid'],
      [new errors.JWSSignatureVerificationFailed(), 'bad_signature'],
      [new errors.JOSEAlgNotAllowed('x'), 'alg_not_allowed'],
      [new errors.JWKSNoMatchingKey(), 'unknown_key'],
      [new errors.JWKSMultipleMatchingKeys(), 'unknown_key'],
      [new errors.JWSInvalid('x'), 'malformed_jwt'],
      [new errors.JWTInvalid('x'), 'malformed_jwt'],
      [new errors.JOSENotSupported('x'), 'alg_not_allowed'],
      [new errors.JWKSTimeout(), 'jwks_unavailable'],
      [new errors.JWKSInvalid('x'), 'jwks_unavailable'],
      [new errors.JWKInvalid('x'), 'jwks_unavailable'],
      [new errors.JOSEError('x'), 'jwks_unavailable'],
      [new errors.JWEInvalid('x'), 'malformed_jwt'],
      [new errors.JWEDecryptionFailed(), 'malformed_jwt'],
      [new errors.JWTClaimValidationFailed('x', {}, 'nbf', 'check_failed'), 'not_yet_valid'],
      [new errors.JWTClaimValidationFailed('x', {}, 'sub', 'missing'), 'claim_missing'],
      [new errors.JWTClaimValidationFailed('x', {}, 'sub', 'invalid'), 'claim_invalid'],
      // Not a jose error: never a pass, never a stack trace (fail closed as malformed).
      [new Error('other'), 'malformed_jwt'],
      [undefined, 'malformed_jwt'],
    ];
    for (const [err, reason] of cases) assert.equal(joseReason(err ?? {}), reason, String(err));
  });
});

describe('verifyJwt', () => {
  let keys: JWTVerifyGetKey;
  let sign: (claims: Record<string, unknown>, header?: Record<string, unknown>) => Promise<string>;
  const check: JwtCheck = { issuer: ISS, audience: AUD, algorithms: ['ES256'], clockTolerance: 30, requiredClaims: ['iss', 'sub', 'aud', 'exp'] };

  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });
    sign = (claims, header = {}) =>
      new SignJWT({ iss: ISS, aud: AUD, sub: 'u', iat: now(), exp: now() + 60, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1', ...header }).sign(privateKey);
  });

  it('accepts a valid token and returns its payload', async () => {
    const payload = await verifyJwt(await sign({}), keys, check, 'subject_token');
    assert.equal(payload.sub, 'u');
  });

  it('JW-08 exp 20 s in the past is accepted within a 30 s leeway; 10 minutes is expired', async () => {
    assert.equal((await verifyJwt(await sign({ exp: now() - 20 }), keys, check, 'subject_token')).sub, 'u');
    await rejects(async () => verifyJwt(await sign({ exp: now() - 600 }), keys, check, 'subject_token'), 'expired');
  });

  it('JW-08 nbf beyond the leeway is refused', async () => {
    await rejects(async () => verifyJwt(await sign({ nbf: now() + 600 }), keys, check, 'subject_token'), 'not_yet_valid');
  });

  it('RFC 7519 §4.1.3 / RFC 8725 §3.8: wrong aud and wrong iss are refused', async () => {
    await rejects(async () => verifyJwt(await sign({ aud: 'https://other.example' }), keys, check, 'actor_token'), 'claim_aud_invalid', 'actor_token');
    await rejects(async () => verifyJwt(await sign({ iss: `${ISS}/` }), keys, check, 'subject_token'), 'claim_iss_invalid');
  });

  it('required claims are required', async () => {
    await rejects(async () => verifyJwt(await sign({ sub: undefined }), keys, check, 'subject_token'), 'claim_missing');
  });

  it('JW-09 a required typ must match; with none required, foreign types are still refused', async () => {
    await rejects(async () => verifyJwt(await sign({}, { typ: 'JWT' }), keys, { ...check, typ: AT_JWT }, 'subject_token'), 'wrong_typ');
    assert.equal((await verifyJwt(await sign({}, { typ: 'application/AT+JWT' }), keys, { ...check, typ: AT_JWT }, 'subject_token')).sub, 'u');
    for (const typ of ['dpop+jwt', 'secevent+jwt', 'txntoken+jwt', 'statuslist+jwt']) {
      await rejects(async () => verifyJwt(await sign({}, { typ }), keys, check, 'subject_token'), 'wrong_typ');
    }
  });

  it('RFC 8725 §3.11 the typ table: access_token needs at+jwt; id_token and jwt take none or JWT, nothing else', async () => {
    const accepts = async (tokenType: string, typ: string | undefined) => {
      const token = await sign({}, typ === undefined ? {} : { typ });
      try {
        await verifyJwt(token, keys, { ...check, typ: SUBJECT_TYP.get(tokenType) }, 'subject_token');
        return true;
      } catch (err) {
        assert.ok(err instanceof TokenRejected && err.reason === 'wrong_typ', String(err));
        return false;
      }
    };
    const table: Array<[string | undefined, boolean, boolean, boolean]> = [
      // typ                      access_token  id_token  jwt
      [undefined, false, true, true],
      ['JWT', false, true, true],
      ['application/jwt', false, true, true],
      ['at+jwt', true, false, false],
      ['application/AT+JWT', true, false, false],
      ...['dpop+jwt', 'secevent+jwt', 'txntoken+jwt', 'statuslist+jwt', 'logout+jwt', 'id_token+jwt', 'example+jwt', 'JOSE'].map((t) => [t, false, false, false] as [string, boolean, boolean, boolean]),
    ];
    for (const [typ, at, id, jwt] of table) {
      assert.equal(await accepts(TokenType.accessToken, typ), at, `access_token typ=${typ}`);
      assert.equal(await accepts(TokenType.idToken, typ), id, `id_token typ=${typ}`);
      assert.equal(await accepts(TokenType.jwt, typ), jwt, `jwt typ=${typ}`);
    }
  });

  it('RFC 7519 §4.1.6: iat beyond the leeway in the future is refused; within it, accepted', async () => {
    await rejects(async () => verifyJwt(await sign({ iat: now() + 600 }), keys, check, 'subject_token'), 'iat_in_future');
    await rejects(async () => verifyJwt(await sign({ iat: now() + 60 }), keys, check, 'actor_token'), 'iat_in_future', 'actor_token');
    assert.equal((await verifyJwt(await sign({ iat: now() + 20 }), keys, check, 'subject_token')).sub, 'u');
    await rejects(async () => verifyJwt(await sign({ iat: now() + 5 }), keys, { ...check, clockTolerance: 0 }, 'subject_token'), 'iat_in_future');
  });

  it('RFC 7519 §4.1.2: sub is a non-empty string within the identifier bounds', async () => {
    for (const sub of [42, ['u'], { id: 'u' }, null, '', true, 'a\u0000b', 'x'.repeat(513)]) {
      await rejects(async () => verifyJwt(await sign({ sub }), keys, check, 'subject_token'), 'malformed_sub');
    }
    assert.equal((await verifyJwt(await sign({ sub: 'x'.repeat(512) }), keys, check, 'subject_token')).sub, 'x'.repeat(512));
    // Not required but present: the same rule.
    await rejects(async () => verifyJwt(await sign({ sub: 7 }), keys, { ...check, requiredClaims: ['iss'] }, 'actor_token'), 'malformed_sub', 'actor_token');
  });

  it('JW-01/JW-03 an algorithm outside the allow-list is refused', async () => {
    await rejects(async () => verifyJwt(await sign({}), keys, { ...check, algorithms: ['RS256'] }, 'subject_token'), 'alg_not_allowed');
  });

  it('JW-04 an unknown kid is refused', async () => {
    await rejects(async () => verifyJwt(await sign({}, { kid: 'k2' }), keys, check, 'subject_token'), 'unknown_key');
  });

  it('an unreachable JWKS is a dependency failure (503), not an invalid token', async () => {
    const remote = createRemoteJWKSet(new URL(`http://127.0.0.1:${await freePort()}/jwks`), { timeoutDuration: 1000 });
    await assert.rejects(async () => verifyJwt(await sign({}), remote, check, 'subject_token'), DependencyUnavailable);
  });
});
