// The rules the issuer imports from this package (claims shape, act chain, revocation reach, jose error mapping), and
// the injectable clock.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errors as joseErrors } from 'jose';
import {
  createVerifier,
  fromJoseError,
  MAX_ACT_DEPTH,
  parseActChain,
  parseDelegationClaims,
  REQUIRED_CLAIMS,
  revokableActors,
  VerifyError,
} from 'delegation-token-verify';
import { rejectsWith } from './helpers/assert_error.js';
import { startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { defaultClaims, makeKey, mint, type TestKey } from './helpers/tokens.js';

const chain = (n: number): Record<string, unknown> => (n === 1 ? { sub: 'a1' } : { sub: `a${n}`, act: chain(n - 1) });

describe('fromJoseError', () => {
  it('maps every error class jose exports by its code, none of them through the unmapped fallback', () => {
    const classes = Object.values(joseErrors).filter(
      (c): c is typeof joseErrors.JOSEError => typeof c === 'function' && (c === joseErrors.JOSEError || c.prototype instanceof joseErrors.JOSEError),
    );
    assert.ok(classes.length >= 15, `jose exports ${classes.length} error classes`);
    for (const Class of classes) {
      const err = Object.assign(Object.create(Class.prototype) as joseErrors.JOSEError, { message: 'm', code: Class.code, claim: 'x', reason: 'invalid' });
      const mapped = fromJoseError(err);
      assert.ok(mapped instanceof VerifyError, Class.name);
      assert.doesNotMatch(mapped.detail ?? '', /^unmapped/, `${Class.name} (${Class.code}) reaches the never branch`);
    }
  });

  it('fails closed on a code jose might add later, and on anything that is not a jose error', () => {
    const future = Object.assign(new joseErrors.JOSEError('m'), { code: 'ERR_JOSE_SOMETHING_NEW' });
    assert.equal(fromJoseError(future).code, 'ERR_TOKEN_MALFORMED');
    assert.match(fromJoseError(future).detail!, /^unmapped jose error ERR_JOSE_SOMETHING_NEW/);
    assert.equal(fromJoseError(new TypeError('x')).code, 'ERR_TOKEN_MALFORMED');
    assert.equal(fromJoseError(undefined).code, 'ERR_TOKEN_MALFORMED');
    // The public message is fixed; the jose text stays in detail.
    assert.equal(fromJoseError(new joseErrors.JWTExpired('"exp" claim timestamp check failed', {})).message, 'token expired');
  });
});

describe('delegation token claims', () => {
  it('act is required and the chain is capped at MAX_ACT_DEPTH (10)', () => {
    assert.equal(MAX_ACT_DEPTH, 10);
    assert.ok(REQUIRED_CLAIMS.includes('act'));
    assert.equal(parseActChain(chain(MAX_ACT_DEPTH)).length, MAX_ACT_DEPTH);
    assert.throws(() => parseActChain(chain(MAX_ACT_DEPTH + 1)), (e: VerifyError) => e.code === 'ERR_ACT_INVALID');
    const { act: _act, ...noAct } = defaultClaims('https://sts.example');
    assert.throws(() => parseDelegationClaims(noAct), (e: VerifyError) => e.code === 'ERR_ACT_INVALID');
  });

  it('an actor sub must be a revocable identifier (as the issuer requires)', () => {
    for (const sub of ['', 'a\u0000b', 'x'.repeat(513), 7]) {
      assert.throws(() => parseActChain({ sub }), (e: VerifyError) => e.code === 'ERR_ACT_INVALID', JSON.stringify(sub));
    }
  });

  it('revocation reaches every actor in the chain, whatever its iss', () => {
    const actors = parseActChain({ sub: 'crm-server', act: { sub: 'bot', iss: 'https://idp.example', act: { sub: 'agent' } } });
    assert.deepEqual(revokableActors(actors), ['crm-server', 'bot', 'agent']);
  });
});

describe('injectable clock (VerifierOptions.now)', () => {
  let issuer: FakeIssuer;
  let key: TestKey;
  before(async () => {
    issuer = await startFakeIssuer();
    key = await makeKey('ES256', 'k-clock');
    issuer.keys.push(key.publicJwk);
  });
  after(() => issuer.close());

  it('drives exp, nbf and iat checks and the token cache', async () => {
    let clockMs = Date.now();
    const verifier = createVerifier({ issuer: issuer.url, audience: 'https://tools.example/mcp', clockTolerance: 0, now: () => clockMs });
    try {
      const iat = Math.floor(clockMs / 1000);
      const token = await mint({ key, issuer: issuer.url, claims: { iat, nbf: iat, exp: iat + 60 } });
      assert.equal((await verifier.verify(token)).sub, 'user-1');
      // Cached now; moving the clock past exp refuses it without waiting a minute.
      clockMs += 61_000;
      await rejectsWith(verifier.verify(token), 'ERR_EXPIRED');
      // Before nbf/iat by the injected clock: not yet valid.
      clockMs -= 120_000;
      await rejectsWith(verifier.verify(token), 'ERR_NOT_YET_VALID');
    } finally {
      verifier.close();
    }
  });
});
