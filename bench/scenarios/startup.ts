// Scenario 6: from spawning `node dist/src/main.js` (what `npm start` and the image run: compiled JavaScript; temp
// config, the bench's keys, real Redis) to /readyz 200. The scenario builds dist/ once first.
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { benchConfig } from '../config.js';
import type { BenchContext } from '../context.js';
import { freePort } from '../service_process.js';
import { fmt } from '../report.js';
import { median } from '../stats.js';

const LIMIT_MS = 1500;
const GIVE_UP_MS = 30_000;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** One cold start: milliseconds from spawn to the first 200 from /readyz. */
async function timeStart(ctx: BenchContext, run: number): Promise<number> {
  const { svc, options } = ctx;
  const port = await freePort();
  const configFile = join(svc.keysDir, `startup-${run}.json`);
  // Keys and cookie secret exist already (the bench service made them): a production start loads, never generates.
  writeFileSync(
    configFile,
    JSON.stringify({
      ...benchConfig({ port, redisUrl: options.redisUrl, keyPrefix: `${svc.keyPrefix}startup:`, keysDir: svc.keysDir }),
      // Stopped right after each measurement: no load balancer to wait for.
      shutdown: { deregistrationDelaySeconds: 0, gracePeriodSeconds: 1 },
    }),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, ...svc.secretEnv, CONFIG_FILE: configFile, REDIS_URL: options.redisUrl };
  for (const k of ['PORT', 'ISSUER', 'LOG_LEVEL']) delete env[k];
  const started = performance.now();
  const child = spawn(process.execPath, ['dist/src/main.js'], { cwd: ROOT, env, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let failedEarly = false;
  child.once('exit', () => (failedEarly = true));
  try {
    for (;;) {
      if (await ready(`http://127.0.0.1:${port}/readyz`)) return performance.now() - started;
      if (failedEarly) throw new Error('dist/src/main.js exited before it was ready');
      if (performance.now() - started > GIVE_UP_MS) throw new Error('dist/src/main.js was not ready within 30 s');
      await sleep(5);
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(configFile, { force: true });
  }
}

export async function startupScenario(ctx: BenchContext): Promise<void> {
  const times: number[] = [];
  let errors = 0;
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'ignore' });
  if (build.status !== 0) throw new Error(`npm run build failed (exit ${build.status})`);
  for (let run = 0; run < ctx.options.startupRuns; run++) {
    try {
      times.push(await timeStart(ctx, run));
      ctx.log(`  start ${run + 1}/${ctx.options.startupRuns}: ${fmt(times.at(-1)!)} ms to /readyz 200`);
    } catch (err) {
      errors++;
      ctx.log(`  start ${run + 1}/${ctx.options.startupRuns} failed: ${(err as Error).message}`);
    }
  }
  ctx.failed('scenario 6 start-up', errors);
  ctx.report.figure('6', 'spawn -> /readyz 200 (node dist/src/main.js)', 'ms', times, errors);
  ctx.report.target('6', `start-up <= ${LIMIT_MS} ms (median of ${times.length})`, `${fmt(median(times))} ms`, median(times) / LIMIT_MS, '<=', 1);
}
