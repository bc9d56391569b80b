// GW-04 (SPEC §12) whatever response a tool list comes on. The MCP TypeScript SDK's transport routes an answer by its
// JSON-RPC id to the last POST that used that id, so a tools/list answer can go out on a tools/call's response: every
// answer the gateway relays is filtered by shape (a result carrying `tools`), not by the request it answers. A request
// reusing an id still in flight in its session is refused (MCP: ids are never reused within a session).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { GatewayDecisionEvent } from '../../src/audit/events.js';
import { call, GRANTED, post, startStack, TOOLS, type Stack } from './fixture.js';
import { startSdkUpstream, type SdkUpstream } from './sdk_upstream.js';

/** The JSON-RPC messages of an SSE body (its `data`), or of a JSON one. */
function messages(text: string): Array<Record<string, unknown>> {
  if (!/^(event|data|id):/m.test(text)) return [JSON.parse(text) as Record<string, unknown>];
  return text
    .split(/\n\n/)
    .map((e) => e.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n'))
    .filter((data) => data.length > 0)
    .map((data) => JSON.parse(data) as Record<string, unknown>);
}
const listed = (message: Record<string, unknown> | undefined) => (message?.result as { tools?: Array<{ name: string }> } | undefined)?.tools?.map((t) => t.name).sort();

describe('a tools/list answer on another request\'s response (in front of the MCP SDK\'s stateful server)', () => {
  let stack: Stack;
  let upstream: SdkUpstream;
  let token: string;
  let headers: Record<string, string>;
  const lines: Array<{ msg: string; event?: GatewayDecisionEvent }> = [];
  before(async () => {
    upstream = await startSdkUpstream({ stateful: true, listDelayMs: 300 });
    stack = await startStack({ upstreamUrl: upstream.url, gateway: { upstreamTimeoutMs: 5000 }, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) });
    token = await stack.token();
    headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
    const init = await fetch(stack.resource, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } } }) });
    assert.equal(init.status, 200);
    headers['mcp-session-id'] = init.headers.get('mcp-session-id')!;
    await init.text();
    assert.equal((await fetch(stack.resource, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).status, 202);
  });
  after(async () => {
    await stack.stop();
    await upstream.stop();
  });

  const send = (body: string, signal?: AbortSignal) => fetch(stack.resource, { method: 'POST', headers, body, ...(signal ? { signal } : {}) });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('a request reusing an id in flight in its session: 400 -32600, audited duplicate_request_id; the id is free again once answered (before: the tools/call got the unfiltered list)', async () => {
    const list = send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }));
    await sleep(100);
    const reused = await send(call(7, 'slow', { ms: 1000 }));
    assert.equal(reused.status, 400);
    assert.deepEqual(await reused.json(), { jsonrpc: '2.0', error: { code: -32600, message: 'request id already in use' }, id: 7 });
    const requestId = reused.headers.get('x-request-id');
    await sleep(50);
    const event = lines.find((l) => l.msg === 'gateway decision' && l.event?.requestId === requestId)?.event;
    assert.deepEqual([event?.decision, event?.reasons, event?.status, event?.method], ['deny', ['duplicate_request_id'], 400, 'tools/call']);
    // The first request's answer is the one it asked for, filtered.
    const answered = messages(await (await list).text());
    assert.deepEqual(answered.map((m) => m.id), [7]);
    assert.deepEqual(listed(answered[0]), [...GRANTED].sort());
    assert.ok(!upstream.executed.some((e) => e.tool === 'slow'), 'the refused call never ran');
    // JSON-RPC ids are the client's: a string "7" is another id, and 7 is free once its answer is out.
    const other = await send(JSON.stringify({ jsonrpc: '2.0', id: '7', method: 'tools/call', params: { name: 'echo', arguments: {} } }));
    assert.equal(other.status, 200);
    await other.text();
    const again = await send(call(7, 'echo'));
    assert.equal(again.status, 200);
    assert.deepEqual(messages(await again.text()).map((m) => m.id), [7]);
  });

  it('a list answer upstream routes to a later request with the same id (the first one\'s client left) is filtered (before: every tool listed)', async () => {
    const left = new AbortController();
    const list = send(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }), left.signal).then(
      (res) => res.text(),
      () => undefined,
    );
    await sleep(100);
    left.abort();
    await list.catch(() => undefined);
    await sleep(100);
    // Upstream still computes the list for id 9; its transport now maps id 9 to this POST's stream.
    const call9 = await send(call(9, 'slow', { ms: 1000 }));
    assert.equal(call9.status, 200);
    const answered = messages(await call9.text());
    const carried = answered.filter((m) => (m.result as { tools?: unknown } | undefined)?.tools !== undefined);
    assert.equal(carried.length, 1, `a tool list came on the tools/call's response: ${JSON.stringify(answered)}`);
    assert.deepEqual(listed(carried[0]), [...GRANTED].sort());
    assert.ok(!JSON.stringify(answered).includes('export_customers'));
  });
});

