// The request log and the audit stream record route templates, never raw paths: a token pasted into a path stays out.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { CRM, startService, type TestService } from '../helpers/service.js';
import { adminToken, call } from '../admin/helpers.js';
import { redisKeys } from '../../src/stores/redis/keys.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** What an operator pasting a token instead of its jti sends: a JWS compact serialization, short enough to pass the id bounds. */
const PASTED_JWT = `${b64({ alg: 'ES256', typ: 'at+jwt' })}.${b64({ sub: 'user-alice', jti: 'x' })}.${randomBytes(64).toString('base64url')}`;
const TOKEN_VALUE = { error: 'invalid_request', error_description: 'the value is a token, not a token id; revoke it by its jti claim' };

describe('request log and audit stream: route templates, never raw paths', () => {
  let svc: TestService;
  let admin: string;
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const requestLines = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
  const lineFor = (reqId: string) => requestLines().find((l) => l.reqId === reqId);
  async function auditStream(): Promise<string[]> {
    await svc.service.flushAudit();
    const entries = await svc.redis.xrange(redisKeys.audit(svc.prefix), '-', '+');
    return entries.map(([, fields]) => fields[1]!);
  }

  before(async () => {
    // debug: probe requests (/healthz) are logged at debug, and their lines are checked too.
    svc = await startService({ logger: pino({ level: 'debug' }, sink) });
    admin = await adminToken(svc);
  });
  after(() => svc.stop());

  it('a JWT pasted as a jti: refused, logged and audited as /admin/tokens/:jti/revoke only', async () => {
    const user = await loginUser(svc);
    const derived = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(derived.status, 200, JSON.stringify(derived.body));
    const realToken = derived.body.access_token as string;
    const secrets = [PASTED_JWT, realToken];

    const pasted = await call(svc, 'POST', `/admin/tokens/${PASTED_JWT}/revoke`, { token: admin, json: { reason: 'leaked' }, headers: { 'x-request-id': 'paste-1' } });
    assert.equal(pasted.status, 400);
    assert.deepEqual(pasted.body, TOKEN_VALUE);
    // A real delegation token: refused too (by the token-value rule, or by the id length bound when it is longer).
    const real = await call(svc, 'POST', `/admin/tokens/${realToken}/revoke`, { token: admin, json: { reason: 'leaked' }, headers: { 'x-request-id': 'paste-2' } });
    assert.equal(real.status, 400);
    assert.equal(real.body.error, 'invalid_request');
    // Unauthenticated: refused before routing, still recorded by template.
    const anonymous = await call(svc, 'POST', `/admin/tokens/${PASTED_JWT}/revoke`, { json: { reason: 'leaked' }, headers: { 'x-request-id': 'paste-3' } });
    assert.equal(anonymous.status, 401);

    for (const id of ['paste-1', 'paste-2', 'paste-3']) {
      const line = lineFor(id);
      assert.ok(line, id);
      assert.equal(line.route, '/admin/tokens/:jti/revoke');
      assert.equal(line.method, 'POST');
      assert.equal('path' in line, false);
    }
    const audit = await auditStream();
    const adminEvents = audit.map((e) => JSON.parse(e) as Record<string, unknown>).filter((e) => e.type === 'admin' && String(e.requestId).startsWith('paste-'));
    assert.deepEqual(
      adminEvents.map((e) => [e.requestId, e.path, e.status, e.decision]).sort(),
      [
        ['paste-1', '/admin/tokens/:jti/revoke', 400, 'allow'],
        ['paste-2', '/admin/tokens/:jti/revoke', 400, 'allow'],
        ['paste-3', '/admin/tokens/:jti/revoke', 401, 'deny'],
      ],
    );
    assert.equal(audit.some((e) => e.includes('"type":"revocation"') && e.includes('paste-')), false, 'no revocation was recorded');
    for (const secret of secrets) {
      assert.equal(lines.some((l) => l.includes(secret) || l.includes(secret.slice(0, 40))), false, 'the token reached the log');
      assert.equal(audit.some((e) => e.includes(secret) || e.includes(secret.slice(0, 40))), false, 'the token reached the audit stream');
    }
  });

  it('other paths: parameters are templated, unknown paths are `unmatched`', async () => {
    const secret = `s3cret-${randomBytes(12).toString('base64url')}`;
    const cases = [
      { reqId: 'tpl-1', method: 'GET', path: `/admin/sessions/${secret}`, token: admin, status: 404, route: '/admin/sessions/:sid' },
      { reqId: 'tpl-2', method: 'GET', path: `/admin/${secret}`, token: admin, status: 404, route: 'unmatched' },
      { reqId: 'tpl-3', method: 'GET', path: `/nowhere/${secret}`, status: 404, route: 'unmatched' },
      { reqId: 'tpl-4', method: 'GET', path: '/healthz', status: 200, route: '/healthz' },
      { reqId: 'tpl-5', method: 'GET', path: '/token', status: 405, route: '/token' },
      { reqId: 'tpl-6', method: 'GET', path: '/jwks', status: 200, route: '/jwks' },
      { reqId: 'tpl-7', method: 'GET', path: `/interaction/${secret}`, status: 400, route: '/interaction/:uid' },
    ];
    for (const c of cases) {
      const res = await call(svc, c.method, c.path, { ...(c.token ? { token: c.token } : {}), headers: { 'x-request-id': c.reqId } });
      assert.equal(res.status, c.status, `${c.path}: ${res.text}`);
      assert.equal(lineFor(c.reqId)?.route, c.route, c.path);
    }
    const audit = await auditStream();
    const events = audit.map((e) => JSON.parse(e) as Record<string, unknown>).filter((e) => String(e.requestId).startsWith('tpl-'));
    assert.deepEqual(events.map((e) => [e.requestId, e.path]).sort(), [['tpl-1', '/admin/sessions/:sid'], ['tpl-2', 'unmatched']]);
    assert.equal(lines.some((l) => l.includes(secret)), false);
    assert.equal(audit.some((e) => e.includes(secret)), false);
  });

  it('an accepted jti revocation: the revocation event stores the revoked id (its purpose); the request line and admin event do not', async () => {
    const jti = randomBytes(16).toString('base64url');
    const res = await call(svc, 'POST', `/admin/tokens/${jti}/revoke`, { token: admin, json: { reason: 'test' }, headers: { 'x-request-id': 'ok-1' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(lineFor('ok-1')?.route, '/admin/tokens/:jti/revoke');
    assert.equal(lineFor('ok-1')?.clientId, 'admin-cli');
    assert.equal(lines.some((l) => l.includes(jti)), false);
    const events = (await auditStream()).map((e) => JSON.parse(e) as Record<string, unknown>).filter((e) => e.requestId === 'ok-1');
    assert.deepEqual(events.map((e) => [e.type, e.type === 'admin' ? e.path : e.value]).sort(), [['admin', '/admin/tokens/:jti/revoke'], ['revocation', jti]]);
  });
});
