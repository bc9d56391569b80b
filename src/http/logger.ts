// pino logger: JSON lines, pretty when a person watches the terminal. Tokens and secrets are never logged (redact as a net).
import { pino, type Logger } from 'pino';

export function createLogger(level: string, pretty = Boolean(process.stdout.isTTY) && process.env.NODE_ENV !== 'production'): Logger {
  return pino({
    level,
    base: { service: 'delegation-token-service' },
    redact: { paths: ['*.access_token', '*.subject_token', '*.actor_token', '*.client_secret', '*.authorization', '*.token'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } } : {}),
  });
}
