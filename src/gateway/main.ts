// `dts gateway --config <file>` (and `npm run gateway`): load the gateway configuration, build it, listen, and drain
// on SIGTERM/SIGINT as the service does (a second signal exits at once). Start-up failures an operator can fix are
// one line on stderr, exit 2.
import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { createLogger } from '../http/logger.js';
import { startupFailure } from '../http/startup.js';
import type { GatewayConfig } from './config.js';
import { createGateway, type Gateway } from './gateway.js';
import { loadGatewayConfig } from './load.js';

/** Time allowed after delay + grace for the last decision events to be stored and Redis closed; then exit 1. */
const FLUSH_BUDGET_MS = 10_000;

/**
 * Runs the gateway. Resolves with the exit code of a start-up failure (2); once listening it does not resolve: the
 * shutdown on SIGTERM/SIGINT ends the process (0 after the drain, 1 on a second signal or when it overran).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let file: string | undefined;
  try {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
    file = values.config ?? env.GATEWAY_CONFIG;
  } catch (err) {
    process.stderr.write(`dts gateway: ${(err as Error).message}; usage: dts gateway --config <file>\n`);
    return 2;
  }
  let gateway: Gateway | undefined;
  let config: GatewayConfig | undefined;
  try {
    config = loadGatewayConfig(file, env);
    const logger = createLogger(config.logLevel).child({ component: 'gateway' });
    gateway = await createGateway(config, { logger, env });
    const port = await gateway.listen(config.port, config.host);
    logger.info({ port, publicUrl: config.publicUrl, issuer: config.issuer, routes: config.routes.map((r) => ({ resource: r.resource, upstream: r.upstream })), kid: gateway.keys.signing.kid }, 'MCP gateway listening');
    drainOnSignal(gateway, config.shutdown, logger);
  } catch (err) {
    const line = startupFailure(err, config?.port);
    if (line === undefined) throw err;
    process.stderr.write(`${line}\n`);
    await gateway?.close().catch(() => {});
    return 2;
  }
  return new Promise<number>(() => {});
}

function drainOnSignal(gateway: Gateway, shutdown: GatewayConfig['shutdown'], logger: Logger): void {
  const timings = { deregistrationDelayMs: shutdown.deregistrationDelaySeconds * 1000, gracePeriodMs: shutdown.gracePeriodSeconds * 1000 };
  closeWithGrace(
    {
      // The whole sequence is bounded: delay + grace + a budget for flushing and closing Redis; then exit 1.
      delay: timings.deregistrationDelayMs + timings.gracePeriodMs + FLUSH_BUDGET_MS,
      logger: { error: (msg: unknown) => logger.error(String(msg)) },
      onSecondSignal: (signal) => logger.warn({ signal }, 'second signal: exiting now'),
      onTimeout: (ms) => logger.error({ ms }, 'shutdown did not finish in time: exiting'),
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'uncaught error: shutting down');
      else logger.info({ signal }, 'shutting down (send the signal again to exit at once)');
      await gateway.shutdown(timings, (msg) => logger.info(msg));
      logger.info('stopped');
    },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
