// The production image and the compose file, checked as far as a machine without a Docker engine can: the compose
// file's structure (and `docker compose config` / `docker-compose config` when either is installed), the Dockerfile's
// shape (and hadolint when installed). Building and running the image needs a Docker engine and is not done here.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { healthcheckCommand, imageEnv } from './dockerfile.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
  services: Record<string, Record<string, any>>;
  volumes: Record<string, unknown>;
};

/** A compose `environment:` with `${VAR}` substituted as compose would (from `vars`). */
function composeEnv(environment: Record<string, string> | undefined, vars: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(environment ?? {}).map(([k, v]) => [k, String(v).replace(/\$\{([A-Z_]+)[^}]*\}/g, (_, name: string) => vars[name] ?? '')]));
}

/** The port of the `http://127.0.0.1:<port>/<path>` a compose healthcheck fetches, and the path. */
function healthcheckTarget(test: string[]): { port: number; path: string } {
  const m = /http:\/\/127\.0\.0\.1:(\d+)(\/[a-z]+)/.exec(test.join(' '));
  assert.ok(m, `a healthcheck on 127.0.0.1: ${test.join(' ')}`);
  return { port: Number(m[1]), path: m[2]! };
}

/** The container ports of a compose `ports:` list (`host:container`). */
function containerPorts(ports: string[] | undefined): number[] {
  return (ports ?? []).map((p) => Number(String(p).split(':').at(-1)));
}

function installed(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, env: { ...process.env, ...env } }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
  });
}

describe('Dockerfile', () => {
  it('is multi-stage: a build stage, then a slim runtime stage with production dependencies and dist only', () => {
    assert.match(dockerfile, /^FROM \$\{NODE_IMAGE\} AS build|^FROM deps AS build/m);
    assert.match(dockerfile, /npm prune --omit=dev/);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    assert.match(runtime, /COPY --from=build \/app\/dist dist/);
    assert.doesNotMatch(runtime, /COPY (\. |src )/, 'no sources in the runtime stage');
    assert.doesNotMatch(runtime, /keys\/jwks|secrets\//, 'no keys or secrets baked in');
  });

  it('runs as the non-root node user, node as PID 1 (exec form), with NODE_ENV=production and no PORT in its ENV', () => {
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /^ENTRYPOINT \["node", "dist\/src\/main\.js"\]$/m);
    // Every container of the image inherits this: a PORT here would beat the `port:` of each config file.
    assert.deepEqual(imageEnv(dockerfile), { NODE_ENV: 'production' });
  });

  it('its HEALTHCHECK is liveness (/healthz: a Redis outage restarts nothing) on the port the server process resolves, service or gateway', () => {
    assert.deepEqual(healthcheckCommand(dockerfile), ['node', 'dist/src/healthcheck.js', '/healthz']);
    // The script is compiled into dist/ with the rest of src/ (tsconfig.build.json).
    assert.ok(readFileSync(join(ROOT, 'src/healthcheck.ts'), 'utf8').length > 0);
  });

  it('passes hadolint when it is installed', { skip: installed('hadolint', ['--version']) ? false : 'hadolint is not installed on this machine' }, async () => {
    const r = await run('hadolint', ['Dockerfile']);
    assert.equal(r.code, 0, r.out);
  });
});

