// Redis only: consume through a connection that drops. ioredis resends a command whose reply was lost with its
// connection (client.ts: maxRetriesPerRequest 1); the resend of the one legitimate consume must win again, not be taken
// for a reuse (400 invalid_grant and the grant ended). And a reuse must be recognised with its grant from the consume
// script's one reply, never from a second read that can fail on its own (a 503 whose grant end is never attempted).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { errors } from 'oidc-provider';
import type { GrantEnds } from '../../src/provider/grant_end_retry.js';
import { failClosed } from '../../src/provider/index.js';
import { adapterClass } from '../../src/stores/adapter_class.js';
import type { AdapterPayload } from '../../src/stores/types.js';
import { proxiedUrl, startTcpProxy, urlTarget, type TcpProxy } from '../helpers/tcp_proxy.js';
import { openRedisHarness, redisUrl, type RedisHarness } from './redis_harness.js';

interface Adapter {
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
}

describe('redis consume over a connection that drops', () => {
  let proxy: TcpProxy;
  let h: RedisHarness;
  /** The adapter oidc-provider is given (provider/index.ts failClosed), on the stores behind the proxy. */
  let Adapter: new (model: string) => Adapter;
  /** What the adapter told of the grant ends it ran. */
  let told: string[];
  const grantEnds: GrantEnds = {
    started: () => 0,
    failed: (grantId) => told.push(`failed ${grantId}`),
    ended: (grantId) => told.push(`ended ${grantId}`),
  };

  before(async () => {
    proxy = await startTcpProxy(urlTarget(redisUrl));
    h = await openRedisHarness({}, proxiedUrl(redisUrl, proxy.port));
    Adapter = failClosed(adapterClass(h.stores), { currentRequest: () => ({}), grantEnds }) as unknown as new (model: string) => Adapter;
  });
  after(async () => {
    await h.close();
    await proxy.close();
  });
  beforeEach(() => {
    told = [];
  });

  /** A grant with an access token and an authorization code, the consume script loaded on the connection. */
  async function grantWithCode() {
    const [grantId, at, code, warm] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await new Adapter('Grant').upsert(grantId, { jti: grantId, kind: 'Grant' }, 600);
    await new Adapter('AccessToken').upsert(at, { jti: at, kind: 'AccessToken', grantId }, 600);
    await new Adapter('AuthorizationCode').upsert(code, { jti: code, kind: 'AuthorizationCode', grantId }, 600);
    // The server has the script (EVALSHA runs it): the reply lost below is the script's, not a NOSCRIPT.
    await new Adapter('AuthorizationCode').upsert(warm, { jti: warm, kind: 'AuthorizationCode' }, 600);
    await new Adapter('AuthorizationCode').consume(warm);
    return { grantId, at, code };
  }

  it('the one legitimate consume whose reply is lost is resent and wins: the grant and its tokens live', async () => {
    const { grantId, at, code } = await grantWithCode();
    const lost = proxy.loseReply((request) => request.includes(code) && /EVAL/i.test(request.toString('latin1')));
    await new Adapter('AuthorizationCode').consume(code);
    await lost;
    assert.equal(typeof (await new Adapter('AuthorizationCode').find(code))?.consumed, 'number');
    assert.ok(await new Adapter('Grant').find(grantId), 'the grant lives');
    assert.ok(await new Adapter('AccessToken').find(at), 'its token lives');
    assert.deepEqual(told, []);

    // RFC 6749 §4.1.2: a second use (another consume call) is still a reuse: refused, the grant ended.
    await assert.rejects(new Adapter('AuthorizationCode').consume(code), (err) => err instanceof errors.InvalidGrant);
    assert.deepEqual(told, [`ended ${grantId}`]);
    assert.equal(await new Adapter('Grant').find(grantId), undefined);
    assert.equal(await new Adapter('AccessToken').find(at), undefined);
  });

  it('a reuse is answered with its grant by the consume script alone: a failing read after it changes nothing', async () => {
    const { grantId, at, code } = await grantWithCode();
    await new Adapter('AuthorizationCode').consume(code);
    // Every read of a record fails from here on (as a dropped connection would fail the read after the script).
    const { redis } = h;
    redis.hmget = (() => Promise.reject(new Error('Command timed out'))) as unknown as typeof redis.hmget;
    try {
      await assert.rejects(new Adapter('AuthorizationCode').consume(code), (err) => err instanceof errors.InvalidGrant && err.status === 400);
    } finally {
      delete (redis as unknown as Record<string, unknown>).hmget;
    }
    assert.deepEqual(told, [`ended ${grantId}`]);
    assert.equal(await new Adapter('Grant').find(grantId), undefined);
    assert.equal(await new Adapter('AccessToken').find(at), undefined);
  });
});
