// The gateway configuration: generated docs in sync, env overrides, one-line refusals, `dts gateway` start-up errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('resources: each prefix is `*` or a URL in its own WHATWG normal form without userinfo; anything else names the normal form', () => {
    const withResources = (resources: string[]) => parseGatewayConfig({ ...minimal, routes: [{ ...minimal.routes[0], resources }] });
    assert.deepEqual(withResources(['*', 'docs://', 'docs://kb/public/', 'file:///srv/docs', 'https://docs.example/kb/']).routes[0]!.resources, ['*', 'docs://', 'docs://kb/public/', 'file:///srv/docs', 'https://docs.example/kb/']);
    const refused: Array<[string, string]> = [
      ['docs://kb/public/../private/', 'is not in normal form (WHATWG URL): "docs://kb/private/"'],
      ['docs://kb/%2e%2e/x/', 'is not in normal form (WHATWG URL): "docs://kb/x/"'],
      ['HTTPS://Docs.example/kb/', 'is not in normal form (WHATWG URL): "https://docs.example/kb/"'],
      ['https://docs.example', 'is not in normal form (WHATWG URL): "https://docs.example/"'],
      ['docs://reader:pw@kb/', 'must not carry userinfo (user:password@)'],
      ['kb/public/', 'is not a URL'],
    ];
    for (const [prefix, problem] of refused) {
      assert.throws(() => withResources(['docs://ok/', prefix]), { message: `invalid gateway configuration: routes.0.resources.1: resource prefix ${JSON.stringify(prefix)} ${problem}` });
    }
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

  it('management.port: unset by default; must differ from port (env PORT included); outside production an empty REDIS_URL unsets the file\'s', () => {
    assert.equal(parseGatewayConfig(minimal).management.port, undefined);
    assert.equal(parseGatewayConfig({ ...minimal, management: { port: 9000 } }).management.port, 9000);
    assert.throws(() => parseGatewayConfig({ ...minimal, port: 9000, management: { port: 9000 } }), { message: 'invalid gateway configuration: management.port: must differ from `port`' });
    assert.throws(() => parseGatewayConfig({ ...minimal, management: { port: 0 } }), /management\.port/);
    const dir = mkdtempSync(join(tmpdir(), 'gw-conf-'));
    try {
      const file = join(dir, 'gateway.json');
      writeFileSync(file, JSON.stringify({ ...minimal, management: { port: 9000 }, redis: { url: 'redis://file:6379' } }));
      assert.throws(() => loadGatewayConfig(file, { PORT: '9000' }), /management\.port: must differ from `port`/);
      assert.equal(loadGatewayConfig(file, { REDIS_URL: '' }).redis.url, undefined);
      assert.throws(() => loadGatewayConfig(file, { REDIS_URL: '', NODE_ENV: 'production' }), (err: unknown) => err instanceof ConfigError && err.message.startsWith('REDIS_URL is set but empty: NODE_ENV=production refuses it'));
      assert.equal(loadGatewayConfig(file, { NODE_ENV: 'production' }).redis.url, 'redis://file:6379');
      // enforcement: false is judged by the environment given, not this process's.
      writeFileSync(file, JSON.stringify({ ...minimal, enforcement: false }));
      assert.throws(() => loadGatewayConfig(file, { NODE_ENV: 'production' }), /enforcement: false is refused with NODE_ENV=production/);
      assert.equal(loadGatewayConfig(file, {}).enforcement, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dts gateway: a missing config file is one line on stderr, exit 2', async () => {
    const run = promisify(execFile);
    await assert.rejects(run(process.execPath, ['bin/dts.js', 'gateway', '--config', 'does/not/exist.yaml']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.equal(err.stderr, 'gateway config file does/not/exist.yaml does not exist\n');
      return true;
    });
  });
  /** Runs `dts gateway` with `config` (JSON, in a temporary directory that also holds its generated keys). */
  async function runGateway(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'gw-start-'));
    try {
      const file = join(dir, 'gateway.json');
      writeFileSync(file, JSON.stringify({ ...minimal, keys: { file: join(dir, 'gateway-jwks.json') }, ...config }));
      const { REDIS_URL: _r, PORT: _p, HOST: _h, ISSUER: _i, LOG_LEVEL: _l, GATEWAY_PUBLIC_URL: _g, ...rest } = process.env;
      return await new Promise((resolve) => {
        execFile(process.execPath, ['bin/dts.js', 'gateway', '--config', file], { env: { ...rest, GATEWAY_SECRET: 'gateway-secret', ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
        );
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('dts gateway: an audit.argumentsKey shorter than 32 bytes is one line naming the key, exit 2 (not a stack trace)', async () => {
    const r = await runGateway({ audit: { argumentsKey: { env: 'GW_ARGUMENTS_KEY' } } }, { GW_ARGUMENTS_KEY: 'x'.repeat(31) });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'audit.argumentsKey: must be at least 32 bytes\n');
  });

  it('dts gateway with NODE_ENV=production: a generated secret, no Redis or missing assertion keys are one line naming them all, exit 2, unless acknowledged', async () => {
    // audit.argumentsKey has generate: true by default.
    const secrets = await runGateway({}, { NODE_ENV: 'production', ALLOW_DEVELOPMENT_DEFAULTS: 'memoryStore,generatedKeys' });
    assert.equal(secrets.code, 2);
    assert.equal(
      secrets.stderr,
      'NODE_ENV=production refuses development defaults: audit.argumentsKey has generate: true. Fix them, or acknowledge with production.allowDevelopmentDefaults: [generatedSecrets] (env ALLOW_DEVELOPMENT_DEFAULTS=generatedSecrets)\n',
    );
    const keys = await runGateway({ audit: { argumentsKey: { env: 'GW_ARGUMENTS_KEY' } } }, { NODE_ENV: 'production', GW_ARGUMENTS_KEY: 'k'.repeat(32), ALLOW_DEVELOPMENT_DEFAULTS: 'memoryStore' });
    assert.equal(keys.code, 2);
    // The missing key file is named in the first refusal, with the command that creates that file.
    assert.match(keys.stderr, /^NODE_ENV=production refuses development defaults: keys\.file (\S+gateway-jwks\.json) is missing \(create it with `dts keys generate --file \1`\)\. Fix them, or acknowledge with production\.allowDevelopmentDefaults: \[generatedKeys\] \(env ALLOW_DEVELOPMENT_DEFAULTS=generatedKeys\)\n$/);
    // No Redis: session bindings, DPoP replays and the audit trail would be this process's only.
    const memory = await runGateway({ audit: { argumentsKey: { env: 'GW_ARGUMENTS_KEY' } } }, { NODE_ENV: 'production', GW_ARGUMENTS_KEY: 'k'.repeat(32), ALLOW_DEVELOPMENT_DEFAULTS: 'generatedKeys' });
    assert.equal(memory.code, 2);
    assert.equal(
      memory.stderr,
      'NODE_ENV=production refuses development defaults: redis.url is unset (env REDIS_URL), so session bindings, DPoP replays and the audit trail are in-memory. Fix them, or acknowledge with production.allowDevelopmentDefaults: [memoryStore] (env ALLOW_DEVELOPMENT_DEFAULTS=memoryStore)\n',
    );
    // Both refusals of the configuration at once, in one line.
    const both = await runGateway({}, { NODE_ENV: 'production' });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^NODE_ENV=production refuses development defaults: audit\.argumentsKey has generate: true; keys\.file \S+ is missing .*; redis\.url is unset .* \[generatedSecrets, generatedKeys, memoryStore\] \(env ALLOW_DEVELOPMENT_DEFAULTS=generatedSecrets,generatedKeys,memoryStore\)\n$/);
    // An empty REDIS_URL is refused (not read as unset), acknowledged memory store or not.
    const empty = await runGateway({}, { NODE_ENV: 'production', REDIS_URL: '', ALLOW_DEVELOPMENT_DEFAULTS: 'generatedSecrets,generatedKeys,memoryStore' });
    assert.equal(empty.code, 2);
    assert.equal(empty.stderr, "REDIS_URL is set but empty: NODE_ENV=production refuses it (as unset, it would replace the config file's Redis with the in-memory store); unset it or give a value\n");
    // Acknowledged (env wins over the file; values only the service knows are ignored): it gets past all three, to the port.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const acknowledged = await runGateway({ port, host: '127.0.0.1' }, { NODE_ENV: 'production', ALLOW_DEVELOPMENT_DEFAULTS: 'demoLogin,generatedSecrets,generatedKeys,memoryStore' });
      assert.equal(acknowledged.code, 2);
      assert.equal(acknowledged.stderr, `cannot listen on port ${port}: it is already in use (EADDRINUSE); stop the other process or set PORT\n`);
    } finally {
      taken.close();
    }
  });

  it('dts gateway: a port in use is one line naming the port, exit 2, and nothing else goes wrong on the way out', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await runGateway({ port, host: '127.0.0.1', logLevel: 'info', audit: { argumentsKey: { env: 'GW_ARGUMENTS_KEY' } } }, { GW_ARGUMENTS_KEY: 'k'.repeat(32) });
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `cannot listen on port ${port}: it is already in use (EADDRINUSE); stop the other process or set PORT\n`);
      // The feed closed on the way out is not reported as a failure.
      assert.doesNotMatch(r.stdout, /revocation feed not ready|"level":50/);
    } finally {
      taken.close();
    }
  });
});
