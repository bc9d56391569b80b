// Start-up failures an operator can fix are one line on stderr and exit code 2, never a stack trace.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { freePort } from '../../tools/local.js';
import { runUntilExit, workDir, writeConfig } from './spawn_service.js';

/** Every secret from env, so only the failure under test can stop the start. */
const base = (): Record<string, unknown> => ({ cookieSecret: { env: 'COOKIE_SECRET' } });

async function failsWith(t: TestContext, config: object | string, expected: string | RegExp, options: { name?: string; env?: NodeJS.ProcessEnv } = {}) {
  const dir = workDir(t);
  const file = writeConfig(dir, config, options.name);
  const run = await runUntilExit(dir, { CONFIG_FILE: file, REDIS_URL: '', COOKIE_SECRET: 'x'.repeat(32), ...options.env });
  assert.equal(run.code, 2, run.stderr);
  assert.doesNotMatch(run.stderr, /\n {4}at /, 'no stack frames');
  assert.equal(run.stderr.split('\n').length, 2, `one line: ${run.stderr}`);
  const line = run.stderr.trimEnd().replaceAll(dir, '<dir>');
  if (typeof expected === 'string') assert.equal(line, expected);
  else assert.match(line, expected);
}

describe('start-up errors: one line, exit 2', () => {
  it('port in use (EADDRINUSE)', async (t) => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, resolve));
    try {
      await failsWith(t, { ...base(), port }, `cannot listen on port ${port}: it is already in use (EADDRINUSE); stop the other process or set PORT`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('keys directory that cannot be created or read', async (t) => {
    // A regular file where the directory should be: unwritable for root too (chmod would not stop root).
    const dir = workDir(t);
    writeFileSync(join(dir, 'blocker'), '');
    await failsWith(t, { ...base(), keys: { file: join(dir, 'blocker', 'keys', 'jwks.json') } }, /^key file \S+\/blocker\/keys\/jwks\.json cannot be (read|written) \((ENOTDIR|EEXIST)\)$/);
  });

  it('secrets directory that cannot be created', async (t) => {
    const dir = workDir(t);
    writeFileSync(join(dir, 'blocker'), '');
    await failsWith(
      t,
      { cookieSecret: { file: join(dir, 'blocker', 'secrets', 'cookie'), generate: true } },
      /^cookieSecret: cannot write a generated secret to \S+\/blocker\/secrets\/cookie \((ENOTDIR|EEXIST)\)$/,
    );
  });

  it('unwritable keys directory (mode 0500; skipped as root, who ignores it)', { skip: process.getuid?.() === 0 }, async (t) => {
    const dir = workDir(t);
    const { chmodSync, mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'ro'));
    chmodSync(join(dir, 'ro'), 0o500);
    await failsWith(t, { ...base(), keys: { file: join(dir, 'ro', 'jwks.json') } }, /^key file \S+\/ro\/jwks\.json cannot be written \(EACCES\)$/);
  });

  it('Redis unreachable: the URL without its password', async (t) => {
    const port = await freePort();
    await failsWith(t, base(), new RegExp(`^cannot connect to Redis at redis://user:\\*\\*\\*@127\\.0\\.0\\.1:${port}/3: [^\\n]+$`), {
      env: { REDIS_URL: `redis://user:hunter2@127.0.0.1:${port}/3` },
    });
  });

  it('YAML syntax error, with line and column', async (t) => {
    await failsWith(
      t,
      'port: 3000\nclients:\n  - client_id: a\n    grant_types: [a, b\nlogLevel: info\n',
      'config file <dir>/config.yaml is not valid YAML at line 5, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]',
      { name: 'config.yaml' },
    );
    await failsWith(t, 'port: 3000\n  logLevel: info\n', 'config file <dir>/config.yaml is not valid YAML at line 1, column 7: Nested mappings are not allowed in compact mappings', { name: 'config.yaml' });
    // The rest of yaml's message quotes the file: never printed.
    await failsWith(t, 'cookieSecret: { env: "NOT_A_SECRET\n', 'config file <dir>/config.yaml is not valid YAML at line 2, column 1: Missing closing "quote', { name: 'config.yaml' });
  });

  it('JSON syntax error, with line and column, never quoting the file', async (t) => {
    await failsWith(t, '{\n  "port": 3000,\n  "cookieSecret": }\n', 'config file <dir>/config.json is not valid JSON at line 3, column 19');
    await failsWith(t, '{\n  "port": 3000,\n', 'config file <dir>/config.json is not valid JSON at line 3, column 1');
  });
});
