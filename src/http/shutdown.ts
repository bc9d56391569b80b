// Graceful shutdown: readiness turns 503 at once, a de-registration delay lets load balancers stop routing, then the
// server stops accepting, in-flight requests finish within a grace period, and long-lived streams are told to go.
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** Shared by /readyz (503 while draining) and the revocation feed (streams end with a `reconnect` event). */
export interface Lifecycle {
  readonly draining: boolean;
  /** Aborted when draining starts: long-lived responses (SSE) listen to it. */
  readonly signal: AbortSignal;
  startDraining(): void;
}

export function createLifecycle(): Lifecycle {
  const controller = new AbortController();
  return {
    get draining() {
      return controller.signal.aborted;
    },
    signal: controller.signal,
    startDraining() {
      if (!controller.signal.aborted) controller.abort();
    },
  };
}

export interface DrainTimings {
  /** Time between readiness turning 503 and the listener closing, so load balancers stop routing here first. */
  deregistrationDelayMs: number;
  /** How long in-flight requests may take to finish once the listener is closed; then their connections are cut. */
  gracePeriodMs: number;
}

/**
 * Stops accepting connections and waits for in-flight requests. Keep-alive connections are closed as soon as they
 * are idle (checked every 50 ms), so a client holding one open cannot keep the process alive. Resolves `true` when
 * every request finished in time, `false` when the grace period ran out and the remaining connections were cut.
 */
export async function closeServer(server: Server, gracePeriodMs: number): Promise<boolean> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
  try {
    const inTime = await Promise.race([closed.then(() => true), sleep(gracePeriodMs, false, { ref: false })]);
    if (!inTime) {
      server.closeAllConnections();
      await closed;
    }
    return inTime;
  } finally {
    clearInterval(idleSweep);
  }
}

/**
 * Keep idle keep-alive connections longer than the load balancers in front do (AWS ALB: 60 s by default; Node's own
 * default is 5 s): a balancer that reuses a connection the server has just closed answers 502. Headers must arrive
 * within a little more than that (Node requires headersTimeout above keepAliveTimeout to avoid a race).
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export function keepAliveBeyondBalancers(server: Server): Server {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  return server;
}
