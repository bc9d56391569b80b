// Loads the configuration: defaults < config file (CONFIG_FILE, YAML or JSON) < environment. Fails fast with the key and the problem.
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { isProduction, productionRefusal } from './production.js';
import { configSchema, type Config } from './schema.js';
import { canonicalResource } from '../policy/resource.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_CONFIG_FILE = 'config/default.yaml';

/** Reads `file` (relative to `cwd`, default the process's own, as named in messages). */
function readConfigFile(file: string, explicit: boolean, cwd?: string): unknown {
  const path = cwd === undefined ? file : resolve(cwd, file);
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError(`config file ${file} does not exist`);
    return {};
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return file.endsWith('.json') ? JSON.parse(text) : (parseYaml(text) ?? {});
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}${syntaxErrorAt(text, err)}`);
  }
}

/**
 * Where a parse error is, as ` at line L, column C[: reason]`, on one line. The parsers' full messages quote the
 * surrounding text (yaml after its first line, V8 inside it), which may hold a secret: only yaml's first line is kept.
 */
function syntaxErrorAt(text: string, err: unknown): string {
  if (err instanceof YAMLParseError) {
    const pos = err.linePos?.[0];
    const reason = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').slice(0, 160);
    return pos ? ` at line ${pos.line}, column ${pos.col}: ${reason}` : `: ${reason}`;
  }
  const before = text.slice(0, jsonErrorOffset(text)).split('\n');
  return ` at line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/**
 * Offset of the first character that makes `text` invalid JSON: the end of its longest prefix that is still the
 * start of a valid document (V8 reports a position for some errors only, e.g. not for "Unexpected token").
 */
