// Turns a recipe into an HTTP request against the world, with what the oracle expects: for an exchange, whether a token
// may be issued at all (from the rules of SPEC and issue 8, never from what the service does today) and what it must say.
import type { AgentPolicyConfig } from '../src/config/schema.js';
import { canonicalResource } from '../src/policy/resource.js';
import { b64u } from './idp.js';
import type { ClientName, ExchangeRecipe, IdpRecipe, Recipe, TargetRecipe, TokenRef, Weird } from './recipes.js';
import { IDP_SCOPES, IDP_SIDS, IDP_SUBS, type DelegationToken, type UserToken, type World } from './world.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TYPE_URN = (t: string) => (t === 'junk' ? 'urn:fuzz:not-a-type' : `urn:ietf:params:oauth:token-type:${t}`);
/** The admin API's identifier bounds, which issue 8 item 5 applies at the exchange too. */
const REVOCABLE_ID = /^[^\p{Cc}]+$/u;
const MAX_ID = 512;

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** What the issued token must say, when the oracle knows it. */
export interface ExpectedToken {
  client: string;
  aud: string;
  maxTtl: number;
  /** Scopes the token may carry: policy ∩ tool server ∩ subject (∩ requested). */
  allowed: Set<string>;
  sub?: string;
  sid?: string;
  exp?: number;
  /**
   * The prior actors, exactly what must sit under the new actor (RFC 8693 §4.1): the subject's own act chain, else the
   * client a user's token was issued to when another presents it; absent when none (then the token's act has no act).
   */
  priorAct?: unknown;
  /** The subject was issued to another client, which the chain names as prior actor (or, for a hop, already named). */
  holder?: HolderPath;
}

/** How a case reaches the prior actor of a token issued to another client: which subject token carries it. */
export type HolderPath = 'user_token' | 'external_jwt' | 'delegation';

export type Expectation =
  | { kind: 'exchange'; mustNot: string[]; token: ExpectedToken | undefined }
  | { kind: 'introspect'; authOk: boolean; mayBeActive: boolean }
  | { kind: 'revoke'; authOk: boolean; owner: boolean; live: boolean; user?: UserToken }
  | { kind: 'admin'; authorized: boolean };

export interface Case {
  index: number;
  recipe: Recipe;
  request: HttpRequest;
  expect: Expectation;
}

const now = () => Math.floor(Date.now() / 1000);

function weirdValue(w: Weird): unknown {
  switch (w.t) {
    case 'number': return 42;
    case 'array': return ['a', 'b'];
    case 'object': return { v: 'x' };
    case 'null': return null;
    case 'empty': return '';
    case 'long': return 'x'.repeat(w.n);
    case 'control': return 'a\u0000b\u001b[31m';
    case 'unicode': return w.s;
    case 'missing': return undefined;
  }
}

const validId = (v: unknown, extra = 0): v is string => typeof v === 'string' && v.length > 0 && v.length + extra <= MAX_ID && REVOCABLE_ID.test(v);

function authHeaders(world: World, client: ClientName, auth: string, form: URLSearchParams): Record<string, string> {
  const secret = world.secretOf(client);
  const basic = (s: string) => `Basic ${Buffer.from(`${encodeURIComponent(client)}:${encodeURIComponent(s)}`).toString('base64')}`;
  switch (auth) {
    case 'basic': return { authorization: basic(secret) };
    case 'post': form.set('client_id', client); form.set('client_secret', secret); return {};
    case 'wrong_secret': return { authorization: basic(`${secret}x`) };
    case 'basic_and_post': form.set('client_id', client); form.set('client_secret', secret); return { authorization: basic(secret) };
    case 'malformed_header': return { authorization: 'Basic !!!notbase64' };
    default: return {};
  }
}

/** Clients that may authenticate and use token exchange at all (SPEC profile: confidential, grant allowed). */
function exchangeClient(world: World, client: string): boolean {
  const c = world.config.clients.find((x) => x.client_id === client);
  return !!c && c.token_endpoint_auth_method !== 'none' && (c.grant_types as string[]).includes(EXCHANGE);
}

