// The fuzzer's world: a real service on real Redis (own key prefix), the fuzz IdP as a trusted issuer, pools of live
// tokens (users' opaque tokens, delegation tokens) and what has been revoked so far, which the oracle reads.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, type JWTVerifyGetKey } from 'jose';
import { Redis } from 'ioredis';
import { deleteKeysWithPrefix, freePort } from '../tools/local.js';
import { parseConfig } from '../src/config/load.js';
import type { Config, ConfigInput } from '../src/config/schema.js';
import { sidPrefixFor } from '../src/token_types/context.js';
import { loginUser, postForm } from '../test/helpers/http.js';
import { AT, EXCHANGE, REDIS_URL, randomUUID, startService, testConfig, type TestService } from '../test/helpers/service.js';
import { startFuzzIdp, type FuzzIdp } from './idp.js';
import { startRedis } from '../test/helpers/private_redis.js';

export const IDP_SCOPES = ['crm.lookup_customer', 'crm.export_customers', 'billing.refund_lookup'];
export const IDP_SUBS = ['ext-0', 'ext-1', 'ext-2', 'ext-3'];
export const IDP_SIDS = ['s-0', 's-1', 's-2', 's-3', 's-4', 's-5'];
/** Other clients whose users' tokens an agent may exchange (`agents[].subjectClients`). */
export const SUBJECT_CLIENTS = { agent: ['agent2'] } as const;
/**
 * The fuzz IdP's client ids and which of our clients may exchange its tokens naming them (`trustedIssuers[].clients`):
 * its `agent2` also by our agent (a revocable client of ours as prior actor), and `idp-app`, none of ours, by agent2 and
 * the CRM server. An id not listed maps to our client of the same id.
 */
export const IDP_CLIENTS: Record<string, string[]> = { agent2: ['agent2', 'agent'], 'idp-app': ['agent2', 'crm-server'] };

export interface UserToken {
  token: string;
  sub: string;
  groups: string[];
  issuedTo: string;
  sid: string;
  scopes: Set<string>;
  iat: number;
  exp: number;
  /** Revoked at the revocation endpoint by its own client (RFC 7009), as the fuzzer saw it answered 200. */
  revoked: boolean;
  /** Another client's revocation request was answered 200: whether it took effect is unknown, so never judged on it. */
  uncertain: boolean;
  /** Revocation requests for it still in flight: until they answer, whether it is live is unknown. */
  pending: number;
}

export interface DelegationToken {
  token: string;
  jti: string;
  aud: string;
  sub: string;
  sid: string;
  clientId: string;
  scopes: Set<string>;
  act: unknown;
  groups: string[];
  iat: number;
  exp: number;
  /** The pool user token it was derived from (directly or through a hop), for revocation that follows derivation. */
  parent?: UserToken;
  /** Exchanged from a user token issued to another client, which its chain names as prior actor (subjectClients). */
  viaHolder?: boolean;
  /**
   * The act chain the rules give it (RFC 8693 §4.1: each actor of its chain over the one before, the client the user
   * token was issued to innermost when another exchanged it), which the cases judge by, not the `act` it carries.
   */
  expectedAct?: unknown;
  refresh?: () => Promise<DelegationToken | undefined>;
  refreshing?: boolean;
}

export interface Cutoff {
  /** Epoch seconds, read on this machine when the admin API answered. */
  at: number;
}

export interface World {
  svc: TestService;
  idp: FuzzIdp;
  config: Config;
  keyPrefix: string;
  serviceJwks: JWTVerifyGetKey;
  idpSidPrefix: string;
  users: UserToken[];
  /** Revoked only by the fuzz revocation requests, so the long-lived pool above stays usable. */
  sacrificial: UserToken[];
  delegations: DelegationToken[];
  /** Pool tokens whose `act` is not the chain the rules give (RFC 8693 §4.1): the oracle's findings for the setup. */
  setupActMismatches: string[];
  adminToken: string;
  /** An admin token only the fuzz revocation and introspection cases name, so revoking it leaves the others working. */
  exposedAdminToken: string;
  nonAdminToken: string;
  revokedSids: Set<string>;
  revokedJtis: Set<string>;
  revokedSubs: Map<string, Cutoff>;
  revokedClients: Map<string, Cutoff>;
  secretOf(clientId: string): string;
  /** Admin revocation (kind: sessions | subjects | clients | tokens); resolves with the HTTP status. */
  adminRevoke(kind: string, value: string): Promise<number>;
  redisOutage?: { stop(): Promise<void>; start(): Promise<void> };
  close(): Promise<void>;
}

const now = () => Math.floor(Date.now() / 1000);

