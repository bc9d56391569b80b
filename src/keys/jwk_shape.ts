// Which JWK members each supported signing algorithm uses, and the clean private/public views built from them.
import type { JWK } from 'jose';

/** Signing algorithms the key store can generate and load. ES256 is the default. */
export const SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export function isSigningAlg(value: unknown): value is SigningAlg {
  return typeof value === 'string' && (SIGNING_ALGS as readonly string[]).includes(value);
}

/** A private JWK as the store keeps it: key members plus the three members every key must have. */
export type PrivateJwk = JWK & { kid: string; alg: SigningAlg; use: 'sig' };
/** The public part of a {@link PrivateJwk}. */
export type PublicJwk = JWK & { kid: string; alg: SigningAlg; use: 'sig' };

type KeyType = 'EC' | 'OKP' | 'RSA';

/** The key type (and curve) each alg requires; a mismatch is caught on load, before a signer fails at runtime. */
export const ALG_KEY_TYPE: Record<SigningAlg, { kty: KeyType; crv?: string }> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  RS256: { kty: 'RSA' },
};

// Allow-lists rather than deny-lists: a member we do not know about can never leak into the public JWKS.
const PUBLIC_MEMBERS: Record<KeyType, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
  RSA: ['kty', 'n', 'e'],
};
/** Private members per key type; all must be present for the key to be usable. */
export const PRIVATE_MEMBERS: Record<KeyType, readonly string[]> = {
  EC: ['d'],
  OKP: ['d'],
  RSA: ['d', 'p', 'q', 'dp', 'dq', 'qi'],
};
const COMMON_MEMBERS = ['kid', 'alg', 'use'] as const;

function pick(jwk: Record<string, unknown>, members: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const member of members) {
    if (jwk[member] !== undefined) out[member] = jwk[member];
  }
  return out;
}

/** The private JWK without our metadata or any member oidc-provider does not need. */
export function toPrivateJwk(jwk: PrivateJwk): PrivateJwk {
  const kty = ALG_KEY_TYPE[jwk.alg].kty;
  return pick(jwk, [...PUBLIC_MEMBERS[kty], ...PRIVATE_MEMBERS[kty], ...COMMON_MEMBERS]) as PrivateJwk;
}

/** The public JWK: key type members plus kid, alg and use; nothing private, whatever the input held. */
export function toPublicJwk(jwk: PrivateJwk | PublicJwk): PublicJwk {
  const kty = ALG_KEY_TYPE[jwk.alg].kty;
  return pick(jwk, [...PUBLIC_MEMBERS[kty], ...COMMON_MEMBERS]) as PublicJwk;
}
