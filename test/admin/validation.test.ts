// Hostile and sloppy input to the admin API: always a JSON 4xx with a fixed description, never a 500.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestService } from '../helpers/service.js';
import { adminToken, call, startAdminService, type CallOptions } from './helpers.js';

const LIMIT = 'limit must be an integer from 1 to 500';
const SINCE_INVALID = 'since must be epoch milliseconds, a date-time YYYY-MM-DDThh:mm:ss with Z or ±hh:mm, or a date YYYY-MM-DD';

describe('admin API: input validation', () => {
  let svc: TestService;
  let token: string;
  const send = (method: string, path: string, o: Omit<CallOptions, 'token'> = {}) => call(svc, method, path, { token, ...o });

  function assertError(res: Awaited<ReturnType<typeof call>>, status: number, description: string, label: string) {
    assert.equal(res.status, status, `${label}: ${res.text}`);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: description }, label);
    assert.equal(res.headers.get('cache-control'), 'no-store', label);
  }

  before(async () => {
    svc = await startAdminService();
    token = await adminToken(svc);
  });
  after(() => svc.stop());

  it('limit: huge, zero, negative, fractional, non-numeric, repeated', async () => {
    for (const limit of ['0', '-1', '501', '99999999999999999999', '1e3', '1.5', 'abc', '%20', '0x10', ' 5', 'NaN', 'Infinity']) {
      assertError(await send('GET', `/admin/sessions?limit=${limit}`), 400, LIMIT, `sessions limit=${limit}`);
      assertError(await send('GET', `/admin/audit?limit=${limit}`), 400, LIMIT, `audit limit=${limit}`);
    }
    assertError(await send('GET', '/admin/sessions?limit=1&limit=2'), 400, LIMIT, 'repeated');
    assert.equal((await send('GET', '/admin/sessions?limit=500')).status, 200);
    assert.equal((await send('GET', '/admin/sessions?limit=1')).status, 200);
  });

  it('cursor: garbage, wrong kind, unicode, over-long', async () => {
    const auditCursor = '1700000000000-0';
    const sessionCursor = Buffer.from(JSON.stringify([1700000000, 'sid'])).toString('base64url');
    for (const cursor of ['garbage', '%E2%9C%93', 'a'.repeat(300), '%00', sessionCursor, '1-2-3', '99999999999999999999-0']) {
      assertError(await send('GET', `/admin/audit?cursor=${cursor}`), 400, 'cursor is invalid', `audit cursor=${cursor.slice(0, 20)}`);
    }
    for (const cursor of ['garbage', '%E2%9C%93', 'a'.repeat(300), auditCursor, Buffer.from('[1,2]').toString('base64url')]) {
      assertError(await send('GET', `/admin/sessions?cursor=${cursor}`), 400, 'cursor is invalid', `sessions cursor=${cursor.slice(0, 20)}`);
    }
    assert.equal((await send('GET', `/admin/audit?cursor=${auditCursor}`)).status, 200);
    assert.equal((await send('GET', `/admin/sessions?cursor=${sessionCursor}`)).status, 200);
  });

  it('filters: enums, since, control characters, unknown and repeated parameters', async () => {
    const cases: Array<[string, string]> = [
      ['/admin/audit?decision=maybe', 'decision must be allow or deny'],
      ['/admin/audit?decision=ALLOW', 'decision must be allow or deny'],
      ['/admin/audit?type=login', 'type must be exchange, revocation, admin or gateway'],
      ['/admin/audit?since=yesterday', SINCE_INVALID],
      ['/admin/audit?since=-5', SINCE_INVALID],
      ['/admin/audit?since=2024-13-45T99:00:00Z', SINCE_INVALID],
      ['/admin/audit?since=9999999999999999', SINCE_INVALID],
      // A date-time without an offset would be read in the caller's or the server's zone: refused, as the text says.
      ['/admin/audit?since=2024-01-01T00:00:00', SINCE_INVALID],
      ['/admin/audit?sub=a%00b', 'sub is invalid'],
      ['/admin/audit?sid=a&sid=b', 'sid is invalid'],
      ['/admin/sessions?client_id=%0A', 'client_id is invalid'],
      [`/admin/sessions?sub=${'x'.repeat(513)}`, 'sub is invalid'],
      ['/admin/sessions?subject=alice', 'unknown query parameter'],
      ['/admin/audit?access_token=abc', 'unknown query parameter'],
      ['/admin/sessions?__proto__=1', 'unknown query parameter'],
    ];
    for (const [path, description] of cases) assertError(await send('GET', path), 400, description, path);
    for (const since of ['2024-01-01', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00.123+02:00', '0', '1700000000000']) {
      assert.equal((await send('GET', `/admin/audit?since=${encodeURIComponent(since)}`)).status, 200, since);
    }
    // Unicode and encoded slashes are ordinary identifier characters.
    assert.equal((await send('GET', '/admin/sessions?sub=%E2%9C%93%2F%F0%9F%A4%96')).status, 200);
  });

  it('identifiers: the bounds the exchange applies (sessions/identifiers.ts), counted in code points', async () => {
    const astral = encodeURIComponent('𝒞');
    // 512 code points of two UTF-16 units each: at the limit (the exchange accepts such a sub, so it must be revocable).
    const atLimit = await send('POST', `/admin/subjects/${astral.repeat(512)}/revoke`, { json: { reason: 'identifier at the limit' } });
    assert.equal(atLimit.status, 200, atLimit.text);
    assertError(await send('POST', `/admin/subjects/${astral.repeat(513)}/revoke`, { json: { reason: 'over the limit' } }), 400, 'sub is invalid', '513 code points');
    // Line and paragraph separators and C1 controls are refused like C0 controls.
    for (const bad of ['%E2%80%A8', 'a%E2%80%A9b', '%C2%85']) {
      assertError(await send('GET', `/admin/sessions?sub=${bad}`), 400, 'sub is invalid', bad);
      assertError(await send('POST', `/admin/sessions/${bad}/revoke`, { json: { reason: 'x' } }), 400, 'sid is invalid', bad);
    }
  });

  it('revoke bodies: missing, empty, wrong content-type, not JSON, not an object, bad reason, extra members, too large', async () => {
    const path = '/admin/subjects/validation-user/revoke';
    const reason = 'reason must be a string of 1 to 500 characters without control characters';
    assertError(await send('POST', path), 400, 'a JSON body is required', 'no body');
    assertError(await send('POST', path, { raw: '', headers: { 'content-type': 'application/json' } }), 400, 'a JSON body is required', 'empty body');
    assertError(await send('POST', path, { raw: 'reason=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 400, 'the body must be application/json', 'form');
    assertError(await send('POST', path, { raw: '{"reason":"x"}', headers: { 'content-type': 'text/plain' } }), 400, 'the body must be application/json', 'text/plain');
    assertError(await send('POST', path, { raw: '{"reason":"x"}' }), 400, 'the body must be application/json', 'no content-type');
    assertError(await send('POST', path, { raw: '{"reason":', headers: { 'content-type': 'application/json' } }), 400, 'the body is not valid JSON', 'truncated');
    assertError(await send('POST', path, { raw: 'reason', headers: { 'content-type': 'application/json' } }), 400, 'the body is not valid JSON', 'bare word');
    assertError(await send('POST', path, { raw: '"x"', headers: { 'content-type': 'application/json' } }), 400, 'the body must be a JSON object', 'string');
    assertError(await send('POST', path, { json: ['x'] }), 400, 'the body must be a JSON object', 'array');
    assertError(await send('POST', path, { raw: 'null', headers: { 'content-type': 'application/json' } }), 400, 'the body must be a JSON object', 'null');
    assertError(await send('POST', path, { raw: '42', headers: { 'content-type': 'application/json' } }), 400, 'the body must be a JSON object', 'number');
    assertError(await send('POST', path, { json: {} }), 400, reason, 'no reason');
    for (const bad of ['', '   ', 'x'.repeat(501), 'line\nbreak', 'nul\u0000', 5, null, ['x'], { a: 1 }]) {
      assertError(await send('POST', path, { json: { reason: bad } }), 400, reason, `reason=${JSON.stringify(bad)?.slice(0, 20)}`);
    }
    assertError(await send('POST', path, { json: { reason: 'ok', kind: 'sid' } }), 400, 'unknown body member', 'extra member');
    assertError(await send('POST', path, { json: { reason: 'x'.repeat(20_000) } }), 413, 'the body is too large', 'large');
    // Nothing above recorded a revocation.
    const snapshot = await svc.service.stores.revocations.snapshot();
    assert.equal(snapshot.revocations.some((r) => r.value === 'validation-user'), false);

    const ok = await send('POST', path, { json: { reason: '  ✓ unicode reason, trimmed  ' }, headers: { 'content-type': 'application/json; charset=utf-8' } });
    assert.equal(ok.status, 200, ok.text);
  });

  it('path identifiers: encoded slashes, unicode, broken escapes, control characters, over-long', async () => {
    const revoke = (encoded: string) => send('POST', `/admin/sessions/${encoded}/revoke`, { json: { reason: 'fuzz' } });
    const slash = await revoke('a%2Fb');
    assert.equal(slash.status, 200);
    assert.equal(slash.body.value, 'a/b');
    const unicode = await revoke('%F0%9F%A4%96-%E2%9C%93');
    assert.equal(unicode.body.value, '🤖-✓');
    const broken = await revoke('%E0%A4%A');
    assert.equal(broken.status, 200);
    assert.equal(broken.body.value, '%E0%A4%A');
    assertError(await revoke('a%00b'), 400, 'sid is invalid', 'nul');
    assertError(await revoke('%0D%0Aheader'), 400, 'sid is invalid', 'crlf');
    assertError(await revoke('x'.repeat(513)), 400, 'sid is invalid', 'long');
    assertError(await send('POST', `/admin/clients/${'c'.repeat(600)}/revoke`, { json: { reason: 'x' } }), 400, 'client_id is invalid', 'long client');
    assertError(await send('GET', '/admin/sessions/a%00b'), 400, 'sid is invalid', 'get nul');
    // A raw slash is a different path, not a different id.
    assert.equal((await send('POST', '/admin/sessions/a/b/revoke', { json: { reason: 'x' } })).status, 404);
    assert.equal((await send('GET', '/admin/sessions/%E2%9C%93')).status, 404);
  });

  it('odd methods and paths never reach a 500', async () => {
    for (const [method, path] of [
      ['PUT', '/admin/sessions'],
      ['PATCH', '/admin/audit'],
      ['OPTIONS', '/admin/sessions'],
      ['HEAD', '/admin/sessions'],
      ['GET', '/admin/'],
      ['GET', '/admin//sessions'],
      ['GET', '/admin/sessions/'],
      ['POST', '/admin/sessions//revoke'],
      ['GET', '/admin/%2e%2e/jwks'],
      ['GET', '/admin/audit/../sessions'],
    ] as const) {
      const res = await send(method, path, method === 'POST' ? { json: { reason: 'x' } } : {});
      assert.ok(res.status < 500, `${method} ${path}: ${res.status}`);
    }
  });
});
