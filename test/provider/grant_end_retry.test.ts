// GrantEndRetry (src/provider/grant_end_retry.ts): failed grant ends kept in a bounded set and run again in rounds with
// capped exponential backoff until they go through; one last round at shutdown within a budget. Timers are the test's
// own (fired by hand, every delay recorded); the metrics are prom-client's, the logger pino's.
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Writable } from 'node:stream';
import { setImmediate as flush, setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { GrantEndRetry, grantDigest, type GrantEndRetryOptions, type RetryTimers } from '../../src/provider/grant_end_retry.js';
import { grantRoot, tokenDigest } from '../../src/sessions/revocation.js';

interface Timer {
  fn: () => void;
  ms: number;
  done: boolean;
}

/** Timers the test fires by hand; `waiting()` lists the delays set and neither fired nor cleared. */
function handTimers() {
  const all: Timer[] = [];
  const timers: RetryTimers = {
    set: (fn, ms) => {
      const t = { fn, ms, done: false };
      all.push(t);
      return t;
    },
    clear: (handle) => {
      (handle as Timer).done = true;
    },
  };
  const waiting = () => all.filter((t) => !t.done);
  return {
    timers,
    waiting: () => waiting().map((t) => t.ms),
    /** Fires the one timer waiting, lets the round it starts finish, and returns its delay. */
    async fire(): Promise<number> {
      const [t, ...more] = waiting();
      assert.ok(t && more.length === 0, `one timer waiting, not ${waiting().length}`);
      t.done = true;
      t.fn();
      for (let i = 0; i < 5; i++) await flush();
      return t.ms;
    },
  };
}

/** A store the test switches off and on; `ended` lists the grants whose end went through, `tried` every attempt. */
function store() {
  const s = { up: false, ended: [] as string[], tried: [] as string[], broken: new Set<string>() };
  const end = async (grantId: string) => {
    s.tried.push(grantId);
    await Promise.resolve();
    if (!s.up) throw new Error('Connection is closed.');
    if (s.broken.has(grantId)) throw new Error('broken');
    s.ended.push(grantId);
  };
  return { s, end };
}

function setup(o: Partial<GrantEndRetryOptions> & { end: GrantEndRetryOptions['end'] }) {
  const registry = new Registry();
  const metrics = {
    pending: new Gauge({ name: 'pending', help: 'h', registers: [registry] }),
    retries: new Counter({ name: 'retries', help: 'h', labelNames: ['result'], registers: [registry] }),
    dropped: new Counter({ name: 'dropped', help: 'h', registers: [registry] }),
  };
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const clock = handTimers();
  const retry = new GrantEndRetry({ logger: pino({ level: 'info' }, sink), metrics, timers: clock.timers, random: () => 1, baseDelayMs: 100, maxDelayMs: 800, ...o });
  const value = async (m: Gauge | Counter, labels: Record<string, string> = {}) =>
    (await m.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  return { retry, metrics, lines, clock, value, logs: (msg: string) => lines.filter((l) => l.msg === msg) };
}

describe('GrantEndRetry', () => {
  it('retries with capped exponential backoff until the end goes through, then waits for nothing', async () => {
    const { s, end } = store();
    const { retry, clock, metrics, value, logs } = setup({ end });
    retry.failed('g1', new Error('Connection is closed.'));
    assert.equal(retry.pending, 1);
    assert.equal(await value(metrics.pending), 1);
    const delays = [];
    for (let i = 0; i < 5; i++) delays.push(await clock.fire());
    // 100 ms doubled after each failed round, capped at 800.
    assert.deepEqual(delays, [100, 200, 400, 800, 800]);
    assert.equal(await value(metrics.retries, { result: 'failed' }), 5);
    assert.equal(logs('grant end retry failed: the store is still unavailable').length, 5);

    s.up = true;
    assert.equal(await clock.fire(), 800);
    assert.deepEqual(s.ended, ['g1']);
    assert.equal(retry.pending, 0);
    assert.equal(await value(metrics.pending), 0);
    assert.equal(await value(metrics.retries, { result: 'ended' }), 1);
    assert.deepEqual(clock.waiting(), [], 'nothing left, nothing scheduled');
    assert.equal(logs('grant ended on retry')[0]!.grantDigest, grantDigest('g1'));

    // A round that went through resets the backoff.
    s.up = false;
    retry.failed('g2', new Error('Connection is closed.'));
    assert.deepEqual(clock.waiting(), [100]);
  });

  it('spreads each delay over its upper half (jitter)', async () => {
    const { end } = store();
    const { retry, clock } = setup({ end, random: () => 0 });
    retry.failed('g1', new Error('down'));
    assert.equal(await clock.fire(), 50);
    assert.equal(await clock.fire(), 100);
  });

  it('keeps at most maxGrants: one more is logged as an error and counted, not kept', async () => {
    const { end } = store();
    const { retry, metrics, value, logs } = setup({ end, maxGrants: 3 });
    for (const id of ['g1', 'g2', 'g3', 'g4']) retry.failed(id, new Error('down'));
    assert.equal(retry.pending, 3);
    assert.equal(await value(metrics.pending), 3);
    assert.equal(await value(metrics.dropped), 1);
    const full = logs('grant end failed and is not retried: the retry set is full');
    assert.deepEqual(full.map((l) => [l.level, l.grantDigest]), [[50, grantDigest('g4')]]);
    // The same grant failing again (a retry's own failure reported by the adapter) is neither kept twice nor logged again.
    retry.failed('g1', new Error('down'));
    assert.equal(logs('grant end failed: the store is unavailable; retrying').length, 3);
    assert.equal(await value(metrics.dropped), 1);
  });

  it('a round stops at the first batch that fails; a grant that keeps failing goes to the back and holds up no other', async () => {
    const { s, end } = store();
    const { retry, clock } = setup({ end, concurrency: 2 });
    for (const id of ['g1', 'g2', 'g3', 'g4', 'g5']) retry.failed(id, new Error('down'));
    await clock.fire();
    assert.deepEqual(s.tried, ['g1', 'g2'], 'a store that is down is not asked for every grant');

    s.up = true;
    s.broken.add('g3');
    s.tried.length = 0;
    await clock.fire();
    // g3 failed in the first batch: the round stopped, g3 went to the back.
    assert.deepEqual(s.tried, ['g3', 'g4']);
    await clock.fire();
    assert.deepEqual(s.ended, ['g4', 'g5', 'g1', 'g2']);
    assert.equal(retry.pending, 1);
  });

  it('a grant ended by a request meanwhile is not retried', async () => {
    const { s, end } = store();
    const { retry, clock, metrics, value } = setup({ end });
    retry.failed('g1', new Error('down'));
    retry.failed('g2', new Error('down'));
    retry.ended('g1', retry.started('g1'));
    assert.equal(await value(metrics.pending), 1);
    s.up = true;
    await clock.fire();
    assert.deepEqual(s.tried, ['g2']);
  });

  it('a failure recorded while an attempt runs is not cleared by that attempt going through: ended again next round', async () => {
    const attempts: Array<() => void> = [];
    const { retry, clock, logs } = setup({ end: () => new Promise<void>((resolve) => attempts.push(resolve)) });
    retry.failed('g1', new Error('down'));
    assert.equal(await clock.fire(), 100);
    assert.equal(attempts.length, 1, 'the attempt is in flight');
    // Its revocation already ran; a token saved after it, its own revocation failing, reports the grant again.
    retry.failed('g1', new Error('Command timed out'));
    attempts[0]!();
    for (let i = 0; i < 5; i++) await flush();
    assert.equal(retry.pending, 1, 'kept for another round');
    assert.deepEqual(clock.waiting(), [100], 'the store answered: no backoff');
    assert.equal(logs('grant ended on retry, but failed again meanwhile: ending it again').length, 1);
    const round = clock.fire();
    for (let i = 0; i < 5 && attempts.length < 2; i++) await flush();
    attempts[1]!();
    await round;
    for (let i = 0; i < 5; i++) await flush();
    assert.equal(retry.pending, 0);
    assert.equal(attempts.length, 2);
    assert.deepEqual(clock.waiting(), []);
  });

  it("a request's end settles the failures recorded before it started, not one recorded while it ran", async () => {
    const { end } = store();
    const { retry, metrics, value } = setup({ end });
    retry.failed('g1', new Error('down'));
    const first = retry.started('g1');
    retry.failed('g1', new Error('down')); // another end of it failing meanwhile
    retry.ended('g1', first);
    assert.equal(retry.pending, 1);
    assert.equal(await value(metrics.pending), 1);
    retry.ended('g1', retry.started('g1'));
    assert.equal(retry.pending, 0);
    assert.equal(await value(metrics.pending), 0);
    // Numbers never repeat: a grant cleared and failing again is not cleared by an end that started before.
    const early = retry.started('g2');
    retry.failed('g2', new Error('down'));
    retry.ended('g2', retry.started('g2'));
    retry.failed('g2', new Error('down'));
    retry.ended('g2', early);
    assert.equal(retry.pending, 1);
  });

  it('finish: one last round; what is left is logged by digest, and nothing runs after', async () => {
    const { s, end } = store();
    const { retry, clock, logs } = setup({ end });
    for (const id of ['g1', 'g2']) retry.failed(id, new Error('down'));
    assert.equal(await retry.finish(1_000), 2);
    assert.deepEqual(s.tried, ['g1', 'g2'], 'one last attempt');
    const [left] = logs('grant ends left undone at shutdown: these grants stay valid until they expire');
    assert.equal(left!.level, 50);
    assert.equal(left!.left, 2);
    assert.deepEqual(left!.grantDigests, [grantDigest('g1'), grantDigest('g2')]);
    assert.deepEqual(clock.waiting(), [], 'no timer left behind');
    retry.failed('g3', new Error('down'));
    assert.deepEqual(clock.waiting(), [], 'no round after shutdown');
    assert.equal(logs('grant end failed while shutting down: not retried').length, 1);
  });

  it('finish: the last round ends what it can, and logs nothing when nothing is left', async () => {
    const { s, end } = store();
    const { retry, logs } = setup({ end });
    retry.failed('g1', new Error('down'));
    s.up = true;
    assert.equal(await retry.finish(1_000), 0);
    assert.deepEqual(s.ended, ['g1']);
    assert.equal(logs('grant ends left undone at shutdown: these grants stay valid until they expire').length, 0);
  });

  it('finish: a store that hangs does not hold up shutdown past the budget', async () => {
    let now = 0;
    const { retry, clock } = setup({ end: () => new Promise<never>(() => undefined), now: () => now });
    retry.failed('g1', new Error('down'));
    const finished = retry.finish(3_000);
    await flush();
    // The budget's timer, the round's end never coming.
    assert.deepEqual(clock.waiting(), [3_000]);
    now = 3_000;
    await clock.fire();
    assert.equal(await finished, 1);
  });

  it('logs a grant by the digest its delegation tokens carry, never its id', async () => {
    const { s, end } = store();
    const { retry, clock, lines } = setup({ end });
    const grantId = 'Zx8bQ-secretish-grant-id';
    retry.failed(grantId, new Error('down'));
    await clock.fire();
    s.up = true;
    await clock.fire();
    await retry.finish(10);
    assert.ok(lines.length >= 3);
    assert.equal(grantDigest(grantId), tokenDigest(grantRoot(grantId)));
    for (const l of lines) {
      assert.equal(JSON.stringify(l).includes(grantId), false, JSON.stringify(l));
      if ('grantDigest' in l) assert.equal(l.grantDigest, grantDigest(grantId));
    }
  });

  it("runs retries outside the request that failed (oidc-provider's AsyncLocalStorage), on real timers", async () => {
    const als = new AsyncLocalStorage<object>();
    const seen: Array<object | undefined> = [];
    let up = false;
    const retry = new GrantEndRetry({
      logger: pino({ level: 'silent' }),
      baseDelayMs: 2,
      end: async () => {
        seen.push(als.getStore());
        if (!up) throw new Error('down');
      },
    });
    als.run({ request: 1 }, () => retry.failed('g1', new Error('down')));
    for (let i = 0; i < 200 && seen.length < 2; i++) await sleep(5);
    up = true;
    for (let i = 0; i < 200 && retry.pending > 0; i++) await sleep(5);
    assert.equal(retry.pending, 0);
    assert.ok(seen.length >= 2);
    assert.deepEqual(seen, seen.map(() => undefined));
    retry.stop();
  });
});
