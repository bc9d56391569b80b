// The key store's public surface, listed by hand; everything else under src/keys/ is internal.
export { KeyStoreError, type KeyStoreErrorCode } from './errors.js';
export { SIGNING_ALGS, type SigningAlg, type PrivateJwk, type PublicJwk } from './jwk_shape.js';
export type { KeyStatus } from './key_file.js';
export { CLOCK_SKEW_SECONDS, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS } from './rotation.js';
export {
  generateKeyFile,
  listKeys,
  loadOrCreateKeys,
  rotateKeyFile,
  type GenerateKeyFileOptions,
  type KeyFileOptions,
  type KeyInfo,
  type LoadedKeys,
  type LoadKeysOptions,
  type RotateKeyFileOptions,
  type RotationSummary,
} from './key_store.js';
