// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// Fail closed: when Redis or an IdP's JWKS is unreachable the exchange answers 503 temporarily_unavailable and issues
// nothing. Uses its own throw-away redis-server (never the shared one), stopped for real with SHUTDOWN NOSAVE.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { startRedis } from '../../helpers/private_redis.js';
import { exchangeFor, loginUser, postForm } from '../../helpers/http.js';
import { CRM, JWT_TYPE, freePort, randomUUID, startService, type TestService } from '../../helpers/service.js';
import { startTestIdp, type TestIdp } from '../../helpers/test_idp.js';

const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' };

describe('fail closed when a dependency is down', () => {
  let svc: TestService;
  let redis: ChildProcess;
  let redisPort: number;
  let idp: TestIdp;
  let userToken: string;

  before(async () => {
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    idp = await startTestIdp();
    const deadJwks = `http://127.0.0.1:${await freePort()}/jwks`;
    svc = await startService({
      extra: (port) => ({
        redis: { url: `redis://127.0.0.1:${redisPort}`, keyPrefix: `fail-closed:${randomUUID()}:` },
        trustedIssuers: [{ issuer: idp.issuer, jwksUri: deadJwks, audience: `http://127.0.0.1:${port}`, allowedScopes: ['crm.lookup_customer'] }],
      }),
    });
    userToken = (await loginUser(svc)).accessToken;
  });
  after(async () => {
    await svc?.stop();
    await idp?.stop();
    if (redis && redis.exitCode === null && redis.signalCode === null) {
      const exited = new Promise((resolve) => redis.once('exit', resolve));
      redis.kill('SIGKILL');
      await exited;
    }
  });

  it('control: with its Redis up, the service exchanges and is ready', async () => {
    assert.equal((await exchangeFor(svc, 'agent', userToken, CRM)).status, 200);
    assert.equal((await fetch(`${svc.url}/readyz`)).status, 200);
  });

  it("an IdP whose JWKS cannot be fetched: 503 temporarily_unavailable, not an invalid subject", async () => {
    const token = await idp.sign({ sub: 'ext-carol', aud: svc.url, sid: 's1' });
    const res = await exchangeFor(svc, 'agent', token, CRM, { subject_token_type: JWT_TYPE });
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, UNAVAILABLE);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('Redis goes away: the exchange answers 503 temporarily_unavailable and issues nothing', async () => {
    const admin = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => undefined);
    await admin.connect();
    const exited = new Promise((resolve) => redis.once('exit', resolve));
    await admin.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    admin.disconnect();
    await exited;

    const started = performance.now();
    const reasons: string[][] = [];
    svc.service.events.on((e) => e.type === 'exchange' && reasons.push(e.reasons));
    const res = await exchangeFor(svc, 'agent', userToken, CRM);
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, UNAVAILABLE);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.ok(performance.now() - started < 3000, 'answers quickly instead of hanging on a queue');
    // The store classified the ioredis failure as an outage (StoreUnavailable), not an internal error.
    assert.deepEqual(reasons, [['store_unavailable']]);
  });

  it('Redis away: /readyz answers 503 so no traffic is routed here', async () => {
    const res = await fetch(`${svc.url}/readyz`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { checks: { revocations?: string } };
    // The revocation view turns stale only once its stream reader has been silent for 5 s: either answer here.
    assert.ok(['ok', 'fail'].includes(body.checks.revocations!));
    assert.deepEqual(body, { status: 'unavailable', checks: { store: 'fail', keys: 'ok', revocations: body.checks.revocations } });
  });

  it("Redis away: oidc-provider's own grants fail closed too (client_credentials: 503, no token)", async () => {
    const res = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: svc.basic('admin-cli') });
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, UNAVAILABLE);
  });
});
