// The feed's heartbeat interval is bounded so that a quiet feed never looks stale to a verify SDK with its defaults.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { vouchWindowMs } from '../../src/sessions/status_routes.js';

/** The verify SDK's default `maxStalenessSeconds` (docs/revocation-feed.md). */
const SDK_DEFAULT_STALENESS_MS = 30_000;

describe('revocation.feedHeartbeatSeconds', () => {
  it('is at most 10: 11 (or the former 60) is a configuration error naming the key', () => {
    assert.equal(parseConfig({ revocation: { feedHeartbeatSeconds: 10 } }).revocation.feedHeartbeatSeconds, 10);
    for (const seconds of [11, 60]) {
      assert.throws(
        () => parseConfig({ revocation: { feedHeartbeatSeconds: seconds } }),
        (err: unknown) => err instanceof ConfigError && err.message.includes('revocation.feedHeartbeatSeconds'),
      );
    }
  });

  it('at any allowed value, a heartbeat interval plus the window it vouches for stays well under the SDK default', () => {
    for (let seconds = 1; seconds <= 10; seconds++) {
      const oldest = seconds * 1000 + vouchWindowMs(seconds);
      assert.ok(oldest <= SDK_DEFAULT_STALENESS_MS - 10_000, `${seconds} s: knowledge up to ${oldest} ms old`);
    }
  });
});
