// Scenario 8: the exchange at 1, 10 and 50 connections (throughput and p99 each) and the Redis commands it sends per
// exchange, so the curve is visible and a command added to the hot path shows up.
import { exchangeForm, formBody } from '../flows.js';
import type { BenchContext } from '../context.js';
import { runLoad } from '../load.js';
import { fmt } from '../report.js';

export const CONNECTION_STEPS = [1, 10, 50] as const;

export async function connectionsScenario(ctx: BenchContext): Promise<void> {
  const { svc, options, report, userTokens } = ctx;
  const bodies = userTokens.map((t) => formBody(exchangeForm(t)));
  const perStep: Record<string, { rps: number; p99Ms: number; commandsPerExchange: Record<string, number>; roundTripsPerExchange: number }> = {};
  for (const connections of CONNECTION_STEPS) {
    await svc.redisCounts(true);
    const r = await runLoad({ url: svc.url, authorization: svc.basic('agent'), bodies, connections, duration: options.duration });
    const counts = await svc.redisCounts(true);
    const sent = Math.max(1, r.ok + r.non2xx);
    ctx.failed(`exchange at ${connections} connections`, r.non2xx + r.errors + r.timeouts);
    const commandsPerExchange = Object.fromEntries(Object.entries(counts.commands).map(([name, n]) => [name, Math.round((n / sent) * 100) / 100]));
    const total = Object.values(counts.commands).reduce((a, b) => a + b, 0) / sent;
    perStep[connections] = { rps: r.rps, p99Ms: r.p99Ms, commandsPerExchange, roundTripsPerExchange: counts.roundTrips / sent };
    report.figure('8', `exchange at ${connections} connection(s): throughput`, 'req/s', [r.rps], r.non2xx + r.errors + r.timeouts);
    report.figure('8', `exchange at ${connections} connection(s): latency p99`, 'ms', [r.p99Ms]);
    report.figure('8', `exchange at ${connections} connection(s): Redis commands/exchange`, 'count', [total]);
    ctx.log(`  ${connections} conn: ${fmt(r.rps)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${fmt(total)} Redis commands/exchange (${Object.entries(commandsPerExchange).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  }
  report.details.connectionCurve = perStep;
}
