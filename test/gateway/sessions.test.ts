// Session bindings (src/gateway/sessions.ts) on real Redis: the owner of an Mcp-Session-Id, and this replica's memory
// in front of Redis (read again at most every refreshSeconds per binding).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { cachedSessionBindings, redisSessionBindings } from '../../src/gateway/sessions.js';
import { REDIS_URL } from '../helpers/service.js';

const ROUTE = 'http://gw.test/crm/mcp';
const alice = { sub: 'alice', sid: 's-1', clientId: 'agent' };

describe('gateway session bindings on Redis, with the replica cache', () => {
  let redis: Redis;
  const prefix = `test:${randomUUID()}:`;
  let getex = 0;
  before(async () => {
    redis = new Redis(REDIS_URL);
    const original = redis.getex.bind(redis);
    redis.getex = ((...args: Parameters<typeof original>) => {
      getex++;
      return original(...args);
    }) as typeof redis.getex;
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('answers a bound owner from memory within the refresh window, then reads Redis again (sliding its TTL)', async () => {
    let clock = 1_000_000;
    const shared = redisSessionBindings(redis, prefix, 120);
    const a = cachedSessionBindings(shared, 30, () => clock);
    const session = randomUUID();
    await a.bind(ROUTE, session, alice);
    const before = getex;
    assert.deepEqual(await a.owner(ROUTE, session), alice);
    assert.deepEqual(await a.owner(ROUTE, session), alice);
    assert.equal(getex, before, 'no Redis read inside the window');
    await redis.expire((await redis.keys(`${prefix}gw:session:*`))[0]!, 50);
    clock += 30_000;
    assert.deepEqual(await a.owner(ROUTE, session), alice);
    assert.equal(getex, before + 1);
    const ttl = await redis.ttl((await redis.keys(`${prefix}gw:session:*`))[0]!);
    assert.ok(ttl > 100 && ttl <= 120, `TTL slid back to 120 s: ${ttl}`);
  });

  it('another replica reads Redis for a binding it has not seen; an unknown id is never remembered', async () => {
    let clock = 2_000_000;
    const shared = redisSessionBindings(redis, prefix, 120);
    const a = cachedSessionBindings(shared, 30, () => clock);
    const b = cachedSessionBindings(shared, 30, () => clock);
    const session = randomUUID();
    const before = getex;
    assert.equal(await b.owner(ROUTE, session), undefined);
    await a.bind(ROUTE, session, alice);
    assert.deepEqual(await b.owner(ROUTE, session), alice, 'b did not remember the miss');
    assert.equal(getex, before + 2);
    clock += 1;
    assert.deepEqual(await b.owner(ROUTE, session), alice);
    assert.equal(getex, before + 2);
  });

  it('an unbind here forgets at once; one on another replica is seen here after the window', async () => {
    let clock = 3_000_000;
    const shared = redisSessionBindings(redis, prefix, 120);
    const a = cachedSessionBindings(shared, 30, () => clock);
    const b = cachedSessionBindings(shared, 30, () => clock);
    const session = randomUUID();
    await a.bind(ROUTE, session, alice);
    assert.deepEqual(await b.owner(ROUTE, session), alice);
    await a.unbind(ROUTE, session);
    assert.equal(await a.owner(ROUTE, session), undefined);
    assert.deepEqual(await b.owner(ROUTE, session), alice, 'inside the window b still knows the (immutable) owner');
    clock += 30_000;
    assert.equal(await b.owner(ROUTE, session), undefined);
  });
});
