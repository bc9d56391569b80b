// Starts the STS in this process with the demo policy of config/default.yaml, moved to free local ports: random
// client secrets (env refs), keys in a temp dir, Redis under a unique key prefix (deleted on stop) or memory.
import { deleteKeysWithPrefix, freePort } from './local.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONFIG_FILE, parseConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/schema.js';
import { createService, type Service } from '../src/service.js';

export interface LocalStsOptions {
  port: number;
  /** New resource URI per tool server, keyed by the tool server's `clientId` in the demo config. */
  resources: Readonly<Record<string, string>>;
  /** Redis URL, or `memory` for the in-process store. */
  store: string;
  /** Top-level config keys set on top of the demo config (e.g. `onboarding`, `onboardedClients`). */
  overrides?: Partial<ConfigInput>;
}

export interface LocalSts {
  issuer: string;
  /** Where this run's state lives in Redis; every key under it is deleted by `stop`. */
  keyPrefix: string;
  /** Client secret by client_id, generated for this run. */
  secrets: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startLocalSts(options: LocalStsOptions): Promise<LocalSts> {
  const keysDir = mkdtempSync(join(tmpdir(), 'dts-example-'));
  const keyPrefix = `example:${randomUUID()}:`;
  const { input, env, secrets } = exampleConfig(options, keysDir, keyPrefix);
  let service: Service | undefined;
  try {
    service = await createService(parseConfig(input), { logger: pino({ level: 'error' }, pino.destination(2)), env });
    await service.listen(options.port, '127.0.0.1');
  } catch (err) {
    await service?.close();
    await cleanUp(options.store, keyPrefix, keysDir);
    throw err;
  }
  const running = service;
  return {
    issuer: String(input.issuer),
    keyPrefix,
    secrets,
    async stop() {
      await running.close();
      await cleanUp(options.store, keyPrefix, keysDir);
    },
  };
}

/** The demo config with what must differ per run replaced; the policy itself is left exactly as written. */
function exampleConfig(options: LocalStsOptions, keysDir: string, keyPrefix: string) {
  const demo = parseYaml(readFileSync(DEFAULT_CONFIG_FILE, 'utf8')) as ConfigInput;
  const moved = new Map<string, string>();
  const toolServers = (demo.toolServers ?? []).map((t) => {
    const resource = t.clientId ? options.resources[t.clientId] : undefined;
    // A tool server this run does not start keeps its configured URI: nothing listens there, nothing reaches it.
    if (!resource) return t;
    moved.set(t.resource, resource);
    return { ...t, resource };
  });
  const secrets: Record<string, string> = {};
  const env: NodeJS.ProcessEnv = { EXAMPLE_COOKIE_SECRET: randomBytes(32).toString('base64url') };
  const clients = (demo.clients ?? []).map((c) => {
    if (!c.client_secret) return c;
    const name = `EXAMPLE_SECRET_${c.client_id.replace(/\W/g, '_').toUpperCase()}`;
    secrets[c.client_id] = env[name] = randomBytes(32).toString('base64url');
    return { ...c, client_secret: { env: name } };
  });
  const input: ConfigInput = {
    ...demo,
    port: options.port,
    issuer: `http://127.0.0.1:${options.port}`,
    logLevel: 'error',
    redis: options.store === 'memory' ? { keyPrefix } : { url: options.store, keyPrefix },
    keys: { file: join(keysDir, 'jwks.json') },
    cookieSecret: { env: 'EXAMPLE_COOKIE_SECRET' },
    clients,
    toolServers,
    agents: (demo.agents ?? []).map((a) => ({
      ...a,
      toolServers: (a.toolServers ?? []).map((r) => ({ ...r, resource: moved.get(r.resource) ?? r.resource })),
    })),
    ...options.overrides,
  };
  return { input, env, secrets };
}

async function cleanUp(store: string, keyPrefix: string, keysDir: string): Promise<void> {
  rmSync(keysDir, { recursive: true, force: true });
  if (store === 'memory') return;
  const redis = new Redis(store, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await deleteKeysWithPrefix(redis, keyPrefix);
  } finally {
    redis.disconnect();
  }
}


export { freePort };
