// GW-01/GW-03 (SPEC §12) for the body's representation: the gateway decides UTF-8 JSON, so upstream must read UTF-8
// JSON. In front of the MCP TypeScript SDK's Express server (`express.json()` decodes the body in the `charset` of its
// Content-Type, UTF-7 included), a body declared in another charset or content coding is refused with 415 and never
// reaches upstream; an accepted one reaches it as `application/json`, whatever parameters the client wrote.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import type { GatewayDecisionEvent } from '../../src/audit/events.js';
import { parseMediaType, representationFailure } from '../../src/gateway/content_type.js';
import { call, startStack, type Stack } from './fixture.js';
import { startSdkUpstream, type SdkUpstream } from './sdk_upstream.js';

/** UTF-7 (RFC 2152) `+<base64 of UTF-16BE>-`: an opaque string to a UTF-8 reader, JSON structure to a UTF-7 one. */
const utf7 = (s: string) => `+${Buffer.from(s, 'utf16le').swap16().toString('base64').replace(/=+$/, '')}-`;

describe('parseMediaType / representationFailure (RFC 9110 §8.3, §8.4)', () => {
  it('reads type, subtype and parameters case-insensitively, quoted or not, and refuses anything else', () => {
    assert.deepEqual(parseMediaType('Application/JSON ; Charset="UTF-8";;q="a\\"b"'), { type: 'application/json', parameters: new Map([['charset', 'UTF-8'], ['q', 'a"b']]) });
    assert.deepEqual(parseMediaType('application/json;charset="utf\\-8"')?.parameters.get('charset'), 'utf-8');
    for (const bad of ['application/json\u00a0', 'application/json; charset', 'application/json; charset=', 'application/json charset=utf-8', 'application', '/json', 'application/json; charset=utf-8; Charset=utf-7', 'application/json; charset="utf-8']) {
      assert.equal(parseMediaType(bad), undefined, bad);
    }
  });

  it('accepts only application/json, charset utf-8 if any, without a content coding', () => {
    const ok = ['application/json', 'APPLICATION/JSON', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/json; profile=x', 'application/json;'];
    for (const type of ok) assert.equal(representationFailure({ 'content-type': type }), undefined, type);
    assert.equal(representationFailure({ 'content-type': 'application/json', 'content-encoding': 'Identity' }), undefined);
    const media = [undefined, '', 'text/plain', 'application/jsonl', 'application/json-seq', 'application/x-json', 'text/json', 'application/json; charset=utf-7', 'application/json; charset=utf-16le', 'application/json; charset=utf8', 'application/json; charset=iso-8859-1', 'application/json; charset=utf-8; charset=utf-7', 'application/json\u00a0'];
    for (const type of media) assert.equal(representationFailure(type === undefined ? {} : { 'content-type': type }), 'unsupported_media_type', String(type));
    for (const coding of ['gzip', 'deflate', 'br', 'identity, gzip', '']) {
      assert.equal(representationFailure({ 'content-type': 'application/json', 'content-encoding': coding }), 'unsupported_content_encoding', coding);
    }
  });
});

describe('a POST body in another charset or content coding (in front of the MCP SDK\'s Express server)', () => {
  let stack: Stack;
  let upstream: SdkUpstream;
  let token: string;
  const lines: Array<{ msg: string; event?: GatewayDecisionEvent }> = [];
  const decision = async (requestId: string) => {
    for (let i = 0; i < 50; i++) {
      const event = lines.find((l) => l.msg === 'gateway decision' && l.event?.requestId === requestId)?.event;
      if (event) return event;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no decision event for ${requestId}`);
  };
  before(async () => {
    upstream = await startSdkUpstream();
    stack = await startStack({ upstreamUrl: upstream.url, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) });
    token = await stack.token();
  });
  after(async () => {
    await stack.stop();
    await upstream.stop();
  });

  const send = async (body: string | Buffer, headers: Record<string, string>) => {
    const res = await fetch(stack.resource, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...headers }, body });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  it('charset=utf-7: 415 unsupported media type, audited and counted, nothing upstream (before: a refund of 999999 and export_customers ran, audited as allowed)', async () => {
    const before = upstream.received.length;
    // As decided at the gateway (UTF-8): issue_refund of 10 with a memo; lookup_customer. As UTF-7: amount 999999;
    // export_customers, outside the token's scopes.
    const refund = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"issue_refund","arguments":{"customerId":"cus_1","amount":10,"memo":"${utf7('","amount":999999,"z":"')}"}}}`;
    const exportAll = `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"lookup_customer","arguments":{"customerId":"${utf7('"},"name":"export_customers","arguments":{"a":"')}"}}}`;
    for (const [body, type] of [[refund, 'application/json; charset=utf-7'], [exportAll, 'application/json; charset=UTF-7'], [exportAll, 'application/json; charset="utf-7"'], [refund, 'application/json; charset=utf-8; charset=utf-7']] as const) {
      const res = await send(body, { 'content-type': type });
      assert.equal(res.status, 415, type);
      assert.deepEqual(res.body, { jsonrpc: '2.0', error: { code: -32600, message: 'unsupported media type' }, id: null });
      assert.equal(res.headers.get('accept'), 'application/json');
      const event = await decision(res.headers.get('x-request-id')!);
      assert.deepEqual([event.decision, event.reasons, event.status, event.httpMethod, event.clientId], ['deny', ['unsupported_media_type'], 415, 'POST', 'agent']);
    }
    assert.equal(upstream.received.length, before, 'nothing reached upstream');
    assert.deepEqual(upstream.executed, []);
    assert.match(await (await fetch(`${stack.gatewayUrl}/metrics`)).text(), /dts_gateway_decisions_total\{route="[^"]+",method="POST",tool="",result="deny",reason="unsupported_media_type"\} 4/);
  });

  it('UTF-16, no Content-Type, text/plain: 415 too', async () => {
    const before = upstream.received.length;
    for (const [body, type] of [[Buffer.from(call(5, 'export_customers'), 'utf16le'), 'application/json; charset=utf-16le'], [call(6, 'lookup_customer', { customerId: 'a' }), 'text/plain']] as const) {
      assert.equal((await send(body, { 'content-type': type })).status, 415, type);
    }
    // fetch always names a string body's type: node:http sends none.
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(stack.resource);
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end(call(7, 'lookup_customer', { customerId: 'a' }));
    });
    assert.equal(status, 415);
    assert.equal(upstream.received.length, before);
  });

  it('Content-Encoding other than identity: 415 unsupported content encoding with Accept-Encoding: identity, nothing upstream', async () => {
    const before = upstream.received.length;
    const res = await send(gzipSync(call(8, 'export_customers')), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(res.status, 415);
    assert.deepEqual(res.body, { jsonrpc: '2.0', error: { code: -32600, message: 'unsupported content encoding' }, id: null });
    assert.equal(res.headers.get('accept-encoding'), 'identity');
    const event = await decision(res.headers.get('x-request-id')!);
    assert.deepEqual([event.decision, event.reasons, event.status], ['deny', ['unsupported_content_encoding'], 415]);
    assert.equal(upstream.received.length, before);
  });

  it('an accepted body reaches upstream as application/json, never the client\'s Content-Type, and is what was decided', async () => {
    const before = upstream.received.length;
    for (const type of ['Application/JSON; charset="UTF-8"; profile=x', 'application/json']) {
      const res = await send(call(9, 'issue_refund', { customerId: 'cus_1', amount: 10 }), { 'content-type': type, 'content-encoding': 'identity' });
      assert.equal(res.status, 200, type);
    }
    const seen = upstream.received.slice(before);
    assert.deepEqual(seen.map((r) => r.headers['content-type']), ['application/json', 'application/json']);
    assert.deepEqual(seen.map((r) => r.headers['content-encoding']), [undefined, undefined]);
    assert.deepEqual(upstream.executed, [{ tool: 'issue_refund', args: { customerId: 'cus_1', amount: 10 } }, { tool: 'issue_refund', args: { customerId: 'cus_1', amount: 10 } }]);
  });
});
