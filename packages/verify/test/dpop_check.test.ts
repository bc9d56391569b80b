// The SDK's proof check in isolation (RFC 9449 §4.3 and §7.1): every header refusal, the same header refused again
// (only a header that passed is remembered), and a remembered header with a bad payload, htu or signature.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createDpopCheck, dpopKeyProblem, type DpopRequest } from '../src/dpop.js';
import { MemoryDpopReplayStore } from '../src/dpop_replay.js';
import { VerifyError } from '../src/errors.js';
import { createVerifier } from '../src/verifier.js';
import { startFakeIssuer } from './helpers/fake_issuer.js';
import { makeKey, mint, signRaw, type TestKey } from './helpers/tokens.js';

const URL_ = 'https://tools.example/mcp';
const TOKEN = 'header.payload.signature';
const ath = createHash('sha256').update(TOKEN).digest('base64url');

async function holder(): Promise<{ key: TestKey; jkt: string }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { key: { kid: 'holder', alg: 'ES256', privateKey, publicKey, publicJwk }, jkt: await calculateJwkThumbprint(publicJwk) };
}

const claims = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url'), ath, ...extra });

const newCheck = (algorithms = ['ES256']) =>
  createDpopCheck({ algorithms: new Set(algorithms), windowSeconds: 60, replay: new MemoryDpopReplayStore(100), nonces: undefined, now: Date.now });

const b64 = (text: string) => Buffer.from(text).toString('base64url');
/** A proof whose signature is junk: what someone who has a leaked token and the holder's public key only can send. */
const unsigned = (header: Record<string, unknown>) => `${b64(JSON.stringify(header))}.${b64(claims())}.AAAA`;

/** A base64url unsigned integer of exactly `bits` bits (top bit set), odd. */
function uintOfBits(bits: number): string {
  const octets = randomBytes(Math.ceil(bits / 8));
  octets[0] = (octets[0]! & (0xff >> ((8 - (bits % 8)) % 8))) | (1 << ((bits - 1) % 8));
  octets[octets.length - 1]! |= 1;
  return octets.toString('base64url');
}
/** The base64url unsigned integer of `value`. */
const uint = (value: number) => Buffer.from(value.toString(16).padStart(2 * Math.ceil(value.toString(16).length / 2), '0'), 'hex').toString('base64url');

async function refusal(check: ReturnType<typeof newCheck>, request: DpopRequest, jkt: string): Promise<string> {
  const err = await check(request, TOKEN, jkt).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof VerifyError, `expected a VerifyError, got ${String(err)}`);
  return `${err.code}: ${err.detail ?? ''}`;
}

