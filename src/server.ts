// Composition root: load config, build the service, listen, stop cleanly on SIGINT/SIGTERM.
import { loadConfig, ConfigError } from './config/load.js';
import { KeyStoreError } from './keys/index.js';
import { createLogger } from './http/logger.js';
import { createService } from './service.js';

/**
 * The one line an operator needs for a start-up failure they can fix (config, keys, secrets, port, Redis), or
 * undefined for anything else, which is a bug and keeps its stack trace.
 */
function startupFailure(err: unknown, port: number | undefined): string | undefined {
  if (err instanceof ConfigError || err instanceof KeyStoreError) return err.message;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if ((err as { syscall?: string } | undefined)?.syscall === 'listen' && code !== undefined) {
    const why = code === 'EADDRINUSE' ? 'it is already in use' : code === 'EACCES' ? 'permission denied' : 'listen failed';
    return `cannot listen on port ${port}: ${why} (${code}); stop the other process or set PORT`;
  }
  if (err instanceof Error && /redis/i.test(err.message)) return err.message.split('\n')[0];
  return undefined;
}

/** Writes the line to stderr (synchronous on Linux pipes and files) and exits 2; nothing was served yet. */
function refuseToStart(line: string): never {
  process.stderr.write(`${line}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (err) {
    const line = startupFailure(err, undefined);
    if (line !== undefined) refuseToStart(line);
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
    const line = startupFailure(err, config.port);
    if (line !== undefined) refuseToStart(line);
    throw err;
  }
}

await main();
