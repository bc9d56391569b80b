// The shared logger (src/http/logger.ts) keeps credentials out of every line, the service's and the gateway's: an error
// logged under `err` (errorRenderer's "unhandled error", provider server_error, ...) and headers logged under `headers`.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import Koa from 'koa';
import { errorRenderer, requestLog } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { REDIS_URL } from '../helpers/service.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const secret = () => randomBytes(24).toString('base64url');

describe('createLogger: no credential in a log line', () => {
  const lines: string[] = [];
  const logger = createLogger('info', false, { write: (line: string) => void lines.push(line) });
  let redis: Redis;
  let server: Server;
  let base: string;
  /** What each route throws, built per request. */
  const thrown = new Map<string, () => Promise<never>>();

  before(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect();
    const app = new Koa();
    // As service.ts mounts them: the request log (and its request id), then the error renderer.
    app.use(requestLog(logger));
    app.use(errorRenderer(logger));
    app.use((ctx) => thrown.get(ctx.path)!());
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await redis.quit();
  });

  it("a Redis reply error in a route: the 'unhandled error' line has its type and message, never the command's arguments", async () => {
    const [token, verifier] = [secret(), secret()];
    const key = `test:${randomUUID()}:oidc:RefreshToken:${token}`;
    // ioredis hangs `command: { name, args }` on every reply error (here: EX is not a number); pino's own err
    // serializer copies it into the line.
    thrown.set('/redis', async () => {
      await redis.set(key, JSON.stringify({ codeVerifier: verifier }), 'EX', 'soon');
      throw new Error('unreachable');
    });
    const res = await fetch(`${base}/redis`, { headers: { 'x-request-id': 'redis-1' } });
    assert.equal(res.status, 500);
    const line = lines.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.reqId === 'redis-1' && l.msg !== 'request');
    assert.equal(line?.msg, 'unhandled error');
    for (const value of [token, verifier]) assert.ok(!lines.some((l) => l.includes(value)), 'a secret reached the log');
    assert.equal(line.err.type, 'ReplyError');
    assert.match(line.err.message, /not an integer/);
  });

  it('an error carrying the request it failed on, and secrets in its message and cause: none of them logged', async () => {
    const [basic, cookie, code, verifier, clientSecret, refresh] = [secret(), secret(), secret(), secret(), secret(), secret()];
    const proof = `${b64({ typ: 'dpop+jwt', alg: 'ES256' })}.${b64({ htm: 'POST' })}.${secret()}`;
    thrown.set('/library', async () => {
      const cause = new Error(`POST /token grant_type=refresh_token&refresh_token=${refresh}&client_secret=${clientSecret}`);
      throw Object.assign(new Error(`token request failed: code=${code}&code_verifier=${verifier}\ncookie: _session=${cookie}`, { cause }), {
        config: { headers: { authorization: `Basic ${basic}`, cookie: `_session=${cookie}`, dpop: proof } },
      });
    });
    const res = await fetch(`${base}/library`, { headers: { 'x-request-id': 'library-1' } });
    assert.equal(res.status, 500);
    const line = lines.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.reqId === 'library-1' && l.msg !== 'request');
    assert.equal(line?.msg, 'unhandled error');
    for (const value of [basic, cookie, code, verifier, clientSecret, refresh, proof.split('.')[2]!]) assert.ok(!lines.some((l) => l.includes(value)), 'a secret reached the log');
    assert.deepEqual(Object.keys(line.err).sort(), ['cause', 'message', 'stack', 'type']);
    assert.equal(line.err.message, 'token request failed: code=[redacted]&code_verifier=[redacted]\ncookie: [redacted]');
    assert.equal(line.err.cause.message, 'POST /token grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]');
  });

  it('headers: Authorization, Proxy-Authorization, Cookie, Set-Cookie and DPoP replaced whole, tokens in others removed; other fields kept', () => {
    const [bearer, cookie, proof, assertion] = [secret(), secret(), secret(), `${b64({ alg: 'ES256' })}.${b64({ sub: 'x' })}.${secret()}`];
    const from = lines.length;
    logger.child({ component: 'gateway' }).info(
      {
        reqId: 'h-1',
        headers: { Authorization: `DPoP ${bearer}`, 'proxy-authorization': `Basic ${bearer}`, cookie: `_session=${cookie}`, 'set-cookie': [`_session=${cookie}`], dpop: proof, 'delegation-assertion': assertion, accept: 'application/json' },
      },
      'request headers',
    );
    const line = JSON.parse(lines[from]!) as Record<string, any>;
    assert.deepEqual(line.headers, {
      Authorization: '[redacted]', 'proxy-authorization': '[redacted]', cookie: '[redacted]', 'set-cookie': '[redacted]', dpop: '[redacted]', 'delegation-assertion': '[redacted]', accept: 'application/json',
    });
    for (const value of [bearer, cookie, proof, assertion.split('.')[2]!]) assert.ok(!lines[from]!.includes(value));
  });
});
