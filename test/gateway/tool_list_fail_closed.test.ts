// What upstream answers is read as the official MCP client reads it (the Content-Type essence, byte order marks
// stripped), and an answer the tool-list filter cannot read is never relayed; the decision event goes out with
// upstream's headers, whatever its body then does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { GatewayDecisionEvent } from '../../src/audit/events.js';
import { call, startStack, TOOLS, GRANTED, type Stack } from './fixture.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Upstream: `initialize` as usual; a `tools/list` answered as `mode` says; a `tools/call` whose JSON body stalls. */
async function startUpstream() {
  const state = { mode: 'plain' };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const m = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { id?: number; method: string; params: { protocolVersion?: string } };
    if (m.id === undefined) {
      res.writeHead(202).end();
      return;
    }
    if (m.method === 'initialize') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'u', version: '1' } } }));
      return;
    }
    if (m.method === 'tools/call') {
      // Never ends: the head and the start of the body, then nothing.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"jsonrpc":"2.0","id":${m.id},"result":{"content":[{"type":"text","text":"partial`);
      return;
    }
    const json = JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } })) } });
    if (state.mode === 'parameter') res.writeHead(200, { 'content-type': 'application/json; x="text/event-stream"' }).end(json);
    else if (state.mode === 'boms') res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.concat([BOM, BOM, Buffer.from(json)]));
    else if (state.mode === 'trailing') res.writeHead(200, { 'content-type': 'application/json' }).end(`${json} x`);
    else res.writeHead(200, { 'content-type': 'application/json' }).end(json);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('gateway: tool lists the filter cannot read are never relayed', () => {
  let stack: Stack;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let token: string;
  const lines: Array<{ msg: string; reqId?: string; reason?: string; event?: GatewayDecisionEvent }> = [];
  before(async () => {
    upstream = await startUpstream();
    stack = await startStack({ upstreamUrl: upstream.url, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) });
    token = await stack.token();
  });
  after(async () => {
    await stack.stop();
    await upstream.stop();
  });

  for (const mode of ['plain', 'parameter', 'boms']) {
    it(`the official MCP client lists only the granted tools (${mode}${mode === 'plain' ? '' : '; before: every tool'})`, async () => {
      upstream.state.mode = mode;
      const client = await stack.connect(token);
      try {
        assert.deepEqual((await client.listTools()).tools.map((t) => t.name), TOOLS.filter((name) => GRANTED.includes(name)));
      } finally {
        await client.close();
      }
    });
  }

  /** A POST carrying our own `X-Request-Id`: its answer never completes (cut, or stalled), so the id is known before. */
  const send = (requestId: string, body: string, signal?: AbortSignal) =>
    fetch(stack.resource, {
      method: 'POST',
      ...(signal ? { signal } : {}),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-request-id': requestId },
      body,
    });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('a JSON answer that does not parse is cut, and logged with the request id (before: relayed as written)', async () => {
    upstream.state.mode = 'trailing';
    // Cut before any of it was sent: the client gets no answer at all.
    await assert.rejects(send('not-json-1', JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' })).then((res) => res.text()));
    await sleep(100);
    assert.equal(lines.find((l) => l.msg === 'upstream answer not relayed: tool list could not be filtered' && l.reqId === 'not-json-1')?.reason, 'not_json');
  });

  it('the decision event of an allowed call goes out with upstream\'s headers, while its JSON body stalls (before: only once the response closed)', async () => {
    const aborted = new AbortController();
    const answered = send('stalled-1', call(21, 'echo', { n: 1 }), aborted.signal).catch(() => undefined);
    try {
      let event: GatewayDecisionEvent | undefined;
      for (let i = 0; i < 100 && event === undefined; i++) {
        await sleep(20);
        event = lines.find((l) => l.msg === 'gateway decision' && l.event?.requestId === 'stalled-1')?.event;
      }
      assert.deepEqual([event?.decision, event?.reasons, event?.status, event?.tool], ['allow', [], 200, 'echo']);
    } finally {
      aborted.abort();
      await answered;
    }
  });
});
