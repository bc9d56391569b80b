// Start-up failures of the service (server.ts) and the gateway (gateway/main.ts), judged the same way.
import { ConfigError } from '../config/load.js';
import { KeyStoreError } from '../keys/index.js';

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
