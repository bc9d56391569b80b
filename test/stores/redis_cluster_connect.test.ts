// A Redis Cluster client sends a burst of commands, issued all at once, each once and straight to the node that owns
// its slot: right after connectRedis, and after a node's connection was dropped and recreated by a slots refresh.
// ioredis (enableOfflineQueue: false) refuses the commands for a node whose connection is still opening and retries
// them on a random node, which answers MOVED; a few of those fail the command ("Too many Cluster redirections").
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis, type Cluster } from 'ioredis';
import { closeRedis } from '../../src/stores/redis/client.js';
import { connectTestCluster } from '../helpers/redis_cluster.js';

/** GETs of `prefix` keys the nodes' connections write, one entry per send (a redirect or a retry sends again). */
function recordSends(prefix: string) {
  const proto = Redis.prototype as unknown as { sendCommand(command: { name: string; args: unknown[] }, stream?: unknown): unknown };
  const original = proto.sendCommand;
  const sent: string[] = [];
  proto.sendCommand = function (this: unknown, command, stream) {
    if (command.name === 'get' && String(command.args[0]).startsWith(prefix)) sent.push(String(command.args[0]));
    return original.call(this, command, stream);
  };
  return { sent, restore: () => void (proto.sendCommand = original) };
}

/** Keys spread over every master, read all in the same tick. */
async function burst(redis: Redis, prefix: string, count = 1500): Promise<void> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const sends = recordSends(prefix);
  try {
    const replies = await Promise.all(keys.map((key) => redis.get(key)));
    assert.deepEqual(replies, keys.map(() => null));
  } finally {
    sends.restore();
  }
  assert.equal(sends.sent.length, keys.length, `${sends.sent.length - keys.length} GETs sent again (redirected or retried)`);
}

const masters = (redis: Redis) => (redis as unknown as Cluster).nodes('master');

describe('Redis Cluster client connections', () => {
  let redis: Redis;
  before(async () => {
    redis = await connectTestCluster();
  });
  after(() => redis && closeRedis(redis));

  it('is connected to every master when connectRedis returns: a burst right after goes straight to its nodes', async () => {
    assert.deepEqual(
      masters(redis).map((node) => node.status),
      masters(redis).map(() => 'ready'),
    );
    await burst(redis, `test:${randomUUID()}:`);
  });

  it('connects a node the pool recreates (a dropped connection, found again by a slots refresh) before a command needs it', async () => {
    const [dropped] = masters(redis);
    assert.ok(dropped);
    const port = dropped.options.port;
    const ended = new Promise((resolve) => dropped.once('end', resolve));
    dropped.disconnect();
    await ended;
    assert.ok(!masters(redis).some((node) => node.options.port === port), 'the dropped node left the pool');
    await new Promise((resolve, reject) => (redis as unknown as Cluster).refreshSlotsCache((err) => (err ? reject(err) : resolve(undefined))));
    const deadline = Date.now() + 5000;
    while (!masters(redis).every((node) => node.status === 'ready') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(
      masters(redis).map((node) => `${node.options.port} ${node.status}`).sort(),
      masters(redis).map((node) => `${node.options.port} ready`).sort(),
    );
    assert.ok(masters(redis).some((node) => node.options.port === port), 'the dropped node is back in the pool');
    await burst(redis, `test:${randomUUID()}:`);
  });
});