describe('the SDK proof check', () => {
  it('refuses each bad header, and the same header again (a refused header is never remembered)', async () => {
    const { key, jkt } = await holder();
    const jwk = key.publicJwk;
    const headers: Array<[Record<string, unknown> | string, string]> = [
      ['not json', 'ERR_DPOP_PROOF_INVALID: header or payload is not a JSON object with unique members'],
      [{ typ: 'jwt', alg: 'ES256', jwk }, 'ERR_DPOP_PROOF_INVALID: typ "jwt"'],
      [{ typ: 'dpop+jwt', alg: 'HS256', jwk }, 'ERR_DPOP_PROOF_INVALID: alg "HS256" not allowed'],
      [{ typ: 'dpop+jwt', alg: 'ES256', jwk, crit: ['x'], x: 1 }, 'ERR_DPOP_PROOF_INVALID: crit header present'],
      [{ typ: 'dpop+jwt', alg: 'ES256' }, 'ERR_DPOP_PROOF_INVALID: jwk header missing'],
      [{ typ: 'dpop+jwt', alg: 'ES256', jwk: { ...jwk, d: 'AAAA' } }, 'ERR_DPOP_PROOF_INVALID: jwk holds a private key'],
      [{ typ: 'dpop+jwt', alg: 'ES256', jwk: { ...jwk, kty: 'constructor' } }, 'ERR_DPOP_PROOF_INVALID: jwk is not an EC, OKP or RSA public key'],
    ];
    const check = newCheck();
    for (const [header, expected] of headers) {
      const headerJson = typeof header === 'string' ? header : JSON.stringify(header);
      for (let round = 0; round < 2; round++) {
        const proof = await signRaw(headerJson, claims(), key);
        assert.equal(await refusal(check, { proof, method: 'POST', url: URL_ }, jkt), expected, `${headerJson} round ${round}`);
      }
    }
  });

  it('a remembered header still gets every per-proof check: payload, key match, signature, htu, replay', async () => {
    const { key, jkt } = await holder();
    const other = await holder();
    const headerJson = JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk });
    const check = newCheck();
    const request = (proof: string, url = URL_): DpopRequest => ({ proof, method: 'POST', url });
    const good = await signRaw(headerJson, claims(), key);
    await check(request(good), TOKEN, jkt);
    // The header is remembered now; each of these reuses it.
    assert.equal(await refusal(check, request(await signRaw(headerJson, '[1]', key)), jkt), 'ERR_DPOP_PROOF_INVALID: header or payload is not a JSON object with unique members');
    assert.match(await refusal(check, request(await signRaw(headerJson, claims(), key)), other.jkt), /^ERR_DPOP_KEY_MISMATCH: proof key /);
    const forged = await signRaw(headerJson, claims(), other.key);
    assert.match(await refusal(check, request(forged), jkt), /^ERR_DPOP_PROOF_INVALID: signature: /);
    assert.equal(await refusal(check, request(await signRaw(headerJson, claims({ htu: 'https://tools.example/other' }), key)), jkt), 'ERR_DPOP_PROOF_INVALID: htu "https://tools.example/other"');
    // The request URL's normalisation is remembered too: a URL that is not http(s) is refused every time.
    for (let round = 0; round < 2; round++) {
      assert.equal(await refusal(check, request(await signRaw(headerJson, claims(), key), 'ftp://tools.example/mcp'), jkt), 'ERR_DPOP_PROOF_INVALID: the request URL is not an absolute http(s) URL');
    }
    // An htu written differently from the request URL is normalised and compared.
    await check(request(await signRaw(headerJson, claims({ htu: 'HTTPS://TOOLS.EXAMPLE:443/mcp?q=1' }), key)), TOKEN, jkt);
    assert.equal(await refusal(check, request(good), jkt), `ERR_DPOP_REPLAYED: jti ${JSON.parse(Buffer.from(good.split('.')[1]!, 'base64url').toString()).jti}`);
  });

  describe('RFC 9449 §11.1: a jti is remembered as long as its proof can pass the iat check (injected clock)', () => {
    const T = 1_800_000_000; // the proofs' iat
    const W = 60;
    async function edgeCase() {
      const { key, jkt } = await holder();
      const clock = { ms: (T - W) * 1000 }; // the earliest instant the proof is accepted
      const memory = new MemoryDpopReplayStore(100, () => clock.ms);
      const ttls: number[] = [];
      /** Seconds the next claim takes to settle (a slow store, or a signature check that kept it waiting). */
      let delay = 0;
      const replay = {
        claim(k: string, ttl: number) {
          ttls.push(ttl);
          clock.ms += delay * 1000;
          return memory.claim(k, ttl);
        },
      };
      const check = createDpopCheck({ algorithms: new Set(['ES256']), windowSeconds: W, replay, nonces: undefined, now: () => clock.ms });
      const jti = randomBytes(12).toString('base64url');
      const proof = await signRaw(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk }), claims({ iat: T, jti }), key);
      const request: DpopRequest = { proof, method: 'POST', url: URL_ };
      await check(request, TOKEN, jkt);
      return { check, request, jkt, jti, clock, ttls, slow: (seconds: number) => (delay = seconds) };
    }

    it('first used at iat - w, it is refused as a replay at iat + w, its last accepted instant', async () => {
      const { check, request, jkt, jti, clock, ttls } = await edgeCase();
      clock.ms = (T + W) * 1000;
      assert.equal(await refusal(check, request, jkt), `ERR_DPOP_REPLAYED: jti ${jti}`);
      // 2w from the first use to the last, and one second more so the entry is alive at that instant.
      assert.deepEqual(ttls, [2 * W + 1, 2 * W + 1]);
      clock.ms = (T + W) * 1000 + 1;
      assert.equal(await refusal(check, request, jkt), 'ERR_DPOP_PROOF_INVALID: iat out of window');
    });

    it('a replay whose claim settles after the first use\'s entry expired is refused: the proof is out of window by then', async () => {
      const { check, request, jkt, clock, ttls, slow } = await edgeCase();
      clock.ms = (T + W) * 1000; // in window when checked; the claim settles 2 s later, past the entry's expiry
      slow(2);
      assert.equal(await refusal(check, request, jkt), 'ERR_DPOP_PROOF_INVALID: iat out of window');
      assert.equal(clock.ms, (T + W + 2) * 1000);
      assert.equal(ttls.length, 2);
    });
  });

  describe('RFC 9449 §4.3 check 6: the key a signature is checked with is the thumbprint members\' alone', () => {
    // Each carries the holder's public key (so its thumbprint is the token's cnf.jkt) and a member that, were the key
    // imported from the whole jwk, would make a key that cannot verify: remembered for the thumbprint, it locked the
    // holder out for an hour.
    const shaped = (jwk: Record<string, unknown>) => [
      { ...jwk, key_ops: [] },
      { ...jwk, key_ops: ['sign'] },
      { ...jwk, use: 'enc' },
      { ...jwk, ext: false },
      { ...jwk, alg: 'ES384' },
    ];

    it('a junk-signed proof with the holder\'s key shaped first, then the holder\'s own proofs: accepted', async () => {
      const { key, jkt } = await holder();
      const check = newCheck();
      for (const jwk of shaped(key.publicJwk)) {
        assert.match(await refusal(check, { proof: unsigned({ typ: 'dpop+jwt', alg: 'ES256', jwk }), method: 'POST', url: URL_ }, jkt), /^ERR_DPOP_PROOF_INVALID: signature: /, JSON.stringify(jwk));
        await check({ proof: await signRaw(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk }), claims(), key), method: 'POST', url: URL_ }, TOKEN, jkt);
      }
      // A holder whose own jwk carries such members is checked with the same key: its signature decides.
      const withMembers = JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { ...key.publicJwk, key_ops: ['verify'], use: 'sig', alg: 'ES256' } });
      await check({ proof: await signRaw(withMembers, claims(), key), method: 'POST', url: URL_ }, TOKEN, jkt);
    });

    it('through verifier.verify with a DPoP-bound token: the attacker first, the holder after is accepted', async () => {
      const issuer = await startFakeIssuer();
      const signing = await makeKey('ES256', 'k1');
      issuer.keys.push(signing.publicJwk);
      const verifier = createVerifier({ issuer: issuer.url, audience: 'https://tools.example/mcp' });
      try {
        const { key, jkt } = await holder();
        const token = await mint({ key: signing, issuer: issuer.url, claims: { cnf: { jkt } } });
        const tokenClaims = () => JSON.stringify({ htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url'), ath: createHash('sha256').update(token).digest('base64url') });
        for (const jwk of shaped(key.publicJwk)) {
          const attack = `${b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk }))}.${b64(tokenClaims())}.AAAA`;
          await assert.rejects(verifier.verify(token, { dpop: { proof: attack, method: 'POST', url: URL_ } }), { code: 'ERR_DPOP_PROOF_INVALID' });
          const good = await signRaw(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk }), tokenClaims(), key);
          assert.equal((await verifier.verify(token, { dpop: { proof: good, method: 'POST', url: URL_ } })).jkt, jkt, JSON.stringify(jwk));
        }
      } finally {
        verifier.close();
        await issuer.close();
      }
    });
  });

  describe('RSA proof keys: a 2048 to 4096-bit modulus and an odd exponent from 3 to 2^32 - 1 (RFC 7518 §3.3, RFC 8017 §3.1)', () => {
    it('dpopKeyProblem', () => {
      const n2048 = uintOfBits(2048);
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: n2048, e: 'AQAB' }), undefined);
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: uintOfBits(4096), e: 'AQAB' }), undefined);
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: uintOfBits(3072), e: uint(3) }), undefined);
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: n2048, e: uint(0xffffffff) }), undefined);
      // Leading zero octets do not count (RFC 7518 §2 asks for none; the value is what is bounded).
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: Buffer.concat([Buffer.alloc(1), Buffer.from(n2048, 'base64url')]).toString('base64url'), e: 'AAEAAQ' }), undefined);
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: uintOfBits(2047), e: 'AQAB' }), 'RSA modulus of 2047 bits');
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: uintOfBits(1024), e: 'AQAB' }), 'RSA modulus of 1024 bits');
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: uintOfBits(4097), e: 'AQAB' }), 'RSA modulus of 4097 bits');
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: n2048, e: uintOfBits(33) }), 'RSA exponent over 32 bits');
      assert.equal(dpopKeyProblem({ kty: 'RSA', n: n2048, e: uintOfBits(3070) }), 'RSA exponent over 32 bits');
      for (const e of [1, 65536, 0]) assert.equal(dpopKeyProblem({ kty: 'RSA', n: n2048, e: uint(e) }), `RSA exponent ${e}`);
      for (const [n, e] of [[n2048, ''], [`${n2048}=`, 'AQAB'], [n2048, 'AQ+B'], [n2048, 'A'], [n2048, 65537], [undefined, 'AQAB']]) {
        assert.equal(dpopKeyProblem({ kty: 'RSA', n, e }), 'RSA n or e is not a base64url unsigned integer', JSON.stringify([n, e]));
      }
      assert.equal(dpopKeyProblem({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }), undefined);
    });

    it('a proof header with such a key is refused before its signature is checked, again the second time', async () => {
      const check = newCheck(['RS256']);
      const n = uintOfBits(2048);
      const cases: Array<[Record<string, string>, string]> = [
        [{ kty: 'RSA', n: uintOfBits(1024), e: 'AQAB' }, 'ERR_DPOP_PROOF_INVALID: jwk: RSA modulus of 1024 bits'],
        [{ kty: 'RSA', n: uintOfBits(8192), e: 'AQAB' }, 'ERR_DPOP_PROOF_INVALID: jwk: RSA modulus of 8192 bits'],
        [{ kty: 'RSA', n, e: uintOfBits(2040) }, 'ERR_DPOP_PROOF_INVALID: jwk: RSA exponent over 32 bits'],
        [{ kty: 'RSA', n, e: uint(65536) }, 'ERR_DPOP_PROOF_INVALID: jwk: RSA exponent 65536'],
      ];
      for (const [jwk, expected] of cases) {
        const jkt = await calculateJwkThumbprint(jwk);
        for (let round = 0; round < 2; round++) assert.equal(await refusal(check, { proof: unsigned({ typ: 'dpop+jwt', alg: 'RS256', jwk }), method: 'POST', url: URL_ }, jkt), expected);
      }
      // A usual RSA key passes.
      const rsa = await makeKey('RS256', 'rsa');
      const { kid: _, alg: __, use: ___, ...jwk } = rsa.publicJwk;
      await check({ proof: await signRaw(JSON.stringify({ typ: 'dpop+jwt', alg: 'RS256', jwk }), claims(), rsa), method: 'POST', url: URL_ }, TOKEN, await calculateJwkThumbprint(jwk));
    });
  });
});

