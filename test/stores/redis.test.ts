import { storeContract } from './contract.js';
import { openRedisHarness } from './redis_harness.js';

storeContract('redis', openRedisHarness);
