// The SDK's htu comparison (RFC 9449 §4.3) after RFC 3986 §6.2.2 normalisation, percent-encodings included
// (§6.2.2.2): `/%6dcp` is `/mcp`, on the proof's side and on the request URL's; `%2F` is never `/`.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createDpopCheck, normalizeHtu } from '../src/dpop.js';
import { MemoryDpopReplayStore } from '../src/dpop_replay.js';
import { VerifyError } from '../src/errors.js';
import { signRaw, type TestKey } from './helpers/tokens.js';

const TOKEN = 'header.payload.signature';
const ath = createHash('sha256').update(TOKEN).digest('base64url');

describe('the SDK proof check: htu normalised as RFC 3986 §6.2.2 says', () => {
  it('normalizeHtu decodes percent-encoded unreserved characters and uppercases the hex of any other', () => {
    assert.equal(normalizeHtu('https://tools.example/%6dcp'), 'https://tools.example/mcp');
    assert.equal(normalizeHtu('https://tools.example/%6D%63%70'), 'https://tools.example/mcp');
    assert.equal(normalizeHtu('https://tools.example/a%2db%2E%5f%7e'), 'https://tools.example/a-b._~');
    assert.equal(normalizeHtu('https://tools.example/a%2fb'), 'https://tools.example/a%2Fb');
    assert.equal(normalizeHtu('HTTPS://TOOLS.EXAMPLE:443/%6dcp?q#f'), 'https://tools.example/mcp');
  });

  it('a proof whose htu percent-encodes unreserved characters is accepted; one naming another path (%2F) is refused', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const key: TestKey = { kid: 'holder', alg: 'ES256', privateKey, publicKey, publicJwk };
    const jkt = await calculateJwkThumbprint(publicJwk);
    const check = createDpopCheck({ algorithms: new Set(['ES256']), windowSeconds: 60, replay: new MemoryDpopReplayStore(100), nonces: undefined, now: Date.now });
    const header = JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicJwk });
    const attempt = async (htu: string, url: string) => {
      const claims = JSON.stringify({ htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url'), ath });
      return check({ proof: await signRaw(header, claims, key), method: 'POST', url }, TOKEN, jkt).then(
        () => 'accepted',
        (e: unknown) => (e instanceof VerifyError ? `${e.code}: ${e.detail}` : `unexpected ${String(e)}`),
      );
    };
    for (const [htu, url] of [
      ['https://tools.example/%6dcp', 'https://tools.example/mcp'],
      ['https://tools.example/%6D%63%70', 'https://tools.example/mcp'],
      ['https://tools.example/mcp', 'https://tools.example/%6dcp'],
      ['https://tools.example/a%2fb', 'https://tools.example/a%2Fb'],
    ]) assert.equal(await attempt(htu!, url!), 'accepted', `${htu} at ${url}`);
    assert.equal(await attempt('https://tools.example/a%2Fb', 'https://tools.example/a/b'), 'ERR_DPOP_PROOF_INVALID: htu "https://tools.example/a%2Fb"');
  });
});
