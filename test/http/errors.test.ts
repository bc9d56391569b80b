// One HTTP error shape for our own routes: every refusal is an HttpError rendered by renderHttpError (status, headers,
// Cache-Control: no-store, { error, error_description }); anything else is a 500 without detail.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Koa from 'koa';
import { errors } from 'oidc-provider';
import { pino } from 'pino';
import { errorRenderer } from '../../src/http/app.js';
import { HttpError } from '../../src/http/errors.js';
import { ServerError, ServiceUnavailable } from '../../src/provider/errors.js';
import { AdminError } from '../../src/admin/errors.js';
import { ClientAuthFailed } from '../../src/http/client_auth.js';
import { startService, type TestService } from '../helpers/service.js';

describe('errorRenderer: one renderer for every error our routes throw', () => {
  const thrown: Record<string, () => unknown> = {
    '/http-error': () => new HttpError(429, 'too_many_requests', 'slow down', { headers: { 'Retry-After': '5' }, detail: 'secret detail' }),
    '/unavailable': () => new ServiceUnavailable('store: ECONNREFUSED 10.0.0.1:6379'),
    '/server-error': () => new ServerError('TypeError: x is undefined'),
    '/admin': () => new AdminError(405, 'method_not_allowed', 'the method is not allowed on this resource', ['method_not_allowed'], { Allow: 'GET' }),
    '/client-auth': () => new ClientAuthFailed(),
    '/oidc': () => new errors.InvalidRequest('resource is malformed'),
    '/koa': () => Object.assign(new Error('bad input'), { status: 400, expose: true }),
    '/bug': () => new Error('stack trace with /etc/secret'),
    '/hidden-5xx': () => Object.assign(new Error('upstream said no'), { status: 502, expose: true }),
  };
  let base: string;
  let server: import('node:http').Server;
  before(async () => {
    const app = new Koa();
    app.use(errorRenderer(pino({ level: 'silent' })));
    app.use((ctx) => {
      throw thrown[ctx.path]!();
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, headers: res.headers, body: await res.json() };
  };

  const cases: Array<[string, number, object, Record<string, string>?]> = [
    ['/http-error', 429, { error: 'too_many_requests', error_description: 'slow down' }, { 'retry-after': '5' }],
    ['/unavailable', 503, { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' }],
    ['/server-error', 500, { error: 'server_error', error_description: 'internal error' }],
    ['/admin', 405, { error: 'method_not_allowed', error_description: 'the method is not allowed on this resource' }, { allow: 'GET' }],
    ['/client-auth', 401, { error: 'invalid_client', error_description: 'client authentication failed' }, { 'www-authenticate': 'Basic realm="delegation-token-service"' }],
    ['/oidc', 400, { error: 'invalid_request', error_description: 'resource is malformed' }],
    ['/koa', 400, { error: 'invalid_request', error_description: 'bad input' }],
    ['/bug', 500, { error: 'server_error', error_description: 'internal error' }],
    ['/hidden-5xx', 500, { error: 'server_error', error_description: 'internal error' }],
  ];
  for (const [path, status, body, headers = {}] of cases) {
    it(`${path}: ${status} ${JSON.stringify(body)}`, async () => {
      const res = await get(path);
      assert.equal(res.status, status);
      assert.deepEqual(res.body, body);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      for (const [name, value] of Object.entries(headers)) assert.equal(res.headers.get(name), value);
    });
  }

  it('every error class of ours is an HttpError (one base)', () => {
    for (const make of [thrown['/unavailable']!, thrown['/server-error']!, thrown['/admin']!, thrown['/client-auth']!]) assert.ok(make() instanceof HttpError);
  });
});

describe('our routes answer through HttpError', () => {
  let svc: TestService;
  before(async () => {
    svc = await startService({ memory: true });
  });
  after(() => svc.stop());

  it('the token endpoint refuses GET: 405, Allow: POST, fixed body (also spelt as oidc-provider routes it: any case, one trailing slash)', async () => {
    for (const path of ['/token', '/TOKEN', '/token/', '/Token/Introspection/', '/token/REVOCATION']) {
      const res = await fetch(`${svc.url}${path}`);
      assert.equal(res.status, 405, path);
      assert.equal(res.headers.get('allow'), 'POST');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'only POST is allowed' });
    }
  });

  it('the revocation feed refuses a client that may not read it: 403 access_denied', async () => {
    const res = await fetch(`${svc.url}/revocations`, { headers: { authorization: svc.basic('agent') } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await res.json(), { error: 'access_denied', error_description: 'the client may not read revocations' });
  });

  it('delegation token introspection without a token: 400 invalid_request "token is missing"', async () => {
    const res = await fetch(`${svc.url}/token/introspection/delegation`, { method: 'POST', headers: { authorization: svc.basic('crm-server'), 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'token is missing' });
  });

  it('a form body whose Content-Encoding does not decode: 400 invalid_request, never a 500 (RFC 9110 §8.4)', async () => {
    for (const [path, encoding] of [['/token/introspection/delegation', 'gzip'], ['/interaction/abc/login', 'deflate']] as const) {
      const res = await fetch(`${svc.url}${path}`, { method: 'POST', headers: { authorization: svc.basic('crm-server'), 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': encoding }, body: 'token=x' });
      assert.equal(res.status, 400, path);
      assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'the request body could not be decoded' }, path);
    }
  });

  it('bad client credentials at the feed: 401 invalid_client with a Basic challenge', async () => {
    const res = await fetch(`${svc.url}/revocations`, { headers: { authorization: 'Basic Y3JtLXNlcnZlcjp3cm9uZw==' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="delegation-token-service"');
    assert.deepEqual(await res.json(), { error: 'invalid_client', error_description: 'client authentication failed' });
  });
});
