// The SDK's proof check in isolation (RFC 9449 §4.3 and §7.1): every header refusal, the same header refused again
// (only a header that passed is remembered), and a remembered header with a bad payload, htu or signature.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createDpopCheck, type DpopRequest } from '../src/dpop.js';
import { MemoryDpopReplayStore } from '../src/dpop_replay.js';
import { VerifyError } from '../src/errors.js';
import { signRaw, type TestKey } from './helpers/tokens.js';

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

const newCheck = () =>
  createDpopCheck({ algorithms: new Set(['ES256']), windowSeconds: 60, replay: new MemoryDpopReplayStore(100), nonces: undefined, now: Date.now });

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
});
