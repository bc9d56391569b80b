// The production gate: under NODE_ENV=production, development defaults stop the start unless the operator acknowledged them.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from './schema.js';

export type DevelopmentDefault = Config['production']['allowDevelopmentDefaults'][number];

const DEVELOPMENT_DEFAULTS: readonly DevelopmentDefault[] = ['demoLogin', 'generatedSecrets', 'generatedKeys', 'httpIssuer', 'memoryStore'];
// Loopback issuers are reachable only from the host itself, so plain http there exposes nothing on the network.
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isProduction(env: NodeJS.ProcessEnv): boolean {
  return env.NODE_ENV === 'production';
}

/** The acknowledgements in effect: env `ALLOW_DEVELOPMENT_DEFAULTS` (comma-separated) wins over the config. */
export function acknowledged(config: { production: { allowDevelopmentDefaults: readonly string[] } }, env: NodeJS.ProcessEnv): { values: Set<string>; unknown: string[] } {
  const raw = env.ALLOW_DEVELOPMENT_DEFAULTS;
  const values = raw === undefined ? [...config.production.allowDevelopmentDefaults] : raw.split(',').map((v) => v.trim()).filter(Boolean);
  return { values: new Set(values), unknown: values.filter((v) => !(DEVELOPMENT_DEFAULTS as readonly string[]).includes(v)) };
}

/**
 * Each development default the config uses, with the key that uses it. `cwd` is the directory the service resolves
 * relative paths against (the key file's), default this process's.
 */
export function developmentDefaults(config: Config, cwd?: string): Array<{ kind: DevelopmentDefault; where: string }> {
  const found: Array<{ kind: DevelopmentDefault; where: string }> = [];
  if (config.demoLogin.enabled) found.push({ kind: 'demoLogin', where: 'demoLogin.enabled is true' });
  const generated = [
    ...(config.cookieSecret.generate ? ['cookieSecret'] : []),
    ...config.clients.flatMap((c, i) => (c.client_secret?.generate ? [`clients.${i}.client_secret`] : [])),
  ];
  if (generated.length) found.push({ kind: 'generatedSecrets', where: generatedWhere(generated) });
  // Named here with the rest, so the first refusal is the whole list; the key store refuses again when it loads
  // (keyGenerationRefusal), in case the file goes missing in between.
  const keys = missingKeyFile(config.keys.file, cwd);
  if (keys) found.push(keys);
  const issuer = new URL(config.issuer);
  if (issuer.protocol !== 'https:' && !LOOPBACK_HOSTS.has(issuer.hostname)) found.push({ kind: 'httpIssuer', where: `issuer ${issuer.origin} is not https` });
  // The in-memory store is one process's: replicas would not share revocations, and a restart forgets them.
  if (!config.redis.url && !config.redis.clusterNodes?.length) {
    found.push({ kind: 'memoryStore', where: 'redis.url and redis.clusterNodes are unset (env REDIS_URL, REDIS_CLUSTER_NODES), so the store is in-memory' });
  }
  return found;
}

/**
 * `generatedKeys` when the key file `keys.file` does not exist, so a start would generate it; undefined otherwise (a
 * file that exists but cannot be read is the key store's error, not a development default).
 */
export function missingKeyFile(file: string, cwd?: string): { kind: 'generatedKeys'; where: string } | undefined {
  let missing: boolean;
  try {
    missing = statSync(cwd === undefined ? file : resolve(cwd, file), { throwIfNoEntry: false }) === undefined;
  } catch {
    missing = false;
  }
  return missing ? { kind: 'generatedKeys', where: `keys.file ${file} is missing (create it with \`dts keys generate --file ${file}\`)` } : undefined;
}

/**
 * One line naming every refused development default and how to acknowledge it, or undefined when the start may
 * proceed (not production, nothing refused, or everything refused is acknowledged).
 */
export function productionRefusal(config: Config, env: NodeJS.ProcessEnv, cwd?: string): string | undefined {
  if (!isProduction(env)) return undefined;
  const ack = acknowledged(config, env);
  if (ack.unknown.length) {
    return `NODE_ENV=production: unknown development default ${ack.unknown.join(', ')} in allowDevelopmentDefaults (known: ${DEVELOPMENT_DEFAULTS.join(', ')})`;
  }
  const refused = developmentDefaults(config, cwd).filter((d) => !ack.values.has(d.kind));
  return refused.length ? refusalLine(refused) : undefined;
}

/** `<keys> has/have generate: true`, naming the secrets that would be generated. */
export function generatedWhere(keys: readonly string[]): string {
  return `${keys.join(', ')} ${keys.length > 1 ? 'have' : 'has'} generate: true`;
}

/** The one line that refuses these development defaults and says how to acknowledge them. */
export function refusalLine(refused: ReadonlyArray<{ kind: DevelopmentDefault; where: string }>): string {
  return (
    `NODE_ENV=production refuses development defaults: ${refused.map((d) => d.where).join('; ')}. ` +
    `Fix them, or acknowledge with production.allowDevelopmentDefaults: [${refused.map((d) => d.kind).join(', ')}] ` +
    `(env ALLOW_DEVELOPMENT_DEFAULTS=${refused.map((d) => d.kind).join(',')})`
  );
}

/**
 * Why this start may not generate `what` (signing keys, the gateway's assertion keys) when the key file is missing, or
 * undefined when it may: always in development; in production only when acknowledged (`generatedKeys`). Replicas that
 * each generate their own keys publish different JWKS, and a restart without the key file would invalidate every
 * token issued before it.
 */
export function keyGenerationRefusal(config: { production: { allowDevelopmentDefaults: readonly string[] } }, env: NodeJS.ProcessEnv, what: string, command: string): string | undefined {
  if (!isProduction(env) || acknowledged(config, env).values.has('generatedKeys')) return undefined;
  return `NODE_ENV=production does not generate ${what}: create the file with \`${command}\` (or mount it), or acknowledge with production.allowDevelopmentDefaults: [generatedKeys] (env ALLOW_DEVELOPMENT_DEFAULTS=generatedKeys)`;
}
