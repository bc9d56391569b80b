// Plumbing shared by the examples, the tests and the benchmark (kept outside examples/ so tests never import examples) when they run services on this machine.
import { createServer } from 'node:net';
import type { Cluster, Redis } from 'ioredis';

/** A port free right now on 127.0.0.1 (configs need ports before the servers listen). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Deletes every key under `prefix`, in batches with SCAN (never KEYS on a shared Redis). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** The same on a Redis Cluster: SCAN per master, one UNLINK per key (the keys of one node span slots). */
export async function deleteClusterKeysWithPrefix(cluster: Redis | Cluster, prefix: string): Promise<void> {
  for (const node of (cluster as Cluster).nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      await Promise.all(keys.map((key) => node.unlink(key)));
      cursor = next;
    } while (cursor !== '0');
  }
}
