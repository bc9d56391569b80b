// The Redis Cluster tests run against: TEST_REDIS_CLUSTER_NODES when set (.ci/run starts one), else a local
// three-master cluster this process starts with scripts/redis_cluster.sh and stops at exit. Never skipped: no cluster,
// no pass. Not REDIS_CLUSTER_NODES: tests that start the service as a child process pass it their environment with a
// REDIS_URL, and a service given both refuses to start (as it should).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { connectRedis, createRedisClusterClient, parseClusterNodes } from '../../src/stores/redis/index.js';

const script = fileURLToPath(new URL('../../scripts/redis_cluster.sh', import.meta.url));

export interface TestCluster {
  /** Seed URLs, as TEST_REDIS_CLUSTER_NODES lists them. */
  nodes: string[];
  /** Set when this process started the cluster (a test may then stop and restart its nodes). */
  dir?: string;
}

let cluster: TestCluster | undefined;

/** The cluster for this test process, started on first use when TEST_REDIS_CLUSTER_NODES is unset. */
export function testCluster(): TestCluster {
  if (cluster) return cluster;
  const fromEnv = parseClusterNodes(process.env.TEST_REDIS_CLUSTER_NODES ?? '');
  if (fromEnv.length > 0) return (cluster = { nodes: fromEnv });
  const out = execFileSync(script, ['start'], { encoding: 'utf8', timeout: 60_000 });
  const nodes = parseClusterNodes(/^REDIS_CLUSTER_NODES=(.*)$/m.exec(out)?.[1] ?? '');
  const dir = /^REDIS_CLUSTER_DIR=(.*)$/m.exec(out)?.[1];
  if (nodes.length === 0 || !dir) throw new Error(`redis_cluster.sh start printed no nodes:\n${out}`);
  process.once('exit', () => stopCluster(dir));
  return (cluster = { nodes, dir });
}

/** A private cluster this test may break (stop a master), whatever TEST_REDIS_CLUSTER_NODES says; stopped at exit. */
export function privateCluster(): Required<TestCluster> & { stop(): void } {
  const out = execFileSync(script, ['start'], { encoding: 'utf8', timeout: 60_000 });
  const nodes = parseClusterNodes(/^REDIS_CLUSTER_NODES=(.*)$/m.exec(out)?.[1] ?? '');
  const dir = /^REDIS_CLUSTER_DIR=(.*)$/m.exec(out)?.[1] ?? '';
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    stopCluster(dir);
  };
  process.once('exit', stop);
  return { nodes, dir, stop };
}

function stopCluster(dir: string): void {
  try {
    execFileSync(script, ['stop', dir], { stdio: 'ignore', timeout: 30_000 });
  } catch {
    // best effort at exit
  }
}

/** A connected cluster client (typed as the stores take it). */
export async function connectTestCluster(nodes = testCluster().nodes): Promise<Redis> {
  const redis = createRedisClusterClient(nodes, { onError: () => {} });
  await connectRedis(redis, nodes.join(','));
  return redis;
}

export { deleteClusterKeysWithPrefix } from '../../tools/local.js';
