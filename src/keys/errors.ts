// Key store failures carry a stable `code` so the service and the CLI can react without parsing messages.

/**
 * Every code a {@link KeyStoreError} can carry. A closed union: callers `switch` on it, and adding a code is a
 * breaking change.
 *
 * - `KEYS_NOT_FOUND`: the key file does not exist (rotate, list).
 * - `KEYS_EXISTS`: generate would overwrite an existing key file (pass `force`).
 * - `KEYS_UNREADABLE`: the file exists but cannot be read (permissions, a directory, I/O error).
 * - `KEYS_INVALID`: not JSON, not the expected shape, a key without its private part, or a key that does not work.
 * - `KEYS_NO_CURRENT`: no key has status `current`, so there is nothing to sign with.
 * - `KEYS_NO_NEXT`: rotate found no `next` key; promoting an unpublished key would break verifiers.
 * - `KEYS_NEXT_TOO_NEW`: rotate refused because the `next` key was added less than the longest token lifetime ago,
 *   so instances not restarted since the previous rotation do not publish it (`force` overrides).
 * - `KEYS_UNSUPPORTED_ALG`: an algorithm other than ES256, EdDSA or RS256 was asked for.
 * - `KEYS_WRITE_FAILED`: the key file (or its directory) could not be written.
 */
export type KeyStoreErrorCode =
  | 'KEYS_NOT_FOUND'
  | 'KEYS_EXISTS'
  | 'KEYS_UNREADABLE'
  | 'KEYS_INVALID'
  | 'KEYS_NO_CURRENT'
  | 'KEYS_NO_NEXT'
  | 'KEYS_NEXT_TOO_NEW'
  | 'KEYS_UNSUPPORTED_ALG'
  | 'KEYS_WRITE_FAILED';

/**
 * Thrown by every key store function. The message names the file and never contains key material, so it is safe
 * to log and to print as a one-line CLI error.
 *
 * @example
 * ```ts
 * try {
 *   await loadOrCreateKeys({ file, alg: 'ES256' });
 * } catch (err) {
 *   if (err instanceof KeyStoreError && err.code === 'KEYS_NO_CURRENT') {
 *     // run `npm run keys -- generate --force`, or restore the file from backup
 *   }
 *   throw err;
 * }
 * ```
 */
export class KeyStoreError extends Error {
  override readonly name = 'KeyStoreError';
  readonly code: KeyStoreErrorCode;
  /** The key file the error is about, when there is one. */
  readonly file: string | undefined;

  constructor(code: KeyStoreErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
  }
}
