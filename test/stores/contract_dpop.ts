// Contract: the DPoP proof replay store (RFC 9449 §11.1): one claim per key while it lives, atomic, expiring.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { StoreHarness } from './contract.js';

export function dpopReplayContract(harness: () => StoreHarness): void {
  const replay = () => harness().stores.dpopReplay;

  describe('dpop replay', () => {
    it('the first claim of a key wins, a repeat is refused, another key is independent', async () => {
      const key = randomUUID();
      assert.equal(await replay().claim(key, 60), true);
      assert.equal(await replay().claim(key, 60), false);
      assert.equal(await replay().claim(randomUUID(), 60), true);
    });

    it('is atomic: of 20 concurrent claims of one key exactly one succeeds', async () => {
      const key = randomUUID();
      const results = await Promise.all(Array.from({ length: 20 }, () => replay().claim(key, 60)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('a key expires after its ttl and can be claimed again', async () => {
      const key = randomUUID();
      assert.equal(await replay().claim(key, 1), true);
      assert.equal(await replay().claim(key, 1), false);
      await sleep(1100);
      assert.equal(await replay().claim(key, 1), true);
    });
  });
}
