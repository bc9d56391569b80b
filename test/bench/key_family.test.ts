// bench/redis_memory.ts groups keys into families for scenario 5's bytes per session and per revocation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyFamily } from '../../bench/redis_memory.js';

describe('bench keyFamily', () => {
  const prefix = 'bench:1234:';
  it('keeps two segments of a per-item key and whole one- or two-segment names', () => {
    assert.equal(keyFamily(prefix, `${prefix}oidc:Session:abc`), 'oidc:Session');
    assert.equal(keyFamily(prefix, `${prefix}sess:by-sub:user-bob`), 'sess:by-sub');
    assert.equal(keyFamily(prefix, `${prefix}rev:index`), 'rev:index');
    assert.equal(keyFamily(prefix, `${prefix}audit`), 'audit');
  });
  it('puts every DPoP replay key in one family', () => {
    assert.equal(keyFamily(prefix, `${prefix}dpop:qWZ_6oXd72-pSW0_pEVBX8yZibgnM2n73ZYMcXqZ6lE`), 'dpop');
    assert.equal(keyFamily(prefix, `${prefix}dpop:{qWZ_6oXd72}`), 'dpop');
  });
});
