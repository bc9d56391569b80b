// Runs the real service process (src/main.ts) in a temporary working directory with a config file written there.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** A fresh working directory, removed when the test ends: keys/ and keys/secrets/ land here. */
export function workDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'dts-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `config` (an object as JSON, or raw text) to `dir/name` and returns its path. */
export function writeConfig(dir: string, config: object | string, name = 'config.json'): string {
  const file = join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

/** Env for the child: ours minus anything that would change the config under test, plus `env`. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_ENV: _n, ISSUER: _i, PORT: _p, ALLOW_DEVELOPMENT_DEFAULTS: _a, ...rest } = process.env;
  return { ...rest, LOG_LEVEL: 'silent', ...env };
}

export function startService(cwd: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--conditions=source', `--import=${TSX}`, join(ROOT, 'src/main.ts')], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs the service until it exits (a start-up refusal); kills it after `ms` so a test never hangs. */
export function runUntilExit(cwd: string, env: NodeJS.ProcessEnv, ms = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = startService(cwd, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Waits until `url` answers 200, or throws with what the process said if it exits first. */
export async function waitReady(child: ChildProcess, url: string, ms = 30_000): Promise<void> {
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}: ${stderr}`);
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`service not ready at ${url}: ${stderr}`);
}

/** Stops a started service and waits for it to exit. */
export async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
