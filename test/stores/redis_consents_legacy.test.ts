// Redis only: consent records written before grant ids were kept until they expire (`grantIds`, the newest 20) are read
// and merged without losing a grant id, and a full one is read as overflowed (it may have dropped a live grant).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { LEGACY_CONSENT_GRANTS } from '../../src/stores/types.js';
import { openRedisHarness, type RedisHarness } from './redis_harness.js';

describe('redis consents: records of the earlier layout', () => {
  let h: RedisHarness;
  before(async () => {
    h = await openRedisHarness();
  });
  after(() => h.close());

  const key = () => `${h.prefix}onb:consents`;
  async function writeLegacy(accountId: string, grantIds: string[]): Promise<void> {
    const record = { accountId, clientId: 'c', resource: 'r', scopes: ['a'], grantIds, createdAt: 10, updatedAt: 20 };
    await h.redis.hset(key(), JSON.stringify([accountId, 'c', 'r']), JSON.stringify(record));
  }

  it('a full legacy record is overflowed; a shorter one is not; both keep their ids, merged into the new layout on the next consent', async () => {
    const [full, short] = [randomUUID(), randomUUID()];
    const fullIds = Array.from({ length: LEGACY_CONSENT_GRANTS }, (_, i) => `old-${i}`);
    await writeLegacy(full, fullIds);
    await writeLegacy(short, ['old-a', 'old-b']);
    assert.deepEqual(await h.stores.consents.find(full, 'c', 'r'), { accountId: full, clientId: 'c', resource: 'r', scopes: ['a'], grantIds: fullIds, grantsOverflowed: true, createdAt: 10, updatedAt: 20 });
    assert.equal((await h.stores.consents.find(short, 'c', 'r'))?.grantsOverflowed, false);

    // Legacy ids have no known expiry: kept until the consent is removed, however late the next write.
    const merged = await h.stores.consents.remember({ accountId: full, clientId: 'c', resource: 'r', scopes: ['b'], grantId: 'old-3', at: 10_000, keepUntil: 10_100 });
    assert.deepEqual([merged.grantIds, merged.grantsOverflowed, merged.scopes], [[...fullIds.filter((g) => g !== 'old-3'), 'old-3'], true, ['a', 'b']]);
    const again = await h.stores.consents.remember({ accountId: short, clientId: 'c', resource: 'r', scopes: [], grantId: 'new', at: 10_000, keepUntil: 10_100 });
    assert.deepEqual([again.grantIds, again.grantsOverflowed], [['old-a', 'old-b', 'new'], false]);
    const stored = JSON.parse((await h.redis.hget(key(), JSON.stringify([short, 'c', 'r'])))!) as Record<string, unknown>;
    assert.deepEqual([stored.grants, stored.grantIds], [[['old-a', -1], ['old-b', -1], ['new', 10_100]], undefined]);
    // The new grant expires; the legacy ones stay.
    const later = await h.stores.consents.remember({ accountId: short, clientId: 'c', resource: 'r', scopes: [], grantId: 'newer', at: 20_000, keepUntil: 20_100 });
    assert.deepEqual(later.grantIds, ['old-a', 'old-b', 'newer']);
  });
});
