// Process-wide counters for tests and diagnostics. Deliberately not exported from index.ts: not a public API.

export const stats = {
  /** How many times a token went through jose signature verification (cache hits skip this). */
  signatureVerifications: 0,
};
