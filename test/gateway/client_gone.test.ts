// A client that leaves while the gateway awaits a step before forwarding (verification, the session lookup, signing,
// an exchange): nothing goes upstream, the request is audited deny client_closed (499), and such clients cannot hold
// the upstream connection pool (256 sockets) until every later request to that upstream times out.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { createVerifier, resourceMetadataUrl } from 'delegation-token-verify';
import type { GatewayDecisionEvent } from '../../src/audit/events.js';
import { createAssertionSigner } from '../../src/gateway/assertion.js';
import { createDecider } from '../../src/gateway/decide.js';
import { InFlightRequests } from '../../src/gateway/in_flight.js';
import { handleMcp, type RouteDeps } from '../../src/gateway/handler.js';
import { createGatewayMetrics } from '../../src/gateway/metrics.js';
import { requestIdOf } from '../../src/http/request_id.js';
import { memorySessionBindings } from '../../src/gateway/sessions.js';
import { forward } from '../../src/gateway/upstream.js';
import { call, startStack, type Stack } from './fixture.js';

/** More clients than the upstream agent's `maxSockets` (256): before the fix they filled the pool. */
const CLIENTS = 300;

/** Polls until `done()` holds. */
async function until(done: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) if (done()) return;
  assert.fail(`timed out waiting for ${what}`);
}

/**
 * An MCP upstream whose answers are event streams that never end (a GET, a long tool call), except `echo`, a plain
 * JSON result. It counts requests and the streams still open.
 */
