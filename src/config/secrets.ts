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

function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
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
      let value: string;
      try {
        value = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new ConfigError(`${key}: secret file ${ref.file} cannot be read (${errnoCode(err)})`);
      }
      if (!value) throw new ConfigError(`${key}: secret file ${ref.file} is empty`);
      return value;
    }
    if (ref.generate) {
      const value = randomBytes(32).toString('base64url');
      // 'wx' refuses to overwrite a file another instance created meanwhile.
      try {
        // 0700: nobody else may list or add secrets; the mode applies to every directory this creates.
        mkdirSync(dirname(ref.file), { recursive: true, mode: 0o700 });
        writeFileSync(ref.file, `${value}\n`, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if (errnoCode(err) === 'EEXIST' && existsSync(ref.file)) return resolveSecret({ ...ref, generate: false }, key, options);
        throw new ConfigError(`${key}: cannot write a generated secret to ${ref.file} (${errnoCode(err)})`);
      }
      options.onGenerated?.(ref.file);
      return value;
    }
  }
  const sources = [ref.env && `env ${ref.env}`, ref.file && `file ${ref.file}`].filter(Boolean).join(' or ');
  throw new ConfigError(`${key}: no secret found (looked in ${sources})`);
}
