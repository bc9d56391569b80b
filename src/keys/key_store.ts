// The key store's public operations: load (or create) the keys the service signs with, generate, rotate, list.
import type { CryptoKey, KeyObject } from 'jose';
import { KeyStoreError } from './errors.js';
import { isSigningAlg, toPrivateJwk, toPublicJwk, type PrivateJwk, type PublicJwk, type SigningAlg } from './jwk_shape.js';
import { parseKeyFile, serializeKeyFile, type KeyStatus, type StoredKey } from './key_file.js';
import { readKeyFileText, writeKeyFileAtomic } from './key_file_io.js';
import { assertKeyWorks, generateStoredKey, importSigningKey } from './key_material.js';
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, isExpired, orderKeys, requireCurrent, rotateKeys } from './rotation.js';

/** Options every operation shares. */
export interface KeyFileOptions {
  /** Path of the private JWKS file, e.g. `keys/jwks.json`. */
  file: string;
  /** Clock in epoch **seconds** (not milliseconds); injectable for tests. Defaults to the system clock. */
  now?: () => number;
  /** Called with a one-line message for problems that should not stop the caller, e.g. a file mode looser than 0600. */
  onWarning?: (message: string) => void;
}

export interface LoadKeysOptions extends KeyFileOptions {
  /** Algorithm of the keys generated when the file does not exist. An existing file's keys win (with a warning). */
  alg: SigningAlg;
  /** Longest token lifetime; only rotation uses it, accepted here so one options object serves both. */
  maxTokenLifetimeSeconds?: number;
  /**
   * When set, a missing file is refused with this appended to the error instead of being created: a production start
   * must not sign with keys no other replica and no earlier token knows.
   */
  refuseCreation?: string;
}

export interface LoadedKeys {
  /** True when the file did not exist and was created by this call. */
  generated: boolean;
  file: string;
  /** The current key: what the service signs with. */
  signing: { kid: string; alg: SigningAlg; key: CryptoKey | KeyObject };
  /** Clean private JWKs (current, next, retired) for oidc-provider's `jwks` option; it signs with the first match. */
  privateJwks: { keys: PrivateJwk[] };
  /** Public parts of current, next and un-expired retired keys, for verifiers. */
  publicJwks: { keys: PublicJwk[] };
}

/** One key as `list` shows it; no key material. */
export interface KeyInfo {
  kid: string;
  alg: SigningAlg;
  status: KeyStatus;
  /** Epoch seconds. */
  created: number;
  /** Epoch seconds; null unless retired. */
  retireAfter: number | null;
  /** A retired key past its retire-after: no longer published, dropped by the next rotation. */
  expired: boolean;
}

const systemNow = (): number => Math.floor(Date.now() / 1000);

function assertAlg(alg: unknown): asserts alg is SigningAlg {
  if (!isSigningAlg(alg)) {
    throw new KeyStoreError('KEYS_UNSUPPORTED_ALG', `unsupported signing alg ${String(alg)} (use ES256, EdDSA or RS256)`);
  }
}

function assertLifetime(seconds: number): void {
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new RangeError('maxTokenLifetimeSeconds must be a positive integer');
  }
}

async function readKeys(file: string, onWarning?: (message: string) => void): Promise<StoredKey[]> {
  return parseKeyFile(await readKeyFileText(file, onWarning), file);
}

async function freshKeys(alg: SigningAlg, now: number): Promise<StoredKey[]> {
  return Promise.all([generateStoredKey(alg, 'current', now), generateStoredKey(alg, 'next', now)]);
}

function toInfo(key: StoredKey, now: number): KeyInfo {
  return {
    kid: key.jwk.kid,
    alg: key.jwk.alg,
    status: key.status,
    created: key.created,
    retireAfter: key.retireAfter ?? null,
    expired: isExpired(key, now),
  };
}

/**
 * Reads the key file, or creates it (one current and one next key of `alg`) when it does not exist. Every
 * published key is checked to sign and verify; failures throw {@link KeyStoreError} naming the file.
 *
 * @example
 * ```ts
 * const keys = await loadOrCreateKeys({ file: 'keys/jwks.json', alg: 'ES256', onWarning: (m) => log.warn(m) });
 * if (keys.generated) log.warn(`generated new signing keys at ${keys.file}`);
 * new Provider(issuer, { jwks: keys.privateJwks, ... });
 * ```
 */
export async function loadOrCreateKeys(options: LoadKeysOptions): Promise<LoadedKeys> {
  const { file, alg, onWarning } = options;
  const now = (options.now ?? systemNow)();
  assertAlg(alg);
  if (options.maxTokenLifetimeSeconds !== undefined) assertLifetime(options.maxTokenLifetimeSeconds);

  let keys: StoredKey[];
  let generated = false;
  try {
    keys = await readKeys(file, onWarning);
  } catch (err) {
    if (!(err instanceof KeyStoreError && err.code === 'KEYS_NOT_FOUND')) throw err;
    if (options.refuseCreation !== undefined) throw new KeyStoreError('KEYS_NOT_FOUND', `${err.message}; ${options.refuseCreation}`, { file, cause: err });
    const fresh = await freshKeys(alg, now);
    try {
      await writeKeyFileAtomic(file, serializeKeyFile(fresh), { overwrite: false });
      keys = fresh;
      generated = true;
    } catch (writeErr) {
      // Another instance created the file between our read and our write: use its keys, as every instance must.
      if (!(writeErr instanceof KeyStoreError && writeErr.code === 'KEYS_EXISTS')) throw writeErr;
      keys = await readKeys(file, onWarning);
    }
  }

  const current = requireCurrent(keys, file);
  if (current.jwk.alg !== alg) {
    onWarning?.(`key file ${file} signs with ${current.jwk.alg}, not the configured ${alg}; using the file's key`);
  }
  if (!keys.some((key) => key.status === 'next')) {
    onWarning?.(`key file ${file} has no next key; rotation will refuse until one is added`);
  }
  const published = orderKeys(keys.filter((key) => !isExpired(key, now)));
  await Promise.all(published.map((key) => assertKeyWorks(key, file)));

  return {
    generated,
    file,
    signing: { kid: current.jwk.kid, alg: current.jwk.alg, key: await importSigningKey(current.jwk) },
    privateJwks: { keys: published.map((key) => toPrivateJwk(key.jwk)) },
    publicJwks: { keys: published.map((key) => toPublicJwk(key.jwk)) },
  };
}

