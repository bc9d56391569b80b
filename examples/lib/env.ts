// Reading the examples' settings from the environment when a file is run on its own (docker compose, a shell).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Whether the module at `moduleUrl` is the one node was asked to run. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(resolve(process.argv[1])).href === moduleUrl;
}

/** `env[name]`, else the file named by `env[name_FILE]`, else `defaultFile` (where `npm start` generates dev secrets). */
export function secretFromEnv(name: string, defaultFile: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value) return value;
  const file = env[`${name}_FILE`] || defaultFile;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new Error(`no secret: set ${name} or ${name}_FILE (looked in ${file})`);
  }
}

export function setting(name: string, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  return env[name] || fallback;
}