function clientRevokedFor(world: World, clients: string[], iat: number, why: string[]) {
  for (const c of new Set(clients)) {
    const cut = world.revokedClients.get(c);
    // iat <= cutoff is revoked; a second either side of it is left undecided.
    if (cut && iat < cut.at - 1) why.push(`client_revoked:${c}`);
  }
}

/** A pool token's act chain as the rules give it (world.ts `expectedAct`), not as it came back. */
const chainOf = (d: DelegationToken): unknown => d.expectedAct ?? d.act;

/**
 * README "Revoking", agent: a delegation token is revoked with every client in its chain, which names the client the
 * user token it derives from was issued to (innermost, as prior actor when another client exchanged that token).
 */
function delegationClients(d: DelegationToken): string[] {
  return [...actClients(chainOf(d)), ...(d.parent ? [d.parent.issuedTo] : [])];
}

function actClients(act: unknown): string[] {
  const out: string[] = [];
  for (let a = act as { sub?: unknown; act?: unknown } | undefined; a && typeof a === 'object'; a = a.act as typeof a) if (typeof a.sub === 'string') out.push(a.sub);
  return out;
}

interface Subject {
  token: string;
  why: string[];
  sub?: string;
  sid?: string;
  exp?: number;
  scopes: Set<string>;
  groups: string[];
  priorAct?: unknown;
  holder?: HolderPath;
  /** Unknown validity (e.g. a token another client may have revoked): never judged as must-not on its own account. */
  known: boolean;
}

/** Our user token from the pool: by index, or (`foreign`) among those issued to a client other than the presenter. */
function pickUser(world: World, i: number, foreign: boolean, client: string): UserToken {
  const pool = foreign ? world.users.filter((u) => u.issuedTo !== client) : world.users;
  return (pool.length ? pool : world.users)[i % (pool.length || world.users.length)]!;
}

function userSubject(world: World, u: UserToken, mutate: string, type: string, client: string): Subject {
  const why: string[] = [];
  let token = u.token;
  if (mutate === 'append') token += 'A';
  else if (mutate === 'truncate') token = token.slice(0, -3);
  else if (mutate === 'case') token = token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase();
  if (mutate !== 'none') why.push('not_a_live_token');
  if (type !== 'access_token') why.push('declared_type_mismatch');
  if (u.revoked) why.push('token_revoked');
  if (world.revokedSids.has(u.sid)) why.push('session_revoked');
  // SPEC binding: the client it was issued to, or an agent whose policy lists that client in subjectClients.
  const foreign = u.issuedTo !== client;
  if (foreign && !subjectClientsOf(world, client).includes(u.issuedTo)) why.push('not_bound_to_client');
  if (u.exp <= now()) why.push('expired');
  const sub = world.revokedSubs.get(u.sub);
  if (sub && u.iat < sub.at - 1) why.push('subject_revoked');
  // Issue 8 item 2 and README "Revoking": the presenter's revocation, and that of the client it was issued to.
  clientRevokedFor(world, [client, u.issuedTo], u.iat, why);
  return {
    token, why, sub: u.sub, sid: u.sid, exp: u.exp, scopes: u.scopes, groups: u.groups,
    // RFC 8693 §4.1: presented by another client, the client it was issued to is the prior actor.
    ...(foreign ? { priorAct: { sub: u.issuedTo } } : {}),
    ...(foreign && !why.includes('not_bound_to_client') ? { holder: 'user_token' as const } : {}),
    known: !u.uncertain,
  };
}

function subjectClientsOf(world: World, client: string): string[] {
  return world.config.agents.find((a) => a.clientId === client)?.subjectClients ?? [];
}

