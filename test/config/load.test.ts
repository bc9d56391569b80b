// The configuration loader: defaults < file < environment; fails fast with every bad key named.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { generateKeyFile } from '../../src/keys/index.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const CRM = 'https://tools.example/crm';
const secret = { env: 'SECRET' };

const base = (): ConfigInput => ({
  clients: [
    { client_id: 'agent', client_secret: secret, grant_types: [EXCHANGE] },
    { client_id: 'crm-server', client_secret: secret },
  ],
  toolServers: [{ resource: CRM, audiences: ['crm'], scopes: ['crm.read', 'crm.write'], clientId: 'crm-server' }],
  agents: [{ clientId: 'agent', toolServers: [{ resource: CRM, scopes: ['crm.read'] }] }],
});

/** Asserts parseConfig throws a ConfigError whose message names each fragment. */
function refuses(input: unknown, ...fragments: string[]) {
  assert.throws(() => parseConfig(input), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    for (const f of fragments) assert.ok(err.message.includes(f), `"${f}" not in:\n${err.message}`);
    return true;
  });
}

describe('parseConfig', () => {
  it('defaults: port 3000, issuer from the port, 4 actors, 30 s leeway, memory store, no demo login', () => {
    const config = parseConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.exchange.maxActDepth, 4);
    assert.equal(config.exchange.clockToleranceSeconds, 30);
    assert.equal(config.redis.url, undefined);
    assert.equal(config.demoLogin.enabled, false);
    assert.deepEqual(config.clients, []);
  });

  it('drops a trailing slash from the issuer and canonicalizes resources everywhere', () => {
    const input = base();
    input.issuer = 'https://sts.example/';
    input.toolServers![0]!.resource = 'HTTPS://Tools.Example:443/crm';
    input.agents![0]!.toolServers![0]!.resource = 'https://TOOLS.example/crm';
    const config = parseConfig(input);
    assert.equal(config.issuer, 'https://sts.example');
    assert.equal(config.toolServers[0]!.resource, CRM);
    assert.equal(config.agents[0]!.toolServers[0]!.resource, CRM);
  });

  it('a bad value is named by its key path', () => {
    const input = base();
    input.toolServers![0]!.maxTtlSeconds = 5;
    refuses(input, 'invalid configuration', 'toolServers.0.maxTtlSeconds');
    refuses({ port: 70000 }, 'port');
    refuses({ exchange: { maxActDepth: 0 } }, 'exchange.maxActDepth');
    refuses({ logLevel: 'loud' }, 'logLevel');
    refuses({ clients: [{ client_id: 'x', token_endpoint_auth_method: 'tls_client_auth' }] }, 'clients.0.token_endpoint_auth_method');
    refuses({ toolServers: [{ resource: 'not a uri', scopes: ['a'] }] }, 'toolServers.0.resource');
    refuses({ issuer: 'ftp://sts.example' }, 'issuer');
  });

  it('the upstream client secret comes from env or a file, never generated', () => {
    const upstream = { issuer: 'https://idp.example', clientId: 'dts' };
    refuses({ upstreamLogin: { ...upstream, clientSecret: { file: 'x', generate: true } } }, 'upstreamLogin.clientSecret', 'is issued by the upstream provider: `generate` is not allowed');
    refuses({ upstreamLogin: { ...upstream, clientSecret: {} } }, 'upstreamLogin.clientSecret', 'needs env or file');
    assert.deepEqual(parseConfig({ upstreamLogin: { ...upstream, clientSecret: { env: 'UPSTREAM_SECRET', generate: false } } }).upstreamLogin?.clientSecret, { env: 'UPSTREAM_SECRET', generate: false });
  });

  it('a misspelt or unknown key is refused and named, not silently ignored', () => {
    refuses({ exchange: { maxActDeph: 1 } }, 'exchange', 'maxActDeph');
    refuses({ toolServers: [{ resource: CRM, scopes: ['a'], maxTTLSeconds: 60 }] }, 'toolServers.0', 'maxTTLSeconds');
    refuses({ prot: 1 }, 'prot');
  });

  it('an unknown client referenced by an agent policy, its subjectClients or a tool server', () => {
    const input = base();
    input.agents!.push({ clientId: 'ghost', toolServers: [] });
    input.agents![0]!.subjectClients = ['phantom'];
    input.toolServers![0]!.clientId = 'nobody';
    refuses(input, 'agents.1.clientId: unknown client ghost', 'agents.0.subjectClients.0: unknown client phantom', 'toolServers.0.clientId: unknown client nobody');
  });

  it('subjectClients, or a trusted issuer mapping its client to another of ours, with exchange.maxActDepth 1', () => {
    const input = base();
    input.clients!.push({ client_id: 'agent2', client_secret: secret, grant_types: [EXCHANGE] });
    input.agents![0]!.subjectClients = ['agent2'];
    input.exchange = { maxActDepth: 1 };
    input.trustedIssuers = [{ issuer: 'https://idp.example', jwksUri: 'https://idp.example/jwks', audience: 'https://dts.example', clients: { 'idp-app': ['agent'], agent: ['agent'] } }];
    refuses(input, 'agents.0.subjectClients: needs exchange.maxActDepth 2 or more', 'trustedIssuers.0.clients.idp-app: needs exchange.maxActDepth 2 or more');
    assert.doesNotMatch(String((() => { try { parseConfig(input); } catch (e) { return (e as Error).message; } })()), /clients\.agent:/);
    // At 2 both are accepted; so is an agent naming itself at 1.
    assert.equal(parseConfig({ ...input, exchange: { maxActDepth: 2 } }).exchange.maxActDepth, 2);
    assert.equal(parseConfig({ ...base(), exchange: { maxActDepth: 1 }, agents: [{ clientId: 'agent', subjectClients: ['agent'], toolServers: [] }] }).exchange.maxActDepth, 1);
  });

  it('an agent rule for an unregistered tool server, or with a scope the tool server does not accept', () => {
    const input = base();
    input.agents![0]!.toolServers!.push({ resource: 'https://tools.example/hr', scopes: ['hr.read'] });
    input.agents![0]!.toolServers![0]!.scopes = ['crm.read', 'crm.delete'];
    refuses(input, 'agents.0.toolServers.1.resource: not a registered tool server', 'agents.0.toolServers.0: scope crm.delete is not accepted by https://tools.example/crm');
  });

  it('defaultScopes outside the rule scopes are refused', () => {
    const input = base();
    input.agents![0]!.toolServers![0]!.defaultScopes = ['crm.write'];
    refuses(input, 'agents.0.toolServers.0: default scope crm.write is not in scopes');
  });

  it('duplicate client ids, resources and audience aliases', () => {
    const input = base();
    input.clients!.push({ client_id: 'agent', client_secret: secret });
    input.toolServers!.push({ resource: CRM, audiences: ['crm'], scopes: ['x'] });
    refuses(input, 'clients: duplicate client_id', 'toolServers: duplicate resource', 'toolServers.1.audiences: crm is used twice');
  });

  it('a client_id outside the revocable identifier bounds (over 512 characters, control characters) is refused', () => {
    for (const id of ['a'.repeat(513), 'agent\n', 'age\u0000nt']) {
      const input = base();
      input.clients!.push({ client_id: id, client_secret: secret });
      refuses(input, 'clients.2.client_id', 'the bounds of every revocable identifier');
    }
    const input = base();
    input.clients!.push({ client_id: 'b'.repeat(512), client_secret: secret });
    assert.equal(parseConfig(input).clients.at(-1)!.client_id, 'b'.repeat(512));
  });

  it('client authentication: secrets, keys, public clients and redirect URIs', () => {
    refuses({ clients: [{ client_id: 'a' }] }, 'clients.0.client_secret: required for client_secret_basic');
    refuses({ clients: [{ client_id: 'a', token_endpoint_auth_method: 'private_key_jwt' }] }, 'clients.0.jwks: required for private_key_jwt');
    refuses({ clients: [{ client_id: 'a', token_endpoint_auth_method: 'none' }] }, 'clients.0.grant_types: a public client may not use token exchange');
    refuses({ clients: [{ client_id: 'a', client_secret: secret, grant_types: ['authorization_code'] }] }, 'clients.0.redirect_uris: required for authorization_code');
    refuses({ clients: [{ client_id: 'a', client_secret: {} }] }, 'clients.0.client_secret', 'needs env or file');
  });
});

