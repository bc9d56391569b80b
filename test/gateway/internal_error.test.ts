// What the gateway does when something goes wrong that no rule refuses: a bug or a library throwing before the answer
// (500 `internal error`, logged with the request id, audited, counted), while streaming it (the answer is cut, never a
// second one, never the process), an upstream answering an invalid status, a client gone mid-body; and the request id
// that ties an answer, its decision event and its log lines together.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { pino } from 'pino';
import { createVerifier, resourceMetadataUrl } from 'delegation-token-verify';
import type { GatewayDecisionEvent } from '../../src/audit/events.js';
import { createAssertionSigner } from '../../src/gateway/assertion.js';
import { createDecider } from '../../src/gateway/decide.js';
import { InFlightRequests } from '../../src/gateway/in_flight.js';
import { handleMcp, type RouteDeps } from '../../src/gateway/handler.js';
import { createGatewayMetrics } from '../../src/gateway/metrics.js';
import { memorySessionBindings } from '../../src/gateway/sessions.js';
import { call, post, startStack, type Stack } from './fixture.js';

/** Nested deeper than the verify SDK's tools/list filter can rewrite (it recurses into arrays): it throws in `end`. */
const DEPTH = 200_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type LogLine = Record<string, unknown> & { level: number; msg: string };

/** A pino logger whose lines land in `lines`, parsed. */
function capturingLogger() {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

/** What `echo` with `{ upstream: <key> }` makes the odd upstream write on its socket: a 101 as if it were final. */
const RAW_ANSWERS: Record<string, string> = {
  '101': 'HTTP/1.1 101 Switching Protocols\r\n\r\n',
  '101-upgrade': 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
};

/**
 * An MCP upstream that misbehaves on cue: `lookup_customer` answers status 000 and `issue_refund` 600 (RFC 9110 §15:
 * invalid), `echo` with `{ upstream: <key> }` one of `RAW_ANSWERS`, `tools/list` a JSON body nested `DEPTH` deep;
 * anything else a plain result. `requestIds` holds the `X-Request-Id` of each request it received.
 */
async function startOddUpstream(): Promise<{ url: string; received: unknown[]; requestIds: unknown[]; stop(): Promise<void> }> {
  const received: unknown[] = [];
  const requestIds: unknown[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const message = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { id?: number; method?: string; params?: { name?: string; arguments?: { upstream?: string } } };
    received.push(message);
    requestIds.push(req.headers['x-request-id']);
    const raw = (status: string) => req.socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`);
    if (message.params?.name === 'lookup_customer') return raw('000 Nothing');
    if (message.params?.name === 'issue_refund') return raw('600 Beyond');
    const rawAnswer = message.params?.arguments?.upstream;
    if (rawAnswer !== undefined && Object.hasOwn(RAW_ANSWERS, rawAnswer)) return void req.socket.write(RAW_ANSWERS[rawAnswer]!);
    res.writeHead(200, { 'content-type': 'application/json' });
    if (message.method === 'tools/list') return res.end('['.repeat(DEPTH) + ']'.repeat(DEPTH));
    res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'ok' }] } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`,
    received,
    requestIds,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Polls until `find` returns something (log lines and decision events are written after the answer). */
async function eventually<T>(find: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`never saw ${what}`);
}

describe('gateway: failures of its own, and the request id', () => {
  let stack: Stack;
  let token: string;
  let upstream: Awaited<ReturnType<typeof startOddUpstream>>;
  const { logger, lines } = capturingLogger();
  const decisions = () => lines.filter((l) => l.msg === 'gateway decision').map((l) => l.event as GatewayDecisionEvent);
  const decisionFor = (requestId: string) => eventually(() => decisions().find((e) => e.requestId === requestId), `the decision event of ${requestId}`);

  before(async () => {
    upstream = await startOddUpstream();
    stack = await startStack({ upstreamUrl: upstream.url, logger });
    token = await stack.token();
  });
  after(async () => {
    await stack.stop();
    await upstream.stop();
  });

  it('every answer carries X-Request-Id: a UUID, or the caller\'s when it is short visible ASCII; the decision event and its log line carry it too', async () => {
    const allowed = await post(stack, token, call(1, 'echo', { text: 'hi' }));
    assert.equal(allowed.status, 200);
    const id = allowed.headers.get('x-request-id');
    assert.match(id ?? '', UUID);
    const event = await decisionFor(id!);
    assert.equal(event.decision, 'allow');
    assert.equal(event.tool, 'echo');

    // A refusal of the SDK's middleware (401), one of the gateway's own (400), and the gateway's own paths.
    const unauthenticated = await post(stack, undefined, call(2, 'echo'), { 'x-request-id': 'lb-7f3a:01' });
    assert.equal(unauthenticated.status, 401);
    assert.equal(unauthenticated.headers.get('x-request-id'), 'lb-7f3a:01');
    assert.deepEqual((await decisionFor('lb-7f3a:01')).reasons, ['no_token']);
    const batch = await post(stack, token, `[${call(3, 'echo')}]`);
    assert.equal(batch.status, 400);
    assert.equal((await decisionFor(batch.headers.get('x-request-id')!)).reasons[0], 'batch');
    for (const path of ['/healthz', '/metrics', '/.well-known/jwks.json', '/nowhere']) {
      assert.match((await fetch(`${stack.gatewayUrl}${path}`)).headers.get('x-request-id') ?? '', UUID, path);
    }
    // Too long, or not visible ASCII: replaced, never echoed.
    for (const inbound of ['x'.repeat(65), 'two words']) {
      const res = await post(stack, undefined, call(4, 'echo'), { 'x-request-id': inbound });
      assert.match(res.headers.get('x-request-id') ?? '', UUID);
    }
  });

  it('an upstream status outside 100..599 is 502 upstream_invalid_status (RFC 9110 §15.6.3), audited; the gateway keeps serving', async () => {
    for (const [id, tool] of [[11, 'lookup_customer'], [12, 'issue_refund']] as const) {
      const res = await post(stack, token, call(id, tool, tool === 'issue_refund' ? { amount: 10 } : { customerId: 'cus_1' }));
      assert.equal(res.status, 502, tool);
      assert.deepEqual(res.body, { jsonrpc: '2.0', error: { code: -32603, message: 'upstream answered an invalid status' }, id });
      const event = await decisionFor(res.headers.get('x-request-id')!);
      assert.equal(event.decision, 'allow');
      assert.deepEqual(event.reasons, ['upstream_invalid_status']);
      assert.equal(event.status, 502);
    }
    assert.equal((await post(stack, token, call(13, 'echo'))).status, 200);
  });

  it('a 1xx as upstream\'s final answer (101 without Upgrade, or with one the gateway never asked for) is 502 upstream_invalid_status at once (RFC 9110 §15.2, §7.8); the next call is answered', async () => {
    for (const [id, upstreamAnswer] of [[14, '101'], [15, '101-upgrade']] as const) {
      // Before the fix: a 101 without Upgrade was forwarded as final (a fetch client waits for a response that never
      // comes), and one with Upgrade was a 504 once the deadline passed.
      const res = await fetch(stack.resource, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
        body: call(id, 'echo', { upstream: upstreamAnswer }),
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(res.status, 502, upstreamAnswer);
      assert.deepEqual(await res.json(), { jsonrpc: '2.0', error: { code: -32603, message: 'upstream answered an invalid status' }, id });
      const event = await decisionFor(res.headers.get('x-request-id')!);
      assert.equal(event.decision, 'allow');
      assert.deepEqual(event.reasons, ['upstream_invalid_status']);
      assert.equal(event.status, 502);
      assert.equal((await post(stack, token, call(16, 'echo'))).status, 200, `the call after ${upstreamAnswer}`);
    }
  });

  it('the request id goes upstream as X-Request-Id: the caller\'s when it is kept, else the one the answer carries', async () => {
    const before = upstream.requestIds.length;
    const kept = await post(stack, token, call(17, 'echo'), { 'x-request-id': 'lb-7f3a:17' });
    const fresh = await post(stack, token, call(18, 'echo'));
    const replaced = await post(stack, token, call(19, 'echo'), { 'x-request-id': 'two words' });
    for (const res of [kept, fresh, replaced]) assert.equal(res.status, 200);
    assert.equal(kept.headers.get('x-request-id'), 'lb-7f3a:17');
    assert.match(fresh.headers.get('x-request-id') ?? '', UUID);
    assert.match(replaced.headers.get('x-request-id') ?? '', UUID);
    assert.deepEqual(upstream.requestIds.slice(before), ['lb-7f3a:17', fresh.headers.get('x-request-id'), replaced.headers.get('x-request-id')]);
  });

  it('a throw while an answer streams (the SDK\'s tools/list filter on a body nested too deep) cuts that answer, logs it with the request id, and the process serves on', async () => {
    const requestId = 'deep-tools-list-1';
    const outcome = await fetch(stack.resource, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`, 'x-request-id': requestId },
      body: JSON.stringify({ jsonrpc: '2.0', id: 21, method: 'tools/list' }),
    }).then(
      async (res) => ((await res.text().then(() => 'answered', () => 'cut')) === 'answered' ? `answered ${res.status}` : 'cut'),
      () => 'cut',
    );
    // Never a second answer, never the unfiltered list: the connection ends without a (complete) response.
    assert.equal(outcome, 'cut');
    const line = await eventually(() => lines.find((l) => l.reqId === requestId && l.msg === 'gateway answer cut while streaming'), 'the cut answer\'s log line');
    assert.equal(line.level, 50);
    assert.equal((line.error as { type: string }).type, 'RangeError');
    assert.equal((await post(stack, token, call(22, 'echo'))).status, 200);
  });

  it('a client gone before its body ended is audited deny client_closed (499) with its request id, not logged as a failure', async () => {
    const port = Number(new URL(stack.gatewayUrl).port);
    const path = new URL(stack.resource).pathname;
    // Once while the body is read, once (likely) while the token is verified.
    for (const [requestId, waitMs] of [['gone-mid-body', 300], ['gone-at-once', 0]] as const) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nauthorization: Bearer ${token}\r\nx-request-id: ${requestId}\r\ncontent-length: 1000\r\n\r\n{"jsonrpc":"2.0"`);
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, waitMs);
        });
      });
      const event = await decisionFor(requestId);
      assert.equal(event.decision, 'deny');
      assert.deepEqual(event.reasons, ['client_closed']);
      assert.equal(event.status, 499);
      assert.equal(event.clientId, 'agent');
    }
    assert.ok(!lines.some((l) => l.level >= 50 && (l.reqId === 'gone-mid-body' || l.reqId === 'gone-at-once')), 'a client going away is not a gateway failure');
  });

  describe('a dependency that throws (the decision, the metrics), through handleMcp as the gateway calls it', () => {
    /** An Error whose `message` is an object: logging it must not throw in turn. */
    const oddError = () => Object.assign(new Error('x'), { message: { detail: `Bearer ${secret}` } });
    const audited: GatewayDecisionEvent[] = [];
    const own = capturingLogger();
    let server: Server;
    let url: string;
    let deps: RouteDeps;
    let secret: string;
    before(async () => {
      const route = stack.config.routes[0]!;
      const metadataUrl = resourceMetadataUrl(route.resource);
      const decider = createDecider(route, { resourceMetadataUrl: metadataUrl, argumentsKey: 'k'.repeat(32), logArguments: false });
      // A credential in the exception's message: what a library's error might carry. It must reach no answer and no log.
      secret = token;
      const metrics = createGatewayMetrics();
      deps = {
        route,
        upstreamUrl: new URL(route.upstream),
        verifier: createVerifier({ issuer: stack.config.issuer, audience: route.resource, jwksUri: stack.config.jwksUri }),
        resourceMetadataUrl: metadataUrl,
        decider: {
          ...decider,
          decide(t, message, res) {
            if (message.kind === 'request' && message.params?.name === 'slow') throw new TypeError(`decision blew up on Authorization: Bearer ${secret}`);
            // An Error whose message is no string (a library assigning an object to it), thrown before the answer or,
            // from the answer's writer (as the tools/list filter wraps it), while it streams. Both writers: the filter,
            // wrapped around every answer, holds a JSON body until its end.
            const odd = message.kind === 'request' ? (message.params?.arguments as { odd?: string } | undefined)?.odd : undefined;
            if (odd === 'before') throw oddError();
            if (odd === 'streaming') {
              res.write = () => { throw oddError(); };
              res.end = () => { throw oddError(); };
            }
            return decider.decide(t, message, res);
          },
        },
        signer: createAssertionSigner(stack.gateway.keys, stack.gatewayUrl, 60),
        upstreamTokens: undefined,
        sessions: memorySessionBindings(60),
        inFlight: new InFlightRequests(),
        // Observed once the answer's headers are written: a throw after the request went upstream.
        metrics: {
          ...metrics,
          upstream: { observe: () => { throw new Error(`histogram broke ${secret}`); } } as unknown as typeof metrics.upstream,
        },
        allowedOrigins: new Set(),
        maxBodyBytes: 4096,
        timeoutMs: 1000,
        enforcement: true,
        onVerify: () => {},
        audit: (event) => void audited.push(event),
        streamsEnd: new AbortController().signal,
        logger: own.logger,
      };
      let n = 0;
      server = createServer((req, res) => {
        const requestId = `fault-${++n}`;
        res.setHeader('x-request-id', requestId);
        // Before the fix handleMcp rejected here; a rejection is this server's 'cut', so the test fails, not crashes.
        handleMcp(deps, req, res, requestId).catch(() => res.destroy());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}${new URL(route.resource).pathname}`;
    });
    after(async () => {
      deps.verifier.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const send = (body: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` }, body });

    it('before anything went upstream: 500, the JSON-RPC error with the request\'s id and a fixed message; logged (error, request id, no token), audited deny internal_error, counted', async () => {
      const before = upstream.received.length;
      const res = await send(call(31, 'slow'));
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const requestId = res.headers.get('x-request-id')!;
      const text = await res.text();
      assert.deepEqual(JSON.parse(text), { jsonrpc: '2.0', error: { code: -32603, message: 'internal error' }, id: 31 });
      assert.ok(!text.includes('blew up'));
      assert.equal(upstream.received.length, before, 'nothing reached upstream');

      const event = audited.find((e) => e.requestId === requestId)!;
      assert.ok(event, 'audited');
      assert.equal(event.decision, 'deny');
      assert.deepEqual(event.reasons, ['internal_error']);
      assert.equal(event.status, 500);
      assert.equal(event.method, 'tools/call');
      assert.equal(event.clientId, 'agent');

      const line = own.lines.find((l) => l.reqId === requestId)!;
      assert.ok(line, 'logged with the request id');
      assert.equal(line.level, 50);
      assert.equal(line.msg, 'gateway request failed');
      assert.equal((line.error as { type: string }).type, 'TypeError');
      assert.match((line.error as { message: string }).message, /decision blew up on Authorization: Bearer \[redacted\]/);
      assert.ok(!JSON.stringify(own.lines).includes(secret), 'no token in any log line');

      assert.match(await deps.metrics.registry.metrics(), /dts_gateway_decisions_total\{route="[^"]+",method="tools\/call",tool="",result="deny",reason="internal_error"\} 1/);
    });

    it('after the request went upstream: upstream\'s answer goes on, never a second one; audited allow internal_error (upstream acted on it), logged', async () => {
      const before = upstream.received.length;
      const res = await send(call(32, 'echo'));
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 32, result: { content: [{ type: 'text', text: 'ok' }] } });
      assert.equal(upstream.received.length, before + 1, 'upstream got the call');
      const requestId = res.headers.get('x-request-id')!;
      const event = await eventually(() => audited.find((e) => e.requestId === requestId), 'the allow event');
      assert.equal(event.decision, 'allow');
      assert.deepEqual(event.reasons, ['internal_error']);
      assert.equal(event.status, 200);
      assert.equal(event.tool, 'echo');
      assert.equal(audited.filter((e) => e.requestId === requestId).length, 1, 'one event per request');
      const line = own.lines.find((l) => l.reqId === requestId)!;
      assert.equal(line.level, 50);
      assert.match((line.error as { message: string }).message, /^histogram broke \[redacted\]$/);
      assert.ok(!JSON.stringify(own.lines).includes(secret));
    });

    it('an Error whose message is not a string, before the answer: 500, audited deny internal_error and logged like any other (before the fix handleMcp rejected, unaudited)', async () => {
      const res = await send(call(33, 'echo', { odd: 'before' }));
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), { jsonrpc: '2.0', error: { code: -32603, message: 'internal error' }, id: 33 });
      const requestId = res.headers.get('x-request-id')!;
      const event = await eventually(() => audited.find((e) => e.requestId === requestId), 'the deny event');
      assert.equal(event.decision, 'deny');
      assert.deepEqual(event.reasons, ['internal_error']);
      const line = own.lines.find((l) => l.reqId === requestId)!;
      assert.equal(line.msg, 'gateway request failed');
      assert.deepEqual({ type: (line.error as { type: string }).type, message: (line.error as { message: string }).message }, { type: 'Error', message: '[object Object]' });
    });

    it('an Error whose message is not a string, while the answer streams: the answer is cut and logged, the process serves on (before the fix: an uncaught exception)', async () => {
      const requestId = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
        body: call(34, 'echo', { odd: 'streaming' }),
      }).then(
        async (res) => {
          await res.text().catch(() => {});
          return res.headers.get('x-request-id')!;
        },
        () => undefined,
      );
      const line = await eventually(() => own.lines.find((l) => l.msg === 'gateway answer cut while streaming' && (requestId === undefined || l.reqId === requestId)), 'the cut answer\'s log line');
      assert.equal(line.level, 50);
      assert.equal((line.error as { message: string }).message, '[object Object]');
      await eventually(() => audited.find((e) => e.requestId === line.reqId), 'the request\'s event');
      assert.equal(audited.filter((e) => e.requestId === line.reqId).length, 1, 'one event per request');
      assert.equal((await send(call(35, 'echo'))).status, 200);
    });
  });
});
