// Resource-server DPoP nonces (RFC 9449 §9): an HMAC of the time step under a deployment secret, so every replica
// issues and accepts the same nonces without a store.
import { createHmac, timingSafeEqual } from 'node:crypto';

const STEP_MS = 60_000;
/** Nonces of the current step and the two before it are accepted: one lives two to three minutes. */
const ACCEPTED_STEPS = 3;

export interface DpopNonces {
  current(): string;
  check(nonce: string): boolean;
}

export function createDpopNonces(secret: string | Uint8Array, now: () => number): DpopNonces {
  const key = typeof secret === 'string' ? Buffer.from(secret) : Buffer.from(secret);
  // A nonce must be unpredictable (RFC 9449 §9): the key must be too.
  if (key.length < 32) throw new TypeError('dpop.nonceSecret must be at least 32 bytes');
  let memo: { step: number; nonce: string } | undefined;
  const forStep = (step: number) => createHmac('sha256', key).update(`dpop-nonce:${step}`).digest('base64url');
  const current = () => {
    const step = Math.floor(now() / STEP_MS);
    if (memo?.step !== step) memo = { step, nonce: forStep(step) };
    return memo.nonce;
  };
  return {
    current,
    check(nonce) {
      const step = Math.floor(now() / STEP_MS);
      const given = Buffer.from(nonce);
      for (let i = 0; i < ACCEPTED_STEPS; i++) {
        const expected = Buffer.from(i === 0 ? current() : forStep(step - i));
        if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
      }
      return false;
    },
  };
}
