// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// The MCP enforcement gateway over real HTTP, with the real MCP SDK client, against the real service on real Redis
// (SPEC §12, GW-01 … GW-05).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { call, GRANTED, post, startStack, TOOLS, type Stack } from './fixture.js';
import { exchangeFor, loginUser, postForm, revokeSessionViaAdmin } from '../helpers/http.js';
import { CRM, freePort } from '../helpers/service.js';

/** Every tool name `tools/list` answers, following `nextCursor` through all pages. */
async function allToolNames(client: Awaited<ReturnType<Stack['connect']>>): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

describe('MCP gateway', () => {
  let stack: Stack;
  let token: string;
  before(async () => {
    stack = await startStack({ upstream: { pageSize: 2 } });
    token = await stack.token();
  });
  after(() => stack.stop());

  const upstreamCalls = () => stack.upstream.received.filter((r) => r.httpMethod === 'POST').map((r) => (r.body as { method?: string; params?: { name?: string } }));

  it('GW-03: an allowed call reaches upstream with the identity assertion, never the inbound token nor cookies', async () => {
    const client = await stack.connect(token);
    const before = stack.upstream.received.length;
    const result = await client.callTool({ name: 'lookup_customer', arguments: { customerId: 'cus_1001' } });
    assert.deepEqual(JSON.parse((result.content as Array<{ text: string }>)[0]!.text), { customerId: 'cus_1001', name: 'Ada Lovelace', plan: 'enterprise' });
    const received = stack.upstream.received.slice(before).find((r) => (r.body as { method?: string } | undefined)?.method === "tools/call")!;
    assert.equal(received.headers.authorization, undefined);
    assert.equal(received.headers.cookie, undefined);
    assert.ok(!JSON.stringify(received.headers).includes(token));
    const assertion = received.headers['delegation-assertion'] as string;
    const header = decodeProtectedHeader(assertion);
    assert.equal(header.typ, 'delegation-assertion+jwt');
    assert.equal(header.alg, 'ES256');
    // Verifiable against the gateway's published keys, with the upstream as audience.
    const jwks = createRemoteJWKSet(new URL(`${stack.gatewayUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(assertion, jwks, { issuer: stack.gatewayUrl, audience: stack.upstream.url, typ: 'delegation-assertion+jwt', algorithms: ['ES256'] });
    const inbound = decodeJwt(token);
    assert.equal(payload.sub, 'user-bob');
    assert.equal(payload.sid, inbound.sid);
    assert.equal(payload.client_id, 'agent');
    assert.deepEqual(payload.act, inbound.act);
    assert.equal(payload.scope, inbound.scope);
    assert.equal(payload.tool, 'lookup_customer');
    assert.equal(payload.delegation_jti, inbound.jti);
    assert.ok(typeof payload.jti === 'string' && payload.jti !== inbound.jti);
    assert.ok(payload.exp! - payload.iat! <= 60 && payload.exp! > payload.iat!);
  });

  it('GW-04: tools/list (paginated, JSON) shows only the tools the token may call', async () => {
    const client = await stack.connect(token);
    const names = await allToolNames(client);
    assert.deepEqual(names.sort(), [...GRANTED].sort());
  });

  it('GW-03: a tool outside the scopes is 403 insufficient_scope with its scope, and never reaches upstream', async () => {
    const client = await stack.connect(token);
    const before = upstreamCalls().length;
    const res = await post(stack, token, call(7, 'export_customers'));
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('www-authenticate'), `Bearer error="insufficient_scope", scope="export_customers", resource_metadata="${stack.gatewayUrl}/.well-known/oauth-protected-resource/crm/mcp"`);
    assert.deepEqual(res.body, { error: 'insufficient_scope', error_description: 'insufficient scope' });
    await assert.rejects(client.callTool({ name: 'export_customers', arguments: {} }), (err: unknown) => err instanceof StreamableHTTPError && err.code === 403);
    assert.equal(upstreamCalls().length, before);
  });

  it('GW-03: arguments outside the limits are 403 insufficient_authorization_details, and never reach upstream', async () => {
    const before = upstreamCalls().length;
    const res = await post(stack, token, call(8, 'issue_refund', { customerId: 'cus_1001', amount: 50000 }));
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('www-authenticate'), `Bearer error="insufficient_authorization_details", resource_metadata="${stack.gatewayUrl}/.well-known/oauth-protected-resource/crm/mcp"`);
    assert.equal(res.body.error, 'insufficient_authorization_details');
    assert.deepEqual(res.body.violations, [{ argument: 'amount', path: '/amount', keyword: 'maximum', limit: 5000 }]);
    assert.equal(upstreamCalls().length, before);
    const ok = await post(stack, token, call(9, 'issue_refund', { customerId: 'cus_1001', amount: 3000 }));
    assert.equal(ok.status, 200);
    assert.equal(upstreamCalls().length, before + 1);
  });
});

describe('MCP gateway: transport validation (GW-01) and authentication (GW-02)', () => {
  let stack: Stack;
  let token: string;
  before(async () => {
    stack = await startStack();
    token = await stack.token();
  });
  after(() => stack.stop());
  const posts = () => stack.upstream.received.filter((r) => r.httpMethod === 'POST').length;

  it('GW-01: a batch, a duplicate or case-ambiguous member, a non-JSON-RPC body, a header/body mismatch and an oversized body are 400; nothing reaches upstream', async () => {
    const before = posts();
    const cases: Array<[string, Record<string, string>, number, string]> = [
      [`[${call(1, 'lookup_customer', { customerId: 'a' })}]`, {}, -32600, 'batches are not supported'],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lookup_customer","name":"export_customers","arguments":{}}}', {}, -32700, 'duplicate member name'],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lookup_customer","arguments":{"a":1,"a":2}}}', {}, -32700, 'duplicate member name'],
      // A parser that matches names regardless of case (Go's encoding/json: bytes.EqualFold, the last match wins; the
      // MCP Go SDK, GHSA-wvj2-96wp-fq3f) would run export_customers, or the larger refund; a NUL-terminated name is
      // `name` to a parser that stops at U+0000.
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lookup_customer","arguments":{},"Name":"export_customers"}}', {}, -32700, 'ambiguous member name'],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lookup_customer","arguments":{"customerId":"a","customerid":"b"}}}', {}, -32700, 'ambiguous member name'],
      ['{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call","params":{"name":"export_customers"}}', {}, -32700, 'ambiguous member name'],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lookup_customer","arguments":{"customerId":"a","cu\u017FtomerId":"b"}}}', {}, -32700, 'ambiguous member name'],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lookup_customer","arguments":{"customerId":"a"},"name\\u0000":"export_customers"}}', {}, -32700, 'ambiguous member name'],
      ['not json', {}, -32700, 'parse error'],
      ['{"id":1,"method":"tools/call"}', {}, -32600, 'not a JSON-RPC 2.0 message'],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}', {}, -32602, 'tools/call needs a tool name'],
      [call(1, 'lookup_customer', { customerId: 'a' }), { 'mcp-method': 'tools/list' }, -32600, 'headers do not match the body'],
      [call(1, 'lookup_customer', { customerId: 'a' }), { 'mcp-method': 'tools/call', 'mcp-name': 'export_customers' }, -32600, 'headers do not match the body'],
      [JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), { 'mcp-name': 'x' }, -32600, 'headers do not match the body'],
      [call(1, 'lookup_customer', { customerId: 'x'.repeat(5000) }), {}, -32600, 'request body too large'],
    ];
    for (const [body, headers, code, message] of cases) {
      const res = await post(stack, token, body, headers);
      assert.equal(res.status, 400, body.slice(0, 80));
      assert.equal(res.body.error && (res.body.error as { code: number }).code, code, body.slice(0, 80));
      assert.equal((res.body.error as { message: string }).message, message);
    }
    // Matching headers pass.
    const ok = await post(stack, token, call(2, 'lookup_customer', { customerId: 'a' }), { 'mcp-method': 'tools/call', 'mcp-name': 'lookup_customer' });
    assert.equal(ok.status, 200);
    assert.equal(posts(), before + 1);
  });

  it('GW-02: no token, a bad token, another audience and a revoked session are refused; nothing reaches upstream', async () => {
    const before = posts();
    const metadata = `resource_metadata="${stack.gatewayUrl}/.well-known/oauth-protected-resource/crm/mcp"`;
    const none = await post(stack, undefined, call(1, 'lookup_customer', { customerId: 'a' }));
    assert.equal(none.status, 401);
    // RFC 6750 §3 / RFC 9449 §7.1: one challenge per scheme the gateway accepts.
    assert.equal(none.headers.get('www-authenticate'), `Bearer ${metadata}, DPoP algs="ES256 EdDSA RS256 PS256", ${metadata}`);
    const bad = await post(stack, 'not-a-token', call(1, 'lookup_customer', { customerId: 'a' }));
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate')!, new RegExp(`^Bearer error="invalid_token", error_description="[^"]+", ${metadata.replace(/[.?/]/g, '\\$&')}$`));
    assert.equal(bad.body.error, 'invalid_token');
    // A delegation token for another MCP server (the test CRM) is not for this route.
    const login = await loginUser(stack.svc, { clientId: 'agent', username: 'bob' });
    const foreign = await exchangeFor(stack.svc, 'agent', login.accessToken, CRM);
    const wrongAud = await post(stack, foreign.body.access_token as string, call(1, 'lookup_customer', { customerId: 'a' }));
    assert.equal(wrongAud.status, 401);
    assert.equal(wrongAud.body.error, 'invalid_token');
    assert.equal(posts(), before);
  });

  it('GW-02: revoking the session cuts it off at the gateway within the feed bound', async () => {
    const mine = await stack.token('alice');
    assert.equal((await post(stack, mine, call(3, 'lookup_customer', { customerId: 'a' }))).status, 200);
    const before = posts();
    const sid = decodeJwt(mine).sid as string;
    assert.equal(await revokeSessionViaAdmin(stack.svc.url, stack.svc.basic('admin-cli'), sid, 'gateway test'), 200);
    const started = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - started < 5000) {
      status = (await post(stack, mine, call(4, 'lookup_customer', { customerId: 'a' }))).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 401);
    assert.ok(Date.now() - started < 5000);
    const after = await post(stack, mine, call(5, 'lookup_customer', { customerId: 'a' }));
    assert.equal(after.body.error, 'invalid_token');
    assert.ok(posts() - before <= (Date.now() - started) / 50 + 1);
  });

  it('an Origin outside the allow-list is 403; a listed one passes', async () => {
    const denied = await post(stack, token, call(1, 'lookup_customer', { customerId: 'a' }), { origin: 'http://evil.example' });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body, { jsonrpc: '2.0', error: { code: -32600, message: 'origin not allowed' }, id: null });
    const allowed = await post(stack, token, call(1, 'lookup_customer', { customerId: 'a' }), { origin: 'http://allowed.example' });
    assert.equal(allowed.status, 200);
  });

  it('CORS (Fetch standard): a listed origin gets its preflight answered and may read answers and their challenge; others get 403 and no CORS headers', async () => {
    const preflight = (origin: string) =>
      fetch(stack.resource, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-protocol-version' } });
    const ok = await preflight('http://allowed.example');
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://allowed.example');
    assert.equal(ok.headers.get('access-control-allow-methods'), 'GET, POST, DELETE');
    assert.equal(ok.headers.get('access-control-allow-headers'), 'authorization, content-type, dpop, last-event-id, mcp-protocol-version, mcp-session-id');
    assert.equal(ok.headers.get('access-control-max-age'), '600');
    assert.equal(ok.headers.get('vary'), 'origin');
    assert.equal(ok.headers.get('access-control-allow-credentials'), null);
    const refused = await preflight('http://evil.example');
    assert.equal(refused.status, 403);
    assert.deepEqual(await refused.json(), { jsonrpc: '2.0', error: { code: -32600, message: 'origin not allowed' }, id: null });
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    // An OPTIONS that is not a preflight is still a method the route does not serve.
    assert.equal((await fetch(stack.resource, { method: 'OPTIONS' })).status, 405);
    // Refused, so audited and counted like every other refusal.
    assert.match(await (await fetch(`${stack.gatewayUrl}/metrics`)).text(), /dts_gateway_decisions_total\{route="[^"]+",method="OPTIONS",tool="",result="deny",reason="http_method_not_allowed"\} 1/);

    const exposed = 'www-authenticate, mcp-session-id, mcp-protocol-version, dpop-nonce, x-request-id';
    const allowed = await post(stack, token, call(1, 'lookup_customer', { customerId: 'a' }), { origin: 'http://allowed.example' });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://allowed.example');
    assert.equal(allowed.headers.get('access-control-expose-headers'), exposed);
    const challenged = await post(stack, undefined, call(2, 'lookup_customer', { customerId: 'a' }), { origin: 'http://allowed.example' });
    assert.equal(challenged.status, 401);
    assert.equal(challenged.headers.get('access-control-allow-origin'), 'http://allowed.example');
    assert.equal(challenged.headers.get('access-control-expose-headers'), exposed);
    assert.match(challenged.headers.get('www-authenticate') ?? '', /resource_metadata="/);
    const denied = await post(stack, token, call(3, 'export_customers'), { origin: 'http://allowed.example' });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get('access-control-allow-origin'), 'http://allowed.example');
    const noOrigin = await post(stack, token, call(4, 'lookup_customer', { customerId: 'a' }));
    assert.equal(noOrigin.status, 200);
    assert.equal(noOrigin.headers.get('access-control-allow-origin'), null);
    const evil = await post(stack, token, call(5, 'lookup_customer', { customerId: 'a' }), { origin: 'http://evil.example' });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
  });

  it('CORS: the RFC 9728 metadata and the JWKS are readable from any origin, preflight included', async () => {
    const metadataUrl = `${stack.gatewayUrl}/.well-known/oauth-protected-resource/crm/mcp`;
    const doc = await fetch(metadataUrl, { headers: { origin: 'http://anywhere.example', 'mcp-protocol-version': '2025-06-18' } });
    assert.equal(doc.status, 200);
    assert.equal(doc.headers.get('access-control-allow-origin'), '*');
    assert.equal(((await doc.json()) as { resource: string }).resource, stack.resource);
    const preflight = await fetch(metadataUrl, { method: 'OPTIONS', headers: { origin: 'http://anywhere.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, HEAD');
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'mcp-protocol-version');
    const jwks = await fetch(`${stack.gatewayUrl}/.well-known/jwks.json`);
    assert.equal(jwks.headers.get('access-control-allow-origin'), '*');
    // Not every path is public: the metrics are not readable cross-origin, and OPTIONS elsewhere is 404.
    assert.equal((await fetch(`${stack.gatewayUrl}/metrics`)).headers.get('access-control-allow-origin'), null);
    assert.equal((await fetch(`${stack.gatewayUrl}/metrics`, { method: 'OPTIONS', headers: { origin: 'http://anywhere.example', 'access-control-request-method': 'GET' } })).status, 404);
  });

  it('resources/read, prompts/get and unknown methods are denied by default (403); notifications and pings pass', async () => {
    for (const [method, params] of [['resources/read', { uri: 'file:///etc/passwd' }], ['prompts/get', { name: 'p' }], ['sampling/createMessage', {}], ['resources/list', {}]] as const) {
      const res = await post(stack, token, JSON.stringify({ jsonrpc: '2.0', id: 11, method, params }));
      assert.equal(res.status, 403, method);
      assert.deepEqual(res.body, { jsonrpc: '2.0', error: { code: -32601, message: 'method not allowed' }, id: 11 });
    }
    assert.equal((await post(stack, token, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }))).status, 202);
    assert.equal((await post(stack, token, JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'ping' }))).status, 200);
    assert.equal((await post(stack, token, JSON.stringify({ jsonrpc: '2.0', id: 13, result: {} }))).status, 202);
  });

  it('a method MCP does not define is counted as (other): callers cannot mint metric series', async () => {
    const invented = `x/${randomUUID()}`;
    const res = await post(stack, token, JSON.stringify({ jsonrpc: '2.0', id: 14, method: invented, params: {} }));
    assert.equal(res.status, 403);
    const metrics = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
    assert.ok(!metrics.includes(invented), 'the invented method name is not a label');
    assert.match(metrics, /dts_gateway_decisions_total\{route="[^"]+",method="\(other\)",tool="",result="deny",reason="[^"]*"\} \d+/);
  });

  it('an Mcp-Session-Id is bound to the (sub, sid, client_id) that opened it: another token gets 404', async () => {
    const client = await stack.connect(token);
    const sessionId = (client.transport as unknown as { sessionId?: string }).sessionId!;
    assert.ok(sessionId);
    const other = await stack.token('alice');
    const stolen = await post(stack, other, call(21, 'lookup_customer', { customerId: 'a' }), { 'mcp-session-id': sessionId });
    assert.equal(stolen.status, 404);
    assert.deepEqual(stolen.body, { jsonrpc: '2.0', error: { code: -32001, message: 'session not found' }, id: 21 });
    const own = await post(stack, token, call(22, 'lookup_customer', { customerId: 'a' }), { 'mcp-session-id': sessionId });
    assert.equal(own.status, 200);
    const unknown = await post(stack, token, call(23, 'lookup_customer', { customerId: 'a' }), { 'mcp-session-id': 'made-up' });
    assert.equal(unknown.status, 404);
    // DELETE ends the session, after authentication and the binding check.
    const del = await fetch(stack.resource, { method: 'DELETE', headers: { authorization: `Bearer ${other}`, 'mcp-session-id': sessionId } });
    assert.equal(del.status, 404);
    const end = await fetch(stack.resource, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId } });
    assert.equal(end.status, 200);
    assert.equal((await post(stack, token, call(24, 'lookup_customer', { customerId: 'a' }), { 'mcp-session-id': sessionId })).status, 404);
  });

  it('GW-05: every decision, allow and deny, is in the audit trail with the full actor chain, and GET /admin/audit?type=gateway shows it', async () => {
    await post(stack, token, call(31, 'export_customers'));
    await post(stack, token, call(32, 'lookup_customer', { customerId: 'a' }));
    await new Promise((r) => setTimeout(r, 300));
    const admin = await postForm(`${stack.svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: stack.svc.basic('admin-cli') });
    const res = await fetch(`${stack.svc.url}/admin/audit?type=gateway&limit=50`, { headers: { authorization: `Bearer ${admin.body.access_token}` } });
    assert.equal(res.status, 200);
    const { items } = (await res.json()) as { items: Array<Record<string, unknown>> };
    const inbound = decodeJwt(token);
    // The audit event names the tool asked for, even one outside the token's scopes; the metrics label does not.
    const deny = items.find((e) => e.tool === 'export_customers' && e.decision === 'deny' && e.sid === inbound.sid)!;
    assert.ok(deny, 'deny event');
    const metrics = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
    assert.match(metrics, /dts_gateway_decisions_total\{route="[^"]+",method="tools\/call",tool="\(other\)",result="deny",reason="insufficient_scope"\} \d+/);
    assert.ok(!metrics.includes('tool="export_customers"'), 'an out-of-scope tool name is not a metrics label');
    assert.deepEqual(deny.reasons, ['insufficient_scope']);
    assert.equal(deny.status, 403);
    assert.deepEqual(deny.act, inbound.act);
    assert.equal(deny.clientId, 'agent');
    assert.equal(deny.sub, 'user-bob');
    assert.equal(deny.toolServer, stack.resource);
    const allow = items.find((e) => e.tool === 'lookup_customer' && e.decision === 'allow' && e.sid === inbound.sid)!;
    assert.ok(allow, 'allow event');
    assert.equal(allow.method, 'tools/call');
    assert.equal(allow.status, 200);
    assert.deepEqual(allow.act, inbound.act);
    assert.match(String(allow.argumentsHmac), /^[A-Za-z0-9_-]{43}$/);
  });

  it('serves /healthz, /readyz, /metrics, its JWKS and each route\'s RFC 9728 metadata', async () => {
    assert.equal((await fetch(`${stack.gatewayUrl}/healthz`)).status, 200);
    const ready = await fetch(`${stack.gatewayUrl}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
    assert.match(metrics, /dts_gateway_decisions_total\{route="[^"]+\/crm\/mcp",method="tools\/call",tool="lookup_customer",result="allow",reason=""\} \d+/);
    assert.match(metrics, /dts_gateway_added_latency_seconds_bucket/);
    assert.match(metrics, /dts_gateway_upstream_duration_seconds_bucket/);
    const jwks = (await (await fetch(`${stack.gatewayUrl}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
    assert.ok(jwks.keys.some((k) => k.kid === stack.gateway.keys.signing.kid && k.d === undefined));
    const meta = await (await fetch(`${stack.gatewayUrl}/.well-known/oauth-protected-resource/crm/mcp`)).json();
    assert.deepEqual(meta, { resource: stack.resource, authorization_servers: [stack.svc.url], bearer_methods_supported: ['header'], scopes_supported: TOOLS });
  });
});

describe('MCP gateway: event-stream responses (GW-04) and upstream failures', () => {
  it('GW-04: tools/list over text/event-stream, paginated, is filtered as it streams', async () => {
    const stack = await startStack({ upstream: { responseMode: 'sse', pageSize: 2 } });
    try {
      const token = await stack.token();
      const client = await stack.connect(token);
      const names = await allToolNames(client);
      assert.deepEqual(names.sort(), [...GRANTED].sort());
      const raw = await post(stack, token, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: { cursor: '2' } }));
      assert.equal(raw.status, 200);
      assert.equal(raw.headers.get('content-type'), 'text/event-stream');
      assert.ok(!raw.text.includes('export_customers'));
      assert.match(raw.text, /^event: message\ndata: \{"jsonrpc":"2.0","id":5,"result":\{"tools":\[\{"name":"echo"/);
      const result = await client.callTool({ name: 'echo', arguments: {} });
      assert.equal((result.content as Array<{ text: string }>)[0]!.text, '{"ok":true}');
    } finally {
      await stack.stop();
    }
  });

  it('an upstream that is down answers 502 with a JSON-RPC error; a silent one 504 after the timeout; the gateway stays ready', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/mcp`;
    const stack = await startStack({ upstreamUrl: dead });
    try {
      const token = await stack.token();
      const down = await post(stack, token, call(41, 'lookup_customer', { customerId: 'a' }));
      assert.equal(down.status, 502);
      assert.deepEqual(down.body, { jsonrpc: '2.0', error: { code: -32603, message: 'upstream unavailable' }, id: 41 });
      assert.equal((await fetch(`${stack.gatewayUrl}/readyz`)).status, 200);
    } finally {
      await stack.stop();
    }
    const slow = await startStack();
    try {
      const token = await slow.token();
      const started = Date.now();
      const res = await post(slow, token, call(42, 'slow', { ms: 3000 }));
      assert.equal(res.status, 504);
      assert.deepEqual(res.body, { jsonrpc: '2.0', error: { code: -32603, message: 'upstream timed out' }, id: 42 });
      assert.ok(Date.now() - started < 2500, 'answered within the 1 s timeout, not after the upstream');
    } finally {
      await slow.stop();
    }
  });

  it('upstreamAuth: exchange sends upstream a token re-exchanged for its own aud (RFC 8693 §2.3), not the inbound one', async () => {
    const stack = await startStack({ route: { upstreamAuth: 'exchange' } });
    try {
      const token = await stack.token();
      const res = await post(stack, token, call(51, 'lookup_customer', { customerId: 'a' }));
      assert.equal(res.status, 200);
      const received = stack.upstream.received.at(-1)!;
      const bearer = String(received.headers.authorization).replace(/^Bearer /, '');
      assert.notEqual(bearer, token);
      assert.equal(received.headers['delegation-assertion'], undefined);
      const claims = decodeJwt(bearer);
      const inbound = decodeJwt(token);
      assert.equal(claims.aud, stack.upstream.url);
      assert.equal(claims.sub, 'user-bob');
      assert.equal(claims.sid, inbound.sid);
      assert.deepEqual(claims.act, { sub: 'gateway', act: inbound.act });
    } finally {
      await stack.stop();
    }
  });
});
