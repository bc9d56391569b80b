// Starts bench/server.ts as a child process against real Redis under a fresh key prefix, and cleans up after it.
import { deleteKeysWithPrefix, freePort } from '../tools/local.js';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { benchBuild } from './build.js';
import { CLIENT_IDS, secretEnvName, type BenchClientId } from './config.js';
import type { ChildMessage, MemorySample, ParentMessage, RedisCounts, ServerStartOptions } from './ipc.js';
import { deleteClusterKeysWithPrefix } from './redis_cluster.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Request = WithoutId<ParentMessage>;

export interface BenchService {
  url: string;
  pid: number;
  keyPrefix: string;
  keysDir: string;
  secrets: Record<BenchClientId, string>;
  /** The env a separately started `src/main.ts` needs for the same clients (start-up scenario). */
  secretEnv: Record<string, string>;
  /** From process start to listening, as the child measured it. */
  startupMs: number;
  basic(clientId: BenchClientId): string;
  memory(gc: boolean): Promise<MemorySample>;
  redisCounts(reset: boolean): Promise<RedisCounts>;
  /** CPU time (user + system) the service process used so far, in milliseconds. */
  cpuMs(): Promise<number>;
  /** Time the service's main thread (its event loop) was active so far, in milliseconds. */
  mainThreadMs(): Promise<number>;
  /** Revocation through the in-process RevocationService (fallback when the admin API is not there). */
  revokeInProcess(sid: string): Promise<void>;
  /** Resolves when queued audit events and session records have reached Redis. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartBenchServiceOptions {
  redisUrl: string;
  /** Redis Cluster seeds: the service uses this cluster instead of `redisUrl` (scenario 10). */
  redisClusterNodes?: string[];
  /** Write a V8 CPU profile of the service into this directory when it exits. */
  cpuProfileDir?: string;
  /** More Node flags for the service process (experiments, e.g. `--import ./patch.mjs`). */
  nodeArgs?: string[];
  /** Start a replica of this service: same issuer, keys, secrets and key prefix (its owner cleans up). */
  replicaOf?: BenchService;
}

export async function startBenchService(options: StartBenchServiceOptions): Promise<BenchService> {
  const port = await freePort();
  const replicaOf = options.replicaOf;
  const keyPrefix = replicaOf?.keyPrefix ?? `bench:${randomUUID()}:`;
  const keysDir = replicaOf?.keysDir ?? mkdtempSync(join(tmpdir(), 'dts-bench-'));
  const secrets = replicaOf?.secrets ?? (Object.fromEntries(CLIENT_IDS.map((id) => [id, randomBytes(24).toString('base64url')])) as Record<BenchClientId, string>);
  const secretEnv = Object.fromEntries(CLIENT_IDS.map((id) => [secretEnvName(id), secrets[id]]));
  const start: ServerStartOptions = {
    port, redisUrl: options.redisUrl, keyPrefix, keysDir,
    ...(options.redisClusterNodes ? { redisClusterNodes: options.redisClusterNodes } : {}),
    ...(replicaOf ? { issuer: replicaOf.url } : {}),
  };
  // The compiled service (bench/build.ts): what `npm start` runs, not the sources as tsx transpiles them.
  const execArgv = ['--expose-gc', ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []), ...(options.nodeArgs ?? [])];
  const child: ChildProcess = fork(benchBuild().server, [], {
    execArgv,
    env: { ...process.env, ...secretEnv, BENCH_SERVER: JSON.stringify(start), LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });

  const cleanup = async () => {
    if (replicaOf) return;
    if (options.redisClusterNodes) {
      await deleteClusterKeysWithPrefix(options.redisClusterNodes, keyPrefix).finally(() => rmSync(keysDir, { recursive: true, force: true }));
      return;
    }
    const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      await deleteKeysWithPrefix(redis, keyPrefix);
    } finally {
      redis.disconnect();
      rmSync(keysDir, { recursive: true, force: true });
    }
  };

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let startupMs: number;
  try {
    startupMs = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the bench service exited during start-up (code ${code})`)));
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'ready') resolve(m.startupMs);
        else if (m.type === 'failed') reject(new Error(`the bench service failed to start: ${m.error}`));
      });
    });
  } catch (err) {
    child.kill();
    await exited;
    await cleanup();
    throw err;
  }

  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: ChildMessage) => {
    if (m.type !== 'reply') return;
    const waiter = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) waiter?.resolve(m.value);
    else waiter?.reject(new Error(m.error));
  });
  child.once('exit', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('the bench service exited'));
    pending.clear();
  });
  const call = <T>(request: Request): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...request, id } as ParentMessage);
    });

  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    keyPrefix,
    keysDir,
    secrets,
    secretEnv,
    startupMs,
    basic: (clientId) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secrets[clientId])}`).toString('base64')}`,
    memory: (gc) => call<MemorySample>({ type: 'memory', gc }),
    redisCounts: (reset) => call<RedisCounts>({ type: 'redis-counts', reset }),
    cpuMs: async () => (await call<number>({ type: 'cpu' })) / 1000,
    mainThreadMs: () => call<number>({ type: 'main-thread' }),
    revokeInProcess: async (sid) => {
      await call({ type: 'revoke', sid });
    },
    settle: async () => {
      await call({ type: 'settle' });
    },
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          await call({ type: 'stop' }).catch(() => undefined);
          // A child that does not exit on its own (a stuck close) is killed after a grace period.
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        await cleanup();
      })();
      return stopped;
    },
  };
}

export { freePort };
