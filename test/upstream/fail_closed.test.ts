// The upstream login and back-channel logout fail closed (503 temporarily_unavailable) when the store or the upstream
// provider cannot be reached: no login half done, no logout reported done.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { Browser } from '../helpers/browser.js';
import { postForm } from '../helpers/http.js';
import { startRedis } from '../helpers/private_redis.js';
import { freePort, randomUUID, REDIRECT, startService, type TestService } from '../helpers/service.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream_idp.js';

const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' };

describe('upstream login fails closed', () => {
  let svc: TestService;
  let redis: ChildProcess;
  let idp: UpstreamIdp;
  let deadIdpSvc: TestService;

  before(async () => {
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    idp = await startUpstreamIdp();
    const secretFile = join(tmpdir(), `dts-upstream-${randomBytes(6).toString('hex')}`);
    writeFileSync(secretFile, idp.clientSecret, { mode: 0o600 });
    svc = await startService({
      extra: () => ({
        redis: { url: `redis://127.0.0.1:${redisPort}`, keyPrefix: `upstream-fail:${randomUUID()}:` },
        demoLogin: { enabled: false, users: [] },
        upstreamLogin: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: { file: secretFile }, backchannelLogout: true },
      }),
    });
    const deadIssuer = `http://127.0.0.1:${await freePort()}`;
    deadIdpSvc = await startService({
      extra: () => ({ demoLogin: { enabled: false, users: [] }, upstreamLogin: { issuer: deadIssuer, clientId: 'x', clientSecret: { file: secretFile }, backchannelLogout: true } }),
    });
  });
  after(async () => {
    await deadIdpSvc?.stop();
    await svc?.stop().catch(() => undefined);
    await idp?.stop();
    if (redis && redis.exitCode === null && redis.signalCode === null) {
      const exited = new Promise((resolve) => redis.once('exit', resolve));
      redis.kill('SIGKILL');
      await exited;
    }
  });

  it('the upstream provider unreachable: starting a login answers 503, and so does a logout token', async () => {
    const browser = new Browser(deadIdpSvc);
    const auth = await browser.fetch(`/auth?${new URLSearchParams({ client_id: 'agent', response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`);
    const toStart = await browser.fetch(auth.headers.get('location')!);
    const start = await browser.fetch(toStart.headers.get('location')!);
    assert.equal(start.status, 503);
    assert.deepEqual(await start.json(), UNAVAILABLE);
    assert.equal(start.headers.get('cache-control'), 'no-store');
    const logout = await postForm(`${deadIdpSvc.url}/backchannel-logout`, { logout_token: await idp.logoutToken({ sid: 's' }) });
    assert.equal(logout.status, 503);
    assert.deepEqual(logout.body, UNAVAILABLE);
  });

  it('Redis gone: a valid logout token answers 503 (the provider retries), never 200', async () => {
    const token = await idp.logoutToken({ sid: 'up-sess-any' });
    const exited = new Promise((resolve) => redis.once('exit', resolve));
    redis.kill('SIGKILL');
    await exited;
    const res = await postForm(`${svc.url}/backchannel-logout`, { logout_token: token });
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, UNAVAILABLE);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });
});
