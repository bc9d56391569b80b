// `dts gateway --config <file>` (and `npm run gateway`): load the gateway configuration, build it, listen, and drain
// on SIGTERM/SIGINT as the service does (a second signal exits at once). Start-up failures an operator can fix are
// one line on stderr, exit 2.
import { parseArgs } from 'node:util';
import { createLogger } from '../http/logger.js';
import { drainOnSignal, startupFailure } from '../http/startup.js';
import type { GatewayConfig } from './config.js';
import { createGateway, type Gateway } from './gateway.js';
import { loadGatewayConfig } from './load.js';

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
    logger.info({ port, ...(config.management.port !== undefined ? { managementPort: config.management.port } : {}), publicUrl: config.publicUrl, issuer: config.issuer, routes: config.routes.map((r) => ({ resource: r.resource, upstream: r.upstream })), kid: gateway.keys.signing.kid }, 'MCP gateway listening');
    const running = gateway;
    drainOnSignal(config.shutdown, logger, async (timings, log) => {
      await running.shutdown(timings, log);
    });
  } catch (err) {
    const line = startupFailure(err, config?.port);
    if (line === undefined) throw err;
    process.stderr.write(`${line}\n`);
    await gateway?.close().catch(() => {});
    return 2;
  }
  return new Promise<number>(() => {});
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
