// RFC 8693 §4.1 `act` and §4.4 `may_act` claims on the server: the chain rules (shape, depth cap, which actors a
// revocation reaches) are the verify SDK's, so the issuer and every tool server judge one chain the same way.
import { parseActChain, revokableActors, type Actor } from 'delegation-token-verify';
import type { ActClaim, MayActClaim } from './types.js';

/** Parses a well-formed act chain (the SDK's parseActChain), or returns undefined (malformed, too deep, or carrying exp/nbf/aud). */
export function parseAct(value: unknown): ActClaim | undefined {
  let actors: Actor[];
  try {
    actors = parseActChain(value);
  } catch {
    return undefined;
  }
  return nestActors(actors);
}

/** The nested claim for a flat chain (the SDK's `actors`), current actor first. */
export function nestActors(actors: readonly Actor[]): ActClaim | undefined {
  let act: ActClaim | undefined;
  for (let i = actors.length - 1; i >= 0; i--) {
    const { sub, iss } = actors[i]!;
    act = { sub, ...(iss !== undefined ? { iss } : {}), ...(act ? { act } : {}) };
  }
  return act;
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

/** The client ids whose revocation reaches a token with this chain (the SDK's rule: every actor, whatever its `iss`). */
export function actClientIds(act: ActClaim | undefined): string[] {
  return revokableActors(actList(act));
}

export function parseMayAct(value: unknown): MayActClaim | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const obj = value as Record<string, unknown>;
  if ((obj.sub !== undefined && typeof obj.sub !== 'string') || (obj.iss !== undefined && typeof obj.iss !== 'string')) return null;
  return { ...(typeof obj.sub === 'string' ? { sub: obj.sub } : {}), ...(typeof obj.iss === 'string' ? { iss: obj.iss } : {}) };
}
