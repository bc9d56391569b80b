// NODE_ENV=production refuses development defaults (demo login, generated secrets, a non-https public issuer) unless
// acknowledged: the real process exits 2 with one line; acknowledged, it starts and keeps keys/ and keys/secrets/ 0700.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parse as parseYaml } from 'yaml';
import { deleteKeysWithPrefix, freePort } from '../../tools/local.js';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/http/logger.js';
import { generateKeyFile } from '../../src/keys/index.js';
import { createService } from '../../src/service.js';
import { REDIS_URL } from '../helpers/service.js';
import { runUntilExit, startService, stopService, waitReady, workDir, writeConfig } from '../main/spawn_service.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

// A real key file, so that only what a test changes is a development default (a missing one is `generatedKeys`).
const keysDir = mkdtempSync(join(tmpdir(), 'dts-keys-'));
const KEY_FILE = join(keysDir, 'jwks.json');
before(() => generateKeyFile({ file: KEY_FILE }));
after(() => rmSync(keysDir, { recursive: true, force: true }));

/** A config with no development default: https issuer, every secret from env, Redis, an existing key file. */
const safe = (): Record<string, unknown> => ({
  issuer: 'https://sts.example',
  keys: { file: KEY_FILE },
  redis: { url: REDIS_URL },
  cookieSecret: { env: 'COOKIE_SECRET' },
  clients: [{ client_id: 'agent', client_secret: { env: 'AGENT_SECRET' }, grant_types: [EXCHANGE] }],
});

async function refused(t: Parameters<typeof workDir>[0], config: Record<string, unknown>, line: string, env: NodeJS.ProcessEnv = {}) {
  const dir = workDir(t);
  const run = await runUntilExit(dir, { CONFIG_FILE: writeConfig(dir, config), NODE_ENV: 'production', ...env });
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stderr, `${line}\n`);
}

