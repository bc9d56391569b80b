// The exchange's proof checker in isolation: its synchronous RFC 7638 thumbprint agrees with jose's for every key type
// it accepts, and refuses what has no thumbprint; a header it has checked before saves only the header's work. The HTTP behaviour is in test/grants/token_exchange/dpop.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createDpopNonces } from '../../src/dpop/nonces.js';
import { createDpopProofChecker, jwkThumbprint } from '../../src/dpop/proof.js';
import { MemoryDpopReplayStore } from '../../src/stores/memory/dpop_replay.js';

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

describe('createDpopProofChecker: a header checked once is still only a header', () => {
  const htu = 'https://sts.example/token';
  const now = () => Math.floor(Date.now() / 1000);
  async function setup() {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const claimed = new Set<string>();
    const checker = createDpopProofChecker({
      htu, algorithms: ['ES256'], windowSeconds: 60, requireNonce: false, now,
      nonces: createDpopNonces(randomBytes(32), now),
      replay: { claim: async (key: string) => !claimed.has(key) && Boolean(claimed.add(key)) },
    });
    const sign = (header: Record<string, unknown>, claims: Record<string, unknown> = {}) =>
      new SignJWT({ htm: 'POST', htu, iat: now(), jti: randomBytes(8).toString('base64url'), ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk, ...header })
        // jose signs a critical extension only when told it is understood.
        .sign(privateKey, Array.isArray(header.crit) ? { crit: Object.fromEntries(header.crit.map((name: string) => [name, true])) } : {});
    const check = (proof: string) => checker.check({ values: [proof], method: 'POST', setNonce: () => undefined });
    const reason = (proof: string) => check(proof).then(() => 'accepted', (err: { error_detail?: string }) => err.error_detail);
    return { jwk, privateKey, sign, check, reason };
  }

  it('every proof with a known header still has its own signature, claims and jti checked', async () => {
    const { jwk, sign, check, reason } = await setup();
    const first = await sign({});
    assert.deepEqual(await check(first), { jkt: jwkThumbprint(jwk as Record<string, unknown>)!.jkt });
    // The same header text, a different payload under the first proof's signature.
    const [header, , signature] = first.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ htm: 'POST', htu, iat: now(), jti: 'forged' })).toString('base64url')}.${signature}`;
    assert.equal(await reason(forged), 'bad_signature');
    assert.equal(await reason(await sign({}, { htm: 'GET' })), 'htm_mismatch');
    assert.equal(await reason(first), 'replayed');
    assert.equal((await check(await sign({})))?.jkt, jwkThumbprint(jwk as Record<string, unknown>)!.jkt);
  });

  it('htu (RFC 9449 §4.3 check 9): the endpoint URL as written, or normalised to it; any other URL is refused', async () => {
    const { check, sign, reason } = await setup();
    for (const written of [htu, 'HTTPS://STS.EXAMPLE/token', 'https://sts.example:443/token', `${htu}?x=1#f`, 'https://sts.example/a/../token']) {
      assert.ok(await check(await sign({}, { htu: written })), written);
    }
    for (const written of ['https://sts.example/token/', 'https://sts.example/Token', 'http://sts.example/token', 'https://sts.example:8443/token', 'token', 42]) {
      assert.equal(await reason(await sign({}, { htu: written })), 'htu_mismatch', String(written));
    }
  });

  it('a refused header is refused every time it comes (never remembered)', async () => {
    const { jwk, sign, reason } = await setup();
    for (let i = 0; i < 2; i++) {
      assert.equal(await reason(await sign({ jwk: { ...jwk, d: 'AAAA' } })), 'private_key');
      assert.equal(await reason(await sign({ typ: 'jwt' })), 'wrong_typ');
      assert.equal(await reason(await sign({ crit: ['x'], x: 1 })), 'malformed');
    }
  });
});

