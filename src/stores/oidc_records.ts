// oidc-provider record rules shared by the Redis and memory adapters, so both index and expire the same way.
import { randomBytes } from 'node:crypto';
import type { AdapterPayload } from './types.js';

/** Models whose records die with their grant (`revokeByGrantId`); the same list as oidc-provider's own memory adapter. */
export const GRANTABLE_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/**
 * Only Session records are found by uid: an Interaction's payload also carries a session `uid`, and indexing it would
 * point the uid at the wrong model.
 */
export const UID_INDEXED_MODEL = 'Session';

/**
 * The record lifetime in milliseconds, or undefined for "never expires": oidc-provider passes no `expiresIn` for some
 * models (e.g. dynamically registered Clients). Zero or less means the record is already expired.
 */
export function lifetimeMs(expiresIn: number | undefined): number | undefined {
  if (expiresIn === undefined) return undefined;
  if (!Number.isFinite(expiresIn)) throw new TypeError('expiresIn must be a finite number of seconds');
  return Math.round(expiresIn * 1000);
}

/** oidc-provider's clock for `consumed`: epoch seconds. */
export function epochSeconds(nowMs = Date.now()): number {
  return Math.floor(nowMs / 1000);
}

/**
 * A fresh name for one consume call (16 random bytes, base64url), stored with its `consumed` stamp: the same call
 * arriving again (ioredis resending a command whose reply was lost with its connection) is told it won, while any
 * other consume is refused.
 */
export function consumeStamp(): string {
  return randomBytes(16).toString('base64url');
}

/** A stored record as oidc-provider expects it back; a `consumed` stamp set after the upsert wins over the payload's. */
export function toPayload(json: string | null | undefined, consumed: string | number | null | undefined): AdapterPayload | undefined {
  if (json === null || json === undefined) return undefined;
  const payload = JSON.parse(json) as AdapterPayload;
  if (consumed !== null && consumed !== undefined) payload.consumed = Number(consumed);
  return payload;
}

/** The grant a stored record was issued under, if any (what a refused consume ends). */
export function grantIdOf(payload: AdapterPayload | undefined): string | undefined {
  return typeof payload?.grantId === 'string' && payload.grantId !== '' ? payload.grantId : undefined;
}

/** A `consumed` stamp the payload itself carries (oidc-provider saving a consumed model): kept where consume looks. */
export function consumedIn(payload: AdapterPayload): number | undefined {
  return typeof payload.consumed === 'number' ? payload.consumed : undefined;
}
