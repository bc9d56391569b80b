// Runs the selected scenarios against one forked service process and returns the report (CLI: bench/run.ts).
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { BenchContext } from './context.js';
import { loginUser, mapLimit } from './flows.js';
import { machineFacts } from './machine.js';
import type { BenchOptions, ScenarioName } from './options.js';
import { formatProfile, isMainThreadProfile, summarizeProfile } from './profile_top.js';
import { ReportBuilder, type Report } from './report.js';
import { detailsExchangeScenario, dpopExchangeScenario, exchangeScenarios, warmUp } from './scenarios/exchange.js';
import { memoryScenario } from './scenarios/memory.js';
import { revocationScenario } from './scenarios/revocation.js';
import { startupScenario } from './scenarios/startup.js';
import { replicasScenario } from './scenarios/replicas.js';
import { connectionsScenario } from './scenarios/connections.js';
import { gatewayScenario } from './scenarios/gateway.js';
import { clusterScenario } from './scenarios/cluster.js';
import { verifyScenario } from './scenarios/verify.js';
import { startBenchService } from './service_process.js';

export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export const SETUP =
  'service in a forked child process (bench/server.ts compiled by tsc as `npm run build` compiles src/, see ' +
  'bench/build.ts: createService on real Redis, --expose-gc); verify SDK figures from its dist build; load generator ' +
  '(autocannon, programmatic) and the verify loops in the bench process; both share the same cores';

function newestProfile(dir: string, since: number): string | undefined {
  const files = readdirSync(dir)
    .filter(isMainThreadProfile)
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= since);
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

export async function runBench(options: BenchOptions, log: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<Report> {
  const began = Date.now();
  const report = new ReportBuilder();
  const failures: Record<string, number> = {};
  // Each selected scenario: 'completed', or why it stopped. One failing scenario never stops the others.
  const scenarios: Record<string, string> = Object.fromEntries(options.scenarios.map((s) => [s, 'not run']));
  let machine: Awaited<ReturnType<typeof machineFacts>> | undefined;
  const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // a failed command is reported where it fails
  const attempt = async (name: ScenarioName, title: string, run: () => Promise<void>) => {
    log(title);
    try {
      await run();
      scenarios[name] = 'completed';
    } catch (err) {
      scenarios[name] = `failed: ${(err as Error).message}`;
      report.note(`scenario ${name} did not complete: ${(err as Error).message}`);
      log(`  scenario ${name} did not complete: ${(err as Error).stack ?? String(err)}`);
    }
  };
  try {
    await redis.connect();
    machine = await machineFacts(redis);

    const profileDir = options.cpuProf ? join(RESULTS_DIR, 'profiles') : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const svc = await startBenchService({ redisUrl: options.redisUrl, ...(profileDir ? { cpuProfileDir: profileDir } : {}) });
    log(`service pid ${svc.pid} at ${svc.url}, Redis key prefix ${svc.keyPrefix}`);
    try {
      const userTokens = await mapLimit(Array.from({ length: options.users }), 4, () => loginUser(svc));
      const ctx: BenchContext = {
        svc,
        redis,
        options,
        report,
        userTokens,
        log,
        failed: (what, count) => {
          if (count > 0) failures[what] = (failures[what] ?? 0) + count;
        },
      };
      const want = new Set(options.scenarios);
      log(`warm-up (${options.warmup} s per request kind, ${options.users} user sessions)`);
      await warmUp(ctx);
      const afterWarmUp = await svc.memory(true);
      if (want.has('exchange')) await attempt('exchange', 'scenarios 1+2: exchange and multi-hop vs client_credentials', () => exchangeScenarios(ctx));
      if (want.has('exchange')) await attempt('exchange', 'scenario 1: exchange with a DPoP proof vs without (issue 13)', () => dpopExchangeScenario(ctx));
      if (want.has('exchange')) await attempt('exchange', 'scenario 1: exchange with authorization_details vs without (issue 10)', () => detailsExchangeScenario(ctx));
      if (want.has('verify')) await attempt('verify', 'scenario 3: verification', () => verifyScenario(ctx));
      if (want.has('revocation')) await attempt('revocation', 'scenario 4: revocation propagation (+ Redis bytes per session and revocation)', () => revocationScenario(ctx));
      if (want.has('memory')) await attempt('memory', 'scenario 5: memory over a sustained run', () => memoryScenario(ctx, afterWarmUp));
      if (want.has('startup')) await attempt('startup', 'scenario 6: start-up', () => startupScenario(ctx));
      if (want.has('replicas')) await attempt('replicas', 'scenario 7: revocation propagation across replicas', () => replicasScenario(ctx));
      if (want.has('connections')) await attempt('connections', 'scenario 8: exchange at 1, 10 and 50 connections', () => connectionsScenario(ctx));
      if (want.has('gateway')) await attempt('gateway', 'scenario 9: MCP gateway added latency and throughput vs plain proxying', () => gatewayScenario(ctx));
      if (want.has('cluster')) await attempt('cluster', 'scenario 10: exchange on Redis Cluster vs single Redis', () => clusterScenario(ctx));
    } finally {
      await svc.stop();
    }

    if (profileDir) {
      const file = newestProfile(profileDir, began);
      if (file) {
        const summary = summarizeProfile(file);
        report.details.cpuProfile = { file, ...summary };
        log(formatProfile(summary));
      }
    }
  } catch (err) {
    // Outside any scenario (Redis, the service, the logins): what was measured so far is still reported.
    report.details.aborted = (err as Error).message;
    report.note(`bench aborted: ${(err as Error).message}`);
    log(`bench aborted: ${(err as Error).stack ?? String(err)}`);
  } finally {
    redis.disconnect();
  }
  report.details.scenarios = scenarios;
  report.details.failures = failures;
  for (const [what, count] of Object.entries(failures)) report.note(`${count} failed requests in ${what} (non-2xx, errors or timeouts): those figures are suspect`);
  const { out: _out, ...shownOptions } = options;
  return report.build({
    date: new Date(began).toISOString(),
    completed: !report.details.aborted && Object.values(scenarios).every((s) => s === 'completed'),
    machine: machine ? `${machine.cpu}, ${machine.memory}, load average at start ${machine.loadavg}` : 'unknown (Redis unreachable)',
    node: machine?.node ?? process.version,
    redis: `${machine?.redis ?? 'unknown'} at ${options.redisUrl.replace(/\/\/[^@]*@/, '//***@')}`,
    setup: SETUP,
    options: shownOptions,
    wallClock: `${Math.round((Date.now() - began) / 1000)} s`,
  });
}
