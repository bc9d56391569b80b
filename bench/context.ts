// What every scenario receives: the running service, the options, the report being built, and a progress log.
import type { Redis } from 'ioredis';
import type { BenchOptions } from './options.js';
import type { ReportBuilder } from './report.js';
import type { BenchService } from './service_process.js';

export interface BenchContext {
  svc: BenchService;
  /** The bench's own connection to the same Redis (memory and CPU readings, never the service's data path). */
  redis: Redis;
  options: BenchOptions;
  report: ReportBuilder;
  /** Opaque user access tokens, one per login session, rotated by the load. */
  userTokens: string[];
  log(line: string): void;
  /** Counts a run's failed requests (non-2xx, connection errors, timeouts) under `what`. */
  failed(what: string, count: number): void;
}
