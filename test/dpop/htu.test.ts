// RFC 9449 §4.3 `htu` comparison after RFC 3986 §6.2.2/§6.2.3 normalisation, at the issuer (src/dpop/proof.ts) and in
// the verify SDK (packages/verify/src/dpop.ts): the same rule on both sides, percent-encodings of unreserved
// characters included (§6.2.2.2), so a proof one accepts the other accepts too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createDpopNonces } from '../../src/dpop/nonces.js';
import { createDpopProofChecker, normalizeHtu } from '../../src/dpop/proof.js';
import { normalizeHtu as sdkNormalizeHtu } from '../../packages/verify/src/dpop.js';

const ENDPOINT = 'https://sts.example/token';

/** [htu as a client may write it, what it normalises to ('' = refused)] */
const CASES: Array<[string, string]> = [
  ['https://sts.example/token', ENDPOINT],
  ['HTTPS://STS.Example:443/token?x=1#f', ENDPOINT],
  // RFC 3986 §6.2.2.2: unreserved characters decoded, in either hex case.
  ['https://sts.example/%74oken', ENDPOINT],
  ['https://sts.example/%74%6F%6b%65%6E', ENDPOINT],
  ['https://sts.example/a%2Db%2ec%5Fd%7Ee%30', 'https://sts.example/a-b.c_d~e0'],
  // §6.2.2.1: any other octet stays encoded, its hex uppercased: an encoded slash is not a path separator.
  ['https://sts.example/a%2fb', 'https://sts.example/a%2Fb'],
  ['https://sts.example/a%2Fb', 'https://sts.example/a%2Fb'],
  ['https://sts.example/caf%c3%a9', 'https://sts.example/caf%C3%A9'],
  ['https://sts.example/café', 'https://sts.example/caf%C3%A9'],
  ['https://sts.example/x/%2e%2e/token', ENDPOINT],
  ['https://sts.example/%zz', 'https://sts.example/%zz'],
  ['ftp://sts.example/token', ''],
  ['not a url', ''],
];

describe('normalizeHtu (RFC 3986 §6.2.2, §6.2.3)', () => {
  for (const [input, expected] of CASES) {
    it(`${input} → ${expected || 'refused'}, at the issuer and in the SDK alike`, () => {
      assert.equal(normalizeHtu(input) ?? '', expected);
      assert.equal(sdkNormalizeHtu(input) ?? '', expected);
    });
  }
});

describe("the issuer's proof checker compares the normalised htu", () => {
  const now = () => Math.floor(Date.now() / 1000);
  for (const configured of [ENDPOINT, 'https://sts.example/%74oken']) {
    it(`configured ${configured}: an htu with percent-encoded unreserved characters is accepted, %2F for / is not`, async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = await exportJWK(publicKey);
      const checker = createDpopProofChecker({
        htu: configured, algorithms: ['ES256'], windowSeconds: 60, requireNonce: false, now,
        nonces: createDpopNonces(randomBytes(32), now),
        replay: { claim: async () => true },
      });
      const check = async (htu: string) => {
        const proof = await new SignJWT({ htm: 'POST', htu, iat: now(), jti: randomBytes(8).toString('base64url') }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
        return checker.check({ values: [proof], method: 'POST', setNonce: () => undefined }).then(() => 'accepted', (e: { error_detail?: string }) => e.error_detail);
      };
      for (const htu of [ENDPOINT, 'https://sts.example/%74oken', 'https://sts.example/%74%6f%6B%65%6e', 'HTTPS://STS.EXAMPLE:443/%74oken']) assert.equal(await check(htu), 'accepted', htu);
      for (const htu of ['https://sts.example/%2Ftoken', 'https://sts.example/tok%65n/', 'https://evil.example/%74oken']) assert.equal(await check(htu), 'htu_mismatch', htu);
    });
  }
});
