// The known-document set on Redis (keys.ts `onb:documents`): one capped zset, whatever the number of URLs, whose key
// expires with its latest member, so neither the keys nor the set outlive what they record.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openRedisHarness, type RedisHarness } from './redis_harness.js';

let h: RedisHarness;
before(async () => {
  h = await openRedisHarness();
});
after(() => h?.close());

it('every known URL is a member of one zset (no key per URL); the key expires with the latest member', async () => {
  const urls = Array.from({ length: 50 }, () => `https://docs.example/{x}/${randomUUID()}.json`);
  const started = Date.now();
  for (const [i, url] of urls.entries()) assert.equal(await h.stores.onboarding.rememberDocument(url, 60 + i, 10_000), true);
  assert.deepEqual(await h.redis.keys(`${h.prefix}*`), [`${h.prefix}onb:documents`]);
  assert.equal(await h.redis.zcard(`${h.prefix}onb:documents`), 50);
  const expireAt = await h.redis.pexpiretime(`${h.prefix}onb:documents`);
  assert.ok(expireAt >= started + 109_000 && expireAt <= Date.now() + 109_000, `${expireAt - started} ms`);
  // A member renewed for less does not shorten the key's life.
  await h.stores.onboarding.rememberDocument(urls[0]!, 10, 10_000);
  assert.equal(await h.redis.pexpiretime(`${h.prefix}onb:documents`), expireAt);
});