export async function startWorld({ outage = false }: { outage?: boolean } = {}): Promise<World> {
  const idp = await startFuzzIdp();
  const keyPrefix = `fuzz:${randomUUID()}:`;
  let redisUrl = REDIS_URL;
  let redisChild: ChildProcess | undefined;
  let redisPort = 0;
  let redisDir = '';
  if (outage) {
    redisPort = await freePort();
    redisDir = mkdtempSync(join(tmpdir(), 'dts-fuzz-redis-'));
    redisChild = await startRedis(redisPort, { persistDir: redisDir });
    redisUrl = `redis://127.0.0.1:${redisPort}`;
  }
  const extra = (port: number): Partial<ConfigInput> => ({
    redis: { url: redisUrl, keyPrefix },
    agents: testConfig(port, keyPrefix, '').agents!.map((a) => {
      // RFC 8693 §4.1: agent may exchange the user tokens issued to agent2 (agent2 then the prior actor), never the
      // reverse; the run's revocation of agent2 (fuzz.ts) reaches those exchanges and the tokens they issued.
      if (a.clientId === 'agent') return { ...a, subjectClients: [...SUBJECT_CLIENTS.agent] };
      // billing-server hops a billing token back to the CRM (billing.refund_lookup, which the CRM server accepts), so
      // the pool holds chains of three and four actors: the act cap (exchange.maxActDepth) is met on both sides.
      if (a.clientId === 'billing-server') return { ...a, toolServers: a.toolServers!.map((t) => ({ ...t, scopes: [...new Set([...t.scopes, 'billing.refund_lookup'])] })) };
      return a;
    }),
    trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: IDP_SCOPES, clients: IDP_CLIENTS }],
  });
  const svc = await startService({ extra });
  const port = Number(new URL(svc.url).port);
  const assertLoopback = new URL(svc.url).hostname;
  if (assertLoopback !== '127.0.0.1' && assertLoopback !== 'localhost') throw new Error(`refusing to fuzz a non-loopback target: ${svc.url}`);
  // The same configuration the service parsed (startService builds it the same way): the oracle's policy comes from it.
  const config = parseConfig(testConfig(port, keyPrefix, '', extra(port)));

  const discovery = await (await fetch(`${svc.url}/.well-known/openid-configuration`)).json() as { jwks_uri: string };
  const serviceJwks = createLocalJWKSet(await (await fetch(discovery.jwks_uri)).json() as { keys: [] });
  const groupsOf = (sub: string) => config.demoLogin.users.find((u) => u.sub === sub)?.groups ?? [];

  async function login(clientId: string, username: string): Promise<UserToken> {
    const r = await loginUser(svc, { clientId, username });
    const sub = config.demoLogin.users.find((u) => u.username === username)!.sub;
    const entry: UserToken = {
      token: r.accessToken, sub, groups: groupsOf(sub), issuedTo: clientId, sid: '', scopes: new Set(r.scope.split(' ')),
      iat: now(), exp: now() + r.expiresIn, revoked: false, uncertain: false, pending: 0,
    };
    // The session id is only visible in what the token is exchanged for.
    const d = await exchangeOnce(clientId, entry.token, config.toolServers[0]!.resource, 'crm.lookup_customer');
    if (!d) throw new Error(`fuzz setup: ${clientId} could not exchange ${username}'s token`);
    entry.sid = d.sid;
    return entry;
  }

  async function exchangeOnce(clientId: string, subjectToken: string, resource: string, scope: string, parent?: UserToken, groups: string[] = []): Promise<DelegationToken | undefined> {
    const res = await postForm(`${svc.url}/token`, { grant_type: EXCHANGE, subject_token: subjectToken, subject_token_type: AT, resource, scope }, { authorization: svc.basic(clientId) });
    if (res.status !== 200) return undefined;
    const token = res.body.access_token as string;
    const c = decodeJwt(token);
    return {
      token, jti: c.jti!, aud: c.aud as string, sub: c.sub!, sid: c.sid as string, clientId, scopes: new Set(String(c.scope).split(' ')), act: c.act,
      groups, iat: c.iat!, exp: c.exp!, ...(parent ? { parent } : {}),
    };
  }

  const [crm, billing] = [config.toolServers[0]!.resource, config.toolServers[1]!.resource];
  const users: UserToken[] = [];
  for (const [client, name] of [['agent', 'alice'], ['agent', 'bob'], ['agent', 'alice'], ['agent', 'bob'], ['agent2', 'alice'], ['agent2', 'bob']] as const) {
    users.push(await login(client, name));
  }
  const sacrificial: UserToken[] = [];
  for (const [client, name] of [['agent', 'alice'], ['agent', 'bob'], ['agent2', 'bob']] as const) sacrificial.push(await login(client, name));

  // Delegation tokens, each chain re-minted step by step once a step nears its end: for agent's users, agent -> CRM,
  // agent -> billing for bob, the CRM server's hop to billing and billing-server's hop from that back to the CRM (three
  // actors); for agent2's users, agent2 -> CRM, and agent -> CRM (subjectClients: agent2 the prior actor) with the same
  // two hops after it (three and four actors).
  const delegations: DelegationToken[] = [];
  /** A step of a chain: its current token (re-minted once within 20 s of its end), and whether it took the holder path. */
  interface Step { current(): Promise<DelegationToken>; viaHolder: boolean; expectedAct: unknown }
  const chain = async (u: UserToken, client: string, resource: string, scope: string, from?: Step): Promise<Step | undefined> => {
    const viaHolder = from ? from.viaHolder : u.issuedTo !== client;
    const expectedAct = { sub: client, ...(from ? { act: from.expectedAct } : viaHolder ? { act: { sub: u.issuedTo } } : {}) };
    const mint = async () => {
      const d = await exchangeOnce(client, from ? (await from.current()).token : u.token, resource, scope, u, u.groups);
      return d && { ...d, viaHolder, expectedAct };
    };
    const d = await mint();
    // A hop the policy refuses (say, a tool-server group limit) is simply not in the pool.
    if (!d) return undefined;
    d.refresh = mint;
    delegations.push(d);
    // The next step re-exchanges this step's token: its own copy, so a refresh of the pool entry does not move it.
    let current = { ...d };
    return {
      viaHolder,
      expectedAct,
      async current() {
        if (current.exp - now() < 20) current = (await mint()) ?? current;
        return current;
      },
    };
  };
  for (const u of [...users, ...sacrificial]) {
    if (u.issuedTo === 'agent') {
      const viaCrm = await chain(u, 'agent', crm, 'crm.lookup_customer billing.refund_lookup');
      if (u.groups.includes('finance')) await chain(u, 'agent', billing, 'billing.refund_lookup');
      if (!viaCrm) throw new Error('fuzz setup: the agent could not exchange a user token for the CRM');
      const hop = await chain(u, 'crm-server', billing, 'billing.refund_lookup', viaCrm);
      if (hop) await chain(u, 'billing-server', crm, 'billing.refund_lookup', hop);
    } else {
      await chain(u, u.issuedTo, crm, 'crm.lookup_customer');
      const viaAgent = await chain(u, 'agent', crm, 'crm.lookup_customer billing.refund_lookup');
      if (!viaAgent) throw new Error(`fuzz setup: agent (subjectClients ${u.issuedTo}) could not exchange a user token for the CRM`);
      const hop = await chain(u, 'crm-server', billing, 'billing.refund_lookup', viaAgent);
      if (hop) await chain(u, 'billing-server', crm, 'billing.refund_lookup', hop);
    }
  }

  const setupActMismatches = delegations
    .filter((d) => !isDeepStrictEqual(d.act, d.expectedAct))
    .map((d) => `pool token of ${d.clientId} for ${d.aud}: act ${JSON.stringify(d.act)}≠${JSON.stringify(d.expectedAct)}`);

  const cc = async (scope: string) => {
    const r = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', scope }, { authorization: svc.basic('admin-cli') });
    if (r.status !== 200) throw new Error(`fuzz setup: client_credentials failed: ${JSON.stringify(r.body)}`);
    return r.body.access_token as string;
  };
  const adminToken = await cc('admin');
  const exposedAdminToken = await cc('admin');
  // The scheduled revocations use a token no fuzz case ever sees (a fuzz case may revoke the others).
  const scheduleToken = await cc('admin');
  const nonAdminToken = await cc('crm.lookup_customer');

  let outageControl: World['redisOutage'];
  if (redisChild) {
    outageControl = {
      stop: async () => {
        const child = redisChild!;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      },
      start: async () => {
        redisChild = await startRedis(redisPort, { persistDir: redisDir });
      },
    };
  }

  return {
    svc, idp, config, keyPrefix, serviceJwks, idpSidPrefix: sidPrefixFor(idp.issuer), users, sacrificial, delegations, setupActMismatches, adminToken, exposedAdminToken, nonAdminToken,
    revokedSids: new Set(), revokedJtis: new Set(), revokedSubs: new Map(), revokedClients: new Map(),
    secretOf: (clientId) => svc.secrets[clientId] ?? '',
    async adminRevoke(kind, value) {
      const res = await fetch(`${svc.url}/admin/${kind}/${encodeURIComponent(value)}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${scheduleToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'fuzz scheduled revocation' }),
      });
      await res.arrayBuffer();
      return res.status;
    },
    ...(outageControl ? { redisOutage: outageControl } : {}),
    async close() {
      await svc.stop();
      await idp.stop();
      if (redisChild) {
        const child = redisChild;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
        rmSync(redisDir, { recursive: true, force: true });
      } else {
        const redis = new Redis(REDIS_URL, { lazyConnect: true });
        await redis.connect();
        await deleteKeysWithPrefix(redis, keyPrefix);
        await redis.quit();
      }
    },
  };
}
