// The MCP enforcement gateway over real HTTP, with the real MCP SDK client, against the real service on real Redis
// (SPEC §12, GW-01 … GW-05).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { call, GRANTED, post, startStack, type Stack } from './fixture.js';

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
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
    } while (cursor);
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
