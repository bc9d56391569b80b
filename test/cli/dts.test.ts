// The `dts` command line as operators run it (bin/dts.js in a child process), and the Node.js version guard that
// refuses, in one line, to run the service or its tests on Node.js older than 22.12.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const NODE20 = '/usr/bin/node';

function run(node: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(node, args, { cwd: ROOT }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('dts', () => {
  it('--version prints the package version', async () => {
    const r = await run(process.execPath, ['bin/dts.js', '--version']);
    assert.deepEqual(r, { code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('--help lists the admin and keys commands', async () => {
    const r = await run(process.execPath, ['bin/dts.js', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^ {2}keys +manage the signing key file/m);
    assert.match(r.stdout, /^ {2}admin \[options\] +call the admin API/m);
  });

  it('keys: one line and exit 1 for a missing key file (npm run keys is the same command)', async () => {
    const r = await run(process.execPath, ['bin/dts.js', 'keys', 'list', '--file', '/nonexistent/jwks.json']);
    assert.deepEqual(r, { code: 1, stdout: '', stderr: 'error: key file /nonexistent/jwks.json does not exist [KEYS_NOT_FOUND]\n' });
  });
});

describe('Node.js version guard', { skip: existsSync(NODE20) ? false : `${NODE20} is absent` }, () => {
  it(`the service entry refuses ${NODE20} (older than 22.12) in one line, exit 2, before loading anything`, async (t) => {
    const version = (await run(NODE20, ['-p', 'process.versions.node'])).stdout.trim();
    if (Number(version.split('.')[0]) >= 22) return t.skip(`${NODE20} is ${version}`);
    // src/main.ts is plain JavaScript up to its dynamic import, which the guard never reaches on an old Node.
    const dir = mkdtempSync(join(tmpdir(), 'dts-guard-'));
    try {
      copyFileSync(join(ROOT, 'src/main.ts'), join(dir, 'main.mjs'));
      const r = await run(NODE20, [join(dir, 'main.mjs')]);
      assert.deepEqual(r, { code: 2, stdout: '', stderr: `delegation-token-service needs Node.js >= 22.12 (found ${version}); see README "Quick start"\n` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('npm start and npm test refuse it the same way (scripts/check_node.mjs)', async (t) => {
    const version = (await run(NODE20, ['-p', 'process.versions.node'])).stdout.trim();
    if (Number(version.split('.')[0]) >= 22) return t.skip(`${NODE20} is ${version}`);
    const r = await run(NODE20, ['scripts/check_node.mjs']);
    assert.deepEqual(r, { code: 1, stdout: '', stderr: `delegation-token-service needs Node.js >= 22.12 (found ${version}); see README "Quick start" for a one-line Node 22 install\n` });
    assert.equal((await run(process.execPath, ['scripts/check_node.mjs'])).code, 0);
  });
});