export interface GenerateKeyFileOptions extends KeyFileOptions {
  /** Defaults to ES256. */
  alg?: SigningAlg;
  /** Replace an existing file. Tokens signed by its keys stop verifying once instances restart. */
  force?: boolean;
}

/**
 * Creates the key file with one current and one next key. Refuses (`KEYS_EXISTS`) to replace a file unless `force`.
 *
 * @example
 * ```ts
 * const keys = await generateKeyFile({ file: 'keys/jwks.json', alg: 'EdDSA' });
 * ```
 */
export async function generateKeyFile(options: GenerateKeyFileOptions): Promise<KeyInfo[]> {
  const alg = options.alg ?? 'ES256';
  assertAlg(alg);
  const now = (options.now ?? systemNow)();
  const keys = await freshKeys(alg, now);
  await writeKeyFileAtomic(options.file, serializeKeyFile(keys), { overwrite: options.force === true });
  return keys.map((key) => toInfo(key, now));
}

export interface RotateKeyFileOptions extends KeyFileOptions {
  /** Alg of the new next key; defaults to the alg of the next key being promoted. Changing it migrates over two rotations. */
  alg?: SigningAlg;
  /** Longest lifetime of a token signed by the outgoing key. Defaults to 3600. */
  maxTokenLifetimeSeconds?: number;
  /**
   * Rotate even when the next key was added less than `maxTokenLifetimeSeconds` ago (`KEYS_NEXT_TOO_NEW`). Only
   * once every instance has restarted since that key was added.
   */
  force?: boolean;
}

export interface RotationSummary {
  /** The former next key, now current. */
  promoted: KeyInfo;
  /** The former current key, now retired. */
  retired: KeyInfo;
  /** The newly generated next key. */
  next: KeyInfo;
  /** Retired keys past their retire-after, removed from the file. */
  dropped: KeyInfo[];
  /** Every key in the file after rotation. */
  keys: KeyInfo[];
}

/**
 * Rotates the file in place: next → current, current → retired until now + maxTokenLifetimeSeconds + 300 s, a new
 * next key, expired retired keys dropped. Running instances keep their keys until restarted; restart them all
 * (rolling is safe: each already publishes the promoted key) before rotating again. Refuses (`KEYS_NEXT_TOO_NEW`,
 * file untouched) while the next key was added less than maxTokenLifetimeSeconds ago, unless the file was never
 * rotated (no retired key: next was generated with current) or `force` is set. Read-modify-write without a lock: run one rotation at a time.
 *
 * @example
 * ```ts
 * const { promoted, retired } = await rotateKeyFile({ file: 'keys/jwks.json', maxTokenLifetimeSeconds: 900 });
 * ```
 */
export async function rotateKeyFile(options: RotateKeyFileOptions): Promise<RotationSummary> {
  const { file, onWarning } = options;
  const maxTokenLifetimeSeconds = options.maxTokenLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  assertLifetime(maxTokenLifetimeSeconds);
  if (options.alg !== undefined) assertAlg(options.alg);
  const now = (options.now ?? systemNow)();

  const keys = await readKeys(file, onWarning);
  const promotedAlg = keys.find((key) => key.status === 'next')?.jwk.alg;
  const newNext = await generateStoredKey(options.alg ?? promotedAlg ?? 'ES256', 'next', now);
  const result = rotateKeys(keys, { newNext, now, maxTokenLifetimeSeconds, file, force: options.force === true });
  // Never write a file whose new current key cannot sign.
  await assertKeyWorks(result.promoted, file);
  await writeKeyFileAtomic(file, serializeKeyFile(result.keys), { overwrite: true });

  return {
    promoted: toInfo(result.promoted, now),
    retired: toInfo(result.retired, now),
    next: toInfo(newNext, now),
    dropped: result.dropped.map((key) => toInfo(key, now)),
    keys: result.keys.map((key) => toInfo(key, now)),
  };
}

/**
 * The file's keys, current first, without key material.
 *
 * @example
 * ```ts
 * for (const key of await listKeys({ file: 'keys/jwks.json' })) console.log(key.kid, key.status);
 * ```
 */
export async function listKeys(options: KeyFileOptions): Promise<KeyInfo[]> {
  const now = (options.now ?? systemNow)();
  const keys = await readKeys(options.file, options.onWarning);
  return orderKeys(keys).map((key) => toInfo(key, now));
}
