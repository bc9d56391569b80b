// Server-provided DPoP nonces (RFC 9449 §8): stateless, so every replica holding the same secret issues and accepts
// the same values without a store round trip; and the very values oidc-provider issues and accepts for the same
// `features.dPoP.nonceSecret`, so one nonce serves every grant at the token endpoint (our checks and its own).
import { hkdfSync, timingSafeEqual } from 'node:crypto';

/** How long one nonce step lasts; the nonce handed out is the next step's, and steps now-2 … now+2 are accepted. */
const STEP_SECONDS = 60;
const ACCEPTED_PAST = 2;
const ACCEPTED_AHEAD = 2;

export interface DpopNonces {
  /** The nonce to hand out now. */
  current(): string;
  /** Whether `nonce` was handed out recently by a holder of the same secret (replica clocks may differ by a step). */
  check(nonce: string): boolean;
}

/**
 * RFC 9449 §8: nonces "MUST be unpredictable": HKDF-SHA256 of the secret, salted with the time step, as oidc-provider
 * derives its own (lib/helpers/challenge.js: salt the step as 8 bytes big-endian, info `DPoP`, 32 bytes, base64url;
 * the next step's value handed out; test/dpop/nonces.test.ts holds the two to the same values). Its checks run after
 * ours in its grants, so a nonce one side accepted and the other refused would answer a valid retry `use_dpop_nonce`
 * forever. A nonce handed out is accepted for three to four minutes.
 *
 * @example
 * const nonces = createDpopNonces(secret, () => Math.floor(Date.now() / 1000));
 * res.setHeader('DPoP-Nonce', nonces.current());
 */
export function createDpopNonces(secret: Uint8Array, now: () => number): DpopNonces {
  const cache = new Map<number, Buffer>();
  const at = (step: number): Buffer => {
    let value = cache.get(step);
    if (!value) {
      const salt = Buffer.alloc(8);
      salt.writeBigInt64BE(BigInt(step));
      value = Buffer.from(Buffer.from(hkdfSync('sha256', secret, salt, 'DPoP', 32)).toString('base64url'));
      if (cache.size > 8) cache.clear();
      cache.set(step, value);
    }
    return value;
  };
  const step = () => Math.floor(now() / STEP_SECONDS);
  return {
    current: () => at(step() + 1).toString(),
    check(nonce) {
      const given = Buffer.from(nonce);
      const s = step();
      let ok = false;
      for (let i = s - ACCEPTED_PAST; i <= s + ACCEPTED_AHEAD; i++) {
        const expected = at(i);
        // Constant time per candidate, and every candidate compared: no early exit that times which step matched.
        if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
      }
      return ok;
    },
  };
}
