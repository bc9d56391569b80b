// The container image's HEALTHCHECK: `node dist/src/healthcheck.js [/healthz | /readyz] [--pid <pid>]`. It finds the
// server process in this container (the service, or `dts gateway`), resolves the port that process listens on from
// the same config file and environment it was started with, and probes it: exit 0 on a 200, else 1 with one line.
// No port is assumed: a `port:` in a config file, `PORT` in the environment and the gateway's own config all count.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.js';
import { loadGatewayConfig } from './gateway/load.js';

/** The running server: what it is, its arguments after the entry script, and the environment and directory it started in. */
export interface ServerProcess {
  role: 'service' | 'gateway';
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** What to probe. */
export interface ProbeTarget {
  role: ServerProcess['role'];
  url: string;
}

const PROBES = ['/healthz', '/readyz'] as const;
/** Below Docker's `--timeout=3s`, so an answer that is too slow is this script's failure line, not Docker's kill. */
const PROBE_TIMEOUT_MS = 2500;

/**
 * Which server a command line runs, or undefined: the service is `node [flags] dist/src/main.js` (or src/main.ts in a
 * checkout), the gateway `node [flags] bin/dts.js gateway …` or `node [flags] dist/src/gateway/main.js …`.
 */
export function classify(argv: readonly string[]): Pick<ServerProcess, 'role' | 'args'> | undefined {
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (/(^|\/)(dist\/)?src\/main\.[jt]s$/.test(arg)) return { role: 'service', args: argv.slice(i + 1) };
    if (/(^|\/)(dist\/)?src\/gateway\/main\.[jt]s$/.test(arg)) return { role: 'gateway', args: argv.slice(i + 1) };
    if (/(^|\/)bin\/dts(\.js)?$/.test(arg)) return argv[i + 1] === 'gateway' ? { role: 'gateway', args: argv.slice(i + 2) } : undefined;
  }
  return undefined;
}

/** `fn()`, or `fallback` when it throws (a process gone meanwhile, or one whose /proc entries this user cannot read). */
function orElse<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/**
 * The server process `pid`, or undefined when it is not one. Its environment and directory are its own when readable
 * (the same user), else this process's: a HEALTHCHECK runs with the container's environment and working directory.
 */
function readProcess(proc: string, pid: number): ServerProcess | undefined {
  const dir = join(proc, String(pid));
  const argv = orElse(() => readFileSync(join(dir, 'cmdline'), 'utf8').replace(/\0$/, '').split('\0'), []);
  const found = classify(argv);
  if (!found) return undefined;
  const env = orElse(
    () =>
      Object.fromEntries(
        readFileSync(join(dir, 'environ'), 'utf8')
          .split('\0')
          .filter((entry) => entry.includes('='))
          .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
      ) as NodeJS.ProcessEnv,
    process.env,
  );
  return { ...found, env, cwd: orElse(() => readlinkSync(join(dir, 'cwd')), process.cwd()) };
}

/** The server process: `pid` when given, else the first (lowest pid) server found in `proc`, skipping this process. */
export function findServer(proc = '/proc', pid?: number): ServerProcess | undefined {
  if (pid !== undefined) return readProcess(proc, pid);
  let pids: number[];
  try {
    pids = readdirSync(proc).filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => p !== process.pid).sort((a, b) => a - b);
  } catch {
    return undefined;
  }
  for (const p of pids) {
    const found = readProcess(proc, p);
    if (found) return found;
  }
  return undefined;
}

/** Where `probe` answers for this server: the port and listen address its configuration resolves to. */
export function probeTarget(server: ServerProcess, probe: (typeof PROBES)[number] = '/healthz'): ProbeTarget {
  if (server.role === 'service') {
    const { config } = loadConfig(server.env, server.cwd);
    // The service listens on every interface.
    return { role: 'service', url: `http://127.0.0.1:${config.port}${probe}` };
  }
  let file: string | undefined;
  try {
    const { values } = parseArgs({ args: server.args, options: { config: { type: 'string', short: 'c' } }, strict: false });
    file = typeof values.config === 'string' ? values.config : undefined;
  } catch {
    file = undefined;
  }
  file ??= server.env.GATEWAY_CONFIG;
  const config = loadGatewayConfig(file === undefined || isAbsolute(file) ? file : join(server.cwd, file), server.env);
  const any = ['0.0.0.0', '::', ''].includes(config.host);
  const host = any ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return { role: 'gateway', url: `http://${host}:${config.port}${probe}` };
}

/** Runs the check; resolves with the exit code (0 healthy, 1 not). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let target: ProbeTarget;
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { pid: { type: 'string' } }, allowPositionals: true });
    const probe = (positionals[0] ?? '/healthz') as (typeof PROBES)[number];
    if (!PROBES.includes(probe)) throw new Error(`unknown probe ${probe} (${PROBES.join(' or ')})`);
    const pid = values.pid === undefined ? undefined : Number(values.pid);
    const found = findServer('/proc', pid);
    if (pid !== undefined && !found) throw new Error(`process ${values.pid} is not the service or the gateway`);
    // Outside a container (no /proc, or nothing found): this process's own environment and directory, as the service.
    const server = found ?? {
      role: env.GATEWAY_CONFIG ? 'gateway' : 'service',
      args: [],
      env,
      cwd: process.cwd(),
    };
    target = probeTarget(server, probe);
  } catch (err) {
    process.stderr.write(`healthcheck: ${(err as Error).message.split('\n')[0]}\n`);
    return 1;
  }
  try {
    const res = await fetch(target.url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    if (res.status === 200) return 0;
    process.stderr.write(`healthcheck: ${target.role} ${target.url} answered ${res.status}\n`);
  } catch (err) {
    process.stderr.write(`healthcheck: ${target.role} ${target.url} did not answer (${(err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message)})\n`);
  }
  return 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
