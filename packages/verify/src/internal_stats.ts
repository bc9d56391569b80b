// Process-wide counters for tests and diagnostics. Deliberately not exported from index.ts: not a public API.

export const stats = {
  /** How many times a token went through jose signature verification (cache hits skip this). */
  signatureVerifications: 0,
  /** How many times a key was looked up in the remote JWKS (a key the verifier remembers for a kid skips this). */
  jwksKeyLookups: 0,
  /** How many expiry entries revocation-set pruning examined (only expired ones: it never walks the whole set). */
  revocationPruneVisits: 0,
};
