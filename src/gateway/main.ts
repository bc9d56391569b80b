// `dts gateway --config <file>` (and `npm run gateway`): load the gateway configuration, build it, listen, and shut
// down on SIGTERM/SIGINT. Start-up failures an operator can fix are one line on stderr, exit 2.
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load.js';
import { createLogger } from '../http/logger.js';
import { KeyStoreError } from '../keys/index.js';
import { createGateway } from './gateway.js';
import { loadGatewayConfig } from './load.js';

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let file: string | undefined;
  try {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
    file = values.config ?? env.GATEWAY_CONFIG;
  } catch (err) {
    process.stderr.write(`dts gateway: ${(err as Error).message}; usage: dts gateway --config <file>\n`);
    return 2;
  }
  let gateway;
  let logger;
  try {
    const config = loadGatewayConfig(file, env);
    logger = createLogger(config.logLevel).child({ component: 'gateway' });
    gateway = await createGateway(config, { logger, env });
    const port = await gateway.listen(config.port, config.host);
    logger.info({ port, publicUrl: config.publicUrl, issuer: config.issuer, routes: config.routes.map((r) => ({ resource: r.resource, upstream: r.upstream })), kid: gateway.keys.signing.kid }, 'MCP gateway listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof ConfigError || err instanceof KeyStoreError) process.stderr.write(`${err.message}\n`);
    else if (code === 'EADDRINUSE' || code === 'EACCES') process.stderr.write(`cannot listen: ${code}; stop the other process or set PORT\n`);
    else if (err instanceof Error && /redis/i.test(err.message)) process.stderr.write(`${err.message.split('\n')[0]}\n`);
    else throw err;
    await gateway?.close().catch(() => {});
    return 2;
  }
  const g = gateway;
  const log = logger;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) process.exit(1);
      stopping = true;
      log.info({ signal }, 'shutting down');
      g.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.info('stopped');
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