describe('NODE_ENV=production: the process refuses development defaults (exit 2, one line)', () => {
  it('demoLogin.enabled', async (t) => {
    await refused(
      t,
      { ...safe(), demoLogin: { enabled: true } },
      'NODE_ENV=production refuses development defaults: demoLogin.enabled is true. Fix them, or acknowledge with ' +
        'production.allowDevelopmentDefaults: [demoLogin] (env ALLOW_DEVELOPMENT_DEFAULTS=demoLogin)',
    );
  });

  it('a generate: true secret, including the default cookieSecret', async (t) => {
    const { cookieSecret: _, ...config } = safe();
    config.clients = [{ client_id: 'agent', client_secret: { env: 'AGENT_SECRET', file: 'keys/secrets/agent', generate: true }, grant_types: [EXCHANGE] }];
    await refused(
      t,
      config,
      'NODE_ENV=production refuses development defaults: cookieSecret, clients.0.client_secret have generate: true. Fix them, ' +
        'or acknowledge with production.allowDevelopmentDefaults: [generatedSecrets] (env ALLOW_DEVELOPMENT_DEFAULTS=generatedSecrets)',
      // A value in the env does not make the flag safe: a missing secret would still be replaced by a fresh one.
      { AGENT_SECRET: 'from-env' },
    );
  });

  it('a non-https issuer on a non-loopback host (env ISSUER too)', async (t) => {
    await refused(
      t,
      safe(),
      'NODE_ENV=production refuses development defaults: issuer http://sts.example is not https. Fix them, or acknowledge ' +
        'with production.allowDevelopmentDefaults: [httpIssuer] (env ALLOW_DEVELOPMENT_DEFAULTS=httpIssuer)',
      { ISSUER: 'http://sts.example' },
    );
  });

  it('all three at once, with only one acknowledged: the other two are named', async (t) => {
    const { cookieSecret: _, ...config } = safe();
    await refused(
      t,
      { ...config, issuer: 'http://10.0.0.1:3000', demoLogin: { enabled: true }, production: { allowDevelopmentDefaults: ['demoLogin'] } },
      'NODE_ENV=production refuses development defaults: cookieSecret has generate: true; issuer http://10.0.0.1:3000 is not https. ' +
        'Fix them, or acknowledge with production.allowDevelopmentDefaults: [generatedSecrets, httpIssuer] ' +
        '(env ALLOW_DEVELOPMENT_DEFAULTS=generatedSecrets,httpIssuer)',
    );
  });

  it('an unknown acknowledgement in the env', async (t) => {
    await refused(
      t,
      safe(),
      'NODE_ENV=production: unknown development default demo-login in allowDevelopmentDefaults (known: demoLogin, generatedSecrets, generatedKeys, httpIssuer, memoryStore)',
      { ALLOW_DEVELOPMENT_DEFAULTS: 'demo-login' },
    );
  });

  it('no Redis: the in-memory store (replicas would not share revocations; a restart forgets them)', async (t) => {
    const { redis: _, ...config } = safe();
    await refused(
      t,
      config,
      'NODE_ENV=production refuses development defaults: redis.url and redis.clusterNodes are unset (env REDIS_URL, REDIS_CLUSTER_NODES), so the store is in-memory. ' +
        'Fix them, or acknowledge with production.allowDevelopmentDefaults: [memoryStore] (env ALLOW_DEVELOPMENT_DEFAULTS=memoryStore)',
      { REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined },
    );
  });

  it("an empty REDIS_URL or REDIS_CLUSTER_NODES is refused, not read as unset (it would replace the file's Redis with the memory store)", async (t) => {
    const line = (name: string) =>
      `${name} is set but empty: NODE_ENV=production refuses it (as unset, it would replace the config file's Redis with the in-memory store); unset it or give a value`;
    await refused(t, safe(), line('REDIS_URL'), { REDIS_URL: '' });
    await refused(t, safe(), line('REDIS_CLUSTER_NODES'), { REDIS_URL: undefined, REDIS_CLUSTER_NODES: ' , ' });
    // Acknowledging the memory store does not make an empty variable a choice.
    await refused(
      t,
      safe(),
      "REDIS_URL and REDIS_CLUSTER_NODES are set but empty: NODE_ENV=production refuses them (as unset, they would replace the config file's Redis with the in-memory store); unset them or give a value",
      { REDIS_URL: '', REDIS_CLUSTER_NODES: '', ALLOW_DEVELOPMENT_DEFAULTS: 'memoryStore' },
    );
  });

  it('a missing signing key file: not generated (replicas would each sign with their own keys)', async (t) => {
    await refused(
      t,
      { ...safe(), keys: { file: 'keys/missing.json' } },
      'NODE_ENV=production refuses development defaults: keys.file keys/missing.json is missing (create it with ' +
        '`dts keys generate --file keys/missing.json`). Fix them, or acknowledge with production.allowDevelopmentDefaults: ' +
        '[generatedKeys] (env ALLOW_DEVELOPMENT_DEFAULTS=generatedKeys)',
      { COOKIE_SECRET: 'c'.repeat(32), AGENT_SECRET: 'a'.repeat(32), ISSUER: 'https://sts.example' },
    );
  });

  it('the default config, nothing acknowledged: the first refusal names every default, the missing key file too', async (t) => {
    await refused(
      t,
      {},
      'NODE_ENV=production refuses development defaults: cookieSecret has generate: true; keys.file keys/jwks.json is missing ' +
        '(create it with `dts keys generate --file keys/jwks.json`); issuer http://sts.example is not https; redis.url and ' +
        'redis.clusterNodes are unset (env REDIS_URL, REDIS_CLUSTER_NODES), so the store is in-memory. Fix them, or acknowledge ' +
        'with production.allowDevelopmentDefaults: [generatedSecrets, generatedKeys, httpIssuer, memoryStore] ' +
        '(env ALLOW_DEVELOPMENT_DEFAULTS=generatedSecrets,generatedKeys,httpIssuer,memoryStore)',
      { ISSUER: 'http://sts.example', REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined },
    );
  });

  it('a key file gone after the config was loaded: the key store still refuses to generate one, naming the command', async () => {
    const config = parseConfig({ ...safe(), keys: { file: join(keysDir, 'gone.json') } });
    const env = { NODE_ENV: 'production', COOKIE_SECRET: 'c'.repeat(32), AGENT_SECRET: 'a'.repeat(32) };
    await assert.rejects(createService(config, { logger: createLogger('silent'), env }), {
      message:
        `key file ${join(keysDir, 'gone.json')} does not exist; NODE_ENV=production does not generate signing keys: create the file with ` +
        `\`dts keys generate --file ${join(keysDir, 'gone.json')}\` (or mount it), or acknowledge with production.allowDevelopmentDefaults: ` +
        '[generatedKeys] (env ALLOW_DEVELOPMENT_DEFAULTS=generatedKeys)',
    });
  });

  it('acknowledged, it starts; keys/ and keys/secrets/ are created 0700, the generated files 0600', async (t) => {
    const dir = workDir(t);
    const port = await freePort();
    const prefix = `test:${randomUUID()}:`;
    const config = {
      issuer: `http://localhost:${port}`,
      port,
      redis: { keyPrefix: prefix },
      demoLogin: { enabled: true },
      cookieSecret: { file: 'keys/secrets/cookie', generate: true },
      clients: [{ client_id: 'agent', client_secret: { file: 'keys/secrets/agent', generate: true }, grant_types: [EXCHANGE] }],
      production: { allowDevelopmentDefaults: ['demoLogin', 'generatedSecrets', 'generatedKeys'] },
    };
    const child = startService(dir, { CONFIG_FILE: writeConfig(dir, config), NODE_ENV: 'production', REDIS_URL });
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    try {
      await waitReady(child, `http://localhost:${port}/readyz`);
      const discovery = (await (await fetch(`http://localhost:${port}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
      assert.equal(discovery.issuer, `http://localhost:${port}`);
      for (const d of ['keys', 'keys/secrets']) assert.equal(statSync(join(dir, d)).mode & 0o777, 0o700, d);
      for (const f of ['keys/jwks.json', 'keys/secrets/cookie', 'keys/secrets/agent']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    } finally {
      await stopService(child);
      await redis.connect().then(() => deleteKeysWithPrefix(redis, prefix)).finally(() => redis.disconnect());
    }
  });
});

describe('productionRefusal through loadConfig', () => {
  const load = (config: Record<string, unknown>, env: NodeJS.ProcessEnv) => (t: Parameters<typeof workDir>[0]) => {
    const dir = workDir(t);
    return loadConfig({ CONFIG_FILE: writeConfig(dir, config), ...env });
  };

  it('loopback issuers may be plain http: localhost, 127.0.0.1, [::1]', (t) => {
    for (const issuer of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000']) {
      assert.equal(load({ ...safe(), issuer }, { NODE_ENV: 'production' })(t).config.issuer, issuer);
    }
    // Not loopback by name: refused.
    assert.throws(() => load({ ...safe(), issuer: 'http://localhost.example' }, { NODE_ENV: 'production' })(t), ConfigError);
  });

  it('memoryStore: refused without Redis unless acknowledged; a Redis URL or cluster seeds from the file or the env are Redis', (t) => {
    const { redis: _, ...memory } = safe();
    const none = { REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined };
    assert.throws(() => load(memory, { NODE_ENV: 'production', ...none })(t), /redis\.url and redis\.clusterNodes are unset/);
    assert.equal(load(memory, { NODE_ENV: 'production', ALLOW_DEVELOPMENT_DEFAULTS: 'memoryStore', ...none })(t).config.redis.url, undefined);
    assert.equal(load({ ...memory, production: { allowDevelopmentDefaults: ['memoryStore'] } }, { NODE_ENV: 'production', ...none })(t).config.redis.url, undefined);
    assert.equal(load(memory, { NODE_ENV: 'production', ...none, REDIS_URL: 'redis://10.0.0.1:6379' })(t).config.redis.url, 'redis://10.0.0.1:6379');
    assert.deepEqual(load(memory, { NODE_ENV: 'production', ...none, REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000' })(t).config.redis.clusterNodes, ['redis://10.0.0.1:7000']);
    // Outside production the memory store is the quick start's (a loud warning at start, nothing refused), and an
    // empty REDIS_URL still means unset: how one command runs on it with a REDIS_URL exported in the shell.
    assert.equal(load(safe(), { REDIS_URL: '' })(t).config.redis.url, undefined);
  });

  it('outside production nothing is refused; the env acknowledgement wins over the file', (t) => {
    const demo = { ...safe(), demoLogin: { enabled: true } };
    assert.equal(load(demo, { NODE_ENV: 'development' })(t).config.demoLogin.enabled, true);
    assert.equal(load(demo, {})(t).config.demoLogin.enabled, true);
    assert.throws(() => load({ ...demo, production: { allowDevelopmentDefaults: ['demoLogin'] } }, { NODE_ENV: 'production', ALLOW_DEVELOPMENT_DEFAULTS: '' })(t), /demoLogin\.enabled is true/);
    assert.equal(load(demo, { NODE_ENV: 'production', ALLOW_DEVELOPMENT_DEFAULTS: ' demoLogin ' })(t).config.demoLogin.enabled, true);
  });

  it('docker-compose.yml: the sts service runs the demo config with NODE_ENV=production and starts (the acknowledgement is explicit)', () => {
    const compose = parseYaml(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    const env = compose.services.sts!.environment!;
    assert.equal(env.NODE_ENV, 'production');
    assert.equal(env.ALLOW_DEVELOPMENT_DEFAULTS, 'demoLogin,generatedSecrets,generatedKeys');
    const { config } = loadConfig({ ...env, CONFIG_FILE: new URL('../../config/default.yaml', import.meta.url).pathname });
    assert.equal(config.demoLogin.enabled, true);
    assert.equal(config.issuer, 'http://localhost:3000');
    // Without it, the same config is refused.
    assert.throws(() => loadConfig({ ...env, ALLOW_DEVELOPMENT_DEFAULTS: undefined, CONFIG_FILE: new URL('../../config/default.yaml', import.meta.url).pathname }), /demoLogin\.enabled is true; .* have generate: true/);
  });
});