/**
 * An upstream that answers a `tools/call` of `echo` with what `arguments.answer` names: a tool list (JSON or SSE) or a
 * body without one, written exactly as below (spacing, escapes, a number beyond 2^53).
 */
const VERBATIM_JSON = (id: number) => `{"jsonrpc":"2.0", "id":${id},"result":{"content":[{"type":"text","text":"caf\\u00e9 \\/"}],"structuredContent":{"n":12345678901234567891,"f":1.0}}}\n`;
const LIST = (id: number | string) => JSON.stringify({ jsonrpc: '2.0', id, result: { tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } })) } });

async function startAnsweringUpstream(): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const m = JSON.parse(Buffer.concat(chunks).toString()) as { id: number; params: { arguments: { answer: string } } };
    const answer = m.params.arguments.answer;
    if (answer === 'json-list') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(LIST(m.id));
    } else if (answer === 'sse-list') {
      // A progress notification, a list under another id (as a transport routing by id would put it here), the answer.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n\n`);
      res.write(`event: message\nid: e-2\ndata: ${LIST('other')}\n\n`);
      res.end(`event: message\ndata: ${VERBATIM_JSON(m.id).trim()}\n\n`);
    } else if (answer === 'json-verbatim') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(VERBATIM_JSON(m.id));
    } else {
      // Split across writes, and a data field over two lines (WHATWG SSE joins them with a newline), between two JSON
      // tokens: data that is not JSON is not passed.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const text = VERBATIM_JSON(m.id).trim();
      res.write(`id: e-1\ndata: ${text.slice(0, 17)}`);
      res.end(`\ndata: ${text.slice(17)}\n\n`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('every answer relayed is filtered by shape; an answer without a tool list passes byte for byte', () => {
  let stack: Stack;
  let upstream: Awaited<ReturnType<typeof startAnsweringUpstream>>;
  let token: string;
  before(async () => {
    upstream = await startAnsweringUpstream();
    stack = await startStack({ upstreamUrl: upstream.url });
    token = await stack.token();
  });
  after(async () => {
    await stack.stop();
    await upstream.stop();
  });

  it('a tools/call answered with a tool list (JSON): filtered, its id kept (before: every tool listed)', async () => {
    const res = await post(stack, token, call(3, 'echo', { answer: 'json-list' }));
    assert.equal(res.status, 200);
    assert.equal(res.body.id, 3);
    assert.deepEqual(listed(res.body), [...GRANTED].sort());
  });

  it('a tools/call answered with an event stream carrying a list under another id: that list filtered, every other event as it was, none lost or doubled', async () => {
    const res = await post(stack, token, call(4, 'echo', { answer: 'sse-list' }));
    assert.equal(res.status, 200);
    const events = res.text.split('\n\n').filter(Boolean);
    assert.equal(events.length, 3);
    assert.equal(events[0], 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}');
    assert.match(events[1]!, /^event: message\nid: e-2\ndata: /);
    const list = messages(`${events[1]}\n\n`)[0]!;
    assert.equal(list.id, 'other');
    assert.deepEqual(listed(list), [...GRANTED].sort());
    assert.equal(events[2], `event: message\ndata: ${VERBATIM_JSON(4).trim()}`);
  });

  it('JSON and SSE answers without a tool list reach the client exactly as upstream wrote them', async () => {
    const json = await post(stack, token, call(5, 'echo', { answer: 'json-verbatim' }));
    assert.equal(json.status, 200);
    assert.equal(json.text, VERBATIM_JSON(5));
    const sse = await post(stack, token, call(6, 'echo', { answer: 'sse-verbatim' }));
    assert.equal(sse.status, 200);
    const text = VERBATIM_JSON(6).trim();
    assert.equal(sse.text, `id: e-1\ndata: ${text.slice(0, 17)}\ndata: ${text.slice(17)}\n\n`);
  });
});
