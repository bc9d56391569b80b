// test:serial (scripts/run_tests.mjs): it rebuilds dist/ and packages/verify/dist, which other test files import
// `npm start`'s prestart (scripts/prestart.mjs): in a development checkout it finds the installed TypeScript compiler
// and builds dist/ before the service starts, so a fresh clone starts and a changed source never runs stale.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('npm start: prestart', () => {
  it('builds dist/ with the installed compiler (whatever its package exports) and exits 0', () => {
    const started = Date.now();
    const run = spawnSync(process.execPath, ['scripts/prestart.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.doesNotMatch(run.stderr, /TypeScript compiler is not installed/);
    // Built now, not left from an earlier build.
    assert.ok(statSync(new URL('dist/src/main.js', `file://${ROOT}`)).mtimeMs >= started - 1000, 'dist/src/main.js was rebuilt');
  });
});
