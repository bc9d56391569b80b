// The store contract on a real Redis Cluster (three masters: REDIS_CLUSTER_NODES, or one started for this file).
import { randomUUID } from 'node:crypto';
import { createRedisStores } from '../../src/stores/redis/index.js';
import { connectTestCluster, deleteClusterKeysWithPrefix } from '../helpers/redis_cluster.js';
import { storeContract, type HarnessOptions } from './contract.js';

storeContract('redis cluster', async (options: HarnessOptions = {}) => {
  const prefix = `test:${randomUUID()}:`;
  const redis = await connectTestCluster();
  const stores = createRedisStores(redis, { keyPrefix: prefix, ...options });
  return {
    stores,
    async close() {
      await deleteClusterKeysWithPrefix(redis, prefix);
      await stores.close();
    },
  };
});
