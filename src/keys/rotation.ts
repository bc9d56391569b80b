// Rotation rules as pure functions over the file's keys: no I/O and no clock of their own, so tests pin time.
//
// The invariant: a key is published before it signs, and stays published until every token it signed has
// expired. Instances read the key file at start only, so each rotation is followed by a (rolling) restart:
// - the `next` key promoted by `rotate` was already published by every running instance, so tokens signed by a
//   restarted instance verify everywhere, including against JWKS caches filled before the restart;
// - the old `current` key stays published as `retired` until retire-after = rotation time + longest token
//   lifetime + clock skew. That window counts from the rotation, so finish the restart within the skew.
// - a second rotation before the restart would promote a key nobody published, so `rotate` refuses while the
//   `next` key has been in the file for less than the longest token lifetime (see `assertNextPublished`), unless
//   the file was never rotated (then next was generated with current, and every instance that signs publishes it).
import { KeyStoreError } from './errors.js';
import type { StoredKey } from './key_file.js';

/** Allowance for clock differences between us and verifiers, added to every retire-after. */
export const CLOCK_SKEW_SECONDS = 300;
/** Default longest lifetime of a token we issue, when the caller does not say. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 3600;

const STATUS_ORDER = { current: 0, next: 1, retired: 2 } as const;

/** A retired key whose tokens have all expired: no longer published, dropped at the next rotation. */
export function isExpired(key: StoredKey, now: number): boolean {
  return key.status === 'retired' && (key.retireAfter ?? 0) <= now;
}

/**
 * Current first, then next, then retired (newest first). oidc-provider signs with the first key of its `jwks`
 * that matches the alg, so this order is what makes the current key the signing key.
 */
export function orderKeys(keys: readonly StoredKey[]): StoredKey[] {
  return [...keys].sort(
    (a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || (b.retireAfter ?? 0) - (a.retireAfter ?? 0),
  );
}

/** The single current key, or `KEYS_NO_CURRENT`. */
export function requireCurrent(keys: readonly StoredKey[], file: string): StoredKey {
  const current = keys.find((key) => key.status === 'current');
  if (current === undefined) {
    throw new KeyStoreError('KEYS_NO_CURRENT', `key file ${file} has no current key to sign with`, { file });
  }
  return current;
}

export interface RotationInput {
  /** The freshly generated key that becomes `next`. */
  newNext: StoredKey;
  /** Epoch seconds. */
  now: number;
  maxTokenLifetimeSeconds: number;
  /** For error messages. */
  file: string;
  /** Rotate even when the next key is too new to be published everywhere (the operator knows every instance restarted). */
  force?: boolean;
}

export interface RotationResult {
  /** The file's keys after rotation, in {@link orderKeys} order. */
  keys: StoredKey[];
  promoted: StoredKey;
  retired: StoredKey;
  dropped: StoredKey[];
}

/**
 * Refuses (`KEYS_NEXT_TOO_NEW`) to promote a `next` key added less than `maxTokenLifetimeSeconds` ago: the rotation
 * that added it is then probably not yet followed by a restart of every instance, so some instances (and the JWKS
 * their verifiers cached) do not publish it. A file that was never rotated is exempt: its next key was generated
 * with the current key, so no instance ever loaded one without the other. "Never rotated" is "no retired key":
 * every rotation retires a key, and only a later rotation can drop it.
 */
export function assertNextPublished(keys: readonly StoredKey[], next: StoredKey, input: RotationInput): void {
  const { now, maxTokenLifetimeSeconds, file } = input;
  if (input.force === true || !keys.some((key) => key.status === 'retired')) return;
  const age = now - next.created;
  if (age >= maxTokenLifetimeSeconds) return;
  const notBefore = new Date((next.created + maxTokenLifetimeSeconds) * 1000).toISOString().replace('.000Z', 'Z');
  throw new KeyStoreError(
    'KEYS_NEXT_TOO_NEW',
    `key file ${file}: next key ${next.jwk.kid} was added ${Math.max(age, 0)} s ago, less than the longest token lifetime ` +
      `(${maxTokenLifetimeSeconds} s), so instances not restarted since do not publish it; restart every instance and rotate ` +
      `after ${notBefore}, or pass --force once you know every instance has restarted`,
    { file },
  );
}

/** next → current, current → retired (with retire-after), a new next, and expired retired keys dropped. */
export function rotateKeys(keys: readonly StoredKey[], input: RotationInput): RotationResult {
  const { newNext, now, maxTokenLifetimeSeconds, file } = input;
  const current = requireCurrent(keys, file);
  const next = keys.find((key) => key.status === 'next');
  if (next === undefined) {
    throw new KeyStoreError(
      'KEYS_NO_NEXT',
      `key file ${file} has no next key; promoting an unpublished key would break verifiers (regenerate the file or add a next key)`,
      { file },
    );
  }
  assertNextPublished(keys, next, input);
  const promoted: StoredKey = { jwk: next.jwk, status: 'current', created: next.created };
  const retired: StoredKey = {
    jwk: current.jwk,
    status: 'retired',
    created: current.created,
    retireAfter: now + maxTokenLifetimeSeconds + CLOCK_SKEW_SECONDS,
  };
  const previouslyRetired = keys.filter((key) => key.status === 'retired');
  const dropped = previouslyRetired.filter((key) => isExpired(key, now));
  const kept = previouslyRetired.filter((key) => !isExpired(key, now));
  return {
    keys: orderKeys([promoted, { ...newNext, status: 'next' }, retired, ...kept]),
    promoted,
    retired,
    dropped,
  };
}
