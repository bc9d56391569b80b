// The service's version, read from its package.json (found upward from this file: src/ in development, dist/src/ built).
import { existsSync, readFileSync } from 'node:fs';

function findVersion(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    const file = new URL('package.json', dir);
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'delegation-token-service' && pkg.version) return pkg.version;
    }
    if (dir.pathname === '/') return '0.0.0-unknown';
  }
}

export const VERSION = findVersion();
