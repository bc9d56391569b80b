// `serviceUrl`: the gateway reaches the service at another address than its issuer identifier (compose: `http://sts:3000`
// for an issuer `http://localhost:3000`). Tokens are still checked against `issuer` and the metadata names it, while the
// feed and the JWKS go to `serviceUrl`: black-holing that address (and only it) makes the gateway unready.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { parseGatewayConfig } from '../../src/gateway/load.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp_proxy.js';
import { freePort, REDIS_URL } from '../helpers/service.js';
import { call, post, startStack, TOOLS, type Stack } from './fixture.js';

describe('MCP gateway: serviceUrl', () => {
  let stack: Stack;
  let proxy: TcpProxy;
  let gateway: Gateway;
  let url: string;
  let token: string;
  before(async () => {
    stack = await startStack();
    token = await stack.token();
    proxy = await startTcpProxy(Number(new URL(stack.svc.url).port));
  });
  after(async () => {
    await gateway?.close();
    await proxy.close();
    await stack.stop();
  });

  it('verifies tokens against issuer with keys and feed fetched from serviceUrl, and goes unready when only serviceUrl is unreachable', async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const serviceUrl = `http://127.0.0.1:${proxy.port}`;
    const config = parseGatewayConfig({
      port,
      logLevel: 'silent',
      issuer: stack.svc.url,
      serviceUrl: `${serviceUrl}/`,
      client: { clientId: 'gateway', clientSecret: { file: join(stack.keysDir, 'gateway.secret') } },
      redis: { url: REDIS_URL, keyPrefix: stack.svc.prefix },
      keys: { file: join(stack.keysDir, 'gateway-jwks.json') },
      audit: { argumentsKey: { file: join(stack.keysDir, 'arguments.key') } },
      revocation: { maxStalenessSeconds: 1 },
      routes: [{ resource: stack.resource, upstream: stack.upstream.url, scopesSupported: TOOLS }],
    });
    assert.equal(config.serviceUrl, serviceUrl);
    assert.equal(config.jwksUri, `${serviceUrl}/jwks`);
    gateway = await createGateway(config, { logger: pino({ level: 'silent' }) });
    await gateway.listen(port, '127.0.0.1');
    await gateway.ready();

    // The same route (same resource URI) on this gateway's port: the stack's token is for it.
    const here = { ...stack, resource: `${url}${new URL(stack.resource).pathname}` };
    const res = await post(here, token, call(1, 'lookup_customer', { customerId: 'a' }));
    assert.equal(res.status, 200, res.text);
    const metadata = (await (await fetch(`${url}/.well-known/oauth-protected-resource${new URL(stack.resource).pathname}`)).json()) as { authorization_servers: string[] };
    assert.deepEqual(metadata.authorization_servers, [stack.svc.url]);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);

    // The issuer's own address still answers; only serviceUrl goes silent, and the feed with it.
    proxy.hang();
    let ready: { status: number; body: { checks?: Record<string, boolean> } } = { status: 0, body: {} };
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(100)) {
      const r = await fetch(`${url}/readyz`);
      ready = { status: r.status, body: (await r.json()) as typeof ready.body };
      if (r.status === 503) break;
    }
    assert.equal(ready.status, 503, JSON.stringify(ready.body));
    assert.equal(ready.body.checks?.feeds, false);
    proxy.restore();
  });
});
