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
    // `consumedBy`: the stamp of the consume call (16 random bytes, base64url) that a resend of it is matched against.
    assert.match(stored.consumedBy ?? '', /^[\w-]{22}$/);
    assert.deepEqual(stored, { payload: JSON.stringify(payload), consumed: String(consumed), consumedBy: stored.consumedBy });
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
    await assert.rejects(h.stores.adapterFor('AuthorizationCode').consume(missing), { code: 'ERR_ALREADY_CONSUMED' });
    assert.equal(await h.redis.exists(`${h.prefix}oidc:AuthorizationCode:${missing}`), 0);
  });

  it('a refused consume reads the grant from the payload in the script; a payload that does not decode is refused all the same', async () => {
    const [good, bad, grantId] = [randomUUID(), randomUUID(), randomUUID()];
    const codes = h.stores.adapterFor('AuthorizationCode');
    await codes.upsert(good, { jti: good, kind: 'AuthorizationCode', grantId, consumed: 1 }, 60);
    await assert.rejects(codes.consume(good), { code: 'ERR_ALREADY_CONSUMED', grantId });
    await h.redis.hset(`${h.prefix}oidc:AuthorizationCode:${bad}`, 'payload', '{not json', 'consumed', '1');
    await assert.rejects(codes.consume(bad), { code: 'ERR_ALREADY_CONSUMED', grantId: undefined });
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

  it('writes revocation markers as JSON expiring at expiresAt, and a stream event per change (the widened one too)', async () => {
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
    // The widened record is re-encoded by Lua (cjson: member order not kept), so the events are compared parsed.
    assert.deepEqual(mine.map(([, fields]) => [fields[0], JSON.parse(fields[1]!)]), [['record', record], ['record', { ...record, expiresAt: now + 600 }]]);
    // A repeat that changes nothing publishes nothing.
    await stores.exchange.revoke({ ...record, expiresAt: now + 600 });
    assert.equal((await redis.xrange(`${prefix}rev:events`, '-', '+')).filter(([, fields]) => fields[1]?.includes(record.value)).length, 2);
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
    assert.deepEqual(await redis.hgetall(keys[0] as string), {
      sid,
      sub,
      issuer: 'self',
      firstAt: String(now - 9),
      lastAt: String(now - 5),
      tokensIssued: '2',
      expiresAt: String(now + 1100),
    });
    const indexes = [`sess:recent`, `sess:by-sub:${sub}`, `sess:by-client:agent-a`, `sess:by-client:agent-b`].map((index) => `${prefix}${index}`);
    for (const index of indexes) {
      assert.equal(await redis.zscore(index, sid), String(now - 5), index);
      assert.ok((await redis.expiretime(index)) >= now + 1100, index);
    }

    // A later expiry moves every key (and the indexes the hop is in) forward; sub and issuer stay those of the first token.
    await stores.sessions.recordIssued({ sid, sub: 'someone-else', issuer: 'other' }, { ...hop, clientId: 'agent-c', priorActors: [], at: now - 7, jti: 'j3', exp: now + 200 }, 1000);
    for (const key of keys) assert.equal(await redis.expiretime(key), now + 1200, key);
    assert.deepEqual(await redis.hmget(keys[0] as string, 'sub', 'issuer', 'lastAt', 'tokensIssued', 'expiresAt'), [sub, 'self', String(now - 5), '3', String(now + 1200)]);
    for (const index of [`${prefix}sess:recent`, `${prefix}sess:by-sub:${sub}`, `${prefix}sess:by-client:agent-c`]) {
      assert.equal(await redis.zscore(index, sid), String(now - 5), index);
      assert.ok((await redis.expiretime(index)) >= now + 1200, index);
    }
    assert.equal(await redis.exists(`${prefix}sess:by-sub:someone-else`), 0);
  });

  it('keeps the live-jti set (and its expiry) when a hop arrives already expired, and keeps the hops bounded', async () => {
    const { redis } = h;
    const limited = await openRedisHarness({ limits: { maxHopsPerSession: 2 } });
    try {
      const now = Math.floor(Date.now() / 1000);
      const sid = randomUUID();
      const hop = { at: now, clientId: 'agent', priorActors: [], toolServer: 'https://t.example', scopes: [], jti: 'live', exp: now + 100 };
      const session = { sid, sub: 'alice', issuer: 'self' };
      await limited.stores.sessions.recordIssuedMany([
        { session, hop, retentionSeconds: 1000 },
        { session, hop: { ...hop, jti: 'dead-1', exp: now - 10 }, retentionSeconds: 1000 },
        { session, hop: { ...hop, jti: 'dead-2', exp: now - 20 }, retentionSeconds: 1000 },
      ]);
      const jtis = `${limited.prefix}sess:jtis:${sid}`;
      assert.equal(await redis.expiretime(jtis), now + 1100);
      assert.deepEqual((await limited.stores.sessions.get(sid))?.liveJtis, [{ jti: 'live', exp: now + 100 }]);
      assert.equal(await redis.llen(`${limited.prefix}sess:hops:${sid}`), 2);
    } finally {
      await limited.close();
    }
  });

  it('takes the stored expiry of a record written before it kept expiresAt', async () => {
    const { redis, prefix, stores } = h;
    const now = Math.floor(Date.now() / 1000);
    const [sid, sub] = [randomUUID(), randomUUID()];
    const keys = ['rec', 'clients', 'tools', 'jtis', 'hops'].map((k) => `${prefix}sess:${k}:${sid}`);
    // As the earlier script left it: no expiresAt field, every key expiring at now + 5000.
    await redis
      .multi()
      .hset(keys[0] as string, { sid, sub, issuer: 'self', firstAt: now - 50, lastAt: now - 50, tokensIssued: 1 })
      .sadd(keys[1] as string, 'agent')
      .sadd(keys[2] as string, 'https://t.example')
      .zadd(keys[3] as string, now + 4000, 'j0')
      .rpush(keys[4] as string, '{}')
      .exec();
    for (const key of keys) await redis.expireat(key, now + 5000);
    const hop = { at: now, clientId: 'agent', priorActors: [], toolServer: 'https://t.example', scopes: [], jti: 'j1', exp: now + 100 };
    await stores.sessions.recordIssued({ sid, sub, issuer: 'self' }, hop, 1000);
    for (const key of keys) assert.equal(await redis.expiretime(key), now + 5000, key);
    assert.equal(await redis.hget(keys[0] as string, 'expiresAt'), String(now + 5000));
    await stores.sessions.recordIssued({ sid, sub, issuer: 'self' }, { ...hop, jti: 'j2', exp: now + 4500 }, 1000);
    for (const key of keys) assert.equal(await redis.expiretime(key), now + 5500, key);
    assert.equal((await stores.sessions.get(sid))?.tokensIssued, 3);
  });

  it('drops expired index members when an index gains a member, and on every 64th token of a session', async () => {
    const { redis, prefix, stores } = h;
    const now = Math.floor(Date.now() / 1000);
    const [sid, sub, client] = [randomUUID(), `user-${randomUUID()}`, `agent-${randomUUID()}`];
    const bySub = `${prefix}sess:by-sub:${sub}`;
    const byClient = `${prefix}sess:by-client:${client}`;
    const hop = { at: now, clientId: client, priorActors: [], toolServer: 'https://t.example', scopes: [], jti: 'j', exp: now + 100 };
    await stores.sessions.recordIssued({ sid, sub, issuer: 'self' }, hop, 1000);
    // Members of sessions that are gone (no record), old enough to be candidates.
    await redis.zadd(bySub, now - 5000, 'gone-1', now - 4000, 'gone-2');
    await redis.zadd(byClient, now - 5000, 'gone-1');
    // Tokens 2..64 of the session neither add members nor clean.
    const more = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => ({ session: { sid, sub, issuer: 'self' }, hop: { ...hop, jti: `j${from + i}` }, retentionSeconds: 1000 }));
    await stores.sessions.recordIssuedMany(more(2, 64));
    assert.deepEqual(await redis.zrange(bySub, '0', '-1'), ['gone-1', 'gone-2', sid]);
    // Token 65 cleans the indexes this hop is in.
    await stores.sessions.recordIssuedMany(more(65, 65));
    assert.deepEqual(await redis.zrange(bySub, '0', '-1'), [sid]);
    assert.deepEqual(await redis.zrange(byClient, '0', '-1'), [sid]);
    assert.equal((await stores.sessions.get(sid))?.tokensIssued, 65);

    // A client new to the session cleans its index at once; so does a new session for its subject's index.
    const other = `agent-${randomUUID()}`;
    await redis.zadd(`${prefix}sess:by-client:${other}`, now - 5000, 'gone-3');
    await stores.sessions.recordIssued({ sid, sub, issuer: 'self' }, { ...hop, jti: 'k1', clientId: other, priorActors: [client] }, 1000);
    assert.deepEqual(await redis.zrange(`${prefix}sess:by-client:${other}`, '0', '-1'), [sid]);
    await redis.zadd(bySub, now - 5000, 'gone-4');
    const second = randomUUID();
    await stores.sessions.recordIssued({ sid: second, sub, issuer: 'self' }, { ...hop, jti: 'k2' }, 1000);
    assert.deepEqual(await redis.zrange(bySub, '0', '-1'), [second, sid].sort());
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
