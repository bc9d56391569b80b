// GW-04 (SPEC §12) on a resumed stream: MCP Streamable HTTP, "Resumability and Redelivery": a GET with Last-Event-ID
// replays earlier answers, a tools/list answer among them. In front of the MCP TypeScript SDK's own server (its
// transport with an event store), the replayed list is filtered by the same decision as the POST's answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { z } from 'zod';
import { startStack, TOOLS, GRANTED, type Stack } from './fixture.js';

describe('GW-04: a tools/list answer replayed on a resumed stream is filtered', () => {
  let stack: Stack;
  let upstream: Server;
  before(async () => {
    const mcp = new McpServer({ name: 'sdk-upstream', version: '1.0.0' });
    for (const name of TOOLS) mcp.registerTool(name, { description: name, inputSchema: { customerId: z.string().optional() } }, async () => ({ content: [{ type: 'text', text: name }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, eventStore: new InMemoryEventStore() });
    await mcp.connect(transport);
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        void transport.handleRequest(req, res, body ? JSON.parse(body) : undefined);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    stack = await startStack({ upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp` });
  });
  after(async () => {
    await stack.stop();
    upstream.closeAllConnections();
    upstream.close();
  });

  /** Each event of an SSE body: its `id`, and its `data` parsed (undefined for an empty one, e.g. a priming event). */
  const events = (text: string) =>
    text.split('\n\n').filter((e) => /^(id|data):/m.test(e)).map((e) => {
      const data = /^data: (.+)$/m.exec(e)?.[1];
      return { id: /^id: (.+)$/m.exec(e)?.[1], data: data === undefined ? undefined : (JSON.parse(data) as Record<string, unknown>) };
    });
  const names = (message: Record<string, unknown>) => ((message.result as { tools: Array<{ name: string }> }).tools.map((t) => t.name)).sort();

  it('the POST answer and its replay on a GET with Last-Event-ID both list exactly the granted tools', async () => {
    const token = await stack.token();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
    const init = await fetch(stack.resource, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } } }) });
    assert.equal(init.status, 200);
    const session = init.headers.get('mcp-session-id')!;
    await init.text();
    const inSession = { ...headers, 'mcp-session-id': session };
    assert.equal((await fetch(stack.resource, { method: 'POST', headers: inSession, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).status, 202);

    const list = await fetch(stack.resource, { method: 'POST', headers: inSession, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    assert.equal(list.status, 200);
    const answered = events(await list.text());
    const answer = answered.find((e) => e.data?.id === 2)!;
    assert.deepEqual(names(answer.data!), [...GRANTED].sort());
    // The stream's priming event comes before the answer (MCP 2025-11-25): resuming after it replays the answer.
    const resumeFrom = answered[0]!.id!;
    assert.notEqual(resumeFrom, answer.id);

    const resumed = await fetch(stack.resource, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25', 'last-event-id': resumeFrom } });
    assert.equal(resumed.status, 200);
    const reader = resumed.body!.getReader();
    let text = '';
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && !/"id":2/.test(text)) {
      const next = await Promise.race([reader.read(), new Promise<{ done: true; value?: undefined }>((resolve) => setTimeout(() => resolve({ done: true }), 500))]);
      if (next.value) text += new TextDecoder().decode(next.value);
      if (next.done && !next.value) continue;
    }
    await reader.cancel().catch(() => undefined);
    const replayed = events(text).find((e) => e.data?.id === 2);
    assert.ok(replayed?.data, `no replayed answer in: ${text}`);
    assert.deepEqual(names(replayed.data), [...GRANTED].sort());
    assert.ok(!text.includes('export_customers'));
  });
});
