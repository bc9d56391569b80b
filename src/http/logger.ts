// pino logger: JSON lines, pretty when a person watches the terminal. Tokens and secrets are never logged (redact as a net).
import { pino, type Logger } from 'pino';

/** One line of oidc-provider's lib/helpers/attention.js, colored (bold yellow or red, then reset) when on a TTY. */
const OIDC_PROVIDER_LINE = /^(?:\x1b\[[\d;]*m)?oidc-provider (WARNING|NOTICE): ([^]*?)(?:\x1b\[0m)?$/;

export function createLogger(level: string, pretty = Boolean(process.stdout.isTTY) && process.env.NODE_ENV !== 'production'): Logger {
  return pino({
    level,
    base: { service: 'delegation-token-service' },
    redact: { paths: ['*.access_token', '*.subject_token', '*.actor_token', '*.client_secret', '*.authorization', '*.token'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } } : {}),
  });
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