function delegationSubject(world: World, d: DelegationToken, mutate: string, type: string, client: string): Subject {
  const why: string[] = [];
  const [h, p, s] = d.token.split('.') as [string, string, string];
  let token = d.token;
  if (mutate === 'flip_signature') token = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
  else if (mutate === 'strip_signature') token = `${h}.${p}.`;
  else if (mutate === 'swap_payload') {
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    claims.scope = 'crm.lookup_customer crm.export_customers billing.refund_lookup billing.issue_refund';
    token = `${h}.${b64u(JSON.stringify(claims))}.${s}`;
  }
  if (mutate !== 'none') why.push('bad_signature');
  if (type !== 'access_token' && type !== 'jwt') why.push('declared_type_mismatch');
  const boundTo = world.config.toolServers.find((t) => t.resource === d.aud)?.clientId;
  if (boundTo !== client) why.push('not_bound_to_client');
  if (d.exp <= now() - 1) why.push('expired');
  if (world.revokedJtis.has(d.jti)) why.push('token_revoked');
  if (world.revokedSids.has(d.sid)) why.push('session_revoked');
  // Issue 8 item 13: a token derived from a revoked token is revoked too.
  if (d.parent?.revoked) why.push('ancestor_revoked');
  const sub = world.revokedSubs.get(d.sub);
  if (sub && d.iat < sub.at - 1) why.push('subject_revoked');
  // Issue 8 item 2: the requesting client and every client in the chain (with the user token's own client).
  clientRevokedFor(world, [client, ...delegationClients(d)], d.iat, why);
  return {
    token, why, sub: d.sub, sid: d.sid, exp: d.exp, scopes: d.scopes, groups: d.groups, priorAct: chainOf(d), known: !(d.parent?.uncertain ?? false),
    ...(d.viaHolder ? { holder: 'delegation' as const } : {}),
  };
}