describe('loadConfig', () => {
  let dir: string;
  let file: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dts-config-'));
    file = join(dir, 'config.yaml');
    writeFileSync(file, 'port: 4000\nlogLevel: warn\nissuer: https://file.example\nredis: { url: "redis://file:6379", keyPrefix: "f:" }\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads CONFIG_FILE (YAML)', () => {
    const { config, file: used } = loadConfig({ CONFIG_FILE: file });
    assert.equal(used, file);
    assert.equal(config.port, 4000);
    assert.equal(config.issuer, 'https://file.example');
    assert.equal(config.logLevel, 'warn');
    assert.deepEqual(config.redis, { url: 'redis://file:6379', keyPrefix: 'f:', revocationReplicas: 0, revocationWaitMs: 500 });
  });

  it('reads JSON when the file ends in .json', () => {
    const json = join(dir, 'config.json');
    writeFileSync(json, JSON.stringify({ port: 4100 }));
    assert.equal(loadConfig({ CONFIG_FILE: json }).config.port, 4100);
  });

  it('env PORT, ISSUER, REDIS_URL and LOG_LEVEL override the file', () => {
    const { config } = loadConfig({ CONFIG_FILE: file, PORT: '5000', ISSUER: 'https://env.example/', REDIS_URL: 'redis://env:6380', LOG_LEVEL: 'debug' });
    assert.equal(config.port, 5000);
    assert.equal(config.issuer, 'https://env.example');
    assert.deepEqual(config.redis, { url: 'redis://env:6380', keyPrefix: 'f:', revocationReplicas: 0, revocationWaitMs: 500 });
    assert.equal(config.logLevel, 'debug');
  });

  it('REDIS_CLUSTER_NODES (comma-separated seeds) or redis.clusterNodes selects a Redis Cluster; with a Redis URL too it is refused in one line', () => {
    const nodes = 'redis://10.0.0.1:7000, rediss://u:p@10.0.0.2:7001,';
    const { config } = loadConfig({ CONFIG_FILE: file, REDIS_URL: '', REDIS_CLUSTER_NODES: nodes });
    assert.deepEqual(config.redis.clusterNodes, ['redis://10.0.0.1:7000', 'rediss://u:p@10.0.0.2:7001']);
    assert.equal(config.redis.url, undefined);
    assert.deepEqual(parseConfig({ redis: { clusterNodes: ['redis://a:1'] } }).redis.clusterNodes, ['redis://a:1']);
    assert.throws(
      () => loadConfig({ CONFIG_FILE: file, REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message.split('\n').filter((line) => line.startsWith('  ')).join('\n'), '  redis: set url (REDIS_URL) or clusterNodes (REDIS_CLUSTER_NODES), not both');
        return true;
      },
    );
    refuses({ redis: { clusterNodes: ['http://a:1'] } }, 'redis.clusterNodes.0: must be a redis:// or rediss:// URL');
    // Outside production an empty REDIS_CLUSTER_NODES, like an empty REDIS_URL, means unset.
    assert.equal(loadConfig({ CONFIG_FILE: file, REDIS_CLUSTER_NODES: '' }).config.redis.url, 'redis://file:6379');
  });

  it('env PORT also moves the default issuer; outside production an empty REDIS_URL selects the memory store', () => {
    const json = join(dir, 'plain.json');
    writeFileSync(json, JSON.stringify({ redis: { url: 'redis://file:6379' } }));
    const { config } = loadConfig({ CONFIG_FILE: json, PORT: '5001', REDIS_URL: '' });
    assert.equal(config.issuer, 'http://localhost:5001');
    assert.equal(config.redis.url, undefined);
  });

  it("with NODE_ENV=production an empty REDIS_URL or REDIS_CLUSTER_NODES is a config error, not unset (the file's Redis stays out of reach otherwise)", async () => {
    const json = join(dir, 'prod.json');
    // An existing key file: a missing one is a development default (generatedKeys) of its own.
    await generateKeyFile({ file: join(dir, 'prod-jwks.json') });
    writeFileSync(json, JSON.stringify({ issuer: 'https://sts.example', cookieSecret: { env: 'C' }, redis: { url: 'redis://file:6379' }, keys: { file: join(dir, 'prod-jwks.json') } }));
    const refusal = (name: string) => `${name} is set but empty: NODE_ENV=production refuses it (as unset, it would replace the config file's Redis with the in-memory store); unset it or give a value`;
    assert.throws(() => loadConfig({ CONFIG_FILE: json, NODE_ENV: 'production', REDIS_URL: '' }), (err: unknown) => err instanceof ConfigError && err.message === refusal('REDIS_URL'));
    assert.throws(() => loadConfig({ CONFIG_FILE: json, NODE_ENV: 'production', REDIS_CLUSTER_NODES: ' ,' }), (err: unknown) => err instanceof ConfigError && err.message === refusal('REDIS_CLUSTER_NODES'));
    assert.equal(loadConfig({ CONFIG_FILE: json, NODE_ENV: 'production' }).config.redis.url, 'redis://file:6379');
  });

  it('a Redis URL ioredis cannot parse is a config error naming the key, never quoting the value (it may hold a password)', () => {
    const bad = ['redis://:Pa55/w0rd@127.0.0.1:6379', 'redis://:Sup3rS3cret%zz@127.0.0.1:6379', 'http://127.0.0.1:6379', 'redis://', 'not a url'];
    for (const url of bad) {
      assert.throws(() => loadConfig({ CONFIG_FILE: file, REDIS_URL: url }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.message.split('\n').filter((line) => line.startsWith('  ')).join('\n'), '  redis.url: must be a redis:// or rediss:// URL with a host (percent-encode reserved characters in the user and password)');
        assert.ok(!err.message.includes('Pa55') && !err.message.includes('Sup3rS3cret'), err.message);
        return true;
      }, url);
    }
    assert.throws(() => loadConfig({ CONFIG_FILE: file, REDIS_URL: '', REDIS_CLUSTER_NODES: 'redis://:S3cret%zz@10.0.0.1:7000' }), (err: unknown) => err instanceof ConfigError && err.message.includes('redis.clusterNodes.0: must be a redis://') && !err.message.includes('S3cret'));
    // A password with reserved characters percent-encoded is fine.
    assert.equal(loadConfig({ CONFIG_FILE: file, REDIS_URL: 'rediss://app:Pa55%2Fw0rd@cache.internal:6380/0' }).config.redis.url, 'rediss://app:Pa55%2Fw0rd@cache.internal:6380/0');
  });

  it('bad env values are named', () => {
    for (const [env, key] of [[{ PORT: 'abc' }, 'port'], [{ PORT: '3000.5' }, 'port'], [{ LOG_LEVEL: 'chatty' }, 'logLevel'], [{ ISSUER: 'not a url' }, 'issuer']] as const) {
      assert.throws(() => loadConfig({ CONFIG_FILE: file, ...env }), (err: unknown) => err instanceof ConfigError && err.message.includes(key), JSON.stringify(env));
    }
  });

  it('an explicit CONFIG_FILE that does not exist, is not valid YAML/JSON, or is not an object: ConfigError', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'port: [unclosed\n');
    const list = join(dir, 'list.yaml');
    writeFileSync(list, '- 1\n- 2\n');
    const badJson = join(dir, 'bad.json');
    writeFileSync(badJson, '{');
    for (const [CONFIG_FILE, message] of [
      [join(dir, 'missing.yaml'), `config file ${join(dir, 'missing.yaml')} does not exist`],
      [bad, `config file ${bad} is not valid YAML at line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]`],
      [badJson, `config file ${badJson} is not valid JSON at line 1, column 2`],
      [list, `config file ${list} must hold an object`],
    ]) {
      assert.throws(() => loadConfig({ CONFIG_FILE }), (err: unknown) => err instanceof ConfigError && err.message === message, CONFIG_FILE);
    }
  });
});
