// Redis only: the exchange reads cost one round trip each, counted server-side with MONITOR on a private redis-server,
// so no other client's traffic (a benchmark, another suite) reaches the monitor connection.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { ChildProcess } from 'node:child_process';
import { openRedisHarness, type RedisHarness } from './redis_harness.js';
import { startRedis } from '../helpers/private_redis.js';
import { freePort } from '../helpers/service.js';
import { tokenDigest } from '../../src/sessions/revocation.js';

interface Seen {
  command: string;
  args: string[];
  source: string;
}

describe('redis exchange store round trips', () => {
  let h: RedisHarness;
  let monitor: Redis;
  const seen: Seen[] = [];
  /** The store connection's address as the server (and so MONITOR) reports it. */
  let storeAddr: string;

  let server: ChildProcess;

  before(async () => {
    const port = await freePort();
    server = await startRedis(port);
    h = await openRedisHarness({}, `redis://127.0.0.1:${port}`);
    const info = String(await h.redis.client('INFO'));
    storeAddr = /(?:^| )addr=(\S+)/.exec(info)?.[1] ?? '';
    assert.ok(storeAddr, info);
    monitor = await h.redis.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      seen.push({ command: String(args[0]).toLowerCase(), args: args.slice(1), source });
    });
  });

  after(async () => {
    monitor.disconnect();
    try {
      await h.close();
    } finally {
      server.kill('SIGKILL');
    }
  });

  /** Echoes a unique mark on the store connection and waits for MONITOR to show it; returns its index in `seen`. */
  async function mark(): Promise<number> {
    const text = `mark-${randomUUID()}`;
    await h.redis.echo(text);
    const deadline = Date.now() + 2000;
    let index: number;
    while ((index = seen.findIndex((s) => s.command === 'echo' && s.args[0] === text)) === -1) {
      assert.ok(Date.now() < deadline, 'MONITOR never showed the mark');
      await sleep(5);
    }
    return index;
  }

  /**
   * The store connection's commands while `call` ran. MONITOR lines arrive on another socket, so both ends of the
   * window are marks on the store connection itself rather than "now".
   */
  async function commandsOf(call: () => Promise<unknown>, withLua = false): Promise<Seen[]> {
    const start = await mark();
    await call();
    const end = await mark();
    // `lua`: the commands a script ran (MONITOR shows them after the script's own line).
    return seen.slice(start + 1, end).filter((s) => s.source === storeAddr || (withLua && s.source === 'lua'));
  }

  it('readOpaqueSubject is exactly one EVALSHA, whatever it follows', async () => {
    const { stores } = h;
    const [tokenId, sessionId, sessionUid] = [randomUUID(), randomUUID(), randomUUID()];
    const session = { jti: sessionId, uid: sessionUid, kind: 'Session', accountId: 'alice' };
    const token = { jti: tokenId, kind: 'AccessToken', accountId: 'alice', clientId: 'agent', sessionUid };
    await stores.adapterFor('Session').upsert(sessionId, session, 60);
    await stores.adapterFor('AccessToken').upsert(tokenId, token, 60);
    const now = Math.floor(Date.now() / 1000);
    const { record: sid } = await stores.exchange.revoke({ kind: 'sid', value: sessionUid, revokedAt: now, expiresAt: now + 60 });
    const { record: extra } = await stores.exchange.revoke({ kind: 'client', value: 'other', revokedAt: now, expiresAt: now + 60 });
    // ioredis sends the script body (EVAL) the first time on a connection; measure the steady state.
    await stores.exchange.readOpaqueSubject(tokenId, ['other']);

    let state: unknown;
    const commands = await commandsOf(async () => {
      state = await stores.exchange.readOpaqueSubject(tokenId, ['other', 'third']);
    });
    assert.deepEqual(commands.map((c) => c.command), ['evalsha']);
    assert.deepEqual(state, { token, session, revocations: { sid, clients: [extra] } });
  });

  it('readOpaqueToken (the revocation view\'s read) is exactly one EVALSHA: token, session and stream head, no marker; a DPoP replay claim rides in it', async () => {
    const { stores } = h;
    const [tokenId, sessionId, sessionUid] = [randomUUID(), randomUUID(), randomUUID()];
    const session = { jti: sessionId, uid: sessionUid, kind: 'Session', accountId: 'alice' };
    const token = { jti: tokenId, kind: 'AccessToken', accountId: 'alice', clientId: 'agent', sessionUid };
    await stores.adapterFor('Session').upsert(sessionId, session, 60);
    await stores.adapterFor('AccessToken').upsert(tokenId, token, 60);
    const now = Math.floor(Date.now() / 1000);
    await stores.exchange.revoke({ kind: 'sid', value: sessionUid, revokedAt: now, expiresAt: now + 60 });
    await stores.exchange.readOpaqueToken(tokenId, tokenDigest(tokenId)); // EVAL once per connection; measure the steady state
    let state: unknown;
    const commands = await commandsOf(async () => {
      state = await stores.exchange.readOpaqueToken(tokenId, tokenDigest(tokenId));
    });
    assert.deepEqual(commands.map((c) => c.command), ['evalsha']);
    assert.deepEqual(state, { token, session, revocationHead: await stores.revocations.head() });
    // With a DPoP proof's replay claim: still exactly one EVALSHA (once its script is loaded on the connection).
    await stores.exchange.readOpaqueToken(tokenId, tokenDigest(tokenId), { key: randomUUID(), ttlSeconds: 60 });
    const claiming = await commandsOf(async () => {
      state = await stores.exchange.readOpaqueToken(tokenId, tokenDigest(tokenId), { key: randomUUID(), ttlSeconds: 60 });
    });
    assert.deepEqual(claiming.map((c) => c.command), ['evalsha']);
    assert.deepEqual(state, { token, session, revocationHead: await stores.revocations.head(), replayClaimed: true });
  });

  it('the read script follows an access token\'s sessionUid field, and decodes a record stored without one (written before the field)', async () => {
    const { stores, redis, prefix } = h;
    const [tokenId, sessionId, sessionUid] = [randomUUID(), randomUUID(), randomUUID()];
    const session = { jti: sessionId, uid: sessionUid, kind: 'Session', accountId: 'alice' };
    const token = { jti: tokenId, kind: 'AccessToken', accountId: 'alice', clientId: 'agent', sessionUid };
    await stores.adapterFor('Session').upsert(sessionId, session, 60);
    await stores.adapterFor('AccessToken').upsert(tokenId, token, 60);
    const key = `${prefix}oidc:AccessToken:${tokenId}`;
    assert.deepEqual(await redis.hgetall(key), { payload: JSON.stringify(token), sessionUid });
    const head = await stores.revocations.head();
    assert.deepEqual(await stores.exchange.readOpaqueToken(tokenId, tokenDigest(tokenId)), { token, session, revocationHead: head });
    // The field, not the JSON, is what the script follows: a field naming no session finds none.
    await redis.hset(key, 'sessionUid', randomUUID());
    assert.equal((await stores.exchange.readOpaqueToken(tokenId, tokenDigest(tokenId))).session, undefined);
    await redis.hdel(key, 'sessionUid');
    assert.deepEqual(await stores.exchange.readOpaqueToken(tokenId, tokenDigest(tokenId)), { token, session, revocationHead: head });
    // Other models, and an access token without a session, store the record alone.
    await stores.adapterFor('AccessToken').upsert(tokenId, { ...token, sessionUid: undefined }, 60);
    assert.deepEqual(Object.keys(await redis.hgetall(key)), ['payload']);
  });

  it('readRevocations is exactly one MGET, ancestors (token_digest markers) and the presenting client included', async () => {
    const commands = await commandsOf(() =>
      h.stores.exchange.readRevocations({ sid: 's', sub: 'u', jti: 'j', clientIds: ['a', 'b', 'presenter'], ancestors: ['d1', 'd2', 'd3'] }),
    );
    assert.deepEqual(commands.map((c) => c.command), ['mget']);
    assert.equal(commands[0]?.args.length, 9);
    assert.ok(commands[0]?.args.some((k) => k.endsWith('rev:token_digest:d3')));
  });

  /** How many times the store connection wrote to its socket while `call` ran (a pipeline is one write). */
  async function socketWritesOf(call: () => Promise<unknown>): Promise<number> {
    const stream = (h.redis as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
    const write = stream.write;
    let writes = 0;
    stream.write = function (this: unknown, ...args: unknown[]) {
      writes++;
      return write.apply(this, args);
    };
    try {
      await call();
    } finally {
      stream.write = write;
    }
    return writes;
  }

  it('a session-record batch and the feed snapshot are exactly one EVALSHA each; an audit batch is one MULTI', async () => {
    const { stores } = h;
    const now = Math.floor(Date.now() / 1000);
    const hop = { at: now, clientId: 'agent', priorActors: ['first'], toolServer: 'https://tools.example', scopes: ['a'], jti: randomUUID(), exp: now + 60 };
    const session = { sid: randomUUID(), sub: 'alice', issuer: 'self' };
    // Warm both scripts on this connection (the first use sends EVAL with the body).
    await stores.sessions.recordIssued(session, hop, 600);
    await stores.revocations.snapshot();

    const record = await commandsOf(() => stores.sessions.recordIssued(session, { ...hop, jti: randomUUID() }, 600));
    assert.deepEqual(record.map((c) => c.command), ['evalsha']);
    const entries = [session, { ...session, sid: randomUUID() }, session].map((s, i) => ({ session: s, hop: { ...hop, at: now + i, jti: randomUUID() }, retentionSeconds: 600 }));
    const batch = await commandsOf(() => stores.sessions.recordIssuedMany(entries));
    assert.deepEqual(batch.map((c) => c.command), ['evalsha']);
    assert.equal((await stores.sessions.get(session.sid))?.tokensIssued, 4);
    assert.equal(await socketWritesOf(() => stores.sessions.recordIssuedMany(entries.map((e) => ({ ...e, hop: { ...e.hop, jti: randomUUID() } })))), 1);
    const snapshot = await commandsOf(() => stores.revocations.snapshot());
    assert.deepEqual(snapshot.map((c) => c.command), ['evalsha']);
    // A batch longer than one script call: several EVALSHAs, written to the socket together (one round trip).
    const long = Array.from({ length: 250 }, (_, i) => ({ session: { ...session, sid: `long-${i % 7}` }, hop: { ...hop, jti: randomUUID() }, retentionSeconds: 600 }));
    let writes = 0;
    const pipelined = await commandsOf(async () => {
      writes = await socketWritesOf(() => stores.sessions.recordIssuedMany(long));
    });
    assert.deepEqual(pipelined.map((c) => c.command), ['evalsha', 'evalsha', 'evalsha']);
    assert.equal(writes, 1);
    assert.equal((await stores.sessions.get('long-0'))?.tokensIssued, 36);
    const event = { time: Date.now(), type: 'exchange', decision: 'allow' } as const;
    // A batch of audit events is one script call; inside it each XADD trims by length (MAXLEN ~), and the age trim
    // (exact MINID) runs at most once a second per process. The first call loads the script and trims by age.
    await stores.audit.append([event]);
    const audit = await commandsOf(() => stores.audit.append([event, event]), true);
    assert.deepEqual(audit.map((c) => `${c.source === 'lua' ? 'lua ' : ''}${c.command}`), ['evalsha', 'lua xadd', 'lua xadd']);
    assert.deepEqual(audit[0]?.args.slice(1, 5), ['1', `${h.prefix}audit`, '100000', '']);
    assert.equal(audit[0]?.args.length, 7);
    assert.deepEqual(audit[1]?.args.slice(1, 4), ['MAXLEN', '~', '100000']);
    await sleep(1050);
    const aged = await commandsOf(() => stores.audit.append([event]), true);
    assert.deepEqual(aged.map((c) => `${c.source === 'lua' ? 'lua ' : ''}${c.command}`), ['evalsha', 'lua xadd', 'lua xtrim']);
    const minId = Number(aged[0]?.args[4]);
    assert.ok(Math.abs(minId - (Date.now() - 7 * 86_400_000)) < 5_000, String(minId));
    assert.deepEqual(aged[2]?.args, [`${h.prefix}audit`, 'MINID', '=', String(minId)]);
  });
});
