// The gateway configuration: generated docs in sync, env overrides, one-line refusals, `dts gateway` start-up errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { renderGatewayConfigDocs } from '../../src/gateway/gen_docs.js';
import { ConfigError, loadGatewayConfig, parseGatewayConfig } from '../../src/gateway/load.js';

const minimal = {
  issuer: 'http://127.0.0.1:3000/',
  client: { clientId: 'gateway', clientSecret: { env: 'GATEWAY_SECRET' } },
  routes: [{ resource: 'http://localhost:4100/crm/mcp', upstream: 'http://127.0.0.1:4200/mcp' }],
};

describe('gateway configuration', () => {
  it('docs/gateway-configuration.md is generated from the schema (npm run docs:gateway-config)', () => {
    assert.equal(readFileSync('docs/gateway-configuration.md', 'utf8'), renderGatewayConfigDocs());
  });

  it('fills defaults: public URL from the port, JWKS under the issuer, assertion route defaults, deny-by-default rules', () => {
    const config = parseGatewayConfig(minimal);
    assert.equal(config.publicUrl, 'http://localhost:4100');
    assert.equal(config.issuer, 'http://127.0.0.1:3000');
    assert.equal(config.jwksUri, 'http://127.0.0.1:3000/jwks');
    assert.equal(config.keys.alg, 'ES256');
    assert.equal(config.assertionTtlSeconds, 30);
    assert.deepEqual(config.routes[0], { resource: 'http://localhost:4100/crm/mcp', upstream: 'http://127.0.0.1:4200/mcp', upstreamAuth: 'assertion', resources: [], prompts: [], methods: [], scopesSupported: [] });
  });

  it('refuses bad keys in one line naming each', () => {
    assert.throws(
      () => parseGatewayConfig({ ...minimal, assertionTtlSeconds: 600, routs: [], routes: [{ resource: 'nope', upstream: 'http://x/mcp' }] }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes('\n') && /^invalid gateway configuration: /.test(err.message) && err.message.includes('assertionTtlSeconds') && err.message.includes('routes.0.resource') && err.message.includes('routs'),
    );
    assert.throws(
      () => parseGatewayConfig({ ...minimal, routes: [minimal.routes[0], { ...minimal.routes[0], upstream: 'http://127.0.0.1:4300/mcp' }] }),
      { message: 'invalid gateway configuration: routes.1.resource: path /crm/mcp is used by another route' },
    );
    // Credentials in the upstream URL would go upstream as Basic, into the start-up log and into the assertion's aud.
    for (const upstream of ['http://mcpuser:pw@127.0.0.1:4200/mcp', 'https://token@mcp.internal/mcp']) {
      assert.throws(() => parseGatewayConfig({ ...minimal, routes: [{ ...minimal.routes[0], upstream }] }), {
        message: 'invalid gateway configuration: routes.0.upstream: must not carry credentials (user:password@)',
      });
    }
    assert.equal(parseGatewayConfig({ ...minimal, routes: [{ ...minimal.routes[0], upstream: 'http://127.0.0.1:4200/mcp?v=a@b' }] }).routes[0]!.upstream, 'http://127.0.0.1:4200/mcp?v=a@b');
  });

  it('environment overrides win over the file (PORT, ISSUER, GATEWAY_PUBLIC_URL, REDIS_URL, LOG_LEVEL)', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'gw-conf-')), 'gateway.json');
    writeFileSync(file, JSON.stringify(minimal));
    const config = loadGatewayConfig(file, { PORT: '4999', ISSUER: 'http://sts.test', GATEWAY_PUBLIC_URL: 'https://gw.test/', REDIS_URL: 'redis://r:6379', LOG_LEVEL: 'debug' } as NodeJS.ProcessEnv);
    assert.equal(config.port, 4999);
    assert.equal(config.issuer, 'http://sts.test');
    assert.equal(config.publicUrl, 'https://gw.test');
    assert.equal(config.redis.url, 'redis://r:6379');
    assert.equal(config.logLevel, 'debug');
  });

  it('dts gateway: a missing config file is one line on stderr, exit 2', async () => {
    const run = promisify(execFile);
    await assert.rejects(run(process.execPath, ['bin/dts.js', 'gateway', '--config', 'does/not/exist.yaml']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.equal(err.stderr, 'gateway config file does/not/exist.yaml does not exist\n');
      return true;
    });
  });
});
