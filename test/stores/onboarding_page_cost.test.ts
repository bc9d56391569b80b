// A page of registered clients, or of document clients holding a consent, costs its size, not the size of the store:
// GET /admin/clients is cheap to call and DCR is open to anyone, so a page must not read every registration or
// consent. Measured as what a page reads, never as time: on Redis the elements of the replies to commands on the
// store's keys, in memory the entries read by iterating a Map. Memory, single Redis and Redis Cluster.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createMemoryStores } from '../../src/stores/memory/index.js';
import { createRedisStores } from '../../src/stores/redis/index.js';
import { clientOrderKey } from '../../src/stores/onboarding_order.js';
import type { Stores } from '../../src/stores/types.js';
import { connectTestCluster, deleteClusterKeysWithPrefix } from '../helpers/redis_cluster.js';
import { openRedisHarness } from './redis_harness.js';

const CLIENTS = 400;
const LIMIT = 3;
const now = () => Math.floor(Date.now() / 1000);

/** Elements in a Redis reply (nested arrays flattened). */
const size = (reply: unknown): number => (Array.isArray(reply) ? reply.reduce((n: number, r) => n + size(r), 0) : 1);

/** Runs `body` counting the reply elements of every command that names a key under `prefix`. */
async function redisReads<T>(prefix: string, body: () => Promise<T>): Promise<{ result: T; read: number }> {
  const proto = Redis.prototype as unknown as { sendCommand(command: { args: unknown[]; promise: Promise<unknown> }, stream?: unknown): unknown };
  const original = proto.sendCommand;
  let read = 0;
  proto.sendCommand = function (this: unknown, command, stream) {
    if (command.args.some((a) => String(a).startsWith(prefix))) command.promise.then((reply) => (read += size(reply)), () => {});
    return original.call(this, command, stream);
  };
  try {
    const result = await body();
    return { result, read };
  } finally {
    proto.sendCommand = original;
  }
}

/** Runs `body` counting the entries read by iterating any Map (the memory stores keep their records in Maps). */
async function mapReads<T>(body: () => Promise<T>): Promise<{ result: T; read: number }> {
  const proto = Map.prototype as unknown as Record<string | symbol, (...args: unknown[]) => unknown>;
  const names: Array<string | symbol> = ['entries', 'values', 'keys', Symbol.iterator, 'forEach'];
  const originals = names.map((name) => proto[name]!);
  let read = 0;
  names.forEach((name, i) => {
    const original = originals[i]!;
    proto[name] =
      name === 'forEach'
        ? function (this: Map<unknown, unknown>, callback: unknown, thisArg: unknown) {
            return original.call(this, (...args: unknown[]) => {
              read++;
              return (callback as (...a: unknown[]) => unknown).apply(thisArg, args);
            });
          }
        : function (this: Map<unknown, unknown>) {
            const iterator = original.call(this) as Iterator<unknown>;
            return {
              next() {
                const step = iterator.next();
                if (!step.done) read++;
                return step;
              },
              [Symbol.iterator]() {
                return this;
              },
            };
          };
  });
  try {
    const result = await body();
    return { result, read };
  } finally {
    names.forEach((name, i) => (proto[name] = originals[i]!));
  }
}

/** CLIENTS registrations and CLIENTS document clients with a consent each (plus non-document consents), in no order. */
async function fill(stores: Stores): Promise<void> {
  const expiresAt = now() + 3600;
  for (let i = 0; i < CLIENTS; i++) {
    assert.equal(await stores.onboarding.addClient(`dcr_${i}_${randomUUID()}`, expiresAt, 100_000), true);
    await stores.consents.remember({ accountId: `user-${i}`, clientId: `https://c${i}.example/${randomUUID()}.json`, resource: 'https://t/crm', scopes: ['a'], grantId: `g${i}`, at: 1 });
    await stores.consents.remember({ accountId: `user-${i}`, clientId: `dcr_${i}`, resource: 'https://t/crm', scopes: ['a'], grantId: `h${i}`, at: 1 });
  }
}

type Reads = <T>(body: () => Promise<T>) => Promise<{ result: T; read: number }>;

function pageCost(name: string, open: () => Promise<{ stores: Stores; reads: Reads; close(): Promise<void> }>): void {
  describe(`${name}: a page of clients reads in proportion to its size`, () => {
    let h: Awaited<ReturnType<typeof open>>;
    before(async () => {
      h = await open();
      await fill(h.stores);
    });
    after(() => h?.close());

    it('the measure sees a read of the whole store: listing consents reads every one', async () => {
      const { result, read } = await h.reads(() => h.stores.consents.list({}, { limit: 1 }));
      assert.equal(result.items.length, 1);
      assert.ok(read >= 2 * CLIENTS, `listing consents read ${read} entries`);
    });

    it(`listClients(${LIMIT}) reads about ${LIMIT} of ${CLIENTS} registrations, on the first page and after a position`, async () => {
      const first = await h.reads(() => h.stores.onboarding.listClients(LIMIT));
      assert.equal(first.result.length, LIMIT);
      assert.ok(first.read <= 4 * LIMIT, `the first page read ${first.read} entries`);
      const next = await h.reads(() => h.stores.onboarding.listClients(LIMIT, clientOrderKey(first.result.at(-1)!.clientId)));
      assert.equal(next.result.length, LIMIT);
      assert.ok(next.read <= 4 * LIMIT, `the second page read ${next.read} entries`);
    });

    it(`listDocumentClients(${LIMIT}) reads about ${LIMIT} of ${CLIENTS} document clients and none of the ${2 * CLIENTS} consents`, async () => {
      const first = await h.reads(() => h.stores.consents.listDocumentClients(LIMIT));
      assert.deepEqual(first.result.map((c) => c.consents), Array(LIMIT).fill(1));
      assert.ok(first.read <= 4 * LIMIT, `the first page read ${first.read} entries`);
      const next = await h.reads(() => h.stores.consents.listDocumentClients(LIMIT, clientOrderKey(first.result.at(-1)!.clientId)));
      assert.equal(next.result.length, LIMIT);
      assert.ok(next.read <= 4 * LIMIT, `the second page read ${next.read} entries`);
    });
  });
}

pageCost('memory', async () => {
  const stores = createMemoryStores();
  return { stores, reads: mapReads, close: () => stores.close() };
});

pageCost('redis', async () => {
  const h = await openRedisHarness();
  return { stores: h.stores, reads: (body) => redisReads(h.prefix, body), close: () => h.close() };
});

pageCost('redis cluster', async () => {
  const prefix = `test:${randomUUID()}:`;
  const redis = await connectTestCluster();
  const stores = createRedisStores(redis, { keyPrefix: prefix });
  return {
    stores,
    reads: (body) => redisReads(prefix, body),
    async close() {
      await deleteClusterKeysWithPrefix(redis, prefix);
      await stores.close();
    },
  };
});
