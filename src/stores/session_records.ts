// Session-registry rules shared by the Redis and memory registries.
import { uniqueClientIds } from './revocation.js';
import type { SessionHop } from './types.js';

/** Times are whole epoch seconds (they become key expiry times); ids must be non-empty. */
export function validateIssued(session: { sid: string; sub: string; issuer: string }, hop: SessionHop, retentionSeconds: number): void {
  // Called for every issued token (twice: the recorder refuses a bad hop alone, the registry re-checks): no allocation.
  text('sid', session.sid);
  text('sub', session.sub);
  text('issuer', session.issuer);
  text('clientId', hop.clientId);
  text('jti', hop.jti);
  text('toolServer', hop.toolServer);
  seconds('at', hop.at);
  seconds('exp', hop.exp);
  seconds('retentionSeconds', retentionSeconds);
}

function text(name: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') throw new TypeError(`session ${name} must be a non-empty string`);
}

function seconds(name: string, value: unknown): void {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new TypeError(`session ${name} must be whole seconds`);
}

/** Every client that took part in a hop: the current actor, then prior actors. */
export function hopClients(hop: SessionHop): string[] {
  return uniqueClientIds([hop.clientId, ...hop.priorActors]);
}

/** Sets come back unordered from Redis; both registries sort them so answers compare equal. */
export function sortedStrings(values: Iterable<string>): string[] {
  return [...values].sort();
}
