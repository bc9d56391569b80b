// Server-provided DPoP nonces (RFC 9449 §8): unpredictable, shared by replicas holding the secret, expiring, and the
// same values oidc-provider issues for the same secret (its checks run after ours in its grants).
import { afterEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createDpopNonces } from '../../src/dpop/nonces.js';

interface ServerChallenge {
  nextChallenge(): string;
  checkChallenge(challenge: string): boolean;
}
// oidc-provider's nonces for features.dPoP.nonceSecret (not exported: its file is read directly, test only).
const loadServerChallenge = async () =>
  ((await import('oidc-provider/lib/helpers/challenge.js' as string)) as { default: new (secret: Buffer, info: string) => ServerChallenge }).default;

describe('DPoP nonces', () => {
  const secret = randomBytes(32);
  const t0 = 1_800_000_000;
  afterEach(() => mock.timers.reset());

  it('a replica with the same secret accepts the nonce another one handed out; another secret does not', () => {
    const a = createDpopNonces(secret, () => t0);
    const b = createDpopNonces(Buffer.from(secret), () => t0 + 30);
    assert.match(a.current(), /^[\w-]{43}$/);
    assert.equal(b.check(a.current()), true);
    assert.equal(createDpopNonces(randomBytes(32), () => t0).check(a.current()), false);
  });

  it('DP-03 a stale nonce is refused: accepted up to three minutes after it was handed out, not four', () => {
    let now = t0;
    const nonces = createDpopNonces(secret, () => now);
    const handedOut = nonces.current();
    now = t0 + 180;
    assert.equal(nonces.check(handedOut), true);
    now = t0 + 240;
    assert.equal(nonces.check(handedOut), false);
    assert.notEqual(nonces.current(), handedOut);
  });

  it('refuses anything else: empty, garbage, a prefix of a valid nonce', () => {
    const nonces = createDpopNonces(secret, () => t0);
    for (const bad of ['', 'x', nonces.current().slice(0, 20), `${nonces.current()}x`]) assert.equal(nonces.check(bad), false, bad);
  });

  it("oidc-provider's nonces for the same secret are ours: the same value handed out, each accepting the other's", async () => {
    const ServerChallenge = await loadServerChallenge();
    for (const at of [t0, t0 + 59, t0 + 61, t0 + 3599]) {
      mock.timers.enable({ apis: ['Date'], now: at * 1000 });
      const theirs = new ServerChallenge(secret, 'DPoP');
      const ours = createDpopNonces(secret, () => Math.floor(Date.now() / 1000));
      assert.equal(ours.current(), theirs.nextChallenge(), `at ${at}`);
      // Every nonce either side handed out in the last five minutes (and the next one) gets the same verdict from both.
      const handedOut = [-300, -240, -180, -120, -60, 0, 60].map((d) => createDpopNonces(secret, () => at + d).current());
      for (const nonce of [...handedOut, randomBytes(32).toString('base64url')]) assert.equal(ours.check(nonce), theirs.checkChallenge(nonce), `${nonce} at ${at}`);
      mock.timers.reset();
    }
  });
});
