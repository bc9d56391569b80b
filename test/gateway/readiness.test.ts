// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// The gateway's /readyz follows the revocation feed's freshness through the verify SDK's health(), with no traffic at
// all: the gateway reaches the real service (real Redis) through a TCP proxy the test black-holes, then restores.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { parseGatewayConfig } from '../../src/gateway/load.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp_proxy.js';
import { freePort, REDIS_URL, startService, type TestService } from '../helpers/service.js';

const STALENESS_S = 1;

async function readyz(url: string): Promise<{ status: number; body: { checks: Record<string, boolean>; feedAgeMs?: number } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, boolean>; feedAgeMs?: number } };
}

async function until(url: string, status: number, ms: number): Promise<Awaited<ReturnType<typeof readyz>>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await readyz(url);
    if (r.status === status || Date.now() > deadline) return r;
    await sleep(100);
  }
}

describe('MCP gateway: /readyz and the revocation feed', () => {
  let svc: TestService;
  let proxy: TcpProxy;
  let gateway: Gateway;
  let url: string;
  let keysDir: string;
  before(async () => {
    svc = await startService();
    proxy = await startTcpProxy(Number(new URL(svc.url).port));
    keysDir = mkdtempSync(join(tmpdir(), 'dts-gw-ready-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const config = parseGatewayConfig({
      port,
      publicUrl: url,
      logLevel: 'silent',
      // The service seen through the proxy: the feed and the JWKS both cross it (no token is verified here).
      issuer: `http://127.0.0.1:${proxy.port}`,
      client: { clientId: 'crm-server', clientSecret: { env: 'GW_READY_SECRET' } },
      redis: { url: REDIS_URL, keyPrefix: svc.prefix },
      keys: { file: join(keysDir, 'gateway-jwks.json') },
      audit: { argumentsKey: { file: join(keysDir, 'arguments.key'), generate: true } },
      revocation: { maxStalenessSeconds: STALENESS_S },
      routes: [{ resource: `${url}/crm/mcp`, upstream: 'http://127.0.0.1:9/mcp' }],
    });
    gateway = await createGateway(config, { logger: pino({ level: 'silent' }), env: { GW_READY_SECRET: svc.secrets['crm-server']! } });
    await gateway.listen(port, '127.0.0.1');
    await gateway.ready();
  });
  after(async () => {
    await gateway.close();
    await proxy.close();
    await svc.stop();
    rmSync(keysDir, { recursive: true, force: true });
  });

  it('turns 503 (checks.feeds false) once the feed is silent past maxStalenessSeconds, with no request at all, and 200 when it flows again', async () => {
    const ready = await until(url, 200, 5000);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.equal(ready.body.checks.feeds, true);
    assert.ok(ready.body.feedAgeMs! >= 0 && ready.body.feedAgeMs! <= STALENESS_S * 1000);

    // A black hole: the feed's connection stays open but carries nothing (no heartbeat), nothing else changes.
    proxy.hang();
    const started = Date.now();
    const stale = await until(url, 503, 5000);
    assert.equal(stale.status, 503, JSON.stringify(stale.body));
    assert.equal(stale.body.checks.feeds, false);
    // Only the feed: the JWKS answered within its 10 s check window, no verification failed (none was attempted).
    assert.equal(stale.body.checks.jwks, true);
    assert.equal(stale.body.checks.verification, true);
    assert.ok(stale.body.feedAgeMs! > STALENESS_S * 1000);
    assert.ok(Date.now() - started < STALENESS_S * 1000 + 1500, `${Date.now() - started} ms`);

    proxy.restore();
    // The SDK drops the silent stream after maxStalenessSeconds and reconnects (backoff at most 5 s).
    const back = await until(url, 200, 10_000);
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.checks.feeds, true);
  });
});
