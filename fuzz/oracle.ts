// Judges one response against what its case expected. A finding is one line a person can act on, with the case index
// so `npm run fuzz -- --seed S --replay I` sends the same request again.
import { isDeepStrictEqual } from 'node:util';
import { jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Case, ExpectedToken } from './cases.js';

export type FindingKind =
  | 'server_error'
  | 'wrongly_issued'
  | 'bad_token_claims'
  | 'introspection_disclosure'
  | 'admin_bypass'
  | 'foreign_revocation_accepted'
  | 'unauthenticated_accepted';

export interface Finding {
  kind: FindingKind;
  index: number;
  status: number;
  detail: string;
}

export interface Response {
  status: number;
  body: string;
}

function json(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** What every issued token must say (RFC 9068 §2, RFC 8693 §2.2.1/§4.1, SPEC profile), whether or not it should exist. */
export async function checkIssued(body: Record<string, unknown>, want: ExpectedToken | undefined, keys: JWTVerifyGetKey): Promise<string[]> {
  const bad: string[] = [];
  if (typeof body.access_token !== 'string') return ['no_access_token'];
  if ('refresh_token' in body) bad.push('refresh_token_issued');
  if (body.token_type !== 'Bearer' && body.token_type !== 'DPoP') bad.push(`token_type=${String(body.token_type)}`);
  let claims: Record<string, unknown>;
  try {
    const { payload, protectedHeader } = await jwtVerify(body.access_token, keys, { typ: 'at+jwt' });
    claims = payload;
    if (protectedHeader.alg === 'none' || protectedHeader.alg.startsWith('HS')) bad.push(`alg=${protectedHeader.alg}`);
  } catch (err) {
    return [...bad, `token_does_not_verify:${(err as { code?: string }).code ?? 'error'}`];
  }
  if (!want) return [...bad, 'issued_without_a_registered_target'];
  if (claims.aud !== want.aud) bad.push(`aud=${JSON.stringify(claims.aud)}≠${want.aud}`);
  if (claims.client_id !== want.client) bad.push(`client_id=${String(claims.client_id)}`);
  const granted = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : ['<scope not a string>'];
  const extra = granted.filter((s) => !want.allowed.has(s));
  if (extra.length) bad.push(`scope_widened:${extra.join(',')}`);
  if (want.sub !== undefined && claims.sub !== want.sub) bad.push('sub_changed');
  if (want.sid !== undefined && claims.sid !== want.sid) bad.push('sid_changed');
  const act = claims.act as { sub?: unknown; act?: unknown } | undefined;
  if (!act || act.sub !== want.client) bad.push('act_outermost_not_client');
  // RFC 8693 §4.1: the prior actors exactly as the case expects them (the subject's chain, or the client a user's token
  // was issued to), none when it expects none: a missing, changed or extra nested actor is a finding either way.
  else if (want.priorAct === undefined && act.act !== undefined) bad.push(`unexpected_prior_act:${JSON.stringify(act.act)}`);
  else if (!isDeepStrictEqual(act.act, want.priorAct)) bad.push(`prior_act_not_as_expected:${JSON.stringify(act.act) ?? 'none'}≠${JSON.stringify(want.priorAct)}`);
  if (act && typeof act === 'object' && Object.keys(act).some((k) => k !== 'sub' && k !== 'act')) bad.push(`act_outermost_extra_member:${Object.keys(act).join(',')}`);
  for (let a = act as Record<string, unknown> | undefined; a && typeof a === 'object'; a = a.act as typeof a) {
    if ('exp' in a || 'nbf' in a || 'aud' in a) bad.push('exp_nbf_aud_inside_act');
  }
  const iat = Number(claims.iat);
  const exp = Number(claims.exp);
  if (!(exp - iat <= want.maxTtl)) bad.push('ttl_above_tool_server_max');
  if (want.exp !== undefined && exp > want.exp) bad.push('outlives_subject_token');
  return bad;
}

export async function judge(c: Case, res: Response, opts: { outage: boolean; keys: JWTVerifyGetKey }): Promise<Finding[]> {
  const out: Finding[] = [];
  const add = (kind: FindingKind, detail: string) => out.push({ kind, index: c.index, status: res.status, detail });
  if (res.status >= 500 && !(res.status === 503 && opts.outage)) add('server_error', res.body.slice(0, 200));
  const body = json(res.body);
  const e = c.expect;
  switch (e.kind) {
    case 'exchange':
      if (res.status === 200 && body) {
        const claims = await checkIssued(body, e.token, opts.keys);
        if (e.mustNot.length) add('wrongly_issued', `must not issue: ${e.mustNot.join(',')}${claims.length ? `; token: ${claims.join(',')}` : ''}`);
        else if (claims.length) add('bad_token_claims', claims.join(','));
      }
      break;
    case 'introspect':
      if (res.status === 200 && body?.active === true) {
        if (!e.authOk) add('unauthenticated_accepted', 'introspection answered an unauthenticated caller');
        else if (!e.mayBeActive) add('introspection_disclosure', `active:true for a token this caller may not see (or revoked), client_id=${String(body.client_id)}`);
      } else if (res.status === 200 && !e.authOk) add('unauthenticated_accepted', 'introspection answered an unauthenticated caller');
      break;
    case 'revoke':
      if (res.status === 200 && !e.authOk) add('unauthenticated_accepted', 'revocation answered an unauthenticated caller');
      if (res.status === 200 && e.authOk && e.user && e.live && !e.owner) add('foreign_revocation_accepted', `RFC 7009 §2.1: revoked a token issued to ${e.user.issuedTo}`);
      break;
    case 'admin':
      if (res.status >= 200 && res.status < 300 && !e.authorized) add('admin_bypass', `admin ${c.request.method} answered ${res.status} without an admin token`);
      break;
  }
  return out;
}
