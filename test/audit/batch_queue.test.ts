// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// The batch queue behind the audit writer and the session recorder: next-tick batches, and the minimum interval.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTick, setTimeout as sleep } from 'node:timers/promises';
import { createBatchQueue } from '../../src/audit/batch_queue.js';

function recording(minIntervalMs?: number) {
  const writes: Array<{ at: number; items: number[] }> = [];
  const queue = createBatchQueue<number>({
    write: async (batch) => {
      writes.push({ at: performance.now(), items: [...batch] });
    },
    onFailed: () => assert.fail('no batch fails here'),
    onDropped: () => assert.fail('nothing is dropped here'),
    ...(minIntervalMs === undefined ? {} : { minIntervalMs }),
  });
  return { queue, writes };
}

describe('batch queue', () => {
  it('writes what one tick queued as one batch, on the next tick', async () => {
    const { queue, writes } = recording();
    queue.push(1);
    queue.push(2);
    assert.equal(writes.length, 0);
    await nextTick();
    await nextTick();
    assert.deepEqual(writes.map((w) => w.items), [[1, 2]]);
    queue.push(3);
    await nextTick();
    await nextTick();
    assert.deepEqual(writes.map((w) => w.items), [[1, 2], [3]]);
  });

  it('with minIntervalMs: the first item after a quiet spell goes on the next tick, later ones wait and go together', async () => {
    const { queue, writes } = recording(80);
    queue.push(1);
    await nextTick();
    await nextTick();
    assert.deepEqual(writes.map((w) => w.items), [[1]]);
    for (let i = 2; i <= 5; i++) {
      queue.push(i);
      await nextTick();
    }
    // Within the interval nothing more is written ...
    await sleep(20);
    assert.deepEqual(writes.map((w) => w.items), [[1]]);
    // ... then the waiting items go in one batch, no sooner than the interval after the previous write began.
    await sleep(250);
    assert.deepEqual(writes.map((w) => w.items), [[1], [2, 3, 4, 5]]);
    assert.ok(writes[1]!.at - writes[0]!.at >= 79, `second write ${writes[1]!.at - writes[0]!.at} ms after the first`);
    // After a quiet spell longer than the interval, the next item goes on the next tick again.
    await sleep(150);
    queue.push(6);
    await nextTick();
    await nextTick();
    assert.deepEqual(writes.at(-1)?.items, [6]);
  });

  it('flush() writes waiting items at once, without waiting for the interval', async () => {
    const { queue, writes } = recording(10_000);
    queue.push(1);
    await nextTick();
    await nextTick();
    queue.push(2);
    await queue.flush();
    assert.deepEqual(writes.map((w) => w.items), [[1], [2]]);
  });
});
