// Process entry (loaded by main.ts once the Node.js version is known to be supported): load config, build the
// service (service.ts is the composition root), listen, and shut down gracefully on SIGTERM/SIGINT (a second signal exits at once).
import { loadConfig } from './config/load.js';
import { drainOnSignal, startupFailure } from './http/startup.js';
import { createLogger, routeOidcProviderConsole } from './http/logger.js';
import { createService } from './service.js';
import { startTracing, type Tracing } from './tracing.js';

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
  routeOidcProviderConsole(logger);
  // Tracing only when OTEL_* asks for an exporter; otherwise nothing but the no-op API is loaded.
  let tracing: Tracing | undefined;
  try {
    tracing = await startTracing(process.env);
  } catch (err) {
    if (err instanceof TypeError) refuseToStart(`OpenTelemetry configuration: ${err.message.split('\n')[0]}`);
    throw err;
  }
  try {
    const service = await createService(config, { logger });
    await service.listen(config.port);
    logger.info({ issuer: config.issuer, port: config.port, config: file, store: service.stores.kind, kid: service.keys.signing.kid }, 'delegation token service listening');
    drainOnSignal(config.shutdown, logger, async (timings, log) => {
      await service.shutdown(timings, log);
      await tracing?.shutdown();
    });
  } catch (err) {
    const line = startupFailure(err, config.port);
    if (line !== undefined) refuseToStart(line);
    throw err;
  }
}

await main();
