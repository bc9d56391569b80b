// DPoP proof keys: imported once per key by jose (which checks the key fits the alg), then each proof's JWS signature
// verified synchronously with node:crypto. jose 6 verifies through Web Crypto, an asynchronous thread-pool job per
// signature that costs more than the ES256 verification itself; this runs on every DPoP exchange.
import { constants, KeyObject, verify } from 'node:crypto';
import { importJWK, type CryptoKey, type JWK } from 'jose';

/** How node:crypto verifies each JWS alg (RFC 7518 §3.3-3.5, RFC 8037 §3.1, RFC 9864 for Ed25519). */
const ALGORITHMS: Record<string, { hash: string | null; options: Partial<{ dsaEncoding: 'ieee-p1363'; padding: number; saltLength: number }> }> = {
  // RFC 7518 §3.4: the ECDSA signature is R || S, each the curve's size (not DER).
  ES256: { hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { hash: 'sha384', options: { dsaEncoding: 'ieee-p1363' } },
  ES512: { hash: 'sha512', options: { dsaEncoding: 'ieee-p1363' } },
  // RFC 7518 §3.5: RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash.
  PS256: { hash: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } },
  PS384: { hash: 'sha384', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } },
  PS512: { hash: 'sha512', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } },
  RS256: { hash: 'sha256', options: { padding: constants.RSA_PKCS1_PADDING } },
  RS384: { hash: 'sha384', options: { padding: constants.RSA_PKCS1_PADDING } },
  RS512: { hash: 'sha512', options: { padding: constants.RSA_PKCS1_PADDING } },
  // RFC 8037 §3.1: EdDSA signs the message itself, no separate hash.
  EdDSA: { hash: null, options: {} },
  Ed25519: { hash: null, options: {} },
};

/** Thrown when a key cannot be used for an alg; `reason` is the audit reason. */
export class ProofKeyError extends Error {
  constructor(readonly reason: 'alg_not_allowed' | 'bad_key') {
    super(reason);
  }
}

/**
 * The public key of `jwk` for `alg`, imported by jose: a key of another type or curve than `alg` names is refused there
 * (RFC 7518 §3.1 fixes the key type of each alg). RSA keys must have at least 2048 bits (RFC 7518 §3.3, §3.5).
 *
 * @example
 * const key = await importProofKey({ kty: 'EC', crv: 'P-256', x, y }, 'ES256');
 */
export async function importProofKey(jwk: JWK, alg: string): Promise<KeyObject> {
  if (!Object.hasOwn(ALGORITHMS, alg)) throw new ProofKeyError('alg_not_allowed');
  let key: KeyObject;
  try {
    key = KeyObject.from((await importJWK(jwk, alg)) as CryptoKey);
  } catch (err) {
    throw new ProofKeyError((err as { code?: string }).code === 'ERR_JOSE_NOT_SUPPORTED' ? 'alg_not_allowed' : 'bad_key');
  }
  if (key.type !== 'public') throw new ProofKeyError('bad_key');
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new ProofKeyError('bad_key');
  }
  return key;
}

/**
 * RFC 7515 §5.2: whether the compact JWS's signature over `header.payload` verifies with `key` under `alg`. `key` must
 * come from `importProofKey(…, alg)` for this same alg.
 *
 * @example
 * if (!verifyCompact(proof, key, 'ES256')) throw invalid('bad_signature');
 */
export function verifyCompact(jws: string, key: KeyObject, alg: string): boolean {
  const params = ALGORITHMS[alg];
  if (!params || !Object.hasOwn(ALGORITHMS, alg)) return false;
  const dot = jws.lastIndexOf('.');
  const signature = jws.slice(dot + 1);
  // RFC 7515 §2: base64url without padding; Buffer.from would skip anything else silently.
  if (dot < 0 || !/^[A-Za-z0-9_-]+$/.test(signature)) return false;
  try {
    return verify(params.hash, Buffer.from(jws.slice(0, dot)), { key, ...params.options }, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}