describe('createDpopProofChecker: RFC 9449 §11.1, a jti is remembered as long as its proof can pass the iat check (injected clock)', () => {
  const htu = 'https://sts.example/token';
  const T = 1_800_000_000; // the proof's iat
  const W = 60;
  async function firstUsedAtEarliestEdge() {
    // Epoch ms; the checker reads it in whole seconds, as service.ts does.
    const clock = { ms: (T - W) * 1000 };
    const now = () => Math.floor(clock.ms / 1000);
    const memory = new MemoryDpopReplayStore(() => clock.ms);
    const ttls: number[] = [];
    /** Seconds the next claim takes to settle (a slow store). */
    let delay = 0;
    const checker = createDpopProofChecker({
      htu, algorithms: ['ES256'], windowSeconds: W, requireNonce: false, now,
      nonces: createDpopNonces(randomBytes(32), now),
      replay: {
        claim: (key: string, ttlSeconds: number) => {
          ttls.push(ttlSeconds);
          clock.ms += delay * 1000;
          return memory.claim(key, ttlSeconds);
        },
      },
    });
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const proof = await new SignJWT({ htm: 'POST', htu, iat: T, jti: randomBytes(8).toString('base64url') }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
    const request = { values: [proof], method: 'POST', setNonce: () => undefined };
    const reason = () => checker.check(request).then(() => 'accepted', (err: { error_detail?: string }) => err.error_detail);
    assert.equal(await reason(), 'accepted');
    return { checker, request, reason, clock, ttls, slow: (seconds: number) => (delay = seconds) };
  }

  it('first used at iat - w, it is refused as replayed until its last accepted instant, the end of second iat + w', async () => {
    const { reason, clock, ttls } = await firstUsedAtEarliestEdge();
    clock.ms = (T + W) * 1000;
    assert.equal(await reason(), 'replayed');
    clock.ms = (T + W) * 1000 + 999;
    assert.equal(await reason(), 'replayed');
    // 2w from the first use to the last second, that second itself, and nothing longer.
    assert.deepEqual(ttls, [2 * W + 1, 2 * W + 1, 2 * W + 1]);
    clock.ms = (T + W + 1) * 1000;
    assert.equal(await reason(), 'iat_out_of_window');
  });

  it('a replay whose claim settles after the first use\'s entry expired is refused: by then the proof is out of window', async () => {
    const { checker, request, reason, clock, slow } = await firstUsedAtEarliestEdge();
    clock.ms = (T + W) * 1000; // in window when its claims are checked; the claim settles 2 s later, past the entry's expiry
    slow(2);
    assert.equal(await reason(), 'iat_out_of_window');
    assert.equal(clock.ms, (T + W + 2) * 1000);
    // The same when the claim was made by the subject's store read (`claimed`), and settled after the window.
    slow(0);
    clock.ms = (T + W) * 1000;
    const inspected = (await checker.inspect(request))!;
    clock.ms = (T + W + 2) * 1000;
    const refused = await checker.claim(inspected, true).then(() => 'accepted', (err: { error_detail?: string }) => err.error_detail);
    assert.equal(refused, 'iat_out_of_window');
  });
});

describe('createDpopProofChecker: RSA proof keys, by the verify SDK\'s rule (RFC 7518 §3.3; a 2048 to 4096-bit modulus, an odd exponent up to 32 bits)', () => {
  const htu = 'https://sts.example/token';
  const now = () => Math.floor(Date.now() / 1000);
  const checker = createDpopProofChecker({
    htu, algorithms: ['ES256', 'RS256', 'PS256'], windowSeconds: 60, requireNonce: false, now,
    nonces: createDpopNonces(randomBytes(32), now),
    replay: new MemoryDpopReplayStore(),
  });
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  /** A base64url unsigned integer of exactly `bits` bits (top and bottom bits set). */
  const uintOfBits = (bits: number) => {
    const octets = randomBytes(Math.ceil(bits / 8));
    octets[0] = (octets[0]! & (0xff >> ((8 - (bits % 8)) % 8))) | (1 << ((bits - 1) % 8));
    octets[octets.length - 1]! |= 1;
    return octets.toString('base64url');
  };
  const claims = () => ({ htm: 'POST', htu, iat: now(), jti: randomBytes(8).toString('base64url') });

  it('a modulus under 2048 or over 4096 bits, an exponent over 32 bits, even or 1: 400 invalid_dpop_proof, the fixed description, reason weak_key', async () => {
    const n = uintOfBits(2048);
    for (const jwk of [
      { kty: 'RSA', n: uintOfBits(1024), e: 'AQAB' },
      { kty: 'RSA', n: uintOfBits(8192), e: 'AQAB' },
      { kty: 'RSA', n, e: uintOfBits(2047) },
      { kty: 'RSA', n, e: 'AQAA' },
      { kty: 'RSA', n, e: 'AQ' },
    ]) {
      for (const alg of ['RS256', 'PS256']) {
        // Refused on the header: the signature (junk here) is never checked, and the refusal is never remembered.
        for (let round = 0; round < 2; round++) {
          const err = await checker.check({ values: [`${b64({ typ: 'dpop+jwt', alg, jwk })}.${b64(claims())}.AAAA`], method: 'POST', setNonce: () => undefined })
            .then(() => undefined, (e: unknown) => e as { statusCode: number; error: string; error_description: string; error_detail: string });
          assert.deepEqual(err && [err.statusCode, err.error, err.error_description, err.error_detail], [400, 'invalid_dpop_proof', 'the DPoP proof is invalid', 'weak_key'], `${alg} ${JSON.stringify(jwk).slice(0, 80)}`);
        }
      }
    }
  });

  it('a usual 2048-bit key with e = 65537 is accepted', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const proof = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', typ: 'dpop+jwt', jwk }).sign(privateKey);
    assert.deepEqual(await checker.check({ values: [proof], method: 'POST', setNonce: () => undefined }), { jkt: await calculateJwkThumbprint(jwk) });
  });
});

