// The stream tail notices when entries after its position were trimmed before it read them (README: "no revocation may
// be missed"), on a private redis-server: cut off behind a TCP proxy, or held up by a stalled event loop.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { connectRedis, createRedisClient } from '../../src/stores/redis/index.js';
import { StreamTail } from '../../src/stores/redis/stream_tail.js';
import { startRedis } from '../helpers/private_redis.js';
import { freePort, randomUUID } from '../helpers/service.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp_proxy.js';

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('stream tail: gaps from trimming', () => {
  let server: ChildProcess;
  let port: number;
  let proxy: TcpProxy;
  let writer: Redis;
  let reader: Redis;
  before(async () => {
    port = await freePort();
    server = await startRedis(port);
    proxy = await startTcpProxy({ port });
    writer = new Redis(port, '127.0.0.1');
    const url = `redis://127.0.0.1:${proxy.port}`;
    reader = createRedisClient(url, { onError: () => {} });
    await connectRedis(reader, url);
  });
  after(async () => {
    proxy?.restore();
    reader?.disconnect();
    writer?.disconnect();
    await proxy?.close();
    server?.kill('SIGKILL');
  });

  /** A tail on its own key, logging `gap` and each entry's `n` field in order. */
  async function follow(minRetained: number) {
    const key = `tail:${randomUUID()}`;
    const log: string[] = [];
    const tail = new StreamTail(reader, key, { onEntry: ([, fields]) => log.push(fields[1]!), onGap: () => log.push('gap'), minRetained });
    tail.start();
    // The tail starts after the head it reads at start(); a command sent after it on the same client runs after that read.
    await reader.ping();
    // Delivered, so the tail's position is this entry: what follows is written after it.
    await writer.xadd(key, '*', 'n', 'first');
    await until(() => log.includes('first'), 3000, 'the first entry');
    const add = (names: string[], maxLen: number) => {
      const pipeline = writer.pipeline();
      for (const n of names) pipeline.xadd(key, 'MAXLEN', '~', maxLen, '*', 'n', n);
      return pipeline.exec();
    };
    const retained = async () => (await writer.xrange(key, '-', '+')).map(([, fields]) => fields[1]!);
    return { key, log, tail, add, retained };
  }

  const names = (count: number, prefix = 'f') => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

  for (const partition of ['cut', 'hang'] as const) {
    it(`${partition}: trimmed past it meanwhile, it reports one gap, then delivers what the stream kept`, async () => {
      const { log, tail, add, retained } = await follow(10_000);
      try {
        proxy[partition]();
        // MAXLEN ~ 10 drops whole stream nodes (100 entries): `lost` and most fillers are gone before the reader is back.
        await add(['lost', ...names(300)], 10);
        const kept = await retained();
        assert.ok(!kept.includes('lost') && kept.length < 300, `kept ${kept.length}`);
        proxy.restore();
        await until(() => log.at(-1) === 'f299', 10_000, 'the entries after the gap');
        // README: "no revocation may be missed": the loss is reported, before anything after it.
        assert.deepEqual(log, ['first', 'gap', ...kept]);
      } finally {
        proxy.restore();
        await tail.stop();
      }
    });
  }

  it('cut off, nothing trimmed: resumes where it stopped and reports no gap', async () => {
    const { log, tail, add } = await follow(10_000);
    try {
      proxy.cut();
      await add(names(5), 10_000);
      proxy.restore();
      await until(() => log.at(-1) === 'f4', 10_000, 'the entries written while cut off');
      assert.deepEqual(log, ['first', ...names(5)]);
    } finally {
      await tail.stop();
    }
  });

  /**
   * No partition: the reader's event loop is blocked (execFileSync) while another process appends 1,000 entries one
   * command at a time, so XREAD's reply waits in the socket, as behind a GC pause or a slow network, and its next
   * XREAD comes after the trim. `minRetained` is what the stream keeps (MAXLEN ~ 50 never keeps fewer than 50).
   */
  const stalled = (key: string, count: number, maxLen: number) =>
    execFileSync('redis-cli', ['-p', String(port)], {
      input: names(count, 's').map((n) => `XADD ${key} MAXLEN ~ ${maxLen} * n ${n}\n`).join(''),
      stdio: ['pipe', 'ignore', 'inherit'],
    });

  it('a read held up while the stream was trimmed past it returns at least minRetained entries: checked, gap reported', async () => {
    const { key, log, tail, retained } = await follow(50);
    try {
      stalled(key, 1000, 50);
      const kept = await retained();
      await until(() => log.at(-1) === 's999', 5000, 'the last entry');
      const gap = log.indexOf('gap');
      assert.ok(gap > 0, JSON.stringify(log.slice(0, 5)));
      assert.equal(log.lastIndexOf('gap'), gap);
      // Before the gap: what was read before the stall held the reply up; after it: what the stream kept.
      assert.deepEqual(log.slice(gap + 1), kept);
      assert.ok(!log.includes('s500'));
    } finally {
      await tail.stop();
    }
  });

  it('a large read with nothing trimmed past it: checked too, no gap, every entry once', async () => {
    const { key, log, tail } = await follow(50);
    try {
      stalled(key, 1000, 10_000);
      await until(() => log.at(-1) === 's999', 5000, 'the last entry');
      assert.deepEqual(log, ['first', ...names(1000, 's')]);
    } finally {
      await tail.stop();
    }
  });
});
