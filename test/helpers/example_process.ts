// Runs an example program as a child process (tests never import examples/: they drive them as a user would).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = import.meta.resolve('tsx');

function start(file: string, args: string[], env: NodeJS.ProcessEnv): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--conditions=source', `--import=${TSX}`, file, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
}

/** Runs `file` to the end. */
export async function runExampleProcess(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = start(file, args, env);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Starts `file` and resolves with the JSON document of its first stdout line; `stop` sends SIGTERM and waits. */
export async function serveExampleProcess<T>(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ ready: T; stop(): Promise<void> }> {
  const child = start(file, args, env);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const closed = once(child, 'close');
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => String(line)),
    closed.then(([code]) => {
      throw new Error(`${file} exited (${code}) before it was ready: ${stderr}`);
    }),
  ]);
  return {
    ready: JSON.parse(first) as T,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}
