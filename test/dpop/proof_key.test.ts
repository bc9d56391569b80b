// The proof key import and synchronous JWS verification of src/dpop/proof_key.ts, for every alg `dpop.algorithms`
// may list: jose-signed proofs verify; a changed byte, a wrong-length or padded signature, a key of another type or
// curve, or a signature of another alg do not.
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign, exportJWK, generateKeyPair, type JWK } from 'jose';
import { importProofKey, ProofKeyError, verifyCompact } from '../../src/dpop/proof_key.js';
import { configSchema } from '../../src/config/schema.js';

const ALGS = ['ES256', 'ES384', 'ES512', 'Ed25519', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'];
const payload = new TextEncoder().encode(JSON.stringify({ htm: 'POST', htu: 'https://sts.example/token', iat: 1, jti: 'j' }));

async function signed(alg: string, signAlg = alg) {
  const { privateKey, publicKey } = await generateKeyPair(signAlg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const jws = await new CompactSign(payload).setProtectedHeader({ alg, typ: 'dpop+jwt', jwk }).sign(privateKey).catch(async () =>
    // alg differs from the key's: sign as the key's alg, then claim `alg` in the header (a confusion attempt).
    new CompactSign(payload).setProtectedHeader({ alg: signAlg, typ: 'dpop+jwt', jwk }).sign(privateKey));
  return { jwk, jws };
}

const refused = async (jwk: JWK, alg: string) => {
  const err = await importProofKey(jwk, alg).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ProofKeyError, `${alg} accepted ${JSON.stringify(jwk).slice(0, 60)}`);
  return err.reason;
};

describe('DPoP proof keys (RFC 7515 §5.2, RFC 7518 §3)', () => {
  it('covers every alg the configuration accepts', () => {
    const listed = (configSchema.shape.dpop.unwrap().shape.algorithms.unwrap().element as unknown as { options: string[] }).options;
    assert.deepEqual([...listed].sort(), [...ALGS].sort());
  });

  for (const alg of ALGS) {
    it(`${alg}: a jose-signed proof verifies; one changed payload byte or a truncated signature does not`, async () => {
      const { jwk, jws } = await signed(alg);
      const key = await importProofKey(jwk, alg);
      assert.equal(verifyCompact(jws, key, alg), true);
      const [h, p, s] = jws.split('.');
      const other = Buffer.from(p!, 'base64url');
      other[0] = other[0]! ^ 1;
      assert.equal(verifyCompact(`${h}.${other.toString('base64url')}.${s}`, key, alg), false);
      assert.equal(verifyCompact(`${h}.${p}.${s!.slice(0, -4)}`, key, alg), false);
      assert.equal(verifyCompact(`${h}.${p}.${s}==`, key, alg), false);
      assert.equal(verifyCompact(`${h}.${p}.`, key, alg), false);
    });
  }

  it('a key of another type or curve than the alg names is refused at import', async () => {
    const p384 = await exportJWK((await generateKeyPair('ES384')).publicKey);
    const ec = await exportJWK((await generateKeyPair('ES256')).publicKey);
    const rsa = await exportJWK((await generateKeyPair('RS256')).publicKey);
    const ed = await exportJWK((await generateKeyPair('Ed25519')).publicKey);
    assert.notEqual(await refused(p384, 'ES256'), undefined);
    assert.notEqual(await refused(ec, 'RS256'), undefined);
    assert.notEqual(await refused(ec, 'EdDSA'), undefined);
    assert.notEqual(await refused(rsa, 'ES256'), undefined);
    assert.notEqual(await refused(ed, 'PS256'), undefined);
    assert.equal(await refused(ec, 'HS256'), 'alg_not_allowed');
    assert.equal(await refused(ec, 'none'), 'alg_not_allowed');
    assert.equal(await refused(ec, 'constructor'), 'alg_not_allowed');
  });

  it('an RSA key under 2048 bits is refused (RFC 7518 §3.3)', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    assert.equal(await refused(publicKey.export({ format: 'jwk' }) as JWK, 'RS256'), 'bad_key');
  });

  it('a signature made under another alg with the same key does not verify (PS256 as RS256, ES256 as ES384 curve mismatch)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('PS256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const pss = await new CompactSign(payload).setProtectedHeader({ alg: 'PS256' }).sign(privateKey);
    const rsKey = await importProofKey(jwk, 'RS256');
    assert.equal(verifyCompact(pss, rsKey, 'RS256'), false);
    assert.equal(verifyCompact(pss, await importProofKey(jwk, 'PS256'), 'PS256'), true);
    assert.equal(verifyCompact(pss, rsKey, 'HS256'), false);
  });
});