describe('docker-compose.yml', () => {
  it('builds the image, with init, restart, a stop grace period above the drain time, and healthchecks', () => {
    const sts = compose.services.sts!;
    assert.deepEqual(sts.build, { context: '.', target: 'runtime' });
    assert.equal(sts.init, true);
    assert.equal(sts.restart, 'unless-stopped');
    assert.equal(sts.stop_grace_period, '25s');
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === 'agent') continue; // a one-shot run
      assert.ok(service.healthcheck?.test, `${name} has a healthcheck`);
      assert.equal(service.restart, 'unless-stopped', `${name} restarts`);
    }
    for (const name of ['crm', 'billing', 'agent']) assert.equal(compose.services[name]!.init, true, `${name} init`);
  });

  it('runs Redis with AOF and a password that compose requires from the environment', () => {
    const redis = compose.services.redis!;
    const command = (redis.command as string[]).join(' ');
    assert.match(command, /--appendonly yes/);
    assert.match(command, /--requirepass "\$\$REDIS_PASSWORD"/);
    assert.match(String(redis.environment.REDIS_PASSWORD), /^\$\{REDIS_PASSWORD:\?/);
    assert.equal(compose.services.sts!.environment.REDIS_URL, 'redis://:${REDIS_PASSWORD}@redis:6379');
  });

  it('keeps keys and secrets in a named volume, never in the image or the repository', () => {
    assert.ok('sts-keys' in compose.volumes);
    assert.deepEqual(compose.services.sts!.volumes, ['sts-keys:/app/keys']);
    for (const name of ['crm', 'billing', 'agent']) assert.deepEqual(compose.services[name]!.volumes, ['sts-keys:/app/keys:ro']);
  });

  it('no service shares the network namespace of sts: sts and the example tool servers share one owned by a container that only sleeps', () => {
    const loopback = compose.services.loopback!;
    assert.deepEqual(loopback.command, ['sleep', 'infinity']);
    assert.notEqual(loopback.image, compose.services.sts!.image, 'rebuilding sts does not recreate the namespace owner');
    assert.deepEqual(loopback.ports, ['3000:3000']);
    assert.deepEqual(loopback.networks, { default: { aliases: ['sts'] } });
    for (const [name, service] of Object.entries(compose.services)) {
      assert.notEqual(service.network_mode, 'service:sts', `${name} would lose its network when sts restarts`);
      assert.equal(service.network_mode, ['sts', 'crm', 'billing', 'agent'].includes(name) ? 'service:loopback' : undefined, name);
      if (service.network_mode) assert.equal(service.ports, undefined, `${name} publishes ports on loopback`);
    }
  });

  it('runs the MCP gateway from the runtime image (dts gateway, its config parses) in front of the plain MCP server, which only it can reach', async () => {
    const gateway = compose.services.gateway!;
    const plain = compose.services['plain-mcp']!;
    assert.equal(gateway.image, compose.services.sts!.image, 'the runtime image sts builds');
    assert.deepEqual(gateway.entrypoint, ['node', 'bin/dts.js', 'gateway', '--config', 'config/gateway.compose.yaml']);
    for (const service of [gateway, plain]) assert.equal(service.init, true);
    // plain-mcp is on an internal network the gateway alone joins, and publishes nothing.
    assert.deepEqual(plain.networks, ['mcp-upstream']);
    assert.deepEqual(gateway.networks, ['default', 'mcp-upstream']);
    assert.deepEqual((compose as unknown as { networks: Record<string, unknown> }).networks['mcp-upstream'], { internal: true });
    assert.equal(plain.ports, undefined);
    assert.deepEqual(gateway.ports, ['4100:4100']);
    // Liveness: nothing waits for the gateway (docs/operations.md, "Health checks").
    assert.deepEqual(healthcheckTarget(gateway.healthcheck.test), { port: 4100, path: '/healthz' });
    assert.deepEqual(gateway.volumes, ['gateway-keys:/app/keys', 'sts-keys:/app/sts-keys:ro']);
    assert.equal(gateway.environment.REDIS_URL, 'redis://:${REDIS_PASSWORD}@redis:6379');
    // The runtime image runs with NODE_ENV=production: the demo acknowledges what it generates on first start.
    assert.equal(gateway.environment.ALLOW_DEVELOPMENT_DEFAULTS, 'generatedSecrets,generatedKeys');
    assert.deepEqual(plain.environment, { PORT: '4200', HOST: '0.0.0.0' });
    const { loadGatewayConfig } = await import('../../src/gateway/load.js');
    // The container's environment: the image's ENV, then the service's `environment:`.
    const config = loadGatewayConfig(join(ROOT, 'config/gateway.compose.yaml'), { ...imageEnv(dockerfile), ...composeEnv(gateway.environment, { REDIS_PASSWORD: 'pw' }) });
    assert.equal(config.port, 4100);
    assert.equal(config.management.port, 9000);
    // Public URLs (what clients on the host use) are the identifiers; the service and the upstream by service name.
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.serviceUrl, 'http://sts:3000');
    assert.equal(config.jwksUri, 'http://sts:3000/jwks');
    assert.deepEqual(config.routes.map((r) => [r.resource, r.upstream]), [['http://localhost:4100/plain/mcp', 'http://plain-mcp:4200/mcp']]);
    // docker stop waits longer than the gateway's whole bounded shutdown (delay + grace + 10 s to store its events).
    const drainSeconds = config.shutdown.deregistrationDelaySeconds + config.shutdown.gracePeriodSeconds + 10;
    assert.ok(Number(/^(\d+)s$/.exec(gateway.stop_grace_period)?.[1]) > drainSeconds, `stop_grace_period ${gateway.stop_grace_period}, drain up to ${drainSeconds}s`);
    // The route is a tool server of the demo policy whose client is the gateway's.
    const demo = parse(readFileSync(join(ROOT, 'config/default.yaml'), 'utf8')) as { toolServers: Array<{ resource: string; clientId?: string }> };
    assert.equal(demo.toolServers.find((t) => t.resource === 'http://localhost:4100/plain/mcp')?.clientId, config.client.clientId);
  });

  it('publishes and healthchecks, for sts and the gateway, the ports their config and environment (image ENV + compose) resolve to', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const { loadGatewayConfig } = await import('../../src/gateway/load.js');
    const { probeTarget } = await import('../../src/healthcheck.js');
    const vars = { REDIS_PASSWORD: 'pw' };
    const image = imageEnv(dockerfile);

    // sts: the image's entrypoint (CONFIG_FILE unset: config/default.yaml), published by `loopback`, whose namespace it uses.
    const sts = compose.services.sts!;
    const stsEnv = { ...image, ...composeEnv(sts.environment, vars) };
    assert.equal(sts.entrypoint, undefined, 'sts runs the image entrypoint (the service)');
    const service = loadConfig(stsEnv, ROOT).config;
    assert.ok(containerPorts(compose.services.loopback!.ports).includes(service.port), `loopback publishes ${service.port}`);
    // Readiness on purpose: crm, plain-mcp and the gateway start once sts is ready.
    assert.deepEqual(healthcheckTarget(sts.healthcheck.test), { port: service.port, path: '/readyz' });
    for (const name of ['crm', 'plain-mcp', 'gateway']) assert.deepEqual(compose.services[name]!.depends_on.sts, { condition: 'service_healthy' }, name);
    // The image's own HEALTHCHECK, in that container: the same port.
    assert.equal(probeTarget({ role: 'service', args: [], env: stsEnv, cwd: ROOT }).url, `http://127.0.0.1:${service.port}/healthz`);

    // The gateway: the runtime image with `dts gateway --config …` as its entrypoint.
    const gateway = compose.services.gateway!;
    const gatewayEnv = { ...image, ...composeEnv(gateway.environment, vars) };
    const [, , , ...args] = gateway.entrypoint as string[];
    const config = loadGatewayConfig(join(ROOT, args[args.indexOf('--config') + 1]!), gatewayEnv);
    assert.deepEqual(containerPorts(gateway.ports), [config.port]);
    assert.equal(healthcheckTarget(gateway.healthcheck.test).port, config.port);
    assert.equal(probeTarget({ role: 'gateway', args, env: gatewayEnv, cwd: ROOT }).url, `http://127.0.0.1:${config.port}/healthz`);
    // /metrics stays on the management port, which is published nowhere.
    assert.ok(config.management.port !== undefined && !containerPorts(gateway.ports).includes(config.management.port));
  });

  const cli = installed('docker', ['compose', 'version']) ? ['docker', 'compose'] : installed('docker-compose', ['version']) ? ['docker-compose'] : undefined;
  it('is valid for `docker compose config` when compose is installed', { skip: cli ? false : 'neither docker compose nor docker-compose is installed' }, async () => {
    const [cmd, ...pre] = cli!;
    const ok = await run(cmd!, [...pre, 'config', '-q'], { REDIS_PASSWORD: 'test-only' });
    assert.equal(ok.code, 0, ok.out);
    // Without the password, compose refuses to start rather than running Redis open.
    const refused = await run(cmd!, [...pre, 'config', '-q'], { REDIS_PASSWORD: '' });
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /set REDIS_PASSWORD/);
  });
});
