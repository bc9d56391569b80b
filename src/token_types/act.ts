// RFC 8693 §4.1 `act` and §4.4 `may_act` claims: parsing, nesting and the clients they name.
import type { ActClaim, MayActClaim } from './types.js';
import { isIdentifier } from '../sessions/identifiers.js';

const MAX_PARSE_DEPTH = 16;
// RFC 8693 §4.1: "exp, nbf, and aud ... are not meaningful when used within an act claim and therefore should not be used".
const FORBIDDEN_IN_ACT = ['exp', 'nbf', 'aud'];

/** Parses a well-formed act chain, or returns undefined (malformed, too deep, or carrying exp/nbf/aud). */
export function parseAct(value: unknown, depth = 0): ActClaim | undefined {
  if (depth >= MAX_PARSE_DEPTH || typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  // RFC 8693 §4.1: an actor is identified by `sub` (a revocable identifier here) and, if needed, `iss`.
  if (!isIdentifier(obj.sub)) return undefined;
  if (FORBIDDEN_IN_ACT.some((k) => k in obj)) return undefined;
  if (obj.iss !== undefined && (typeof obj.iss !== 'string' || obj.iss === '')) return undefined;
  let act: ActClaim | undefined;
  if (obj.act !== undefined) {
    act = parseAct(obj.act, depth + 1);
    if (!act) return undefined;
  }
  return { sub: obj.sub, ...(typeof obj.iss === 'string' ? { iss: obj.iss } : {}), ...(act ? { act } : {}) };
}

export function actDepth(act: ActClaim | undefined): number {
  let depth = 0;
  for (let a = act; a; a = a.act) depth += 1;
  return depth;
}

/** Every actor named in the chain, current first. */
export function actList(act: ActClaim | undefined): ActClaim[] {
  const out: ActClaim[] = [];
  for (let a = act; a; a = a.act) out.push(a);
  return out;
}

/** The actors that are our clients (no foreign `iss`), for revocation checks. */
export function actClientIds(act: ActClaim | undefined): string[] {
  return actList(act)
    .filter((a) => a.iss === undefined)
    .map((a) => a.sub);
}

export function parseMayAct(value: unknown): MayActClaim | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const obj = value as Record<string, unknown>;
  if ((obj.sub !== undefined && typeof obj.sub !== 'string') || (obj.iss !== undefined && typeof obj.iss !== 'string')) return null;
  return { ...(typeof obj.sub === 'string' ? { sub: obj.sub } : {}), ...(typeof obj.iss === 'string' ? { iss: obj.iss } : {}) };
}
