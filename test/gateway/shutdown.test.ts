// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// Graceful shutdown of the real gateway process (src/gateway/main.ts) on real Redis, as the service's (test/main/
// graceful_shutdown.test.ts): on SIGTERM /readyz turns 503 `draining` at once, a tools/call in flight to a slow
// upstream completes with 200 and its decision event is stored, an open event stream ends when the grace period
// starts (so it cannot hold the drain), one cut at the end of the grace is still audited, the process exits 0; a
// second signal exits 1 at once.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, REDIS_URL } from '../helpers/service.js';
import { waitReady, workDir, writeConfig } from '../main/spawn_service.js';
import { call, startStack, TOOLS, type Stack } from './fixture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** An MCP upstream with no auth: tools/call answers after `arguments.ms`; GET opens an event stream it never ends. */
async function startUpstream(): Promise<{ url: string; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const streams = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': open\n\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const msg = JSON.parse(body) as { id?: number; method: string; params?: { arguments?: { ms?: number } } };
      received.push(msg.method);
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, result: { content: [{ type: 'text', text: 'slow ok' }] } }));
      };
      setTimeout(answer, msg.method === 'tools/call' ? Number(msg.params?.arguments?.ms ?? 0) : 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`,
    received,
    async close() {
      for (const res of streams) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; ms: number }>((resolve) => {
    const started = Date.now();
    child.once('exit', (code) => resolve({ code, ms: Date.now() - started }));
  });

/** The gateway events of the audit stream under `prefix`. */
async function gatewayEvents(prefix: string): Promise<Array<Record<string, unknown>>> {
  const redis = new Redis(REDIS_URL);
  try {
    const entries = await redis.xrange(`${prefix}audit`, '-', '+');
    return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('event') + 1]!) as Record<string, unknown>).filter((e) => e.type === 'gateway');
  } finally {
    redis.disconnect();
  }
}

describe('MCP gateway: graceful shutdown (real process, real Redis)', () => {
  let stack: Stack;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let token: string;
  before(async () => {
    upstream = await startUpstream();
    stack = await startStack({ upstreamUrl: upstream.url });
    token = await stack.token();
  });
  after(async () => {
    await stack.stop();
    await upstream.close();
  });

  /** A gateway process for the stack's route (same resource URI, so the stack's tokens are for it) on its own port. */
  async function startGateway(t: TestContext, shutdown: { deregistrationDelaySeconds: number; gracePeriodSeconds: number }) {
    const dir = workDir(t);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const file = writeConfig(dir, {
      port,
      host: '127.0.0.1',
      logLevel: 'warn',
      issuer: stack.svc.url,
      client: { clientId: 'gateway', clientSecret: { file: join(stack.keysDir, 'gateway.secret') } },
      redis: { url: REDIS_URL, keyPrefix: stack.svc.prefix },
      keys: { file: join(stack.keysDir, 'gateway-jwks.json') },
      audit: { argumentsKey: { file: join(stack.keysDir, 'arguments.key') } },
      upstreamTimeoutMs: 30_000,
      shutdown,
      routes: [{ resource: stack.resource, upstream: upstream.url, scopesSupported: TOOLS }],
    });
    const { PORT: _p, HOST: _h, ISSUER: _i, REDIS_URL: _r, GATEWAY_PUBLIC_URL: _g, LOG_LEVEL: _l, ...env } = process.env;
    const child = spawn(process.execPath, ['--conditions=source', `--import=${TSX}`, join(ROOT, 'src/gateway/main.ts'), '--config', file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await waitReady(child, `${url}/readyz`);
    const mcp = `${url}${new URL(stack.resource).pathname}`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    return { child, url, mcp, headers, log: () => log };
  }

  it('SIGTERM: /readyz 503 draining at once, the in-flight tools/call completes 200 and is audited, the event stream ends at the grace, exit 0', async (t) => {
    const { child, url, mcp, headers, log } = await startGateway(t, { deregistrationDelaySeconds: 0.5, gracePeriodSeconds: 10 });
    // An event stream (GET) upstream never ends: it must not hold the shutdown for the whole grace period.
    const stream = await fetch(mcp, { headers: { authorization: headers.authorization, accept: 'text/event-stream' } });
    assert.equal(stream.status, 200);
    let streamEndedAt = 0;
    const streamText = (async () => {
      let text = '';
      for await (const chunk of stream.body!) text += Buffer.from(chunk).toString();
      streamEndedAt = Date.now();
      return text;
    })();

    // Upstream answers the call after 1.5 s: it is in flight when the signal arrives.
    const inFlight = fetch(mcp, { method: 'POST', headers, body: call(71, 'slow', { ms: 1500 }) });
    await new Promise((r) => setTimeout(r, 300));
    const exit = exited(child);
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));

    // During the de-registration delay the listener still answers, and says it is not ready.
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'draining' });

    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 71, result: { content: [{ type: 'text', text: 'slow ok' }] } });

    // The stream ended cleanly (no reset) once the delay was over, not when the grace period ran out.
    assert.equal(await streamText, ': open\n\n');
    assert.ok(streamEndedAt - signalledAt >= 500 && streamEndedAt - signalledAt < 5000, `stream ended after ${streamEndedAt - signalledAt} ms`);
    const { code, ms } = await exit;
    assert.equal(code, 0, log());
    assert.ok(ms < 5000, `exited after ${ms} ms`);
    await assert.rejects(fetch(`${url}/healthz`));

    // The decision was stored before Redis was closed.
    const mine = (await gatewayEvents(stack.svc.prefix)).filter((e) => e.method === 'tools/call' && e.tool === 'slow' && e.status === 200);
    assert.equal(mine.length, 1, JSON.stringify(mine));
    assert.equal(mine[0]!.decision, 'allow');
  });

  it('a call still in flight when the grace period runs out is cut, and its decision event is stored all the same; exit 0', async (t) => {
    const { child, mcp, headers, log } = await startGateway(t, { deregistrationDelaySeconds: 0, gracePeriodSeconds: 0.5 });
    const inFlight = fetch(mcp, { method: 'POST', headers, body: call(72, 'slow', { ms: 4000 }) }).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 300));
    const exit = exited(child);
    child.kill('SIGTERM');
    await assert.rejects(inFlight);
    const { code, ms } = await exit;
    assert.equal(code, 0, log());
    assert.ok(ms < 3000, `exited after ${ms} ms`);
    const cut = (await gatewayEvents(stack.svc.prefix)).filter((e) => e.method === 'tools/call' && e.tool === 'slow' && e.status === 499);
    assert.equal(cut.length, 1, JSON.stringify(cut));
    assert.equal(cut[0]!.decision, 'allow');
  });

  it('a second signal exits at once (code 1), without waiting for the de-registration delay', async (t) => {
    const { child, url } = await startGateway(t, { deregistrationDelaySeconds: 60, gracePeriodSeconds: 10 });
    const exit = exited(child);
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(`${url}/readyz`)).status, 503);
    child.kill('SIGTERM');
    const { code, ms } = await exit;
    assert.equal(code, 1);
    assert.ok(ms < 5000, `exited after ${ms} ms`);
  });
});
