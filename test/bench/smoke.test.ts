// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// Keeps the bench from rotting: every scenario runs once with tiny settings and must produce numbers without errors.
// It asserts nothing about the targets (those need a quiet machine and the default settings: `npm run bench`).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runBench } from '../../bench/bench.js';
import { DEFAULTS } from '../../bench/options.js';
import { formatReport } from '../../bench/report.js';

describe('bench smoke', () => {
  it('runs every scenario briefly and reports finite, positive figures with no failed request', { timeout: 120_000 }, async () => {
    // About 50 s on a slow 2-core VM, the bench's build (the SDK and tsc of src/, bench/build.ts) included.
    const report = await runBench(
      {
        ...DEFAULTS,
        duration: 1,
        reps: 1,
        warmup: 0.3,
        sustained: 1000,
        users: 3,
        verifyTokens: 10,
        verifySeconds: 0.2,
        revocations: 3,
        startupRuns: 1,
        redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
        // Scenario 10 uses the CI cluster when there is one, else starts (and stops) its own.
        ...(process.env.TEST_REDIS_CLUSTER_NODES ? { redisClusterNodes: process.env.TEST_REDIS_CLUSTER_NODES.split(',') } : {}),
        out: undefined,
      },
      () => {},
    );
    const text = formatReport(report);
    assert.deepEqual(report.details.failures, {}, text);
    assert.equal(report.meta.completed, true, text);
    assert.deepEqual(report.figures.filter((f) => f.errors !== 0), [], text);
    const scenarios = new Set(report.figures.map((f) => f.scenario));
    assert.deepEqual([...scenarios].sort(), ['1', '10', '2', '3', '4', '5', '6', '7', '8', '9']);
    for (const f of report.figures) {
      assert.ok(f.samples.length > 0, `${f.name}: no samples`);
      for (const v of f.samples) {
        // A JWT client_credentials grant stores nothing: zero Redis round trips is a true answer. A difference of two
        // timings (the proof checks "beyond" one signature) can come out below zero in a run this short: finite is all.
        const ok = f.name.endsWith('Redis round trips/req') ? v >= 0 : f.name.includes(' beyond ') ? true : v > 0;
        assert.ok(Number.isFinite(v) && ok, `${f.scenario} ${f.name}: ${v}\n${text}`);
      }
    }
    // At least the nine of scenarios 1-6 plus scenario 7's (other scenarios may add theirs).
    assert.ok(report.targets.length >= 10, text);
    assert.ok(report.targets.some((t) => t.scenario === '7'), text);
    for (const t of report.targets) assert.ok(Number.isFinite(t.ratio), `${t.name}: ratio ${t.ratio}`);
  });
});
