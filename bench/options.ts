// Command-line flags of `npm run bench` (node:util parseArgs); every default is here, next to its meaning.
import { parseArgs } from 'node:util';

export const SCENARIOS = ['exchange', 'verify', 'revocation', 'memory', 'startup', 'replicas', 'connections', 'gateway', 'cluster'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  /** Seconds of each measured load run (scenarios 1 and 2). */
  duration: number;
  /** Concurrent HTTP connections of the load generator. */
  connections: number;
  /** Repetitions of each scenario, interleaved with its baseline. */
  reps: number;
  /** Seconds of warm-up load per request kind, before anything is measured. */
  warmup: number;
  /** Exchanges of the sustained run of scenario 5. */
  sustained: number;
  /** User sessions (login flow) whose tokens the load rotates through. */
  users: number;
  /** Distinct tokens verified per pass (scenario 3). */
  verifyTokens: number;
  /** Seconds of each verification loop (scenario 3). */
  verifySeconds: number;
  /** Sessions revoked, one propagation sample each (scenario 4). */
  revocations: number;
  /** Service starts timed (scenario 6). */
  startupRuns: number;
  redisUrl: string;
  /** Seeds of a Redis Cluster for scenario 10; unset: the scenario starts a throw-away one (scripts/redis_cluster.sh). */
  redisClusterNodes?: string[];
  /** Which scenarios run (`exchange` covers 1 and 2; `memory` is 5). */
  scenarios: ScenarioName[];
  /** Write a V8 CPU profile of the service process (bench/results/profiles/) and print its top frames. */
  cpuProf: boolean;
  /** JSON output file; default bench/results/bench-<time>.json. */
  out: string | undefined;
}

export const DEFAULTS: Omit<BenchOptions, 'redisUrl' | 'out'> = {
  duration: 5,
  connections: 10,
  reps: 3,
  warmup: 3,
  sustained: 200_000,
  users: 20,
  verifyTokens: 500,
  verifySeconds: 2,
  revocations: 100,
  startupRuns: 5,
  scenarios: [...SCENARIOS],
  cpuProf: false,
};

export const USAGE = `npm run bench -- [flags]

  --duration <s>        seconds per measured load run (default ${DEFAULTS.duration})
  --connections <n>     HTTP connections (default ${DEFAULTS.connections})
  --reps <n>            repetitions, interleaved with baselines (default ${DEFAULTS.reps})
  --warmup <s>          warm-up seconds per request kind (default ${DEFAULTS.warmup})
  --sustained <n>       exchanges in the sustained memory run (default ${DEFAULTS.sustained})
  --users <n>           user sessions rotated by the load (default ${DEFAULTS.users})
  --verify-tokens <n>   distinct tokens per verification pass (default ${DEFAULTS.verifyTokens})
  --verify-seconds <s>  seconds per verification loop (default ${DEFAULTS.verifySeconds})
  --revocations <n>     revocation propagation samples (default ${DEFAULTS.revocations})
  --startup-runs <n>    timed service starts (default ${DEFAULTS.startupRuns})
  --scenarios <list>    comma-separated subset of ${SCENARIOS.join(',')} (default all)
  --redis-url <url>     default $REDIS_URL or redis://127.0.0.1:6379
  --redis-cluster-nodes <seeds>
                        Redis Cluster seeds (redis://host:port,...) for scenario 10 (cluster); default: a
                        throw-away local cluster started with scripts/redis_cluster.sh and stopped after it
  --cpu-prof            profile the service process; prints its top frames
  --out <file>          JSON output (default bench/results/bench-<time>.json)
  --help`;

function positive(name: string, raw: string | undefined, fallback: number, integer: boolean): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!(value > 0) || (integer && !Number.isInteger(value))) throw new TypeError(`--${name} must be a positive ${integer ? 'integer' : 'number'}`);
  return value;
}

/** Parses argv; returns undefined when --help was asked for. Throws TypeError on a bad flag. */
export function parseBenchArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string' },
      connections: { type: 'string' },
      reps: { type: 'string' },
      warmup: { type: 'string' },
      sustained: { type: 'string' },
      users: { type: 'string' },
      'verify-tokens': { type: 'string' },
      'verify-seconds': { type: 'string' },
      revocations: { type: 'string' },
      'startup-runs': { type: 'string' },
      scenarios: { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-cluster-nodes': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const scenarios = values.scenarios === undefined ? DEFAULTS.scenarios : values.scenarios.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) throw new TypeError(`--scenarios: unknown scenario ${s} (known: ${SCENARIOS.join(', ')})`);
  return {
    duration: positive('duration', values.duration, DEFAULTS.duration, false),
    connections: positive('connections', values.connections, DEFAULTS.connections, true),
    reps: positive('reps', values.reps, DEFAULTS.reps, true),
    warmup: positive('warmup', values.warmup, DEFAULTS.warmup, false),
    sustained: positive('sustained', values.sustained, DEFAULTS.sustained, true),
    users: positive('users', values.users, DEFAULTS.users, true),
    verifyTokens: positive('verify-tokens', values['verify-tokens'], DEFAULTS.verifyTokens, true),
    verifySeconds: positive('verify-seconds', values['verify-seconds'], DEFAULTS.verifySeconds, false),
    revocations: positive('revocations', values.revocations, DEFAULTS.revocations, true),
    startupRuns: positive('startup-runs', values['startup-runs'], DEFAULTS.startupRuns, true),
    redisUrl: values['redis-url'] ?? (env.REDIS_URL || 'redis://127.0.0.1:6379'),
    ...(values['redis-cluster-nodes'] ? { redisClusterNodes: values['redis-cluster-nodes'].split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    scenarios: scenarios as ScenarioName[],
    cpuProf: values['cpu-prof'] ?? false,
    out: values.out,
  };
}
