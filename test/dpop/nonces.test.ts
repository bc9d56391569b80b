// Server-provided DPoP nonces (RFC 9449 §8): unpredictable, shared by replicas holding the secret, and expiring.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createDpopNonces } from '../../src/dpop/nonces.js';

describe('DPoP nonces', () => {
  const secret = randomBytes(32);
  const t0 = 1_800_000_000;

  it('a replica with the same secret accepts the nonce another one handed out; another secret does not', () => {
    const a = createDpopNonces(secret, () => t0);
    const b = createDpopNonces(Buffer.from(secret), () => t0 + 30);
    assert.match(a.current(), /^[\w-]{43}$/);
    assert.equal(b.check(a.current()), true);
    assert.equal(createDpopNonces(randomBytes(32), () => t0).check(a.current()), false);
  });

  it('DP-03 a stale nonce is refused: accepted up to two minutes after it was handed out, not three', () => {
    let now = t0;
    const nonces = createDpopNonces(secret, () => now);
    const handedOut = nonces.current();
    now = t0 + 120;
    assert.equal(nonces.check(handedOut), true);
    now = t0 + 180;
    assert.equal(nonces.check(handedOut), false);
    assert.notEqual(nonces.current(), handedOut);
  });

  it('refuses anything else: empty, garbage, a prefix of a valid nonce', () => {
    const nonces = createDpopNonces(secret, () => t0);
    for (const bad of ['', 'x', nonces.current().slice(0, 20), `${nonces.current()}x`]) assert.equal(nonces.check(bad), false, bad);
  });
});
