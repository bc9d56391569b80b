// A reuse (RFC 6749 §4.1.2, RFC 9700 §4.14.2) whose grant end meets a store outage: the request answers 503, and once
// the store is back the grant still ends, its tokens with it, with no request from anyone (provider/grant_end_retry.ts).
// A private redis-server behind a TCP proxy the test cuts the moment the reuse starts ending the grant: its first store
// write, the publication of the grant's root digest (service.ts beforeDestroy), meets a connection that is gone.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { introspectDelegation, introspectOpaque } from '../../admin/helpers.js';
import { exchangeFor, postForm } from '../../helpers/http.js';
import { startRedis } from '../../helpers/private_redis.js';
import { CRM, freePort, randomUUID, startService, testConfig, type TestService } from '../../helpers/service.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp_proxy.js';
import { confidentialLogin } from './helpers.js';
import { grantRoot, tokenDigest } from '../../../src/sessions/revocation.js';
import type { RevocationRecord } from '../../../src/stores/types.js';

const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' };
const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };
/** How long after Redis is back the grant must have ended: the retry's delay cap (10 s) plus reconnect and margin. */
const ENDED_WITHIN_MS = 20_000;
/** How long Redis stays cut after the 503: long enough for a retry or two to fail first. */
const OUTAGE_MS = 1_500;

