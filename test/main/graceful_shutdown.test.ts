// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// Graceful shutdown of the real service process on real Redis: on SIGTERM /readyz turns 503 at once, a request in
// flight completes with 200 and its audit event is stored, feed streams are told to reconnect, the process exits 0;
// a second signal exits at once.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { deleteKeysWithPrefix, freePort } from '../../tools/local.js';
import { CRM, EXCHANGE, JWT_TYPE, REDIS_URL, testConfig } from '../helpers/service.js';
import { startTestIdp } from '../helpers/test_idp.js';
import { startService, waitReady, workDir, writeConfig } from './spawn_service.js';

const SECRETS = { agent: randomBytes(16).toString('hex'), crm: randomBytes(16).toString('hex') };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const exited = (child: import('node:child_process').ChildProcess) =>
  new Promise<{ code: number | null; ms: number }>((resolve) => {
    const started = Date.now();
    child.once('exit', (code) => resolve({ code, ms: Date.now() - started }));
  });

async function start(t: TestContext, shutdown: { deregistrationDelaySeconds: number; gracePeriodSeconds: number }, jwksDelayMs = 0) {
  const dir = workDir(t);
  const port = await freePort();
  const prefix = `dts-test:shutdown:${randomUUID()}:`;
  const idp = await startTestIdp({ jwksDelayMs });
  t.after(() => idp.stop());
  t.after(async () => {
    const redis = new Redis(REDIS_URL);
    await deleteKeysWithPrefix(redis, prefix).finally(() => redis.disconnect());
  });
  const config = testConfig(port, prefix, join(dir, 'keys'), {
    shutdown,
    trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: ['crm.lookup_customer'] }],
  });
  // Every client of the standard test config needs its secret in the env; only two are used here.
  const secretEnv = Object.fromEntries(['AGENT2', 'BILLING_SERVER', 'ADMIN_CLI', 'NO_EXCHANGE'].map((id) => [`TEST_SECRET_${id}`, randomBytes(16).toString('hex')]));
  const child = startService(dir, { ...secretEnv, CONFIG_FILE: writeConfig(dir, config), TEST_SECRET_AGENT: SECRETS.agent, TEST_SECRET_CRM_SERVER: SECRETS.crm });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(child, `${url}/readyz`);
  return { child, url, idp, prefix };
}

describe('graceful shutdown (real process, real Redis)', () => {
  it('SIGTERM: readiness 503 at once, the in-flight exchange completes 200 with its audit event stored, feed streams get reconnect, exit 0', async (t) => {
    // The IdP holds its JWKS answer 1.5 s: the exchange is in flight when the signal arrives.
    const { child, url, idp, prefix } = await start(t, { deregistrationDelaySeconds: 0.5, gracePeriodSeconds: 10 }, 1500);

    const feed = await fetch(`${url}/revocations/events?v=2`, { headers: { authorization: basic('crm-server', SECRETS.crm), accept: 'text/event-stream' } });
    assert.equal(feed.status, 200);
    const feedText = (async () => {
      let text = '';
      for await (const chunk of feed.body!) text += Buffer.from(chunk).toString();
      return text;
    })();

    const subject = await idp.sign({ sub: 'ext-user', sid: 'ext-session', aud: url, jti: randomUUID() });
    const inFlight = fetch(`${url}/token`, {
      method: 'POST',
      headers: { authorization: basic('agent', SECRETS.agent), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: subject, subject_token_type: JWT_TYPE, resource: CRM, scope: 'crm.lookup_customer' }),
    });
    await new Promise((r) => setTimeout(r, 300));
    const exit = exited(child);
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));

    // During the de-registration delay the listener still answers, and says it is not ready.
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'draining' });

    const res = await inFlight;
    assert.equal(res.status, 200);
    const body = (await res.json()) as { access_token: string; scope: string };
    assert.equal(body.scope, 'crm.lookup_customer');
    const jti = JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString()).jti as string;

    assert.match(await feedText, /event: reconnect\ndata: \{"reason":"shutdown"\}\n\n$/);
    const { code } = await exit;
    assert.equal(code, 0);
    // After the listener closed, nothing answers.
    await assert.rejects(fetch(`${url}/healthz`));

    // The decision was flushed to the audit stream before Redis was closed.
    const redis = new Redis(REDIS_URL);
    try {
      const entries = await redis.xrange(`${prefix}audit`, '-', '+');
      const events = entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('event') + 1] ?? fields[1]!) as Record<string, unknown>);
      const mine = events.filter((e) => e.type === 'exchange' && e.jti === jti);
      assert.equal(mine.length, 1, JSON.stringify(events));
      assert.equal(mine[0]!.decision, 'allow');
    } finally {
      redis.disconnect();
    }
  });

  it('a second signal exits at once, without waiting for the de-registration delay', async (t) => {
    const { child, url } = await start(t, { deregistrationDelaySeconds: 60, gracePeriodSeconds: 10 });
    const exit = exited(child);
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(`${url}/readyz`)).status, 503);
    child.kill('SIGTERM');
    const { code, ms } = await exit;
    assert.equal(code, 1);
    assert.ok(ms < 5000, `exited after ${ms} ms`);
  });
});
