// pino logger: JSON lines, pretty when a person watches the terminal. Tokens and secrets are never logged (scrub.ts).
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { loggableFailure, loggableHeaders, scrub } from './scrub.js';

/** One line of oidc-provider's lib/helpers/attention.js, colored (bold yellow or red, then reset) when on a TTY. */
const OIDC_PROVIDER_LINE = /^(?:\x1b\[[\d;]*m)?oidc-provider (WARNING|NOTICE): ([^]*?)(?:\x1b\[0m)?$/;

/**
 * The service's and the gateway's logger. No credential reaches a line: a value under `err` is logged as
 * loggableFailure has it (type, code, message, stack and cause, credentials removed; none of an error's other
 * properties, which pino's own serializer would copy), one under `headers` as loggableHeaders has it, and the paths
 * below are redacted as a net. `destination` (a test's) replaces stdout and the pretty transport.
 *
 * @example
 * const logger = createLogger(config.logLevel);
 * logger.error({ reqId, err }, 'unhandled error');
 */
export function createLogger(level: string, pretty = Boolean(process.stdout.isTTY) && process.env.NODE_ENV !== 'production', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'delegation-token-service' },
    serializers: { err: (err: unknown) => (typeof err === 'string' ? scrub(err) : loggableFailure(err)), headers: loggableHeaders },
    // Each leading-wildcard path costs every line a walk of its fields (~3 µs a path): structured secrets belong in
    // the serializers above, not in more paths here.
    redact: { paths: ['*.access_token', '*.subject_token', '*.actor_token', '*.client_secret', '*.authorization', '*.token'], censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  return pino({ ...options, ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } } : {}) });
}

/**
 * oidc-provider reports its warnings and notices with `console.warn` / `console.info`, one plain line each (e.g. once
 * per process when the registration gate has parsed a request body before it). The service's log is JSON lines, so
 * those lines go to `logger` instead (`component: "oidc-provider"`, level warn or info); every other console call is
 * left as it was. For the process's lifetime (server.ts, once the logger exists).
 *
 * @example
 * routeOidcProviderConsole(logger);
 */
export function routeOidcProviderConsole(logger: Logger): void {
  const { warn, info } = console;
  const route =
    (original: (...args: unknown[]) => void) =>
    (...args: unknown[]): void => {
      const line = args.length === 1 && typeof args[0] === 'string' ? OIDC_PROVIDER_LINE.exec(args[0]) : null;
      if (!line) return original.apply(console, args);
      logger[line[1] === 'WARNING' ? 'warn' : 'info']({ component: 'oidc-provider' }, line[2]!);
    };
  console.warn = route(warn);
  console.info = route(info);
}