function idpSubject(world: World, r: IdpRecipe, type: string, client: string): Subject {
  const why: string[] = [];
  const { idp } = world;
  const t = now();
  let signer = r.signer;
  if (r.extraHeader === 'jwk') signer = 'attacker';
  const naturalAlg = { ec: 'ES256', rsa: 'RS256', attacker: 'ES256', none: 'none', hs256_pubkey: 'HS256' }[signer];
  const alg = r.alg === 'auto' ? naturalAlg : r.alg;
  // RFC 8725 §3.1-3.2 / SPEC JW-01..05: only a trusted key, with its own algorithm, ever validates.
  if (signer !== 'ec' && signer !== 'rsa') why.push(`signed_by_${signer}`);
  if (alg !== naturalAlg) why.push('alg_mismatch');
  const rightKid = signer === 'rsa' || signer === 'hs256_pubkey' ? idp.rsaKid : idp.ecKid;
  const kid = { right: rightKid, absent: undefined, unknown: 'no-such-key', injection: "../../../dev/null' OR '1'='1", other_key: rightKid === idp.ecKid ? idp.rsaKid : idp.ecKid }[r.kid];
  if (r.kid === 'unknown' || r.kid === 'injection' || r.kid === 'other_key') why.push('kid_not_of_signing_key');
  const header: Record<string, unknown> = { alg, ...(kid !== undefined ? { kid } : {}) };
  if (r.typ !== 'absent') header.typ = r.typ;
  if (r.extraHeader === 'jku') header.jku = 'http://127.0.0.1:9/jwks';
  if (r.extraHeader === 'x5u') header.x5u = 'http://127.0.0.1:9/cert.pem';
  if (r.extraHeader === 'jwk') header.jwk = idp.attackerJwk;
  if (r.extraHeader === 'crit') {
    header.crit = ['urn:fuzz:unknown'];
    header['urn:fuzz:unknown'] = true;
    // RFC 7515 §4.1.11: an extension the receiver does not understand makes the JWS invalid.
    why.push('unknown_crit');
  }
  // RFC 8725 §3.11 (issue 8 item 12): the typ must fit the declared token type where it says anything.
  const typ = r.typ === 'absent' ? undefined : r.typ.toLowerCase().replace(/^application\//, '');
  if (typ === 'dpop+jwt') why.push('foreign_typ');
  if (type === 'access_token' && typ !== 'at+jwt') why.push('typ_not_at+jwt');
  if (type === 'id_token' && typ === 'at+jwt') why.push('access_token_as_id_token');
  if (type !== 'access_token' && type !== 'jwt' && type !== 'id_token') why.push('declared_type_mismatch');

  const claims: Record<string, unknown> = {};
  if (r.iss !== 'missing') claims.iss = { trusted: idp.issuer, untrusted: 'http://127.0.0.1:9/evil', trailing_slash: `${idp.issuer}/` }[r.iss];
  if (r.iss !== 'trusted') why.push('untrusted_issuer');
  const svcAud = `http://127.0.0.1:${new URL(world.svc.url).port}`;
  const aud = { service: svcAud, other: 'http://127.0.0.1:9/other', array_with_service: [svcAud, 'http://127.0.0.1:9/other'], missing: undefined, number: 7 }[r.aud];
  if (aud !== undefined) claims.aud = aud;
  if (r.aud !== 'service' && r.aud !== 'array_with_service') why.push('wrong_audience');

  const sub = r.sub.t === 'ok' ? IDP_SUBS[r.sub.i] : r.sub.t === 'local_bob' ? 'user-bob' : weirdValue(r.sub);
  if (sub !== undefined) claims.sub = sub;
  // The user is the account `x-<issuer hash>|<sub>` (token_types/context.ts accountIdFor), never the issuer's raw sub.
  const account = typeof sub === 'string' ? `${world.idpSidPrefix}|${sub}` : undefined;
  // RFC 7519 §4.1.2 and issue 8 items 5 and 8: a non-empty string the admin API can revoke (the account, within 512).
  if (!validId(sub, world.idpSidPrefix.length + 1)) why.push('bad_sub');
  const sessionValue = r.sid.t === 'ok' ? IDP_SIDS[r.sid.i] : weirdValue(r.sid);
  if (sessionValue !== undefined) claims.sid = sessionValue;
  const sid = typeof sessionValue === 'string' ? `${world.idpSidPrefix}.${sessionValue}` : undefined;
  if (!validId(sessionValue, world.idpSidPrefix.length + 1)) why.push('bad_sid');
  if (sid && world.revokedSids.has(sid)) why.push('session_revoked');

  const iat = { now: t, past: t - 120, within_leeway: t + 10, future: t + 3600, missing: undefined, string: String(t) }[r.iat];
  if (iat !== undefined) claims.iat = iat;
  // RFC 7519 §4.1.6 and issue 8 item 4: an iat beyond the leeway is refused.
  if (typeof iat !== 'number' || iat > t + world.config.exchange.clockToleranceSeconds) why.push('bad_iat');
  const exp = { soon: t + 300, long: t + 365 * 86400, past: t - 120, missing: undefined, string: String(t + 300) }[r.exp];
  if (exp !== undefined) claims.exp = exp;
  // RFC 7519 §4.1.4.
  if (typeof exp !== 'number' || exp <= t) why.push('bad_exp');
  if (r.nbf !== 'absent') claims.nbf = r.nbf === 'past' ? t - 60 : t + 3600;
  // RFC 7519 §4.1.5.
  if (r.nbf === 'future') why.push('not_yet_valid');

  let scopes = new Set(IDP_SCOPES);
  if (r.scope.t === 'string') {
    claims.scope = r.scope.scopes.join(' ');
    scopes = new Set(r.scope.scopes.filter((s) => scopes.has(s)));
  } else if (r.scope.t === 'array') claims.scope = r.scope.scopes;
  else if (r.scope.t === 'number') claims.scope = 3;
  else if (r.scope.t === 'null') claims.scope = null;
  // RFC 9068 §2.2.3 / RFC 8693 §4.2 and issue 8 item 7: a present scope is a space-delimited string.
  if (r.scope.t !== 'absent' && r.scope.t !== 'string') why.push('scope_not_a_string');

  const prior = { sub: 'prior-agent' };
  const actValue = {
    absent: undefined, ok: prior, string: 'prior-agent', numeric_sub: { sub: 5 }, with_exp: { sub: 'prior-agent', exp: t + 60 },
    deep: { sub: 'a1', act: { sub: 'a2', act: { sub: 'a3', act: { sub: 'a4' } } } },
  }[r.act];
  if (actValue !== undefined) claims.act = actValue;
  // RFC 8693 §4.1 (issue 8 item 10): a well-formed act is nested under the new actor and counts toward the cap.
  if (r.act === 'string' || r.act === 'numeric_sub' || r.act === 'with_exp') why.push('malformed_act');
  // ('deep', four actors, is over the cap once nested under the new actor: exchangeCase counts every chain.)
  // Issue 8 item 11: a token naming the client it was issued to (azp, client_id: each one it carries) may be exchanged
  // only by a client the trusted issuer's `clients` maps it to, by default our client of the same id.
  const otherClient = client === 'agent' ? 'agent2' : 'agent';
  const idpClients = world.config.trustedIssuers.find((t) => t.issuer === idp.issuer)?.clients ?? {};
  const mapped = (named: string) => (Object.hasOwn(idpClients, named) ? idpClients[named]! : [named]);
  // 'mapped': an IdP client id mapped to the presenter that is not the presenter (else, as 'other', one that is not).
  const namedClient = (how: 'self' | 'other' | 'mapped') =>
    how === 'self' ? client : how === 'other' ? otherClient : (Object.keys(idpClients).find((k) => k !== client && idpClients[k]!.includes(client)) ?? otherClient);
  const named: string[] = [];
  if (r.azp !== 'absent') named.push((claims.azp = namedClient(r.azp)) as string);
  if (r.clientIdClaim !== 'absent') named.push((claims.client_id = namedClient(r.clientIdClaim)) as string);
  if (named.some((n) => !mapped(n).includes(client))) why.push('bound_to_other_client');
  // RFC 8693 §4.4.
  if (r.mayAct !== 'absent') claims.may_act = { sub: r.mayAct === 'self' ? client : otherClient };
  if (r.mayAct === 'other') why.push('may_act_mismatch');
  const groups = { absent: undefined, finance: ['finance'], support: ['support'], string: 'finance', numbers: [1, 2] }[r.groups];
  if (groups !== undefined) claims.groups = groups;

  if (account !== undefined) {
    const cut = world.revokedSubs.get(account);
    if (cut && typeof iat === 'number' && iat < cut.at - 1) why.push('subject_revoked');
  }
  // Issue 8 item 2 and README "Revoking": the presenter, every client the token names as issued to, its chain's actors.
  if (typeof iat === 'number') clientRevokedFor(world, [client, ...named, ...actClients(actValue)], iat, why);

  let payloadJson = JSON.stringify(claims);
  // RFC 7519 §4: claim names must be unique.
  // Only a payload that already has a `sub` gets a second one: prepended to a payload without one, it would be the
  // token's only (valid) `sub`, and the case would wrongly expect a refusal.
  if (r.duplicateSub && Object.hasOwn(claims, 'sub')) {
    payloadJson = payloadJson.replace(/^\{/, '{"sub":"ext-0",');
    why.push('duplicate_claim');
  }
  const token = idp.sign(JSON.stringify(header), payloadJson, signer);
  // RFC 8693 §4.1: the token's own act chain; without one, the client it names as issued to (azp, else client_id),
  // with the issuer, when that is not the presenter.
  const holder = actValue === undefined && named[0] !== undefined && named[0] !== client ? { sub: named[0], iss: idp.issuer } : undefined;
  return {
    token, why, ...(account !== undefined ? { sub: account } : {}), ...(sid ? { sid } : {}), ...(typeof exp === 'number' ? { exp } : {}),
    scopes, groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
    ...(actValue !== undefined && !why.includes('malformed_act') ? { priorAct: actValue } : {}),
    ...(holder ? { priorAct: holder, holder: 'external_jwt' as const } : {}),
    known: true,
  };
}

function target(world: World, t: TargetRecipe, form: URLSearchParams): { resource?: string; why?: string } {
  const [crm, billing] = world.config.toolServers;
  const server = (w: 'crm' | 'billing') => (w === 'crm' ? crm! : billing!);
  switch (t.t) {
    case 'resource': form.append('resource', server(t.which).resource); return { resource: server(t.which).resource };
    case 'audience': form.append('audience', server(t.which).audiences[0]!); return { resource: server(t.which).resource };
    case 'resource_upper_host': {
      const u = server(t.which).resource.replace('tools.test', 'TOOLS.TEST');
      form.append('resource', u);
      return { resource: server(t.which).resource };
    }
    case 'unregistered': form.append('resource', 'http://tools.test/unknown/mcp'); return { why: 'unregistered_target' };
    case 'fragment': form.append('resource', `${crm!.resource}#frag`); return { why: 'malformed_target' };
    case 'relative': form.append('resource', 'tools.test/crm/mcp'); return { why: 'malformed_target' };
    case 'two': form.append('resource', crm!.resource); form.append('resource', billing!.resource); return { why: 'two_targets' };
    case 'none': return { why: 'no_target' };
    case 'junk': {
      form.append('resource', t.value);
      // A junk string that happens to name a registered tool server is a valid target.
      const canonical = canonicalResource(t.value);
      const hit = canonical ? world.config.toolServers.find((s) => s.resource === canonical) : undefined;
      return hit ? { resource: hit.resource } : { why: 'junk_target' };
    }
  }
}

function exchangeCase(world: World, r: ExchangeRecipe): { request: HttpRequest; expect: Expectation } {
  const form = new URLSearchParams();
  const mustNot: string[] = [];
  if (r.mutation !== 'missing_grant_type') form.set('grant_type', r.mutation === 'wrong_grant_type' ? 'urn:fuzz:grant' : EXCHANGE);
  if (r.mutation === 'missing_grant_type' || r.mutation === 'wrong_grant_type') mustNot.push('grant_type');
  const headers = authHeaders(world, r.client, r.auth, form);
  // SPEC TE-11 / OA-03: authenticated, exactly one method, a client allowed to exchange.
  if (r.auth !== 'basic' && r.auth !== 'post') mustNot.push(`client_auth:${r.auth}`);
  if (!exchangeClient(world, r.client)) mustNot.push('client_not_allowed');

  let subject: Subject;
  const s = r.subject;
  if (s.src === 'user') subject = userSubject(world, pickUser(world, s.i, s.foreign ?? false, r.client), s.mutate, r.subjectType, r.client);
  else if (s.src === 'delegation') subject = delegationSubject(world, s.holder ? pickHolderDelegation(world, s.i, r.client) : pickDelegation(world, s.i), s.mutate, r.subjectType, r.client);
  else if (s.src === 'idp') subject = idpSubject(world, s, r.subjectType, r.client);
  else subject = { token: s.value, why: ['junk_token'], scopes: new Set(), groups: [], known: true };
  if (subject.known) mustNot.push(...subject.why);
  form.set('subject_token', subject.token);
  if (r.mutation === 'missing_subject_token_type') mustNot.push('missing_subject_token_type');
  else form.set('subject_token_type', TYPE_URN(r.subjectType));
  if (!['access_token', 'jwt', 'id_token'].includes(r.subjectType)) mustNot.push('unsupported_subject_token_type');
  // RFC 6749 §3.2: no repeated parameters except resource/audience; RFC 8693 §2.1: actor_token and its type go together.
  switch (r.mutation) {
    case 'duplicate_subject_token': form.append('subject_token', subject.token); mustNot.push('repeated_parameter'); break;
    case 'duplicate_scope': form.append('scope', 'crm.lookup_customer'); form.append('scope', 'crm.lookup_customer'); mustNot.push('repeated_parameter'); break;
    case 'actor_token_without_type': form.set('actor_token', 'x.y.z'); mustNot.push('actor_unpaired'); break;
    case 'actor_type_without_token': form.set('actor_token_type', TYPE_URN('jwt')); mustNot.push('actor_unpaired'); break;
    case 'junk_actor_token': form.set('actor_token', 'eyJhbGciOiJub25lIn0.e30.'); form.set('actor_token_type', TYPE_URN('jwt')); mustNot.push('invalid_actor_token'); break;
    case 'requested_token_type_jwt': form.set('requested_token_type', TYPE_URN('jwt')); mustNot.push('unsupported_requested_token_type'); break;
    case 'requested_token_type_at': form.set('requested_token_type', TYPE_URN('access_token')); break;
    case 'unknown_param': form.set('fuzz_unknown', 'ignored'); break;
    default: break;
  }
  const tgt = target(world, r.target, form);
  if (tgt.why) mustNot.push(tgt.why);
  let requested: string[] | undefined;
  if (r.scope.t === 'list' && r.scope.scopes.length) requested = r.scope.scopes;
  if (r.scope.t === 'junk') requested = r.scope.value.split(' ').filter(Boolean);
  if (r.mutation !== 'duplicate_scope' && requested !== undefined) form.set('scope', requested.join(' '));
  if (requested && !requested.length) requested = undefined;

  let token: ExpectedToken | undefined;
  if (tgt.resource) {
    const server = world.config.toolServers.find((t) => t.resource === tgt.resource)!;
    const rule = policyRule(world.config.agents, r.client, server.resource);
    // SPEC profile: granted = requested ∩ subject's scopes ∩ policy for (agent, user, tool server); deny by default.
    if (!rule) mustNot.push('no_policy_rule');
    else if (rule.groups && !rule.groups.some((g) => subject.groups.includes(g))) mustNot.push('user_not_in_group');
    const allowed = new Set(
      (rule?.scopes ?? []).filter((x) => server.scopes.includes(x) && subject.scopes.has(x) && (!requested || requested.includes(x))),
    );
    if (requested && requested.some((x) => !allowed.has(x))) mustNot.push('scope_outside_policy_and_subject');
    // RFC 8693 §4.1: the new actor over every prior one (a holder too), at most exchange.maxActDepth.
    const depth = 1 + depthOf(subject.priorAct);
    if (depth > world.config.exchange.maxActDepth) mustNot.push('act_too_deep');
    token = {
      client: r.client, aud: server.resource, maxTtl: server.maxTtlSeconds, allowed,
      ...(subject.sub !== undefined ? { sub: subject.sub } : {}), ...(subject.sid !== undefined ? { sid: subject.sid } : {}),
      ...(subject.exp !== undefined ? { exp: subject.exp } : {}), ...(subject.priorAct !== undefined ? { priorAct: subject.priorAct } : {}),
      ...(subject.holder ? { holder: subject.holder } : {}),
    };
  }
  return {
    request: { method: 'POST', url: `${world.svc.url}/token`, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: form.toString() },
    expect: { kind: 'exchange', mustNot: [...new Set(mustNot)], token },
  };
}

function depthOf(act: unknown): number {
  let d = 0;
  for (let a = act as { act?: unknown } | undefined; a && typeof a === 'object'; a = a.act as typeof a) d += 1;
  return d;
}

function policyRule(agents: AgentPolicyConfig[], client: string, resource: string) {
  return agents.find((a) => a.clientId === client)?.toolServers.find((t) => canonicalResource(t.resource) === resource);
}

/** A pool token that took the holder path: among those for the presenter's tool server when there are such. */
function pickHolderDelegation(world: World, i: number, client: string): DelegationToken {
  const via = world.delegations.map((d, k) => [d, k] as const).filter(([d]) => d.viaHolder);
  const bound = via.filter(([d]) => world.config.toolServers.find((t) => t.resource === d.aud)?.clientId === client);
  const pool = bound.length ? bound : via;
  return pickDelegation(world, pool.length ? pool[i % pool.length]![1] : i);
}

function pickDelegation(world: World, i: number): DelegationToken {
  const d = world.delegations[i % world.delegations.length]!;
  if (d.refresh && !d.refreshing && d.exp - now() < 20 && !(d.parent?.revoked ?? false)) {
    d.refreshing = true;
    d.refresh()
      .then((fresh) => {
        if (fresh) Object.assign(d, { token: fresh.token, jti: fresh.jti, iat: fresh.iat, exp: fresh.exp, scopes: fresh.scopes, act: fresh.act, sid: fresh.sid });
      })
      .catch(() => undefined)
      .finally(() => {
        d.refreshing = false;
      });
  }
  return d;
}

/** The token a ref names, and who may see it (RFC 7662 §2.1 / SPEC §6, issue 8 item 14). */
function tokenOf(world: World, ref: TokenRef, sacrificial: boolean): { value?: string; user?: UserToken; delegation?: DelegationToken; owner?: string } {
  switch (ref.t) {
    case 'user': {
      const pool = sacrificial ? world.sacrificial : world.users;
      const u = pool[ref.i % pool.length]!;
      return { value: u.token, user: u, owner: u.issuedTo };
    }
    case 'delegation': {
      const d = pickDelegation(world, ref.i);
      return { value: d.token, delegation: d };
    }
    case 'admin': return { value: world.exposedAdminToken, owner: 'admin-cli' };
    case 'junk': return { value: ref.value };
    case 'missing': return {};
  }
}

function formCase(world: World, path: string, client: ClientName, auth: string, token: string | undefined, hint: string) {
  const form = new URLSearchParams();
  if (token !== undefined) form.set('token', token);
  if (hint !== 'absent') form.set('token_type_hint', hint === 'junk' ? 'fuzz_hint' : hint);
  const headers = authHeaders(world, client, auth, form);
  return { method: 'POST' as const, url: `${world.svc.url}${path}`, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: form.toString() };
}

const knownClient = (world: World, c: string) => world.config.clients.some((x) => x.client_id === c && x.token_endpoint_auth_method !== 'none');

export function materialize(world: World, index: number, recipe: Recipe): Case {
  switch (recipe.kind) {
    case 'exchange':
      return { index, recipe, ...exchangeCase(world, recipe) };
    case 'introspect': {
      const t = tokenOf(world, recipe.token, false);
      const path = recipe.endpoint === 'oidc' ? '/token/introspection' : '/token/introspection/delegation';
      const authOk = (recipe.auth === 'basic' || recipe.auth === 'post') && knownClient(world, recipe.client);
      let mayBeActive = false;
      if (t.user) {
        const u = t.user;
        mayBeActive = recipe.endpoint === 'oidc' && u.issuedTo === recipe.client && ((!u.revoked && !world.revokedSids.has(u.sid)) || u.uncertain);
      } else if (t.delegation) {
        const d = t.delegation;
        const viewer = world.config.toolServers.find((s) => s.resource === d.aud)?.clientId;
        const clientRevoked: string[] = [];
        clientRevokedFor(world, delegationClients(d), d.iat, clientRevoked);
        mayBeActive = (viewer === recipe.client || d.clientId === recipe.client) && !world.revokedJtis.has(d.jti) && !world.revokedSids.has(d.sid) && !clientRevoked.length && d.exp > now() - 2;
        if (d.parent?.uncertain) mayBeActive = mayBeActive || viewer === recipe.client || d.clientId === recipe.client;
      } else if (recipe.token.t === 'admin') mayBeActive = recipe.endpoint === 'oidc' && recipe.client === 'admin-cli';
      return { index, recipe, request: formCase(world, path, recipe.client, recipe.auth, t.value, recipe.hint), expect: { kind: 'introspect', authOk, mayBeActive } };
    }
    case 'revoke': {
      const t = tokenOf(world, recipe.token, true);
      const authOk = (recipe.auth === 'basic' || recipe.auth === 'post') && knownClient(world, recipe.client);
      return {
        index, recipe, request: formCase(world, '/token/revocation', recipe.client, recipe.auth, t.value, recipe.hint),
        expect: {
          kind: 'revoke', authOk, owner: t.owner === recipe.client,
          live: !!t.user && !t.user.revoked && !t.user.uncertain && t.user.pending === 0 && !world.revokedSids.has(t.user.sid),
          ...(t.user ? { user: t.user } : {}),
        },
      };
    }
    case 'admin': {
      const r = recipe;
      const headers: Record<string, string> = {};
      const bearer = { admin: world.adminToken, none: undefined, junk: 'not-a-token', user_token: world.users[0]!.token, basic: undefined, non_admin_scope: world.nonAdminToken, oversized: 'A'.repeat(5000) }[r.bearer];
      if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
      if (r.bearer === 'basic') headers.authorization = `Basic ${Buffer.from(`admin-cli:${world.secretOf('admin-cli')}`).toString('base64')}`;
      let method: 'GET' | 'POST' = 'GET';
      let path: string;
      switch (r.route.t) {
        case 'list_sessions': path = `/admin/sessions?${new URLSearchParams({ limit: r.route.query, cursor: r.route.query })}`; break;
        case 'get_session': path = `/admin/sessions/${encodeURIComponent(r.route.id)}`; break;
        case 'audit': path = `/admin/audit?${new URLSearchParams({ limit: r.route.query, since: r.route.query })}`; break;
        case 'revoke': method = 'POST'; path = `/admin/${r.route.kind}/${encodeURIComponent(r.route.id)}/revoke`; break;
        case 'unknown': path = r.route.path; break;
      }
      let body: string | undefined;
      if (method === 'POST' && r.body.t !== 'none') {
        body = r.body.t === 'json' ? JSON.stringify(r.body.value) ?? 'null' : r.body.value;
        headers['content-type'] = 'application/json';
      }
      return { index, recipe, request: { method, url: `${world.svc.url}${path}`, headers, ...(body !== undefined ? { body } : {}) }, expect: { kind: 'admin', authorized: r.bearer === 'admin' } };
    }
  }
}
