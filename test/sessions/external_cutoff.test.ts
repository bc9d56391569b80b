// The `sub` and `client` cutoffs against a trusted issuer's login, as against our own sessions: a JWT the IdP issues
// after the cutoff for a login at or before it (`auth_time`, an IdP refresh) is revoked; revoke-subject ends the
// user's IdP sessions the registry recorded (a `sid` marker each), also for JWTs without `auth_time`; a later login
// starts afresh.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exchangeFor } from '../helpers/http.js';
import { CRM, JWT_TYPE, randomUUID, startService, type TestService } from '../helpers/service.js';
import { startTestIdp, type TestIdp } from '../helpers/test_idp.js';
import { adminToken, call } from '../admin/helpers.js';
import { sidPrefixFor } from '../../src/token_types/context.js';
import type { DecisionEvent, ExchangeDecisionEvent } from '../../src/audit/events.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };
const LOOKUP = 'crm.lookup_customer';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

describe("revocation cutoffs against a trusted issuer's login", () => {
  let svc: TestService;
  let idp: TestIdp;
  let admin: string;
  const events: DecisionEvent[] = [];
  const lastExchange = () => events.filter((e): e is ExchangeDecisionEvent => e.type === 'exchange').at(-1)!;

  before(async () => {
    idp = await startTestIdp();
    svc = await startService({
      extra: (port) => ({ trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: [LOOKUP] }] }),
    });
    svc.service.events.on((e) => events.push(e));
    admin = await adminToken(svc);
  });
  after(async () => {
    await svc.stop();
    await idp.stop();
  });

  const jwt = (sub: string, sid: string, extra: Record<string, unknown> = {}) => idp.sign({ sub, sid, aud: svc.url, scope: LOOKUP, ...extra });
  const send = (token: string, client = 'agent') => exchangeFor(svc, client, token, CRM, { scope: LOOKUP, subject_token_type: JWT_TYPE });
  async function refused(token: string, reason: string, client = 'agent') {
    const res = await send(token, client);
    assert.deepEqual([res.status, res.body], [400, SUBJECT_INVALID], reason);
    assert.deepEqual(lastExchange().reasons, [`subject_token:${reason}`]);
  }
  async function accepted(token: string, client = 'agent') {
    const res = await send(token, client);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  it('revoke-subject: an IdP refresh of a login before the cutoff is refused (auth_time); its recorded IdP sessions end (sid); a later login works', async () => {
    const sub = `ext-${randomUUID()}`;
    const [used, unused, fresh] = [randomUUID(), randomUUID(), randomUUID()];
    const login = now() - 60;
    // A session that exchanged (so the registry knows it), with a JWT carrying no auth_time.
    await accepted(await jwt(sub, used));
    await svc.service.flushAudit();
    const revoked = await call(svc, 'POST', `/admin/subjects/${encodeURIComponent(`${sidPrefixFor(idp.issuer)}|${sub}`)}/revoke`, { token: admin, json: { reason: 'compromised' } });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const cutoff = revoked.body.revokedAt as number;
    await sleep(1000 - (Date.now() % 1000) + 1100);
    assert.ok(now() > cutoff);

    // Issued after the cutoff, for a login before it: the cutoff compares min(iat, auth_time).
    await refused(await jwt(sub, unused, { auth_time: login }), 'subject_revoked');
    // Issued after the cutoff without auth_time, in a session the registry recorded: its sid marker ends it.
    await refused(await jwt(sub, used), 'session_revoked');
    const sid = `${sidPrefixFor(idp.issuer)}.${used}`;
    const marker = (await svc.service.stores.revocations.snapshot()).revocations.find((r) => r.kind === 'sid' && r.value === sid);
    assert.deepEqual([marker?.revokedAt, marker?.reason], [cutoff, 'compromised']);
    assert.ok(events.some((e) => e.type === 'revocation' && e.kind === 'sid' && e.value === sid && e.reason === 'compromised'));
    // A later login (auth_time after the cutoff), or a new IdP session that states none: afresh.
    await accepted(await jwt(sub, unused, { auth_time: now() }));
    await accepted(await jwt(sub, fresh));
  });

  it('revoke-client: an IdP refresh of a login before the cutoff is refused for that client; a later login works', async () => {
    const sub = `ext-${randomUUID()}`;
    const login = now() - 60;
    await accepted(await jwt(sub, randomUUID(), { auth_time: login }), 'agent2');
    const revoked = await call(svc, 'POST', '/admin/clients/agent2/revoke', { token: admin, json: { reason: 'compromised' } });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    await sleep(1000 - (Date.now() % 1000) + 1100);
    await refused(await jwt(sub, randomUUID(), { auth_time: login }), 'client_revoked', 'agent2');
    // auth_time in the future says nothing earlier than iat; a login after the cutoff starts afresh.
    await accepted(await jwt(sub, randomUUID(), { auth_time: now() + 3600 }), 'agent2');
    await accepted(await jwt(sub, randomUUID(), { auth_time: now() }), 'agent2');
  });
});
