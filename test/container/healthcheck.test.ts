// The image's HEALTHCHECK, run as Docker runs it (the Dockerfile's CMD, the container's environment: the image's ENV
// plus what compose adds) against the real service and the real `dts gateway` started the way the image starts them.
// It checks liveness, so a Redis outage (readiness 503) restarts nothing, and it probes the port the server process
// itself resolved, from its config file or from PORT, whichever the container gives.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../tools/local.js';
import { startService, stopService, waitReady, workDir, writeConfig } from '../main/spawn_service.js';
import { healthcheckCommand, imageEnv } from './dockerfile.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = import.meta.resolve('tsx');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/**
 * Runs the Dockerfile's HEALTHCHECK command in `cwd` (the container's WORKDIR) with the container's `env`. Its
 * `node dist/src/<x>.js` runs as the TypeScript source; `--pid` names the server process, which inside a container
 * is the only one there (here other tests' services run on the same machine).
 */
function runHealthcheck(cwd: string, env: NodeJS.ProcessEnv, pid: number): Promise<{ code: number; stderr: string }> {
  const [cmd, ...args] = healthcheckCommand(dockerfile);
  assert.equal(cmd, 'node');
  const compiled = /^dist\/(src\/.+)\.js$/.exec(args[0] ?? '');
  const argv = compiled ? ['--conditions=source', `--import=${TSX}`, join(ROOT, `${compiled[1]}.ts`), ...args.slice(1), '--pid', String(pid)] : args;
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { cwd, env: { PATH: process.env.PATH, ...env }, timeout: 15_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

/** A Redis of this test's own (it is stopped mid-test), on a free loopback port. */
async function privateRedis(t: TestContext): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = `redis://127.0.0.1:${port}`;
  const { Redis } = await import('ioredis');
  for (let i = 0; ; i++) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    const up = await probe.connect().then(() => probe.ping(), () => undefined);
    probe.disconnect();
    if (up === 'PONG') break;
    if (i > 50) throw new Error(`redis-server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child };
}

/** The image's ENV, which every container has, without a PORT beating the config file's `port:`. */
function containerEnv(): Record<string, string> {
  const env = imageEnv(dockerfile);
  assert.equal(env.PORT, undefined, "the image's ENV sets PORT: it would beat every config file's port (the gateway's 4100 too)");
  return env;
}

describe('the image HEALTHCHECK, against the real processes', () => {
  it('is liveness: during a Redis outage /readyz answers 503 and the check still passes (no restart storm)', async (t) => {
    const redis = await privateRedis(t);
    const dir = workDir(t);
    const port = await freePort();
    // As compose's sts: the image's ENV, then PORT, REDIS_URL and the demo's acknowledgements.
    const env = { ...imageEnv(dockerfile), PORT: String(port), REDIS_URL: redis.url, ALLOW_DEVELOPMENT_DEFAULTS: 'generatedSecrets,generatedKeys', CONFIG_FILE: writeConfig(dir, {}) };
    const child = startService(dir, env);
    t.after(() => stopService(child));
    await waitReady(child, `http://127.0.0.1:${port}/readyz`);
    assert.deepEqual(await runHealthcheck(dir, env, child.pid!), { code: 0, stderr: '' });

    redis.child.kill('SIGKILL');
    let ready = 200;
    for (let i = 0; i < 100 && ready === 200; i++) {
      ready = (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
      if (ready === 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ready, 503, 'the outage is real: not ready');
    const during = await runHealthcheck(dir, env, child.pid!);
    assert.deepEqual(during, { code: 0, stderr: '' }, 'healthy (alive) while Redis is down');
  });

  it("probes the service on its config file's port when nothing sets PORT (the image sets none)", async (t) => {
    const env0 = containerEnv();
    const dir = workDir(t);
    const port = await freePort();
    const env = { ...env0, REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379', ALLOW_DEVELOPMENT_DEFAULTS: 'generatedSecrets,generatedKeys', CONFIG_FILE: 'service.json' };
    writeConfig(dir, { port, redis: { keyPrefix: `test:hc:${port}:` } }, 'service.json');
    const child = startService(dir, env);
    t.after(() => stopService(child));
    await waitReady(child, `http://127.0.0.1:${port}/healthz`);
    assert.deepEqual(await runHealthcheck(dir, env, child.pid!), { code: 0, stderr: '' });
  });

  it("probes `dts gateway --config <file>` on that file's port, from the same image, with the same command", async (t) => {
    const env0 = containerEnv();
    const dir = workDir(t);
    const [port, dead] = [await freePort(), await freePort()];
    writeConfig(dir, {
      port,
      host: '127.0.0.1',
      issuer: `http://127.0.0.1:${dead}`,
      client: { clientId: 'gateway', clientSecret: { env: 'GATEWAY_SECRET' } },
      keys: { file: 'keys/gateway-jwks.json' },
      routes: [{ resource: `http://localhost:${port}/crm/mcp`, upstream: `http://127.0.0.1:${dead}/mcp` }],
    }, 'gateway.json');
    // No Redis: a single replica, acknowledged (memoryStore) like its generated keys and arguments key.
    const env = { ...env0, GATEWAY_SECRET: 'gateway-secret', LOG_LEVEL: 'silent', ALLOW_DEVELOPMENT_DEFAULTS: 'generatedSecrets,generatedKeys,memoryStore' };
    const { PORT: _p, HOST: _h, ISSUER: _i, REDIS_URL: _r, GATEWAY_PUBLIC_URL: _g, NODE_ENV: _n, ALLOW_DEVELOPMENT_DEFAULTS: _a, GATEWAY_CONFIG: _c, ...rest } = process.env;
    const child = spawn(process.execPath, [join(ROOT, 'bin/dts.js'), 'gateway', '--config', 'gateway.json'], { cwd: dir, env: { ...rest, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => stopService(child));
    await waitReady(child, `http://127.0.0.1:${port}/healthz`);
    assert.deepEqual(await runHealthcheck(dir, env, child.pid!), { code: 0, stderr: '' });
  });
});
