// One load run with autocannon's programmatic API: POST /token with bodies rotated across requests.
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  /** HTTP Basic of the client the run authenticates as. */
  authorization: string;
  /** Form bodies, used in turn (each connection walks the list from its own offset). */
  bodies: readonly string[];
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  duration?: number;
  /** Total requests; the run ends when they are answered. */
  amount?: number;
  /**
   * A header sent with every request, its values used in turn (each request takes the next one): users' tokens, or one
   * single-use DPoP proof per request (a run needing more proofs than given reuses them, and those requests fail).
   */
  rotatedHeader?: { name: string; values: readonly string[] };
  /** When set, a 2xx answer whose body lacks this text is counted in `mismatched` (autocannon then reads every body). */
  expectInBody?: string;
}

export interface LoadResult {
  /** 2xx answers per second over the run. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 2xx answers without `expectInBody` (0 when not checked). */
  mismatched: number;
  seconds: number;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (o.bodies.length === 0) throw new Error('runLoad needs at least one body');
  let turn = 0;
  let mismatched = 0;
  const expected = o.expectInBody;
  const started = performance.now();
  const result = await autocannon({
    url: `${o.url}/token`,
    connections: o.connections,
    pipelining: 1,
    ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.duration ?? 5 }),
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: o.authorization },
        setupRequest: (req) => {
          const i = turn++;
          const body = o.bodies[i % o.bodies.length];
          const rotated = o.rotatedHeader;
          if (!rotated) return { ...req, body };
          return { ...req, body, headers: { ...req.headers, [rotated.name]: rotated.values[i % rotated.values.length]! } };
        },
        ...(expected === undefined ? {} : {
          onResponse: (status: number, body: string) => {
            if (status >= 200 && status < 300 && !body.includes(expected)) mismatched++;
          },
        }),
      },
    ],
  });
  // autocannon's own duration excludes its start-up; the wall clock is the fallback.
  const seconds = result.duration > 0 ? result.duration : (performance.now() - started) / 1000;
  const ok = result['2xx'];
  return {
    rps: ok / seconds,
    // autocannon records latency in whole milliseconds.
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatched,
    seconds,
  };
}
