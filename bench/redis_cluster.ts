// Redis Cluster for scenario 10: a throw-away local cluster (scripts/redis_cluster.sh) or the seeds given with
// --redis-cluster-nodes, and the clean-up of a bench key prefix on every master.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectRedis, createRedisClusterClient, parseClusterNodes } from '../src/stores/redis/index.js';
import { deleteClusterKeysWithPrefix as deleteClusterKeys } from '../tools/local.js';

const SCRIPT = fileURLToPath(new URL('../scripts/redis_cluster.sh', import.meta.url));

export interface BenchCluster {
  nodes: string[];
  /** Stops the cluster when the bench started it; nothing for one it was given. */
  stop(): void;
}

/** The given seeds, or a three-master cluster started now on free loopback ports (stopped by `stop`, or at exit). */
export function benchCluster(seeds: string[] | undefined): BenchCluster {
  if (seeds?.length) return { nodes: seeds, stop: () => {} };
  const out = execFileSync(SCRIPT, ['start'], { encoding: 'utf8', timeout: 60_000 });
  const nodes = parseClusterNodes(/^REDIS_CLUSTER_NODES=(.*)$/m.exec(out)?.[1] ?? '');
  const dir = /^REDIS_CLUSTER_DIR=(.*)$/m.exec(out)?.[1];
  if (nodes.length === 0 || !dir) throw new Error(`scripts/redis_cluster.sh start printed no nodes:\n${out}`);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      execFileSync(SCRIPT, ['stop', dir], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // best effort: the directory is a temp dir
    }
  };
  process.once('exit', stop);
  return { nodes, stop };
}

/** Deletes every key under `prefix` on every master of the cluster (bench clean-up, never a hot path). */
export async function deleteClusterKeysWithPrefix(nodes: string[], prefix: string): Promise<void> {
  const redis = createRedisClusterClient(nodes, { onError: () => {} });
  try {
    await connectRedis(redis, nodes.join(','));
    await deleteClusterKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
