// Loads the gateway configuration: defaults < config file (YAML or JSON) < environment. Fails fast in one line.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, emptyRedisEnvRefusal } from '../config/load.js';
import { isProduction } from '../config/production.js';
import { canonicalResource } from '../policy/resource.js';
import { gatewayConfigSchema, type GatewayConfig } from './config.js';

export { ConfigError };

/** Env overrides: the names the schema's descriptions give. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  // As the service's loader: an empty REDIS_URL is refused in production, unset elsewhere.
  const emptyRedis = emptyRedisEnvRefusal(env, ['REDIS_URL']);
  if (emptyRedis) throw new ConfigError(emptyRedis);
  const out: Record<string, unknown> = { ...raw };
  if (env.PORT) out.port = Number.isInteger(Number(env.PORT)) ? Number(env.PORT) : env.PORT;
  if (env.HOST) out.host = env.HOST;
  if (env.GATEWAY_PUBLIC_URL) out.publicUrl = env.GATEWAY_PUBLIC_URL;
  if (env.ISSUER) out.issuer = env.ISSUER;
  if (env.LOG_LEVEL) out.logLevel = env.LOG_LEVEL;
  if (env.REDIS_URL !== undefined) {
    const redis = (typeof out.redis === 'object' && out.redis !== null ? out.redis : {}) as Record<string, unknown>;
    out.redis = { ...redis, url: env.REDIS_URL === '' ? undefined : env.REDIS_URL };
  }
  return out;
}

/** Parses raw input; every problem is named by key, all on one line. `env` decides only what production refuses. */
export function parseGatewayConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const result = gatewayConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid gateway configuration: ${problems.join('; ')}`);
  }
  const parsed = result.data;
  const issuer = parsed.issuer.replace(/\/$/, '');
  const serviceUrl = (parsed.serviceUrl ?? issuer).replace(/\/$/, '');
  const config: GatewayConfig = {
    ...parsed,
    issuer,
    serviceUrl,
    publicUrl: (parsed.publicUrl ?? `http://localhost:${parsed.port}`).replace(/\/$/, ''),
    jwksUri: parsed.jwksUri ?? `${serviceUrl}/jwks`,
    routes: parsed.routes.map((r) => ({ ...r, resource: canonicalResource(r.resource) ?? r.resource })),
  };
  const problems: string[] = [];
  const paths = new Set<string>();
  config.routes.forEach((route, i) => {
    const path = new URL(route.resource).pathname;
    if (paths.has(path)) problems.push(`routes.${i}.resource: path ${path} is used by another route`);
    paths.add(path);
    if (path.startsWith('/.well-known/') || ['/healthz', '/readyz', '/metrics'].includes(path)) problems.push(`routes.${i}.resource: path ${path} is reserved`);
  });
  if (config.management.port !== undefined && config.management.port === config.port) problems.push('management.port: must differ from `port`');
  if (!config.enforcement && isProduction(env)) problems.push('enforcement: false is refused with NODE_ENV=production');
  if (problems.length) throw new ConfigError(`invalid gateway configuration: ${problems.join('; ')}`);
  return config;
}

/** Reads `file` (YAML, or JSON when it ends in .json) and the environment. */
export function loadGatewayConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let raw: unknown = {};
  if (file !== undefined) {
    if (!existsSync(file)) throw new ConfigError(`gateway config file ${file} does not exist`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`gateway config file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      raw = file.endsWith('.json') ? JSON.parse(text) : (parseYaml(text) ?? {});
    } catch {
      // The parsers' messages quote the file's text, which may hold a secret: say where, not what.
      throw new ConfigError(`gateway config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}`);
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`gateway config file ${file} must hold an object`);
  return parseGatewayConfig(applyEnv(raw as Record<string, unknown>, env), env);
}
