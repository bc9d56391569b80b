// Generating keys and proving that a stored key works, all through jose.
import {
  calculateJwkThumbprint,
  CompactSign,
  compactVerify,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type KeyObject,
} from 'jose';
import { KeyStoreError } from './errors.js';
import { ALG_KEY_TYPE, toPublicJwk, type PrivateJwk, type SigningAlg } from './jwk_shape.js';
import type { KeyStatus, StoredKey } from './key_file.js';

/** Generates a fresh private JWK whose kid is its RFC 7638 thumbprint (SHA-256). */
export async function generatePrivateJwk(alg: SigningAlg): Promise<PrivateJwk> {
  const { crv } = ALG_KEY_TYPE[alg];
  // Extractable only long enough to be written to the key file; the key we sign with is re-imported from it.
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(crv === undefined ? {} : { crv }),
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { ...jwk, kid, alg, use: 'sig' };
}

/** A new {@link StoredKey} with `status`, created at `now` (epoch seconds). */
export async function generateStoredKey(alg: SigningAlg, status: KeyStatus, now: number): Promise<StoredKey> {
  return { jwk: await generatePrivateJwk(alg), status, created: now };
}

/** Imports the private key for signing; not extractable, so nothing downstream can export it again. */
export async function importSigningKey(jwk: PrivateJwk): Promise<CryptoKey | KeyObject> {
  return importJWK(jwk, jwk.alg, { extractable: false }) as Promise<CryptoKey | KeyObject>;
}

const PROBE = new TextEncoder().encode('key store self-test');

/**
 * Signs with the private members and verifies with the public ones. Catches a hand-edited or corrupted file
 * (say a `d` that does not belong to `x`) at start, instead of as signature failures at every verifier.
 */
export async function assertKeyWorks(key: StoredKey, file: string): Promise<void> {
  const { kid, alg } = key.jwk;
  try {
    const privateKey = await importSigningKey(key.jwk);
    const publicKey = await importJWK(toPublicJwk(key.jwk), alg);
    const jws = await new CompactSign(PROBE).setProtectedHeader({ alg }).sign(privateKey);
    await compactVerify(jws, publicKey);
  } catch (err) {
    // The cause comes from the crypto runtime and names no key material; keep it for debugging.
    throw new KeyStoreError('KEYS_INVALID', `key file ${file}: key with kid ${kid} is not a usable ${alg} key pair`, {
      file,
      cause: err,
    });
  }
}
