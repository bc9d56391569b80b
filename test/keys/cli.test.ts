import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './temp_dir.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/dts.js', 'keys', ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface ListedKey {
  kid: string;
  alg: string;
  status: string;
  created: number;
  retireAfter: number | null;
  expired: boolean;
}

test('cli: generate, list --json, rotate, list', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');

  const generated = await cli('generate', '--file', file, '--alg', 'EdDSA');
  assert.equal(generated.code, 0, generated.stderr);
  assert.match(generated.stdout, /current/);
  assert.equal((await stat(file)).mode & 0o777, 0o600);

  const listed = await cli('list', '--file', file, '--json');
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stderr, '');
  const { keys } = JSON.parse(listed.stdout) as { file: string; keys: ListedKey[] };
  assert.deepEqual(
    keys.map((key) => [key.alg, key.status, key.retireAfter, key.expired]),
    [
      ['EdDSA', 'current', null, false],
      ['EdDSA', 'next', null, false],
    ],
  );
  assert.equal(typeof keys[0]!.kid, 'string');
  assert.doesNotMatch(listed.stdout, /"d"/, 'list never prints key material');

  const rotated = await cli('rotate', '--file', file, '--max-token-lifetime', '900');
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, new RegExp(`${keys[1]!.kid} is now current`));
  assert.match(rotated.stdout, /Restart every instance/);

  const table = await cli('list', '--file', file);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^KID\s+ALG\s+STATUS\s+CREATED\s+RETIRE AFTER$/);
  assert.deepEqual(
    lines.slice(1).map((line) => line.split(/\s+/).slice(1, 3)),
    [
      ['EdDSA', 'current'],
      ['EdDSA', 'next'],
      ['EdDSA', 'retired'],
    ],
  );
  assert.ok(lines[1]!.startsWith(keys[1]!.kid));
  assert.ok(lines[3]!.startsWith(keys[0]!.kid));
});

test('cli: generate refuses an existing file with a one-line error and exit code 1', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  assert.equal((await cli('generate', '--file', file)).code, 0);

  const again = await cli('generate', '--file', file);
  assert.equal(again.code, 1);
  assert.equal(again.stdout, '');
  assert.equal(again.stderr.trimEnd().split('\n').length, 1, again.stderr);
  assert.match(again.stderr, /^error: key file .* already exists.*\[KEYS_EXISTS\]\n$/);

  assert.equal((await cli('generate', '--file', file, '--force')).code, 0);
});

test('cli: list on a missing file fails with KEYS_NOT_FOUND', async (t) => {
  const file = join(await tempDir(t), 'missing.json');
  const run = await cli('list', '--file', file);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: key file .*missing\.json does not exist \[KEYS_NOT_FOUND\]\n$/);
});

test('cli: an unknown command or an unsupported alg exits non-zero', async (t) => {
  const unknown = await cli('publish');
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /unknown command 'publish'/);

  const file = join(await tempDir(t), 'jwks.json');
  const badAlg = await cli('generate', '--file', file, '--alg', 'HS256');
  assert.notEqual(badAlg.code, 0);
  assert.match(badAlg.stderr, /HS256/);
  await assert.rejects(stat(file), { code: 'ENOENT' });
});

test('cli: rotate twice in a row refuses with the reason and the --force hint; --force rotates', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  assert.equal((await cli('generate', '--file', file)).code, 0);
  const first = await cli('rotate', '--file', file, '--json');
  assert.equal(first.code, 0, first.stderr);
  const { next } = JSON.parse(first.stdout) as { next: ListedKey };
  const before = await readFile(file, 'utf8');

  const again = await cli('rotate', '--file', file, '--max-token-lifetime', '900');
  assert.equal(again.code, 1);
  assert.equal(again.stdout, '');
  assert.equal(again.stderr.trimEnd().split('\n').length, 1, again.stderr);
  assert.match(
    again.stderr,
    new RegExp(
      `^error: key file .*jwks\\.json: next key ${next.kid} was added \\d+ s ago, less than the longest token lifetime \\(900 s\\), ` +
        'so instances not restarted since do not publish it; restart every instance and rotate after \\S+Z, ' +
        'or pass --force once you know every instance has restarted \\[KEYS_NEXT_TOO_NEW\\]\n$',
    ),
  );
  assert.equal(await readFile(file, 'utf8'), before);

  const forced = await cli('rotate', '--file', file, '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, new RegExp(`${next.kid} is now current`));
});
