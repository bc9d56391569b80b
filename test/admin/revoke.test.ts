// Revoking sessions, subjects, clients and tokens through the admin API, and what each does to live tokens, on single
// Redis and on a Redis Cluster.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { BILLING, CRM, type TestService } from '../helpers/service.js';
import { clusterKeys, redisKeys } from '../../src/stores/redis/keys.js';
import { adminToken, call, introspectDelegation, introspectOpaque, jtiOf, sidOf, startAdminService, waitForSession } from './helpers.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const backend of ['redis', 'redis cluster'] as const) describe(`admin API: revocation (${backend})`, () => {
  let svc: TestService;
  let token: string;
  const revoke = (path: string, reason = 'test') => call(svc, 'POST', path, { token, json: { reason } });

  /** Logs `username` in through `agent`, exchanges for CRM with the billing scope, so crm-server may hop to billing. */
  async function delegated(username: string, clientId = 'agent') {
    const user = await loginUser(svc, { username, clientId });
    const scope = clientId === 'agent' ? 'crm.lookup_customer billing.refund_lookup' : 'crm.lookup_customer';
    const crm = await exchangeFor(svc, clientId, user.accessToken, CRM, { scope });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    const crmToken = crm.body.access_token as string;
    return { user, crmToken, sid: sidOf(crmToken), jti: jtiOf(crmToken) };
  }

  before(async () => {
    svc = await startAdminService({ cluster: backend === 'redis cluster' });
    token = await adminToken(svc);
  });
  after(() => svc.stop());

  it('revoke a session: the user token, the delegation token and multi-hop are refused; introspection says inactive', async () => {
    const { user, crmToken, sid } = await delegated('bob');
    const hop = await exchangeFor(svc, 'crm-server', crmToken, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(hop.status, 200, JSON.stringify(hop.body));
    await waitForSession(svc, token, sid, 2);

    const res = await revoke(`/admin/sessions/${encodeURIComponent(sid)}/revoke`, 'suspicious agent activity');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const { revokedAt, expiresAt, ...rest } = res.body;
    assert.deepEqual(rest, { kind: 'sid', value: sid, created: true, endedSessions: [sid], known: true });
    assert.equal(typeof revokedAt, 'number');
    assert.ok((expiresAt as number) > (revokedAt as number));

    const again = await exchangeFor(svc, 'agent', user.accessToken, CRM);
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, SUBJECT_INVALID);
    const multiHop = await exchangeFor(svc, 'crm-server', crmToken, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(multiHop.status, 400);
    assert.deepEqual(multiHop.body, SUBJECT_INVALID);
    const introspected = await introspectDelegation(svc, crmToken);
    assert.equal(introspected.status, 200);
    assert.deepEqual(introspected.body, { active: false });
    const hopIntrospected = await introspectDelegation(svc, hop.body.access_token as string, 'billing-server');
    assert.deepEqual(hopIntrospected.body, { active: false });
    const opaque = await introspectOpaque(svc, user.accessToken);
    assert.equal(opaque.status, 200);
    assert.deepEqual(opaque.body, { active: false });

    // Idempotent: same revokedAt, created false, nothing left to end.
    const repeat = await revoke(`/admin/sessions/${encodeURIComponent(sid)}/revoke`, 'again');
    assert.equal(repeat.status, 200);
    assert.equal(repeat.body.created, false);
    assert.equal(repeat.body.revokedAt, revokedAt);
    assert.ok((repeat.body.expiresAt as number) >= (expiresAt as number));
    assert.deepEqual(repeat.body.endedSessions, []);
    assert.equal(repeat.body.known, true);

    // The revocation itself is in the audit trail, with who and why.
    await svc.service.flushAudit();
    const audit = await call(svc, 'GET', `/admin/audit?type=revocation&sid=${encodeURIComponent(sid)}`, { token });
    const items = audit.body.items as Array<Record<string, unknown>>;
    assert.equal(items.length, 2);
    assert.deepEqual(
      items.map((e) => [e.clientId, e.kind, e.value, e.reason, e.created, e.reasons]),
      [
        ['admin-cli', 'sid', sid, 'again', false, ['already_revoked']],
        ['admin-cli', 'sid', sid, 'suspicious agent activity', true, ['revoked']],
      ],
    );
  });

  it('revoke a subject who logged in but never exchanged: the provider session ends too (not only the recorded ones)', async () => {
    const user = await loginUser(svc, { username: 'ivan' });
    assert.equal((await introspectOpaque(svc, user.accessToken)).body.active, true);
    const res = await revoke('/admin/subjects/user-ivan/revoke', 'left the company');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((res.body.endedSessions as string[]).length, 1);
    assert.equal(res.body.known, true);
    assert.deepEqual((await introspectOpaque(svc, user.accessToken)).body, { active: false });
    assert.deepEqual((await exchangeFor(svc, 'agent', user.accessToken, CRM)).body, SUBJECT_INVALID);
  });

  it('revoke a subject: every token of the user so far, and the recorded sessions end', async () => {
    const first = await delegated('carol');
    const second = await delegated('carol');
    await waitForSession(svc, token, first.sid);
    await waitForSession(svc, token, second.sid);

    const res = await revoke('/admin/subjects/user-carol/revoke', 'account compromised');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.kind, 'sub');
    assert.equal(res.body.value, 'user-carol');
    assert.equal(res.body.created, true);
    assert.equal(res.body.known, true);
    assert.deepEqual([...(res.body.endedSessions as string[])].sort(), [first.sid, second.sid].sort());

    for (const { user, crmToken } of [first, second]) {
      assert.deepEqual((await exchangeFor(svc, 'agent', user.accessToken, CRM)).body, SUBJECT_INVALID);
      assert.deepEqual((await introspectDelegation(svc, crmToken)).body, { active: false });
      assert.deepEqual((await introspectOpaque(svc, user.accessToken)).body, { active: false });
      const hop = await exchangeFor(svc, 'crm-server', crmToken, BILLING, { scope: 'billing.refund_lookup' });
      assert.deepEqual(hop.body, SUBJECT_INVALID);
    }
    // Within the same second a repeat changes nothing; in a later second it moves the cutoff (a new revocation).
    const repeat = await revoke('/admin/subjects/user-carol/revoke');
    assert.equal(repeat.body.created, repeat.body.revokedAt !== res.body.revokedAt);
    assert.ok((repeat.body.revokedAt as number) >= (res.body.revokedAt as number));
  });

  it('revoke a client: its delegation tokens so far are refused; tokens it obtains later are not', async () => {
    const { user, crmToken } = await delegated('dave', 'agent2');
    const res = await revoke('/admin/clients/agent2/revoke', 'agent2 misbehaves');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { revokedAt, expiresAt, ...rest } = res.body;
    assert.deepEqual(rest, { kind: 'client', value: 'agent2', created: true, endedSessions: [], known: true });
    assert.deepEqual((await introspectDelegation(svc, crmToken)).body, { active: false });
    // The user's token was issued to agent2 before the revocation: agent2 can no longer exchange it.
    assert.deepEqual((await exchangeFor(svc, 'agent2', user.accessToken, CRM)).body, SUBJECT_INVALID);

    // Revocation times are in seconds and cover tokens issued "at or before": step past that second.
    await sleep(1100);
    const later = await delegated('dave', 'agent2');
    assert.equal((await introspectDelegation(svc, later.crmToken)).body.active, true);

    // Revoking again later moves the cutoff: the token obtained in between dies too, and it is a new revocation
    // (created, its own reason, a feed event, the snapshot shows the latest cutoff).
    await sleep(1100);
    const { cursor } = await svc.service.stores.revocations.snapshot();
    const repeat = await revoke('/admin/clients/agent2/revoke', 'agent2 again');
    assert.equal(repeat.status, 200);
    assert.equal(repeat.body.created, true);
    assert.ok((repeat.body.revokedAt as number) > (revokedAt as number));
    assert.ok((repeat.body.expiresAt as number) >= (expiresAt as number));
    assert.deepEqual((await introspectDelegation(svc, later.crmToken)).body, { active: false });
    assert.deepEqual((await exchangeFor(svc, 'agent2', later.user.accessToken, CRM)).body, SUBJECT_INVALID);
    const cutoff = { kind: 'client', value: 'agent2', revokedAt: repeat.body.revokedAt, expiresAt: repeat.body.expiresAt, by: 'admin-cli', reason: 'agent2 again' };
    const { events } = await svc.service.stores.revocations.since(cursor);
    assert.deepEqual(events.map((e) => e.record).filter((r) => r.value === 'agent2'), [cutoff]);
    const snapshot = await svc.service.stores.revocations.snapshot();
    assert.deepEqual(snapshot.revocations.filter((r) => r.kind === 'client' && r.value === 'agent2'), [cutoff]);
    // The same second again: nothing changes.
    const same = await revoke('/admin/clients/agent2/revoke', 'third');
    if (same.body.revokedAt === repeat.body.revokedAt) assert.equal(same.body.created, false);
    await svc.service.flushAudit();
    const audit = await call(svc, 'GET', '/admin/audit?type=revocation&client_id=admin-cli&limit=100', { token });
    const mine = (audit.body.items as Array<Record<string, unknown>>).filter((e) => e.kind === 'client' && e.value === 'agent2');
    assert.deepEqual(mine.filter((e) => e.reason !== 'third').map((e) => [e.reason, e.created, e.reasons]), [
      ['agent2 again', true, ['revoked']],
      ['agent2 misbehaves', true, ['revoked']],
    ]);
  });

  it('revoke an unknown client: 404, nothing recorded', async () => {
    const res = await revoke('/admin/clients/no-such-client/revoke');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: 'not_found', error_description: 'client not found' });
    const snapshot = await svc.service.stores.revocations.snapshot();
    assert.equal(snapshot.revocations.some((r) => r.value === 'no-such-client'), false);
  });

  it('revoke one token by jti: that token (and hops from it) die, its sibling lives', async () => {
    const first = await delegated('erin');
    const sibling = await exchangeFor(svc, 'agent', first.user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(sibling.status, 200);
    const res = await revoke(`/admin/tokens/${first.jti}/revoke`, 'leaked in a log');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { revokedAt, expiresAt, ...rest } = res.body;
    assert.deepEqual(rest, { kind: 'jti', value: first.jti, created: true, endedSessions: [] });

    assert.deepEqual((await introspectDelegation(svc, first.crmToken)).body, { active: false });
    assert.equal((await introspectDelegation(svc, sibling.body.access_token as string)).body.active, true);
    const hop = await exchangeFor(svc, 'crm-server', first.crmToken, BILLING, { scope: 'billing.refund_lookup' });
    assert.deepEqual(hop.body, SUBJECT_INVALID);
    const siblingHop = await exchangeFor(svc, 'crm-server', sibling.body.access_token as string, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(siblingHop.status, 200);
    // The user's own token is untouched.
    assert.equal((await introspectOpaque(svc, first.user.accessToken)).body.active, true);

    const repeat = await revoke(`/admin/tokens/${first.jti}/revoke`);
    assert.deepEqual([repeat.body.created, repeat.body.revokedAt], [false, revokedAt]);
    assert.ok((repeat.body.expiresAt as number) >= (expiresAt as number));
  });

  it("refuses to publish an opaque access token's value as a jti", async () => {
    const user = await loginUser(svc, { username: 'frank' });
    const res = await revoke(`/admin/tokens/${user.accessToken}/revoke`);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'the value is an opaque token, not a token id; revoke it at the revocation endpoint' });
    const snapshot = await svc.service.stores.revocations.snapshot();
    assert.equal(snapshot.revocations.some((r) => r.value === user.accessToken), false);
    assert.equal((await introspectOpaque(svc, user.accessToken)).body.active, true);
  });

  it('refuses, for every kind, a value that is or holds a token: bare, padded, quoted, after an auth scheme; nothing is published or audited', async () => {
    const user = await loginUser(svc, { username: 'judy' });
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const jws = `${b64({ alg: 'ES256', typ: 'at+jwt' })}.${b64({ sub: 'user-judy', jti: 'j-1' })}.${Buffer.alloc(64, 7).toString('base64url')}`;
    const jwe = `${b64({ alg: 'dir', enc: 'A256GCM' })}..${'a'.repeat(16)}.${'b'.repeat(40)}.${'c'.repeat(22)}`;
    const pasted = [jws, ` ${jws}`, `${jws} `, `"${jws}"`, `Bearer ${jws}`, `DPoP ${jws}`, `x.${jws}.`, `Bearer_${jws}`, jwe];
    const opaque = [user.accessToken, `Bearer ${user.accessToken}`, `"${user.accessToken}"`, `Bearer ${token}`];
    const paths = { sid: 'sessions', sub: 'subjects', client_id: 'clients', jti: 'tokens' } as const;
    for (const [param, segment] of Object.entries(paths)) {
      const jti = param === 'jti';
      for (const value of pasted) {
        const res = await revoke(`/admin/${segment}/${encodeURIComponent(value)}/revoke`, 'leaked in a log');
        assert.equal(res.status, 400, `${param} ${JSON.stringify(value)}`);
        assert.deepEqual(res.body, {
          error: 'invalid_request',
          error_description: jti ? 'the value is a token, not a token id; revoke it by its jti claim' : 'the value is a token, not an identifier; revoke the token by its jti claim',
        }, `${param} ${JSON.stringify(value)}`);
      }
      for (const value of opaque) {
        const res = await revoke(`/admin/${segment}/${encodeURIComponent(value)}/revoke`, 'leaked in a log');
        assert.equal(res.status, 400, `${param} ${value.slice(0, 10)}`);
        assert.deepEqual(res.body, {
          error: 'invalid_request',
          error_description: jti
            ? 'the value is an opaque token, not a token id; revoke it at the revocation endpoint'
            : 'the value is an opaque token, not an identifier; revoke it at the revocation endpoint',
        }, `${param} ${value.slice(0, 10)}`);
      }
    }
    const secrets = [jws, jwe, user.accessToken, token];
    const snapshot = await svc.service.stores.revocations.snapshot();
    assert.deepEqual(snapshot.revocations.filter((r) => secrets.some((t) => r.value.includes(t))), []);
    await svc.service.flushAudit();
    const audit = await call(svc, 'GET', '/admin/audit?type=revocation&limit=500', { token });
    assert.deepEqual((audit.body.items as Array<Record<string, unknown>>).filter((e) => secrets.some((t) => JSON.stringify(e).includes(t))), []);
    assert.equal((await introspectOpaque(svc, user.accessToken)).body.active, true);
  });

  it('identifiers with dots, spaces or quotes are not tokens: still revocable', async () => {
    for (const [path, kind, value] of [
      ['/admin/subjects/user.name.x/revoke', 'sub', 'user.name.x'],
      ['/admin/subjects/Jane%20%22JD%22%20Doe/revoke', 'sub', 'Jane "JD" Doe'],
      ['/admin/sessions/a.b.c.d.e/revoke', 'sid', 'a.b.c.d.e'],
      ['/admin/tokens/eyJohn.smith.x/revoke', 'jti', 'eyJohn.smith.x'],
    ] as const) {
      const res = await revoke(path);
      assert.equal(res.status, 200, `${path} ${JSON.stringify(res.body)}`);
      assert.deepEqual([res.body.kind, res.body.value], [kind, value]);
    }
  });

  it('sessions and subjects the registry never saw are revoked anyway (known: false), including external sids', async () => {
    for (const [path, kind, value] of [
      ['/admin/sessions/never-seen-session/revoke', 'sid', 'never-seen-session'],
      ['/admin/sessions/x-AbCdEfGhIj.idp-session-42/revoke', 'sid', 'x-AbCdEfGhIj.idp-session-42'],
      ['/admin/subjects/nobody%40example.com/revoke', 'sub', 'nobody@example.com'],
    ] as const) {
      const res = await revoke(path);
      assert.equal(res.status, 200, path);
      const { revokedAt, expiresAt, ...rest } = res.body;
      assert.deepEqual(rest, { kind, value, created: true, endedSessions: [], known: false }, path);
    }
    const snapshot = await svc.service.stores.revocations.snapshot();
    assert.ok(snapshot.revocations.some((r) => r.kind === 'sid' && r.value === 'x-AbCdEfGhIj.idp-session-42'));
  });

  it('a revoke that cannot end the provider session after writing its marker: 503, audited as the revocation; the retry ends it', async () => {
    const { user, crmToken, sid } = await delegated('heidi');
    await waitForSession(svc, token, sid);
    const keys = backend === 'redis cluster' ? clusterKeys : redisKeys;
    const sessionId = await svc.redis.get(keys.uid(svc.prefix, sid));
    const [json] = await svc.redis.hmget(keys.record(svc.prefix, 'Session', sessionId!), 'payload');
    const grantIds = Object.values(JSON.parse(json!).authorizations as Record<string, { grantId: string }>).map((a) => a.grantId);
    assert.equal(grantIds.length, 1);
    // The session's grant record replaced by a value of another type: Redis refuses to read it (WRONGTYPE), a store
    // failure after the marker is written.
    const grantKey = keys.record(svc.prefix, 'Grant', grantIds[0]!);
    await svc.redis.del(grantKey);
    await svc.redis.set(grantKey, 'not a hash');

    const res = await revoke(`/admin/sessions/${sid}/revoke`, 'first try');
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' });
    // The marker holds already: the delegation token is refused.
    assert.deepEqual((await introspectDelegation(svc, crmToken)).body, { active: false });

    await svc.redis.del(grantKey);
    const retry = await revoke(`/admin/sessions/${sid}/revoke`, 'retry');
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.deepEqual([retry.body.created, retry.body.endedSessions], [false, [sid]]);
    assert.deepEqual((await introspectOpaque(svc, user.accessToken)).body, { active: false });

    await svc.service.flushAudit();
    const audit = await call(svc, 'GET', `/admin/audit?type=revocation&sid=${encodeURIComponent(sid)}`, { token });
    assert.deepEqual(
      (audit.body.items as Array<Record<string, unknown>>).map((e) => [e.reason, e.created, e.reasons]),
      [
        ['retry', false, ['already_revoked']],
        ['first try', true, ['revoked', 'sessions_not_ended']],
      ],
    );
  });

  it('a session whose record is gone from the registry (its provider session still live) is still revoked and ended', async () => {
    const { user, sid } = await delegated('grace');
    await waitForSession(svc, token, sid);
    // The registry expires records on its own; simulate that by deleting this session's keys.
    const k = (backend === 'redis cluster' ? clusterKeys : redisKeys).session;
    assert.equal(await svc.redis.del(...[k.record, k.clients, k.tools, k.jtis, k.hops].map((key) => key(svc.prefix, sid))), 5);
    assert.equal((await call(svc, 'GET', `/admin/sessions/${sid}`, { token })).status, 404);

    const res = await revoke(`/admin/sessions/${sid}/revoke`);
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.created, res.body.endedSessions, res.body.known], [true, [sid], true]);
    assert.deepEqual((await exchangeFor(svc, 'agent', user.accessToken, CRM)).body, SUBJECT_INVALID);
  });
});
