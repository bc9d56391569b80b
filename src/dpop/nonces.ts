// Server-provided DPoP nonces (RFC 9449 §8): stateless, so every replica holding the same secret issues and accepts
// the same values without a store round trip.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How long one nonce is handed out; one is accepted for STEP_SECONDS × (1 + ACCEPTED_PAST) plus one step ahead. */
const STEP_SECONDS = 60;
const ACCEPTED_PAST = 2;

export interface DpopNonces {
  /** The nonce to hand out now. */
  current(): string;
  /** Whether `nonce` was handed out recently by a holder of the same secret (replica clocks may differ by a step). */
  check(nonce: string): boolean;
}

/**
 * RFC 9449 §8: nonces "MUST be unpredictable": an HMAC of the time step under a secret shared by the replicas.
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
      value = Buffer.from(createHmac('sha256', secret).update(`dpop-nonce:${step}`).digest().toString('base64url'));
      if (cache.size > 8) cache.clear();
      cache.set(step, value);
    }
    return value;
  };
  const step = () => Math.floor(now() / STEP_SECONDS);
  return {
    current: () => at(step()).toString(),
    check(nonce) {
      const given = Buffer.from(nonce);
      const s = step();
      let ok = false;
      for (let i = s - ACCEPTED_PAST; i <= s + 1; i++) {
        const expected = at(i);
        // Constant time per candidate, and every candidate compared: no early exit that times which step matched.
        if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
      }
      return ok;
    },
  };
}
