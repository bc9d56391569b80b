// Scenario 5: the service process' RSS and heap (after a forced GC) after warm-up and after a sustained exchange run.
import type { BenchContext } from '../context.js';
import type { MemorySample } from '../ipc.js';
import { fmt } from '../report.js';
import { runExchanges } from './exchange.js';

const GROWTH_LIMIT = 0.2;
const MB = 1024 * 1024;

export async function memoryScenario(ctx: BenchContext, afterWarmUp: MemorySample): Promise<void> {
  const { svc, options, report } = ctx;
  const before = await svc.memory(true);
  ctx.log(`  sustained run of ${options.sustained} exchanges...`);
  const run = await runExchanges(ctx, { amount: options.sustained });
  await svc.settle();
  const after = await svc.memory(true);
  ctx.log(`  sustained: ${fmt(run.rps)} req/s over ${fmt(run.seconds)} s, p99 ${run.p99Ms} ms`);

  report.figure('5', 'sustained exchanges: throughput', 'req/s', [run.rps], run.non2xx + run.errors + run.timeouts);
  report.figure('5', 'sustained exchanges: latency p99', 'ms', [run.p99Ms]);
  report.figure('5', 'sustained exchanges: service CPU/req', 'ms', [run.serviceCpuMsPerReq]);
  report.figure('5', 'sustained exchanges: duration', 's', [run.seconds]);
  for (const [label, m] of [['after warm-up', afterWarmUp], ['before sustained run', before], ['after sustained run', after]] as const) {
    report.figure('5', `service RSS ${label}`, 'MB', [m.rss / MB]);
    report.figure('5', `service heap used ${label} (after GC)`, 'MB', [m.heapUsed / MB]);
  }
  report.details.serviceMemory = { afterWarmUp, beforeSustained: before, afterSustained: after, sustainedRun: run };
  const growth = (key: 'rss' | 'heapUsed') => after[key] / afterWarmUp[key] - 1;
  report.target('5', `RSS growth <= 20 % over ${fmt(run.ok)} exchanges`, `${fmt(afterWarmUp.rss / MB)} -> ${fmt(after.rss / MB)} MB`, growth('rss'), '<=', GROWTH_LIMIT);
  report.target('5', 'heap growth <= 20 % (after GC)', `${fmt(afterWarmUp.heapUsed / MB)} -> ${fmt(after.heapUsed / MB)} MB`, growth('heapUsed'), '<=', GROWTH_LIMIT);
}
