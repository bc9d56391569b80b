// The bench never dies on one failed sample: failures are counted and reported, and the results file is always written.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { opsPerSecond } from '../../bench/scenarios/verify.js';
import { freePort } from '../helpers/service.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('bench failures', () => {
  it('a failing call inside a timed loop is counted, not thrown', async () => {
    let calls = 0;
    const result = await opsPerSecond(['t'], 0.05, async () => {
      if (++calls % 10 === 0) throw new Error('ERR_REVOCATION_UNAVAILABLE: SocketError: other side closed');
    });
    assert.equal(result.errors, Math.floor(calls / 10));
    assert.ok(result.errors > 0);
    assert.ok(Number.isFinite(result.rate) && result.rate > 0, String(result.rate));
  });

  it('npm run bench with an unreachable Redis still writes its results file, says why, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dts-bench-'));
    const out = join(dir, 'result.json');
    try {
      const run = spawnSync(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', 'bench/run.ts', '--redis-url', `redis://127.0.0.1:${await freePort()}`, '--out', out],
        { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
      );
      assert.equal(run.status, 1, run.stderr);
      const report = JSON.parse(readFileSync(out, 'utf8'));
      assert.equal(report.meta.completed, false);
      assert.ok(typeof report.details.aborted === 'string' && report.details.aborted.length > 0, report.details.aborted);
      assert.deepEqual(report.figures, []);
      assert.deepEqual(report.details.scenarios, { exchange: 'not run', verify: 'not run', revocation: 'not run', memory: 'not run', startup: 'not run', replicas: 'not run', connections: 'not run', gateway: 'not run', cluster: 'not run' });
      assert.match(run.stdout, new RegExp(`JSON: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
