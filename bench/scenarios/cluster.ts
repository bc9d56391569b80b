// Scenario 10: the exchange of scenario 1 on a Redis Cluster against the same exchange on single Redis, same run,
// interleaved repetitions (issue 14: cluster >= 0.85 x single Redis). A second service process runs on the cluster
// (--redis-cluster-nodes, or a throw-away local three-master cluster started here and stopped after).
import type { BenchContext } from '../context.js';
import { exchangeForm, formBody, loginUser, mapLimit } from '../flows.js';
import { runLoad, type LoadResult } from '../load.js';
import { fmt } from '../report.js';
import { median } from '../stats.js';
import { benchCluster } from '../redis_cluster.js';
import { startBenchService, type BenchService } from '../service_process.js';

const TARGET = 0.85;

interface Run extends LoadResult {
  serviceCpuMsPerReq: number;
  /** Redis commands and round trips (pipeline flushes) the service sent per answered exchange. */
  commandsPerReq: number;
  roundTripsPerReq: number;
  /** The same, by command (a script by its name). */
  byCommand: Record<string, number>;
}

async function exchangeRun(ctx: BenchContext, svc: BenchService, tokens: string[], duration: number): Promise<Run> {
  await svc.redisCounts(true);
  const before = await svc.cpuMs();
  const r = await runLoad({ url: svc.url, authorization: svc.basic('agent'), bodies: tokens.map((t) => formBody(exchangeForm(t))), connections: ctx.options.connections, duration });
  const cpu = (await svc.cpuMs()) - before;
  const counts = await svc.redisCounts(true);
  const sent = Math.max(1, r.ok + r.non2xx);
  const commands = Object.values(counts.commands).reduce((a, b) => a + b, 0);
  const byCommand = Object.fromEntries(Object.entries(counts.commands).map(([name, n]) => [name, Number((n / sent).toFixed(3))]));
  return { ...r, serviceCpuMsPerReq: cpu / sent, commandsPerReq: commands / sent, roundTripsPerReq: counts.roundTrips / sent, byCommand };
}

export async function clusterScenario(ctx: BenchContext): Promise<void> {
  const { svc, options, report, userTokens } = ctx;
  const cluster = benchCluster(options.redisClusterNodes);
  try {
    ctx.log(`  Redis Cluster ${cluster.nodes.join(',')}${options.redisClusterNodes ? '' : ' (throw-away, scripts/redis_cluster.sh)'}`);
    const onCluster = await startBenchService({ redisUrl: options.redisUrl, redisClusterNodes: cluster.nodes });
    try {
      const clusterTokens = await mapLimit(Array.from({ length: options.users }), 4, () => loginUser(onCluster));
      const warm = await exchangeRun(ctx, onCluster, clusterTokens, options.warmup);
      ctx.failed('cluster warm-up', warm.non2xx + warm.errors + warm.timeouts);
      ctx.log(`  warm-up exchange on the cluster: ${fmt(warm.rps)} req/s`);

      const runs: Record<'single' | 'cluster', Run[]> = { single: [], cluster: [] };
      for (let rep = 0; rep < options.reps; rep++) {
        // The order alternates, so neither store always runs first on a warming or tiring machine.
        const order = rep % 2 === 0 ? (['single', 'cluster'] as const) : (['cluster', 'single'] as const);
        for (const store of order) {
          const r = store === 'single' ? await exchangeRun(ctx, svc, userTokens, options.duration) : await exchangeRun(ctx, onCluster, clusterTokens, options.duration);
          ctx.failed(`exchange on ${store === 'single' ? 'single Redis' : 'Redis Cluster'} (scenario 10)`, r.non2xx + r.errors + r.timeouts);
          runs[store].push(r);
        }
        const [s, c] = [runs.single.at(-1)!, runs.cluster.at(-1)!];
        ctx.log(`  rep ${rep + 1}/${options.reps}: single Redis ${fmt(s.rps)} req/s (p99 ${s.p99Ms} ms, CPU/req ${fmt(s.serviceCpuMsPerReq)} ms, ${fmt(s.roundTripsPerReq)} round trips/req), cluster ${fmt(c.rps)} req/s (p99 ${c.p99Ms} ms, CPU/req ${fmt(c.serviceCpuMsPerReq)} ms, ${fmt(c.roundTripsPerReq)} round trips/req)`);
      }

      const label = { single: 'exchange on single Redis', cluster: 'exchange on Redis Cluster (3 masters)' } as const;
      for (const store of ['single', 'cluster'] as const) {
        const failed = runs[store].reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
        report.figure('10', `${label[store]}: throughput`, 'req/s', runs[store].map((r) => r.rps), failed);
        report.figure('10', `${label[store]}: latency p99`, 'ms', runs[store].map((r) => r.p99Ms));
        report.figure('10', `${label[store]}: service CPU/req`, 'ms', runs[store].map((r) => r.serviceCpuMsPerReq));
        report.figure('10', `${label[store]}: Redis commands/req`, 'count', runs[store].map((r) => r.commandsPerReq));
        report.figure('10', `${label[store]}: Redis round trips/req`, 'count', runs[store].map((r) => r.roundTripsPerReq));
      }
      for (const store of ['single', 'cluster'] as const) {
        const last = runs[store].at(-1);
        if (last) report.note(`scenario 10: Redis commands per exchange on ${store === 'single' ? 'single Redis' : 'the cluster'} (last rep, service process): ${Object.entries(last.byCommand).map(([name, n]) => `${name} ${n}`).join(', ')}`);
      }
      const ratio = runs.cluster.map((r, i) => r.rps / runs.single[i]!.rps);
      report.figure('10', 'cluster / single Redis exchange throughput (per rep)', 'ratio', ratio);
      const rps = (store: 'single' | 'cluster') => median(runs[store].map((r) => r.rps));
      report.target('10', `exchange on Redis Cluster >= ${TARGET} x single Redis`, `${fmt(rps('cluster'))} vs ${fmt(rps('single'))} req/s`, median(ratio), '>=', TARGET);
      if (!options.redisClusterNodes) report.note('scenario 10: the cluster is three redis-server masters on this machine, sharing its cores with the service, the load and the single Redis');
    } finally {
      await onCluster.stop();
    }
  } finally {
    cluster.stop();
  }
}
