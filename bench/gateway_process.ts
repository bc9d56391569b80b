// Scenario 9's gateway process (forked by bench/scenarios/gateway.ts): two gateways in one process in front of the
// same upstream, one enforcing (verify, decide, sign, audit to Redis) and one with `enforcement: false` (plain
// proxying), so their throughput and the process' CPU per call compare the enforcement's cost alone.
// Messages: parent → { type: 'cpu' } | { type: 'stop' }; child → { type: 'ready', ports } | { type: 'cpu', micros, mainMs }.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createGateway, type Gateway } from '../src/gateway/gateway.js';
import { parseGatewayConfig } from '../src/gateway/load.js';
import { freePort } from '../tools/local.js';

export interface GatewayProcessStart {
  issuer: string;
  redisUrl: string;
  keyPrefix: string;
  clientId: string;
  /** The route's public resource URI (the tokens' aud) and the upstream's URL. */
  resource: string;
  upstream: string;
}

const start = JSON.parse(process.env.BENCH_GATEWAY ?? '{}') as GatewayProcessStart;
const dir = mkdtempSync(join(tmpdir(), 'dts-bench-gateway-'));
const gateways: Gateway[] = [];
try {
  const ports: number[] = [];
  for (const enforcement of [true, false]) {
    const port = await freePort();
    const config = parseGatewayConfig({
      port,
      publicUrl: `http://127.0.0.1:${port}`,
      logLevel: 'silent',
      issuer: start.issuer,
      client: { clientId: start.clientId, clientSecret: { env: 'BENCH_GATEWAY_SECRET' } },
      redis: { url: start.redisUrl, keyPrefix: start.keyPrefix },
      keys: { file: join(dir, `gateway-${port}.json`) },
      audit: { argumentsKey: { file: join(dir, 'arguments.key'), generate: true } },
      enforcement,
      routes: [{ resource: start.resource, upstream: start.upstream }],
    });
    const gateway = await createGateway(config, { logger: pino({ level: 'silent' }) });
    gateways.push(gateway);
    await gateway.listen(port, '127.0.0.1');
    await gateway.ready();
    ports.push(port);
  }
  process.send!({ type: 'ready', ports: { enforcing: ports[0], plain: ports[1] } });
} catch (err) {
  process.send!({ type: 'failed', error: (err as Error).message });
  process.exit(1);
}

process.on('message', async (m: { type: string }) => {
  if (m.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    // And the main thread's event-loop active time so far (ms): every call's JavaScript runs on that one thread.
    process.send!({ type: 'cpu', micros: user + system, mainMs: performance.eventLoopUtilization().active });
  } else if (m.type === 'stop') {
    for (const g of gateways) await g.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
});
