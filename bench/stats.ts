// Order statistics of a handful of repetitions, or of many latency samples.
import { readFileSync } from 'node:fs';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export const median = (values: readonly number[]) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export const min = (values: readonly number[]) => (values.length ? Math.min(...values) : Number.NaN);
export const max = (values: readonly number[]) => (values.length ? Math.max(...values) : Number.NaN);

/** CPU (all threads of this process) per call of `op`, in µs: `n` calls in a row after 200 of warm-up. */
export async function cpuPerOp(n: number, op: () => unknown): Promise<number> {
  return (await costPerOp(n, op)).cpuUs;
}

/**
 * Per call of `op`, in µs, `n` calls in a row after 200 of warm-up: CPU of every thread of this process, and the time
 * the main thread's event loop was active (not waiting for I/O or for a job on the thread pool, such as a Web Crypto
 * signature; performance.eventLoopUtilization's `active`).
 */
export async function costPerOp(n: number, op: () => unknown): Promise<{ cpuUs: number; mainUs: number }> {
  for (let i = 0; i < 200; i++) await op();
  const elu = performance.eventLoopUtilization();
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) await op();
  const used = process.cpuUsage(before);
  return { cpuUs: (used.user + used.system) / n, mainUs: (performance.eventLoopUtilization(elu).active * 1000) / n };
}

/** The machine's CPU time so far (every core, every process) from Linux's /proc/stat, in clock ticks; undefined elsewhere. */
export function machineCpuTicks(): { busy: number; total: number } | undefined {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return undefined;
  }
  // cpu user nice system idle iowait irq softirq steal guest guest_nice: guest time is already counted in user and
  // nice, so the first eight fields are the whole.
  const ticks = line?.startsWith('cpu ') ? line.slice(4).trim().split(/\s+/).slice(0, 8).map(Number) : [];
  if (ticks.length < 5 || ticks.some((t) => !Number.isFinite(t))) return undefined;
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3]! - ticks[4]!, total };
}

/** The fraction of the machine's CPU busy between two `machineCpuTicks()` readings (NaN when either is missing). */
export function busyBetween(before: ReturnType<typeof machineCpuTicks>, after: ReturnType<typeof machineCpuTicks>): number {
  if (!before || !after || after.total <= before.total) return Number.NaN;
  return (after.busy - before.busy) / (after.total - before.total);
}
