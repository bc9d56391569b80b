// Arguments nested far deeper than any call stack, within the default maxBodyBytes: each call is decided, answered,
// audited and counted exactly as a shallow one (JSON.parse builds any depth, and nothing the decision does recurses on it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { post, startStack, type Stack } from './fixture.js';
import { postForm } from '../helpers/http.js';

/** A tools/call body whose arguments hold `note`, arrays nested `depth` deep, written as text (JSON.stringify cannot). */
function deepCall(id: number, name: string, depth: number, args = '"customerId":"cus_1001"'): { body: string; canonical: string } {
  const note = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  return {
    body: `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${name}","arguments":{"note":${note},${args}}}}`,
    // The decision log's canonical arguments: member names sorted.
    canonical: `{${args},"note":${note}}`,
  };
}

/** The value of one `dts_gateway_decisions_total` series, 0 when it is not there yet. */
async function decisions(stack: Stack, labels: string): Promise<number> {
  const text = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
  const series = `dts_gateway_decisions_total{route="${stack.resource}",${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line === undefined ? 0 : Number(line.slice(series.length));
}

describe('MCP gateway: arguments nested 6,000 and 500,000 deep (default maxBodyBytes, 1 MB)', () => {
  let stack: Stack;
  let token: string;
  let hmac: (canonical: string) => string;
  before(async () => {
    stack = await startStack({ gateway: { maxBodyBytes: 1024 * 1024 } });
    token = await stack.token();
    const key = readFileSync(join(stack.keysDir, 'arguments.key'), 'utf8').replace(/\r?\n$/, '');
    hmac = (canonical) => createHmac('sha256', key).update(canonical).digest('base64url');
  });
  after(() => stack.stop());

  const posts = () => stack.upstream.received.filter((r) => r.httpMethod === 'POST').length;
  const metadata = () => `resource_metadata="${stack.gatewayUrl}/.well-known/oauth-protected-resource/crm/mcp"`;

  /** The gateway audit events of this token's session for `tool`, newest first, once `count` of them are there. */
  async function auditEvents(tool: string, count: number): Promise<Array<Record<string, unknown>>> {
    const admin = await postForm(`${stack.svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: stack.svc.basic('admin-cli') });
    const sid = decodeJwt(token).sid;
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${stack.svc.url}/admin/audit?type=gateway&limit=100`, { headers: { authorization: `Bearer ${admin.body.access_token}` } });
      assert.equal(res.status, 200);
      const { items } = (await res.json()) as { items: Array<Record<string, unknown>> };
      const mine = items.filter((e) => e.tool === tool && e.sid === sid);
      if (mine.length >= count || attempt === 50) return mine;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('a tool outside the scopes → the same 403 insufficient_scope as a shallow call, counted and audited as a deny', async () => {
    const before = posts();
    const counted = await decisions(stack, 'method="tools/call",tool="(other)",result="deny",reason="insufficient_scope"');
    const calls = [deepCall(61, 'export_customers', 6000), deepCall(62, 'export_customers', 500_000)];
    assert.ok(calls[1]!.body.length < 1024 * 1024);
    for (const { body } of calls) {
      const res = await post(stack, token, body);
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('www-authenticate'), `Bearer error="insufficient_scope", scope="export_customers", ${metadata()}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(res.body, { error: 'insufficient_scope', error_description: 'insufficient scope' });
    }
    assert.equal(posts(), before);
    assert.equal(await decisions(stack, 'method="tools/call",tool="(other)",result="deny",reason="insufficient_scope"'), counted + 2);
    const events = await auditEvents('export_customers', 2);
    assert.deepEqual(
      events.map((e) => [e.decision, e.reasons, e.status, e.method, e.argumentsHmac]).sort(),
      calls.map(({ canonical }) => ['deny', ['insufficient_scope'], 403, 'tools/call', hmac(canonical)]).sort(),
    );
  });

  it('a granted tool reaches upstream and answers; a deep value where a limit wants a number is 403 insufficient_authorization_details', async () => {
    const before = posts();
    const allowed = await decisions(stack, 'method="tools/call",tool="lookup_customer",result="allow",reason=""');
    const lookup = deepCall(63, 'lookup_customer', 6000);
    const res = await post(stack, token, lookup.body);
    assert.equal(res.status, 200);
    const result = res.body.result as { content: Array<{ text: string }> };
    assert.deepEqual(res.body.id, 63);
    assert.deepEqual(JSON.parse(result.content[0]!.text), { customerId: 'cus_1001', name: 'Ada Lovelace', plan: 'enterprise' });
    assert.equal(posts(), before + 1);
    assert.equal(await decisions(stack, 'method="tools/call",tool="lookup_customer",result="allow",reason=""'), allowed + 1);
    const [allow] = await auditEvents('lookup_customer', 1);
    assert.equal(allow!.decision, 'allow');
    assert.equal(allow!.argumentsHmac, hmac(lookup.canonical));

    const refund = deepCall(64, 'issue_refund', 6000, `"amount":${'['.repeat(6000)}${']'.repeat(6000)},"customerId":"cus_1001"`);
    const refused = await post(stack, token, refund.body);
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get('www-authenticate'), `Bearer error="insufficient_authorization_details", ${metadata()}`);
    assert.equal(refused.body.error, 'insufficient_authorization_details');
    assert.deepEqual(refused.body.violations, [{ argument: 'amount', path: '/amount', keyword: 'type', limit: 'number' }]);
    assert.equal(posts(), before + 1);
    const [deny] = await auditEvents('issue_refund', 1);
    assert.deepEqual([deny!.decision, deny!.reasons, deny!.argumentsHmac], ['deny', ['insufficient_authorization_details'], hmac(refund.canonical)]);
  });
});
