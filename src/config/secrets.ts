// Resolves secret references (env var or file) at start; generates development secrets when the config allows it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SecretRef } from './schema.js';
import { ConfigError } from './load.js';

export interface SecretOptions {
  env?: NodeJS.ProcessEnv;
  /** Called once per generated secret, so start-up can warn about development defaults. */
  onGenerated?: (file: string) => void;
}

/** Returns the secret a reference names; throws a ConfigError naming `key` when it has no value. */
export function resolveSecret(ref: SecretRef, key: string, options: SecretOptions = {}): string {
  const env = options.env ?? process.env;
  if (ref.env !== undefined) {
    const value = env[ref.env];
    if (value) return value;
  }
  if (ref.file !== undefined) {
    if (existsSync(ref.file)) {
      const value = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
      if (!value) throw new ConfigError(`${key}: secret file ${ref.file} is empty`);
      return value;
    }
    if (ref.generate) {
      const value = randomBytes(32).toString('base64url');
      mkdirSync(dirname(ref.file), { recursive: true });
      // 'wx' refuses to overwrite a file another instance created meanwhile.
      try {
        writeFileSync(ref.file, `${value}\n`, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return resolveSecret({ ...ref, generate: false }, key, options);
        throw err;
      }
      options.onGenerated?.(ref.file);
      return value;
    }
  }
  const sources = [ref.env && `env ${ref.env}`, ref.file && `file ${ref.file}`].filter(Boolean).join(' or ');
  throw new ConfigError(`${key}: no secret found (looked in ${sources})`);
}
