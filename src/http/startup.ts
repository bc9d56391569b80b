// What the service's process (server.ts) and the gateway's (gateway/main.ts) do the same way: judge a start-up
// failure, and drain on SIGTERM/SIGINT.
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { ConfigError } from '../config/load.js';
import { KeyStoreError } from '../keys/index.js';
import type { DrainTimings } from './shutdown.js';

/**
 * The one line an operator needs for a start-up failure they can fix (config, keys, secrets, port, Redis), or
 * undefined for anything else, which is a bug and keeps its stack trace.
 */
export function startupFailure(err: unknown, port: number | undefined): string | undefined {
  if (err instanceof ConfigError || err instanceof KeyStoreError) return err.message;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if ((err as { syscall?: string } | undefined)?.syscall === 'listen' && code !== undefined) {
    const why = code === 'EADDRINUSE' ? 'it is already in use' : code === 'EACCES' ? 'permission denied' : 'listen failed';
    // The management listener fails the same way: name the port that failed, not always the main one.
    return `cannot listen on port ${(err as { port?: number }).port ?? port}: ${why} (${code}); stop the other process or set PORT`;
  }
  if (err instanceof Error && /redis/i.test(err.message)) return err.message.split('\n')[0];
  return undefined;
}

/** Time allowed after delay + grace for the last events to be stored and Redis closed; then exit 1. */
const FLUSH_BUDGET_MS = 10_000;

/**
 * On SIGTERM/SIGINT (or an uncaught error): `stop(timings)` drains; a second signal exits at once (1), and the whole
 * sequence is bounded by delay + grace + the flush budget (then exit 1).
 */
export function drainOnSignal(shutdown: { deregistrationDelaySeconds: number; gracePeriodSeconds: number }, logger: Logger, stop: (timings: DrainTimings, log: (msg: string) => void) => Promise<void>): void {
  const timings = { deregistrationDelayMs: shutdown.deregistrationDelaySeconds * 1000, gracePeriodMs: shutdown.gracePeriodSeconds * 1000 };
  closeWithGrace(
    {
      delay: timings.deregistrationDelayMs + timings.gracePeriodMs + FLUSH_BUDGET_MS,
      logger: { error: (msg: unknown) => logger.error(String(msg)) },
      onSecondSignal: (signal) => logger.warn({ signal }, 'second signal: exiting now'),
      onTimeout: (ms) => logger.error({ ms }, 'shutdown did not finish in time: exiting'),
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'uncaught error: shutting down');
      else logger.info({ signal }, 'shutting down (send the signal again to exit at once)');
      await stop(timings, (msg) => logger.info(msg));
      logger.info('stopped');
    },
  );
}