describe('a reuse whose grant end meets a Redis outage: 503, and the grant ends once Redis is back', () => {
  let redis: ChildProcess;
  let proxy: TcpProxy;
  let svc: TestService & { keysDir: string };
  let lines: Array<Record<string, unknown>>;
  /** The grant whose end the next root digest publication of cuts Redis off (one-shot). */
  let cutAt: string | undefined;
  /** The service was shut down by the test: only its files and test client are left to clean up. */
  let shutDown = false;

  /** A service reaching the private Redis through the proxy, its log in `lines`. */
  async function start(): Promise<void> {
    lines = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    svc = await startService({
      logger: pino({ level: 'info' }, sink),
      extra: (port) => ({
        redis: { url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: `reuse-outage:${randomUUID()}:` },
        // `agent` may refresh, so a rotated refresh token can be reused too.
        clients: testConfig(port, '', '').clients!.map((c) => (c.client_id === 'agent' ? { ...c, grant_types: [...c.grant_types!, 'refresh_token'] } : c)),
      }),
    });
    // The first store write of a grant's end: its root digest, published before the Grant is destroyed.
    const exchange = svc.service.stores.exchange;
    const revoke = exchange.revoke.bind(exchange);
    exchange.revoke = async (record: RevocationRecord) => {
      if (cutAt !== undefined && record.kind === 'token_digest' && record.value === tokenDigest(grantRoot(cutAt))) {
        cutAt = undefined;
        proxy.cut();
        // Let the client see its connection drop: the write then fails as it would in a real outage.
        await sleep(100);
      }
      return revoke(record);
    };
  }

  before(async () => {
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    proxy = await startTcpProxy({ port: redisPort });
    await start();
  });
  after(async () => {
    proxy?.restore();
    if (shutDown) {
      rmSync(svc.keysDir, { recursive: true, force: true });
      await svc.redis.quit();
    } else {
      await svc?.stop();
    }
    await proxy?.close();
    if (redis && redis.exitCode === null && redis.signalCode === null) {
      const exited = new Promise((resolve) => redis.once('exit', resolve));
      redis.kill('SIGKILL');
      await exited;
    }
  });

  /** bob logs in at `agent` (code + PKCE, offline_access), and `agent` exchanges his access token for CRM. */
  async function login() {
    const { form, user, refreshToken, grantId } = await confidentialLogin(svc, { scope: 'openid offline_access crm.lookup_customer' });
    const exchanged = await exchangeFor(svc, 'agent', user, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    return { form, user, refreshToken, grantId, derived: exchanged.body.access_token as string };
  }

  const refresh = (refreshToken: string) => postForm(`${svc.url}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: svc.basic('agent') });

  /** The reuse `send` makes, with Redis cut off when it starts ending `grantId`: 503 (Redis still cut). */
  async function reuseCutOff(grantId: string, send: () => Promise<{ status: number; body: Record<string, unknown> }>) {
    cutAt = grantId;
    const reused = await send();
    assert.equal(cutAt, undefined, 'the reuse started ending the grant');
    assert.deepEqual([reused.status, reused.body], [503, UNAVAILABLE]);
  }

  /** As reuseCutOff; Redis back after OUTAGE_MS. */
  async function reuseDuringOutage(grantId: string, send: () => Promise<{ status: number; body: Record<string, unknown> }>) {
    await reuseCutOff(grantId, send);
    await sleep(OUTAGE_MS);
    proxy.restore();
  }

  /** Polls until the user access token is inactive at introspection (answers while Redis reconnects may be 503). */
  async function waitUntilInactive(token: string, what: string): Promise<number> {
    const start = Date.now();
    let last: unknown;
    while (Date.now() - start < ENDED_WITHIN_MS) {
      const res: { status: number; body: Record<string, unknown> } = await introspectOpaque(svc, token).catch((err: unknown) => ({ status: 0, body: { err: String(err) } }));
      last = [res.status, res.body];
      if (res.status === 200 && res.body.active === false) return Date.now() - start;
      await sleep(200);
    }
    assert.fail(`${what} is still active ${ENDED_WITHIN_MS} ms after Redis came back, with nobody reusing again: ${JSON.stringify(last)}`);
  }

  /** Nothing of the grant works any more: its tokens are gone from the store, its user token is refused at the exchange,
   * the delegation token exchanged from it is inactive. */
  async function assertEnded(c: Awaited<ReturnType<typeof login>>, accessTokens: string[]) {
    for (const token of accessTokens) {
      assert.deepEqual((await introspectOpaque(svc, token)).body, { active: false });
      assert.equal(await svc.service.provider.AccessToken.find(token), undefined, 'the access token record is deleted');
    }
    assert.equal(await svc.service.provider.Grant.find(c.grantId), undefined, 'the Grant is destroyed');
    const again = await exchangeFor(svc, 'agent', c.user, CRM, { scope: 'crm.lookup_customer' });
    assert.deepEqual([again.status, again.body], [400, SUBJECT_INVALID]);
    assert.deepEqual((await introspectDelegation(svc, c.derived)).body, { active: false });
  }

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`${svc.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line?.split(' ')[1]);
  }

  it('a reused authorization code: 503; once Redis is back the grant ends by itself, every token of it dead', async () => {
    const c = await login();
    await reuseDuringOutage(c.grantId, () => postForm(`${svc.url}/token`, c.form, { authorization: svc.basic('agent') }));
    await waitUntilInactive(c.user, "the grant's user access token");
    await assertEnded(c, [c.user]);
    assert.equal((await refresh(c.refreshToken)).body.error, 'invalid_grant');

    assert.equal(await metric('dts_grant_ends_pending'), 0);
    assert.ok((await metric('dts_grant_end_retries_total{result="ended"}')) >= 1);
    // The warning names the grant by its digest only: never its id, a token or the code.
    const digest = tokenDigest(grantRoot(c.grantId));
    const warned = lines.filter((l) => l.msg === 'grant end failed: the store is unavailable; retrying');
    assert.deepEqual(warned.map((l) => [l.level, l.grantDigest]), [[40, digest]]);
    assert.ok(lines.some((l) => l.msg === 'grant ended on retry' && l.grantDigest === digest));
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    for (const secret of [c.grantId, c.user, c.refreshToken, c.form.code, c.derived]) assert.equal(text.includes(secret), false, 'a grant id or token in the log');
  });

  it('a rotated refresh token used again: 503; once Redis is back the grant ends, the successor pair included', async () => {
    const c = await login();
    const rotated = await refresh(c.refreshToken);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    await reuseDuringOutage(c.grantId, () => refresh(c.refreshToken));
    await waitUntilInactive(rotated.body.access_token as string, 'the access token of the rotated pair');
    await assertEnded(c, [c.user, rotated.body.access_token as string]);
    assert.equal((await refresh(rotated.body.refresh_token as string)).body.error, 'invalid_grant');
    assert.equal(await metric('dts_grant_ends_pending'), 0);
  });

  // Last: it shuts the service down.
  it('shutdown while Redis is still away: one last attempt, then the grant left is logged by its digest', async () => {
    const c = await login();
    await reuseCutOff(c.grantId, () => postForm(`${svc.url}/token`, c.form, { authorization: svc.basic('agent') }));
    const started = Date.now();
    await svc.service.shutdown({ deregistrationDelayMs: 0, gracePeriodMs: 0 });
    assert.ok(Date.now() - started < 10_000, 'within the shutdown budget');
    const left = lines.filter((l) => l.msg === 'grant ends left undone at shutdown: these grants stay valid until they expire');
    assert.deepEqual(left.map((l) => [l.level, l.left, l.grantDigests]), [[50, 1, [tokenDigest(grantRoot(c.grantId))]]]);
    shutDown = true;
  });
});
