// An upstream answer too large for the tool-list filter to hold (gateway `maxBufferedBytes`, default 16 MiB) is never
// relayed unfiltered nor held whole: it is cut, JSON or event stream; a warning names the request (never the token),
// and the gateway serves on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pino } from 'pino';
import type { GatewayDecisionEvent } from '../../src/audit/events.js';
import { call, post, startStack, type Stack } from './fixture.js';

const MiB = 1024 * 1024;
/** What upstream would send of an answer that never ends, at most: four times the gateway's default bound. */
const ENDLESS = 64 * MiB;
const WARNING = 'upstream answer not relayed: tool list could not be filtered';

/** Upstream's answer to a `tools/call` of `echo`: as `arguments.answer` names, huge or small. */
async function startUpstream(): Promise<{ url: string; sent: Map<number, number>; stop(): Promise<void> }> {
  const sent = new Map<number, number>();
  // `head`, then `x` until the client stops reading or ENDLESS bytes were sent (counted per JSON-RPC id).
  const endless = async (res: ServerResponse, id: number, head: string) => {
    const block = Buffer.alloc(64 * 1024, 'x');
    async function* body() {
      yield Buffer.from(head);
      for (let n = 0; n < ENDLESS; n += block.length) {
        sent.set(id, n + block.length);
        yield block;
      }
    }
    await pipeline(Readable.from(body()), res).catch(() => undefined);
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const m = JSON.parse(Buffer.concat(chunks).toString()) as { id: number; params: { arguments: { answer?: string } } };
    const answer = m.params.arguments.answer;
    if (answer === 'huge-json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      await endless(res, m.id, `{"jsonrpc":"2.0","id":${m.id},"result":{"content":[{"type":"text","text":"`);
    } else if (answer === 'endless-event') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n\n`);
      await endless(res, m.id, 'event: message\ndata: ');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'ok' }] } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    sent,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('an upstream answer too large to filter (default maxBufferedBytes, 16 MiB)', () => {
  let stack: Stack;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let token: string;
  const lines: Array<{ level: number; msg: string; reqId?: string; reason?: string; event?: GatewayDecisionEvent }> = [];
  const raw: string[] = [];
  before(async () => {
    upstream = await startUpstream();
    stack = await startStack({
      upstreamUrl: upstream.url,
      gateway: { upstreamTimeoutMs: 5000 },
      logger: pino({ level: 'info' }, { write: (line: string) => void (raw.push(line), lines.push(JSON.parse(line))) }),
    });
    token = await stack.token();
  });
  after(async () => {
    await stack.stop();
    await upstream.stop();
  });

  const decision = (requestId: string | null) => lines.find((l) => l.msg === 'gateway decision' && l.event?.requestId === requestId)?.event;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** The gateway serves on: the next call is answered and audited as usual, `/healthz` is 200. */
  const healthy = async (id: number) => {
    const res = await post(stack, token, call(id, 'echo'));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'ok' }] } });
    assert.equal((await fetch(`${stack.gatewayUrl}/healthz`)).status, 200);
    await sleep(100);
    const event = decision(res.headers.get('x-request-id'));
    assert.deepEqual([event?.decision, event?.reasons, event?.status], ['allow', [], 200]);
  };

  it('a JSON answer past the bound: cut (never relayed unfiltered), its decision event out with its headers, logged without the token, upstream cut off early (before: held whole); the gateway serves on', async () => {
    const requestId = 'huge-json-11';
    // Nothing of a JSON body is sent before it is read whole: the client gets no answer at all.
    const answered = fetch(stack.resource, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-request-id': requestId },
      body: call(11, 'echo', { answer: 'huge-json' }),
    });
    await assert.rejects(answered.then((res) => res.text()));
    await sleep(200);
    const event = decision(requestId);
    assert.deepEqual([event?.decision, event?.reasons, event?.status, event?.tool], ['allow', [], 200, 'echo']);
    const warning = lines.find((l) => l.msg === WARNING && l.reqId === requestId);
    assert.deepEqual([warning?.level, warning?.reason], [40, 'too_large']);
    assert.ok(!raw.some((line) => line.includes(token)), 'no log line carries the token');
    // The gateway stopped reading at the bound: upstream was cut off long before it had sent everything.
    assert.ok((upstream.sent.get(11) ?? 0) < ENDLESS / 2, `upstream sent ${upstream.sent.get(11)} bytes`);
    await healthy(13);
  });

  it('an event stream whose event never ends: cut past the bound, the events before it relayed, logged without the token (before: held whole); the gateway serves on', async () => {
    const res = await fetch(stack.resource, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: call(12, 'echo', { answer: 'endless-event' }),
    });
    assert.equal(res.status, 200);
    const requestId = res.headers.get('x-request-id');
    const reader = res.body!.getReader();
    let text = '';
    const cut = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return false;
        text += Buffer.from(value).toString();
      }
    })().catch(() => true);
    assert.equal(cut, true);
    assert.equal(text, 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n\n');
    await sleep(200);
    const warning = lines.find((l) => l.msg === WARNING && l.reqId === requestId);
    assert.equal(warning?.reason, 'too_large');
    assert.ok((upstream.sent.get(12) ?? 0) < ENDLESS / 2, `upstream sent ${upstream.sent.get(12)} bytes`);
    assert.ok(!raw.some((line) => line.includes(token)), 'no log line carries the token');
  });

});
