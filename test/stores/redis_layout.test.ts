// Redis only: the key layout and TTLs other tools (and the verify SDK's revocation reader) rely on.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openRedisHarness, type RedisHarness } from './redis_harness.js';

describe('redis key layout', () => {
  let h: RedisHarness;
  before(async () => {
    h = await openRedisHarness();
  });
  after(() => h.close());

  const within = (actual: number, expected: number, slackMs = 2000) =>
    assert.ok(actual <= expected && actual > expected - slackMs, `pttl ${actual} not just under ${expected}`);

  it('writes records, grant sets and indexes under the prefix, all expiring', async () => {
    const { redis, prefix, stores } = h;
    const id = () => randomUUID();
    const [grantId, short, long, sessionId, uid, deviceCode, userCode] = [id(), id(), id(), id(), id(), id(), id()];
    const payload = { jti: long, kind: 'RefreshToken', grantId };
    await stores.adapterFor('RefreshToken').upsert(long, payload, 120);
    await stores.adapterFor('AccessToken').upsert(short, { jti: short, kind: 'AccessToken', grantId }, 30);
    await stores.adapterFor('Session').upsert(sessionId, { jti: sessionId, uid, kind: 'Session' }, 90);
    await stores.adapterFor('DeviceCode').upsert(deviceCode, { jti: deviceCode, userCode, kind: 'DeviceCode' }, 45);
    await stores.adapterFor('RefreshToken').consume(long);

    const recordKey = `${prefix}oidc:RefreshToken:${long}`;
    const stored = await redis.hgetall(recordKey);
    const consumed = Number(stored.consumed);
    assert.ok(Math.abs(consumed - Date.now() / 1000) < 5, `consumed=${stored.consumed}`);
    assert.deepEqual(stored, { payload: JSON.stringify(payload), consumed: String(consumed) });
    within(await redis.pttl(recordKey), 120_000);
    within(await redis.pttl(`${prefix}oidc:AccessToken:${short}`), 30_000);

    const grantKey = `${prefix}oidc:grant:${grantId}`;
    assert.deepEqual((await redis.smembers(grantKey)).sort(), [`${prefix}oidc:AccessToken:${short}`, recordKey].sort());
    within(await redis.pttl(grantKey), 120_000);

    assert.equal(await redis.get(`${prefix}oidc:uid:${uid}`), sessionId);
    within(await redis.pttl(`${prefix}oidc:uid:${uid}`), 90_000);
    assert.equal(await redis.get(`${prefix}oidc:userCode:${userCode}`), deviceCode);
    within(await redis.pttl(`${prefix}oidc:userCode:${userCode}`), 45_000);
  });

  it('consume of a missing record leaves no key behind', async () => {
    const missing = randomUUID();
    await h.stores.adapterFor('AuthorizationCode').consume(missing);
    assert.equal(await h.redis.exists(`${h.prefix}oidc:AuthorizationCode:${missing}`), 0);
  });

  it('leaves a record without expiresIn (and its grant set) persistent', async () => {
    const { redis, prefix, stores } = h;
    const [clientId, grantId, token] = [randomUUID(), randomUUID(), randomUUID()];
    await stores.adapterFor('Client').upsert(clientId, { client_id: clientId }, undefined as unknown as number);
    assert.equal(await redis.pttl(`${prefix}oidc:Client:${clientId}`), -1);
    await stores.adapterFor('AccessToken').upsert(token, { jti: token, grantId }, 60);
    await stores.adapterFor('AccessToken').upsert(token, { jti: token, grantId }, undefined as unknown as number);
    assert.equal(await redis.pttl(`${prefix}oidc:grant:${grantId}`), -1);
  });

  it('writes revocation markers as JSON expiring at expiresAt, and one stream event', async () => {
    const { redis, prefix, stores } = h;
    const now = Math.floor(Date.now() / 1000);
    const record = { kind: 'client', value: randomUUID(), revokedAt: now, expiresAt: now + 300, by: 'ops' } as const;
    await stores.exchange.revoke(record);
    await stores.exchange.revoke({ ...record, expiresAt: now + 600 });
    const key = `${prefix}rev:client:${record.value}`;
    assert.deepEqual(JSON.parse((await redis.get(key)) ?? 'null'), { ...record, expiresAt: now + 600 });
    assert.equal(await redis.expiretime(key), now + 600);
    const events = await redis.xrange(`${prefix}rev:events`, '-', '+');
    const mine = events.filter(([, fields]) => fields[1]?.includes(record.value));
    assert.equal(mine.length, 1);
    assert.deepEqual(mine[0]?.[1], ['record', JSON.stringify(record)]);
  });

  it('keeps session keys until retention after the latest token expiry, indexed by lastAt', async () => {
    const { redis, prefix, stores } = h;
    const now = Math.floor(Date.now() / 1000);
    const [sid, sub] = [randomUUID(), randomUUID()];
    const hop = { at: now - 5, clientId: 'agent-b', priorActors: ['agent-a'], toolServer: 'https://t.example', scopes: [], jti: 'j1', exp: now + 100 };
    await stores.sessions.recordIssued({ sid, sub, issuer: 'self' }, hop, 1000);
    await stores.sessions.recordIssued({ sid, sub, issuer: 'self' }, { ...hop, at: now - 9, jti: 'j2', exp: now + 50 }, 1000);
    const keys = ['rec', 'clients', 'tools', 'jtis', 'hops'].map((k) => `${prefix}sess:${k}:${sid}`);
    for (const key of keys) assert.equal(await redis.expiretime(key), now + 1100, key);
    assert.deepEqual(await redis.hgetall(keys[0] as string), { sid, sub, issuer: 'self', firstAt: String(now - 9), lastAt: String(now - 5), tokensIssued: '2' });
    for (const index of [`sess:recent`, `sess:by-sub:${sub}`, `sess:by-client:agent-a`, `sess:by-client:agent-b`]) {
      assert.equal(await redis.zscore(`${prefix}${index}`, sid), String(now - 5), index);
    }
  });

  it('indexes revocation markers by expiresAt for the snapshot, and prunes expired ones on the next revoke', async () => {
    const { redis, prefix, stores } = h;
    const now = Math.floor(Date.now() / 1000);
    const gone = { kind: 'jti', value: randomUUID(), revokedAt: now - 100, expiresAt: now - 50 } as const;
    const live = { kind: 'jti', value: randomUUID(), revokedAt: now, expiresAt: now + 300 } as const;
    await stores.exchange.revoke(gone);
    assert.equal(await redis.zscore(`${prefix}rev:index`, `jti:${gone.value}`), String(now - 50));
    await stores.exchange.revoke(live);
    assert.equal(await redis.zscore(`${prefix}rev:index`, `jti:${gone.value}`), null);
    assert.equal(await redis.zscore(`${prefix}rev:index`, `jti:${live.value}`), String(now + 300));
  });

  it('drops index members whose session has expired when the index is written again', async () => {
    const { redis, prefix, stores } = h;
    const now = Math.floor(Date.now() / 1000);
    const [live, dead, client] = [randomUUID(), randomUUID(), `agent-${randomUUID()}`];
    const hop = { clientId: client, priorActors: [], toolServer: 'https://t.example', scopes: [], jti: randomUUID() };
    await stores.sessions.recordIssued({ sid: live, sub: 'alice', issuer: 'self' }, { ...hop, at: now, exp: now + 100 }, 1000);
    // Expired on arrival: its own keys go at once, and the same write prunes it from the indexes it was just added to.
    await stores.sessions.recordIssued({ sid: dead, sub: 'alice', issuer: 'self' }, { ...hop, at: now - 5000, exp: now - 4000 }, 1);
    assert.equal(await redis.exists(`${prefix}sess:rec:${dead}`), 0);
    assert.deepEqual(await redis.zrange(`${prefix}sess:by-client:${client}`, '0', '-1'), [live]);
    assert.deepEqual(await stores.sessions.sidsOf('alice'), [live]);
  });
});