async function startStreamingUpstream() {
  const state = { requests: 0, open: 0 };
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    state.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const message = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as { id?: number; params?: { name?: string } }) : undefined;
    if (message?.params?.name === 'echo') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'ok' }] } }));
      return;
    }
    state.open++;
    res.on('close', () => state.open--);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // 64 KiB at once, more than a dead client's socket takes, then an event every 50 ms.
    res.write(`data: ${'x'.repeat(64 * 1024)}\n\n`);
    const tick = setInterval(() => res.write('data: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n'), 50);
    res.on('close', () => clearInterval(tick));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`,
    state,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('gateway: a client gone before its request was forwarded', () => {
  let stack: Stack;
  let token: string;
  let upstream: Awaited<ReturnType<typeof startStreamingUpstream>>;
  let server: Server;
  let url: URL;
  let deps: RouteDeps;
  const audited: GatewayDecisionEvent[] = [];
  /** Requests waiting in the signer, and responses the server saw close. */
  let signing = 0;
  let closed = 0;
  /** The signer waits on this while `hold` is set: a slow signature, exchange or Redis round trip. */
  let hold: Promise<void> | undefined;

  before(async () => {
    upstream = await startStreamingUpstream();
    stack = await startStack({ upstreamUrl: upstream.url });
    token = await stack.token();
    const route = stack.config.routes[0]!;
    const metadataUrl = resourceMetadataUrl(route.resource);
    const signer = createAssertionSigner(stack.gateway.keys, stack.gatewayUrl, 60);
    deps = {
      route,
      upstreamUrl: new URL(route.upstream),
      verifier: createVerifier({ issuer: stack.config.issuer, audience: route.resource, jwksUri: stack.config.jwksUri }),
      resourceMetadataUrl: metadataUrl,
      decider: createDecider(route, { resourceMetadataUrl: metadataUrl, argumentsKey: 'k'.repeat(32), logArguments: false }),
      signer: {
        async sign(...args) {
          signing++;
          await hold;
          return signer.sign(...args);
        },
      },
      upstreamTokens: undefined,
      sessions: memorySessionBindings(60),
      inFlight: new InFlightRequests(),
      metrics: createGatewayMetrics(),
      allowedOrigins: new Set(),
      maxBodyBytes: 4096,
      timeoutMs: 1000,
      enforcement: true,
      onVerify: () => {},
      audit: (event) => void audited.push(event),
      streamsEnd: new AbortController().signal,
      logger: pino({ level: 'silent' }),
    };
    server = createServer((req, res) => {
      res.on('close', () => closed++);
      const requestId = requestIdOf(req);
      res.setHeader('x-request-id', requestId);
      void handleMcp(deps, req, res, requestId);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}${new URL(route.resource).pathname}`);
  });
  after(async () => {
    deps.verifier.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stack.stop();
    await upstream.stop();
  });

  it(`${CLIENTS} clients (GET streams and POST tool calls) that reset while their assertion is signed: none reaches upstream, each is audited deny client_closed 499 once, and the next call is answered`, async () => {
    let release!: () => void;
    hold = new Promise<void>((resolve) => (release = resolve));
    const requestsBefore = upstream.state.requests;
    signing = 0;
    closed = 0;
    const sockets: Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const body = i % 2 === 0 ? '' : call(i, 'lookup_customer', { customerId: 'cus_1' });
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `${body ? 'POST' : 'GET'} ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\n` +
            `accept: application/json, text/event-stream\r\nauthorization: Bearer ${token}\r\nx-request-id: gone-${i}\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        );
      });
      socket.on('error', () => {});
      sockets.push(socket);
    }
    // Every request verified, decided and waiting for its assertion; then every client resets its connection.
    await until(() => signing === CLIENTS, 'every request to reach the signer');
    for (const socket of sockets) socket.resetAndDestroy();
    await until(() => closed === CLIENTS, 'the gateway to see every client leave');
    release();
    hold = undefined;

    const events = () => audited.filter((e) => e.requestId?.startsWith('gone-'));
    await until(() => events().length >= CLIENTS, 'a decision event per request');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(upstream.state.requests - requestsBefore, 0, 'nothing went upstream');
    assert.equal(upstream.state.open, 0, 'no upstream stream left open');
    assert.equal(events().length, CLIENTS, 'one event per request');
    assert.equal(new Set(events().map((e) => e.requestId)).size, CLIENTS);
    for (const event of events()) {
      assert.equal(event.decision, 'deny', event.requestId);
      assert.deepEqual(event.reasons, ['client_closed'], event.requestId);
      assert.equal(event.status, 499, event.requestId);
      assert.equal(event.clientId, 'agent');
    }
    assert.equal(events().find((e) => e.requestId === 'gone-1')?.tool, 'lookup_customer');
    assert.match(await deps.metrics.registry.metrics(), new RegExp(`dts_gateway_decisions_total\\{route="[^"]+",method="GET",tool="",result="deny",reason="client_closed"\\} ${CLIENTS / 2}`));

    // The upstream pool is free: a normal call is answered at once, not queued behind dead streams until 504.
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
      body: call(1, 'echo', { text: 'hi' }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'ok' }] } });
  });

  it('forward() on a response whose client is gone sends nothing and resolves 499 client_closed at once', async () => {
    const requestsBefore = upstream.state.requests;
    let bare!: Server;
    const outcome = new Promise<unknown>((resolve, reject) => {
      bare = createServer((_req, res) => {
        res.on('close', () => {
          // 'close' has been emitted: a listener forward() adds now never fires.
          forward(new URL(upstream.url), 'GET', { accept: 'text/event-stream' }, undefined, res, { timeoutMs: 1000, requestId: null, onStreamFailure: () => {} }).then(resolve, reject);
        });
      });
      bare.listen(0, '127.0.0.1', () => {
        const socket = connect((bare.address() as { port: number }).port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
        socket.on('error', () => {});
        setTimeout(() => socket.resetAndDestroy(), 50);
      });
    });
    const result = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('not resolved within 2 s'), 2000))]);
    bare.closeAllConnections();
    bare.close();
    assert.deepEqual(result, { status: 499, headersMs: 0, reason: 'client_closed' });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(upstream.state.requests - requestsBefore, 0, 'nothing went upstream');
    assert.equal(upstream.state.open, 0);
  });
});
