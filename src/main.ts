// Composition root: load config, build the service, listen, stop cleanly on SIGINT/SIGTERM.
import { loadConfig, ConfigError } from './config/load.js';
import { KeyStoreError } from './keys/index.js';
import { createLogger } from './http/logger.js';
import { createService } from './service.js';

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { config, file } = loaded;
  const logger = createLogger(config.logLevel);
  try {
    const service = await createService(config, { logger });
    await service.listen(config.port);
    logger.info({ issuer: config.issuer, port: config.port, config: file, store: service.stores.kind, kid: service.keys.signing.kid }, 'delegation token service listening');
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      service.close().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof KeyStoreError || (err instanceof Error && /redis/i.test(err.message))) {
      logger.fatal(err.message);
      // Give the (possibly asynchronous) log transport a moment to flush before exiting.
      setTimeout(() => process.exit(2), 100);
      return;
    }
    throw err;
  }
}

await main();
