import { createMemoryStores } from '../../src/stores/memory/index.js';
import { storeContract } from './contract.js';

storeContract('memory', async (options = {}) => {
  const stores = createMemoryStores(options);
  return { stores, close: () => stores.close() };
});
