// Session-registry rules shared by the Redis and memory registries.
import { uniqueClientIds } from './revocation.js';
import type { SessionHop } from './types.js';

/** Times are whole epoch seconds (they become key expiry times); ids must be non-empty. */
export function validateIssued(session: { sid: string; sub: string; issuer: string }, hop: SessionHop, retentionSeconds: number): void {
  for (const [name, value] of [['sid', session.sid], ['sub', session.sub], ['issuer', session.issuer], ['clientId', hop.clientId], ['jti', hop.jti], ['toolServer', hop.toolServer]] as const) {
    if (typeof value !== 'string' || value === '') throw new TypeError(`session ${name} must be a non-empty string`);
  }
  for (const [name, value] of [['at', hop.at], ['exp', hop.exp], ['retentionSeconds', retentionSeconds]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`session ${name} must be whole seconds`);
  }
}

/** Every client that took part in a hop: the current actor, then prior actors. */
export function hopClients(hop: SessionHop): string[] {
  return uniqueClientIds([hop.clientId, ...hop.priorActors]);
}

/** Sets come back unordered from Redis; both registries sort them so answers compare equal. */
export function sortedStrings(values: Iterable<string>): string[] {
  return [...values].sort();
}
