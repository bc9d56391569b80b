// The gateway's management port (the service's `management.port`): /metrics (per-tool counts and deny reasons) only
// there when it is set, never cached; the probes on both ports. And /readyz claims nothing about a Redis it has not.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { freePort } from '../helpers/service.js';
import { startStack, type Stack } from './fixture.js';

describe('MCP gateway: management.port', () => {
  let stack: Stack;
  let managementUrl: string;
  before(async () => {
    const port = await freePort();
    managementUrl = `http://127.0.0.1:${port}`;
    // No redis.url: one replica, in memory.
    stack = await startStack({ gateway: { management: { port }, redis: { keyPrefix: 'unused:' } } });
  });
  after(() => stack?.stop());

  it('serves /metrics only on the management port, with Cache-Control: no-store; the public port answers 404 for it', async () => {
    const token = await stack.token();
    await (await stack.connect(token)).callTool({ name: 'lookup_customer', arguments: { customerId: 'c-1' } });
    const metrics = await fetch(`${managementUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get('cache-control'), 'no-store');
    assert.match(await metrics.text(), /dts_gateway_decisions_total\{route="[^"]+\/crm\/mcp",method="tools\/call",tool="lookup_customer",result="allow",reason=""\} 1/);
    const hidden = await fetch(`${stack.gatewayUrl}/metrics`);
    assert.equal(hidden.status, 404);
    assert.deepEqual(await hidden.json(), { error: 'not_found' });
  });

  it('serves /healthz and /readyz on both ports, and nothing else on the management port', async () => {
    for (const base of [stack.gatewayUrl, managementUrl]) {
      assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' }, base);
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200, base);
      assert.equal(ready.headers.get('cache-control'), 'no-store');
    }
    for (const path of ['/crm/mcp', '/.well-known/jwks.json', '/.well-known/oauth-protected-resource/crm/mcp', '/nope']) {
      const res = await fetch(`${managementUrl}${path}`);
      assert.equal(res.status, 404, path);
      assert.deepEqual(await res.json(), { error: 'not_found' });
    }
    assert.equal((await fetch(`${managementUrl}/metrics`, { method: 'POST' })).status, 404);
  });

  it('without Redis, /readyz reports no `redis` check rather than `redis: true`', async () => {
    const body = (await (await fetch(`${stack.gatewayUrl}/readyz`)).json()) as { checks: Record<string, boolean> };
    assert.deepEqual(Object.keys(body.checks).sort(), ['feeds', 'jwks', 'verification']);
  });

  it('without management.port, /metrics is on the public port, also with Cache-Control: no-store', async () => {
    const port = await freePort();
    let gateway: Gateway | undefined;
    try {
      gateway = await createGateway({ ...stack.config, port, management: {} }, { logger: pino({ level: 'silent' }) });
      await gateway.listen(port, '127.0.0.1');
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.match(await res.text(), /dts_gateway_audit_events_dropped_total/);
    } finally {
      await gateway?.close();
    }
  });

  it('a management port in use fails the start in one line naming that port', async () => {
    const { startupFailure } = await import('../../src/http/startup.js');
    const port = await freePort();
    const gateway = await createGateway({ ...stack.config, port, management: { port: Number(new URL(managementUrl).port) } }, { logger: pino({ level: 'silent' }) });
    try {
      await assert.rejects(gateway.listen(port, '127.0.0.1'), (err: unknown) => {
        assert.equal(startupFailure(err, port), `cannot listen on port ${new URL(managementUrl).port}: it is already in use (EADDRINUSE); stop the other process or set PORT`);
        return true;
      });
    } finally {
      await gateway.close();
    }
  });
});