function jsonErrorOffset(text: string): number {
  const viable = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : '';
      if (message.includes('end of JSON input')) return true;
      const position = /at position (\d+)/.exec(message);
      return position !== null && Number(position[1]) >= length;
    }
  };
  if (viable(text.length)) return text.length; // the text ends too early
  let lo = 0; // viable: the empty text is only unfinished
  let hi = text.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (viable(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `  ${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('\n');
}

/**
 * Refuses an empty Redis variable (`REDIS_URL`, `REDIS_CLUSTER_NODES`) under NODE_ENV=production. Read as unset it
 * would quietly replace the config file's Redis with the in-memory store; in a deployment it is a template whose
 * value went missing (`REDIS_URL=${REDIS_URL}` with nothing set), never a choice. Outside production an empty value
 * still means unset: the way to run one command on the memory store while a REDIS_URL is exported in the shell.
 */
export function emptyRedisEnvRefusal(env: NodeJS.ProcessEnv, names: readonly string[]): string | undefined {
  if (!isProduction(env)) return undefined;
  const empty = names.filter((name) => env[name] !== undefined && env[name]!.split(',').every((part) => part.trim() === ''));
  if (empty.length === 0) return undefined;
  const [are, they, them] = empty.length > 1 ? ['are', 'they', 'them'] : ['is', 'it', 'it'];
  return `${empty.join(' and ')} ${are} set but empty: NODE_ENV=production refuses ${them} (as unset, ${they} would replace the config file's Redis with the in-memory store); unset ${them} or give a value`;
}

/** Applies the environment overrides named in the schema descriptions. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const emptyRedis = emptyRedisEnvRefusal(env, ['REDIS_URL', 'REDIS_CLUSTER_NODES']);
  if (emptyRedis) throw new ConfigError(emptyRedis);
  const out: Record<string, unknown> = { ...raw };
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    out.port = Number.isInteger(port) ? port : env.PORT;
  }
  if (env.ISSUER) out.issuer = env.ISSUER;
  if (env.LOG_LEVEL) out.logLevel = env.LOG_LEVEL;
  if (env.REDIS_URL !== undefined) {
    const redis = (typeof out.redis === 'object' && out.redis !== null ? out.redis : {}) as Record<string, unknown>;
    out.redis = { ...redis, url: env.REDIS_URL === '' ? undefined : env.REDIS_URL };
  }
  if (env.REDIS_CLUSTER_NODES !== undefined) {
    const redis = (typeof out.redis === 'object' && out.redis !== null ? out.redis : {}) as Record<string, unknown>;
    const nodes = env.REDIS_CLUSTER_NODES.split(',').map((seed) => seed.trim()).filter((seed) => seed !== '');
    out.redis = { ...redis, clusterNodes: nodes.length > 0 ? nodes : undefined };
  }
  return out;
}

/** Cross-references the schema cannot express: every policy names registered clients, tool servers and scopes. */
function checkReferences(config: Config): string[] {
  const problems: string[] = [];
  const clientIds = new Set(config.clients.map((c) => c.client_id));
  if (clientIds.size !== config.clients.length) problems.push('clients: duplicate client_id');
  const servers = new Map(config.toolServers.map((t) => [t.resource, t]));
  if (servers.size !== config.toolServers.length) problems.push('toolServers: duplicate resource');
  const aliases = new Set<string>();
  config.toolServers.forEach((t, i) => {
    if (t.clientId !== undefined && !clientIds.has(t.clientId)) problems.push(`toolServers.${i}.clientId: unknown client ${t.clientId}`);
    for (const a of t.audiences) {
      if (aliases.has(a)) problems.push(`toolServers.${i}.audiences: ${a} is used twice`);
      aliases.add(a);
    }
  });
  config.trustedIssuers.forEach((t, i) => {
    for (const [named, ours] of Object.entries(t.clients)) {
      // As for subjectClients: a token issued to `named` and exchanged by another client names `named` as prior actor.
      if (config.exchange.maxActDepth < 2 && ours.some((c) => c !== named)) {
        problems.push(`trustedIssuers.${i}.clients.${named}: needs exchange.maxActDepth 2 or more (the client it names is a prior actor)`);
      }
    }
  });
  config.agents.forEach((agent, i) => {
    if (!clientIds.has(agent.clientId)) problems.push(`agents.${i}.clientId: unknown client ${agent.clientId}`);
    agent.subjectClients.forEach((c, j) => {
      if (!clientIds.has(c)) problems.push(`agents.${i}.subjectClients.${j}: unknown client ${c}`);
    });
    // RFC 8693 §4.1: a token exchanged from another client's user token names that client as prior actor (two levels).
    if (config.exchange.maxActDepth < 2 && agent.subjectClients.some((c) => c !== agent.clientId)) {
      problems.push(`agents.${i}.subjectClients: needs exchange.maxActDepth 2 or more (the client it names is a prior actor)`);
    }
    agent.toolServers.forEach((rule, j) => {
      const server = servers.get(rule.resource);
      if (!server) {
        problems.push(`agents.${i}.toolServers.${j}.resource: not a registered tool server`);
        return;
      }
      for (const s of [...rule.scopes, ...(rule.defaultScopes ?? [])]) {
        if (!server.scopes.includes(s)) problems.push(`agents.${i}.toolServers.${j}: scope ${s} is not accepted by ${rule.resource}`);
      }
      // The default set is granted when a request names no scope: it may not reach beyond what the rule allows.
      for (const s of rule.defaultScopes ?? []) {
        if (!rule.scopes.includes(s)) problems.push(`agents.${i}.toolServers.${j}: default scope ${s} is not in scopes`);
      }
    });
  });
  config.clients.forEach((c, i) => {
    const confidential = c.token_endpoint_auth_method !== 'none';
    if (c.token_endpoint_auth_method.startsWith('client_secret') && !c.client_secret) problems.push(`clients.${i}.client_secret: required for ${c.token_endpoint_auth_method}`);
    if (c.token_endpoint_auth_method === 'private_key_jwt' && !c.jwks) problems.push(`clients.${i}.jwks: required for private_key_jwt`);
    if (!confidential && c.grant_types.includes('urn:ietf:params:oauth:grant-type:token-exchange')) {
      problems.push(`clients.${i}.grant_types: a public client may not use token exchange`);
    }
    if (c.grant_types.includes('authorization_code') && c.redirect_uris.length === 0) problems.push(`clients.${i}.redirect_uris: required for authorization_code`);
  });
  return problems;
}

/** Parses raw input into a Config, or throws a ConfigError naming each key and problem. */
export function parseConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(`invalid configuration:\n${formatIssues(result.error)}`);
  const parsed = result.data;
  const config: Config = {
    ...parsed,
    issuer: (parsed.issuer ?? `http://localhost:${parsed.port}`).replace(/\/$/, ''),
    toolServers: parsed.toolServers.map((t) => ({ ...t, resource: canonicalResource(t.resource) ?? t.resource })),
    agents: parsed.agents.map((a) => ({
      ...a,
      toolServers: a.toolServers.map((r) => ({ ...r, resource: canonicalResource(r.resource) ?? r.resource })),
    })),
  };
  const problems = checkReferences(config);
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return config;
}

/**
 * Loads the configuration from CONFIG_FILE (default config/default.yaml; relative to `cwd`, default this process's
 * directory) and the environment. Under NODE_ENV=production, refuses unacknowledged development defaults (see
 * production.ts).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd?: string): { config: Config; file: string } {
  const file = env.CONFIG_FILE || DEFAULT_CONFIG_FILE;
  const raw = readConfigFile(file, Boolean(env.CONFIG_FILE), cwd);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config file ${file} must hold an object`);
  const config = parseConfig(applyEnv(raw as Record<string, unknown>, env));
  const refusal = productionRefusal(config, env, cwd);
  if (refusal) throw new ConfigError(refusal);
  return { config, file };
}
