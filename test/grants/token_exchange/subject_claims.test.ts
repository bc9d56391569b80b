// Subject tokens cannot widen anything (issue 8, items 4, 5, 7, 8, 10, 11, 12): structurally valid, correctly signed
// external JWTs whose claims are wrong-typed, out of bounds, from the future, bound to another client or mistyped.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { exchangeFor, loginUser } from '../../helpers/http.js';
import { startTestIdp, type TestIdp } from '../../helpers/test_idp.js';
import { AT, BILLING, CRM, ID_TOKEN, JWT_TYPE, startService, type TestService } from '../../helpers/service.js';
import { adminToken, call } from '../../admin/helpers.js';
import type { DecisionEvent, ExchangeDecisionEvent } from '../../../src/audit/events.js';
import { sidPrefixFor } from '../../../src/token_types/context.js';
import { StoreUnavailable } from '../../../src/stores/errors.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };
const ACTOR_INVALID = { error: 'invalid_request', error_description: 'actor_token is invalid' };
const TYPES: Array<[string, Record<string, unknown>]> = [[JWT_TYPE, {}], [ID_TOKEN, {}], [AT, { typ: 'at+jwt' }]];

describe('subject token claims', () => {
  let svc: TestService;
  let idp: TestIdp;
  const events: ExchangeDecisionEvent[] = [];
  const now = () => Math.floor(Date.now() / 1000);
  let n = 0;
  const userClaims = (extra: Record<string, unknown> = {}) => ({ sub: 'ext-carol', aud: svc.url, sid: `idp-session-${++n}`, ...extra });
  const lastEvent = () => events.at(-1)!;

  async function send(token: string, type = JWT_TYPE, clientId = 'agent', extra: Record<string, string> = {}) {
    return exchangeFor(svc, clientId, token, CRM, { subject_token_type: type, ...extra });
  }

  async function refused(token: string, reason: string, type = JWT_TYPE, clientId = 'agent', label = reason) {
    const res = await send(token, type, clientId);
    assert.equal(res.status, 400, `${label}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, SUBJECT_INVALID, label);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(lastEvent().reasons, [`subject_token:${reason}`], label);
    assert.equal(lastEvent().error, 'invalid_request', label);
  }

  async function accepted(token: string, type = JWT_TYPE, clientId = 'agent', extra: Record<string, string> = {}) {
    const res = await send(token, type, clientId, extra);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }

  before(async () => {
    idp = await startTestIdp();
    svc = await startService({
      extra: (port) => ({
        trustedIssuers: [
          {
            issuer: idp.issuer,
            jwksUri: idp.jwksUri,
            audience: `http://127.0.0.1:${port}`,
            allowedScopes: ['crm.lookup_customer', 'crm.export_customers'],
            clients: { 'mobile-app': ['agent2'], 'web-app': ['agent', 'agent2'] },
          },
        ],
      }),
    });
    svc.service.events.on((e: DecisionEvent) => {
      if (e.type === 'exchange') events.push(e);
    });
  });
  after(async () => {
    await svc.stop();
    await idp.stop();
  });

  describe('item 4: iat in the future (RFC 7519 §4.1.6)', () => {
    it('beyond the leeway (30 s): invalid_request for every JWT subject type; within it: issued', async () => {
      for (const [type, header] of TYPES) {
        await refused(await idp.sign(userClaims({ iat: now() + 600 }), header), 'iat_in_future', type, 'agent', `${type} +600`);
        await refused(await idp.sign(userClaims({ iat: now() + 45 }), header), 'iat_in_future', type, 'agent', `${type} +45`);
        await accepted(await idp.sign(userClaims({ iat: now() + 20 }), header), type);
      }
    });

    it('a JWT actor token from the future: invalid_request (actor_token)', async () => {
      const { accessToken } = await loginUser(svc);
      const actor = await idp.sign({ sub: 'agent', aud: svc.url, iat: now() + 600 });
      const res = await exchangeFor(svc, 'agent', accessToken, CRM, { actor_token: actor, actor_token_type: JWT_TYPE });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, ACTOR_INVALID);
      assert.deepEqual(lastEvent().reasons, ['actor_token:iat_in_future']);
    });
  });

  describe('a JWT must not outlive the revocation markers that could reach it (revocation.retentionSeconds, here 86400 s)', () => {
    const RETENTION = 86_400;
    it('a subject JWT whose exp (+ the 30 s leeway) is past its iat + the retention: invalid_request, whenever presented', async () => {
      for (const [type, header] of TYPES) {
        await refused(await idp.sign(userClaims({ exp: now() + RETENTION + 3600 }), header), 'lifetime_exceeds_retention', type, 'agent', `${type} +25h`);
        await refused(await idp.sign(userClaims({ exp: now() + RETENTION }), header), 'lifetime_exceeds_retention', type, 'agent', `${type} +24h`);
        // Issued 23 h ago, valid 2 h more: within now + retention, but a marker written in its first hour is gone by then.
        await refused(await idp.sign(userClaims({ iat: now() - RETENTION + 3600, exp: now() + 7200 }), header), 'lifetime_exceeds_retention', type, 'agent', `${type} late`);
        await accepted(await idp.sign(userClaims({ exp: now() + RETENTION - 120 }), header), type);
      }
    });

    it('an actor JWT alike (actor_token); one without iat is bounded from now', async () => {
      const { accessToken } = await loginUser(svc);
      for (const claims of [{ exp: now() + RETENTION + 3600 }, { iat: undefined, exp: now() + RETENTION + 60 }]) {
        const actor = await idp.sign({ sub: 'agent', aud: svc.url, ...claims });
        const res = await exchangeFor(svc, 'agent', accessToken, CRM, { actor_token: actor, actor_token_type: JWT_TYPE });
        assert.deepEqual([res.status, res.body], [400, ACTOR_INVALID], JSON.stringify(claims));
        assert.deepEqual(lastEvent().reasons, ['actor_token:lifetime_exceeds_retention']);
      }
      const ok = await exchangeFor(svc, 'agent', accessToken, CRM, { actor_token: await idp.sign({ sub: 'agent', aud: svc.url, iat: undefined, exp: now() + 600 }), actor_token_type: JWT_TYPE });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });
  });

  describe('item 8: sub is a non-empty string (RFC 7519 §4.1.2)', () => {
    it('numeric, array, object, null, boolean or empty sub: 400 invalid_request for every type, never 503', async () => {
      for (const [type, header] of TYPES) {
        for (const sub of [42, ['ext-carol'], { id: 'ext-carol' }, null, true, '']) {
          await refused(await idp.sign(userClaims({ sub }), header), 'malformed_sub', type, 'agent', `${type} sub=${JSON.stringify(sub)}`);
        }
      }
    });

    it('the same for a JWT actor token', async () => {
      const { accessToken } = await loginUser(svc);
      for (const sub of [7, '', null]) {
        const actor = await idp.sign({ aud: svc.url, client_id: 'agent', ...({ sub } as Record<string, unknown>) });
        const res = await exchangeFor(svc, 'agent', accessToken, CRM, { actor_token: actor, actor_token_type: JWT_TYPE });
        assert.equal(res.status, 400, JSON.stringify(sub));
        assert.deepEqual(res.body, ACTOR_INVALID);
        assert.deepEqual(lastEvent().reasons, ['actor_token:malformed_sub']);
      }
    });

    it('an unexpected internal error is 500 server_error (internal_error), a store outage 503 (store_unavailable)', async () => {
      // The revocation view's read: the stream head (its fence) comes from the feed.
      const store = svc.service.stores.revocations;
      const original = store.head;
      try {
        store.head = async () => {
          throw new TypeError("Cannot read properties of undefined (reading 'x')");
        };
        const res = await send(await idp.sign(userClaims()));
        assert.equal(res.status, 500);
        assert.deepEqual(res.body, { error: 'server_error', error_description: 'internal error' });
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.equal(lastEvent().error, 'server_error');
        assert.deepEqual(lastEvent().reasons, ['internal_error']);

        store.head = async () => {
          throw new StoreUnavailable(new Error('Connection is closed.'));
        };
        const down = await send(await idp.sign(userClaims()));
        assert.equal(down.status, 503);
        assert.deepEqual(down.body, { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' });
        assert.equal(lastEvent().error, 'temporarily_unavailable');
        assert.deepEqual(lastEvent().reasons, ['store_unavailable']);
      } finally {
        store.head = original;
      }
      await accepted(await idp.sign(userClaims()));
    });
  });

  describe('item 7: scope is a space-delimited string (RFC 8693 §4.2, RFC 9068 §2.2.3)', () => {
    it('array, number, null, object or boolean scope: invalid_request, never the issuer-wide allowance', async () => {
      for (const scope of [['crm.export_customers'], 42, null, { crm: true }, true]) {
        await refused(await idp.sign(userClaims({ scope })), 'malformed_scope', JWT_TYPE, 'agent', `scope=${JSON.stringify(scope)}`);
      }
    });

    it('a string scope narrows; an absent one means the issuer-wide allowance', async () => {
      const narrowed = await send(await idp.sign(userClaims({ scope: 'crm.lookup_customer openid' })), JWT_TYPE, 'agent', { scope: 'crm.export_customers' });
      assert.equal(narrowed.status, 400);
      assert.equal(narrowed.body.error, 'invalid_scope');
      assert.equal((await accepted(await idp.sign(userClaims({ scope: 'crm.lookup_customer openid' })), JWT_TYPE, 'agent', { scope: 'crm.lookup_customer' })).scope, 'crm.lookup_customer');
      assert.equal((await accepted(await idp.sign(userClaims()), JWT_TYPE, 'agent', { scope: 'crm.export_customers' })).scope, 'crm.export_customers');
    });
  });

  describe('item 5: every identifier the exchange accepts can be revoked', () => {
    const prefix = () => `${sidPrefixFor(idp.issuer)}.`;

    it('sub, session id, jti and act subs over 512 code points or with control characters: invalid_request', async () => {
      for (const sub of ['u'.repeat(513), 'ü'.repeat(513), 'carol\u0007', 'carol\nadmin', 'a\u0085b', 'a\u2028b', '\ud800x']) {
        await refused(await idp.sign(userClaims({ sub })), 'malformed_sub', JWT_TYPE, 'agent', `sub ${JSON.stringify(sub.slice(0, 12))}`);
      }
      const sidRoom = 512 - prefix().length;
      for (const sid of ['s'.repeat(sidRoom + 1), 'sess\u0000ion', 'sess\r\nion']) {
        await refused(await idp.sign(userClaims({ sid })), 'malformed_session_claim', JWT_TYPE, 'agent', `sid ${JSON.stringify(sid.slice(0, 12))}`);
      }
      for (const jti of ['j'.repeat(513), 'j\u001b[31m', 42, '']) {
        await refused(await idp.sign(userClaims({ jti })), 'malformed_jti', JWT_TYPE, 'agent', `jti ${JSON.stringify(jti).slice(0, 12)}`);
      }
      await refused(await idp.sign(userClaims({ act: { sub: 'x'.repeat(513) } })), 'malformed_act');
      await refused(await idp.sign(userClaims({ act: { sub: 'up\u0000stream' } })), 'malformed_act', JWT_TYPE, 'agent', 'act control');
    });

    it('a sub and a session id exactly at the limit are accepted and can be revoked through the admin API', async () => {
      const admin = await adminToken(svc);
      const revoke = (kind: 'sessions' | 'subjects', id: string) =>
        call(svc, 'POST', `/admin/${kind}/${encodeURIComponent(id)}/revoke`, { token: admin, json: { reason: 'test: identifier at the limit' } });

      // 512 code points: two UTF-16 units each, so the limit is counted as the admin API (and JSON Schema) counts it. The
      // account is `x-<issuer hash>|<sub>`, so the issuer's `sub` gets 512 minus that 13-character namespace.
      const account = `${sidPrefixFor(idp.issuer)}|${'𝒞'.repeat(512 - 13)}`;
      assert.equal([...account].length, 512);
      const subToken = await idp.sign(userClaims({ sub: '𝒞'.repeat(512 - 13) }));
      const issued = await accepted(subToken);
      assert.equal(decodeJwt(issued.access_token as string).sub, account);
      await refused(await idp.sign(userClaims({ sub: '𝒞'.repeat(512 - 12) })), 'malformed_sub', JWT_TYPE, 'agent', 'namespaced sub over the limit');
      // The exchange recorded the IdP session (just after it): revoke-subject ends it by its sid as well.
      await svc.service.flushAudit();
      const bySub = await revoke('subjects', account);
      assert.equal(bySub.status, 200, bySub.text);
      assert.equal(bySub.body.created, true);
      await refused(subToken, 'session_revoked', JWT_TYPE, 'agent', 'revoked sub, recorded session');
      // Another session of that user, issued at the cutoff: only the `sub` marker at the limit can refuse it.
      const other = await idp.sign(userClaims({ sub: '𝒞'.repeat(512 - 13), iat: bySub.body.revokedAt as number }));
      await refused(other, 'subject_revoked', JWT_TYPE, 'agent', 'revoked sub');

      const longSid = 'é'.repeat(512 - prefix().length);
      const sidToken = await idp.sign(userClaims({ sid: longSid, sub: 'ext-dave' }));
      const sidIssued = await accepted(sidToken);
      const namespaced = `${prefix()}${longSid}`;
      assert.equal([...namespaced].length, 512);
      assert.equal(decodeJwt(sidIssued.access_token as string).sid, namespaced);
      const bySid = await revoke('sessions', namespaced);
      assert.equal(bySid.status, 200, bySid.text);
      assert.equal(bySid.body.created, true);
      await refused(sidToken, 'session_revoked', JWT_TYPE, 'agent', 'revoked sid');
    });
  });

  describe("item 10: an external subject's act is kept (RFC 8693 §4.1, TE-10)", () => {
    it('nested under the new actor, with its iss as the token says, and re-exchanged one hop further', async () => {
      const upstream = { sub: 'upstream-agent', iss: 'https://agents.partner.example', act: { sub: 'first-agent' } };
      const body = await accepted(await idp.sign(userClaims({ act: upstream })), JWT_TYPE, 'agent', { scope: 'crm.lookup_customer' });
      const claims = decodeJwt(body.access_token as string);
      assert.deepEqual(claims.act, { sub: 'agent', act: upstream });
      assert.deepEqual(lastEvent().act, { sub: 'agent', act: upstream });
    });

    it('counted toward the depth cap (exchange.maxActDepth = 4)', async () => {
      const chain = (depth: number): Record<string, unknown> | undefined => (depth === 0 ? undefined : { sub: `prior-${depth}`, ...(depth > 1 ? { act: chain(depth - 1) } : {}) });
      await accepted(await idp.sign(userClaims({ act: chain(3) })));
      const res = await send(await idp.sign(userClaims({ act: chain(4) })));
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'the delegation chain is too long' });
      assert.deepEqual(lastEvent().reasons, ['act_depth_exceeded']);
    });

    it('exp/nbf/aud inside act, or a malformed act: invalid_request', async () => {
      for (const act of [{ sub: 'a', exp: now() + 60 }, { sub: 'a', nbf: now() }, { sub: 'a', aud: 'x' }, { sub: 'a', act: { sub: 'b', exp: 1 } }, 'agent', ['agent'], { iss: 'x' }, { sub: 42 }, { sub: '' }, { sub: 'a', iss: 7 }, null]) {
        await refused(await idp.sign(userClaims({ act })), 'malformed_act', JWT_TYPE, 'agent', `act=${JSON.stringify(act)}`);
      }
    });
  });

  describe('item 11: a token issued to a client is exchanged only by the client it maps to', () => {
    it('by default the client with the same client_id (azp and client_id: a token naming both must satisfy both)', async () => {
      await refused(await idp.sign(userClaims({ azp: 'agent2' })), 'not_issued_to_client', JWT_TYPE, 'agent', 'azp agent2 by agent');
      await accepted(await idp.sign(userClaims({ azp: 'agent2' })), JWT_TYPE, 'agent2');
      await refused(await idp.sign(userClaims({ client_id: 'agent' })), 'not_issued_to_client', JWT_TYPE, 'agent2', 'client_id agent by agent2');
      await accepted(await idp.sign(userClaims({ client_id: 'agent' })), JWT_TYPE, 'agent');
      // A contradiction (azp names one client, client_id another) binds the token to neither (found by npm run fuzz).
      await refused(await idp.sign(userClaims({ azp: 'agent', client_id: 'agent2' })), 'not_issued_to_client', JWT_TYPE, 'agent', 'azp agent, client_id agent2, by agent');
      await refused(await idp.sign(userClaims({ azp: 'agent', client_id: 'agent2' })), 'not_issued_to_client', JWT_TYPE, 'agent2', 'azp agent, client_id agent2, by agent2');
      await accepted(await idp.sign(userClaims({ azp: 'agent', client_id: 'agent' })), JWT_TYPE, 'agent');
      // An ID token names its client too.
      await refused(await idp.sign(userClaims({ azp: 'agent2' })), 'not_issued_to_client', ID_TOKEN, 'agent', 'id_token azp');
      // A token naming no client is not bound.
      await accepted(await idp.sign(userClaims()), JWT_TYPE, 'agent2');
    });

    it('trustedIssuers[].clients maps the issuer client ids to ours, and replaces the default for the ids it lists', async () => {
      await accepted(await idp.sign(userClaims({ azp: 'mobile-app' })), JWT_TYPE, 'agent2');
      await refused(await idp.sign(userClaims({ azp: 'mobile-app' })), 'not_issued_to_client', JWT_TYPE, 'agent', 'mobile-app by agent');
      await accepted(await idp.sign(userClaims({ client_id: 'web-app' })), JWT_TYPE, 'agent');
      await accepted(await idp.sign(userClaims({ client_id: 'web-app' })), JWT_TYPE, 'agent2');
      await refused(await idp.sign(userClaims({ azp: 'unknown-app' })), 'not_issued_to_client', JWT_TYPE, 'agent', 'unlisted');
    });

    it('a non-string or unbounded azp/client_id: invalid_request', async () => {
      for (const claim of [{ azp: 42 }, { azp: null }, { client_id: ['agent'] }, { azp: '' }, { azp: 'agent\u0000' }]) {
        await refused(await idp.sign(userClaims(claim)), 'malformed_azp', JWT_TYPE, 'agent', JSON.stringify(claim));
      }
    });
  });

  describe('item 12: explicit typing (RFC 8725 §3.11), typ case-insensitive with application/ implied (RFC 7515 §4.1.9)', () => {
    it('an at+jwt is not an ID token nor a plain JWT; it is accepted as an access token', async () => {
      for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) {
        await refused(await idp.sign(userClaims(), { typ }), 'wrong_typ', ID_TOKEN, 'agent', `id_token ${typ}`);
        await refused(await idp.sign(userClaims(), { typ }), 'wrong_typ', JWT_TYPE, 'agent', `jwt ${typ}`);
        await accepted(await idp.sign(userClaims(), { typ }), AT);
      }
    });

    it('an ID token (no typ, or JWT) is not an access token; it is accepted as id_token or jwt', async () => {
      for (const header of [{}, { typ: 'JWT' }, { typ: 'application/jwt' }]) {
        await refused(await idp.sign(userClaims(), header), 'wrong_typ', AT, 'agent', `access_token ${JSON.stringify(header)}`);
        await accepted(await idp.sign(userClaims(), header), ID_TOKEN);
        await accepted(await idp.sign(userClaims(), header), JWT_TYPE);
      }
    });

    it('other kinds of JWT are refused whatever the declared type', async () => {
      for (const typ of ['dpop+jwt', 'secevent+jwt', 'txntoken+jwt', 'statuslist+jwt', 'logout+jwt', 'application/DPoP+JWT', 'example+jwt']) {
        for (const type of [ID_TOKEN, JWT_TYPE, AT]) await refused(await idp.sign(userClaims(), { typ }), 'wrong_typ', type, 'agent', `${type} ${typ}`);
      }
    });

    it('our own delegation token (at+jwt) is accepted as access_token only, not as jwt', async () => {
      const user = await loginUser(svc, { username: 'bob' });
      const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'billing.refund_lookup' });
      assert.equal(crm.status, 200, JSON.stringify(crm.body));
      const res = await exchangeFor(svc, 'crm-server', crm.body.access_token as string, BILLING, { subject_token_type: JWT_TYPE, scope: 'billing.refund_lookup' });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, SUBJECT_INVALID);
      assert.deepEqual(lastEvent().reasons, ['subject_token:own_token_wrong_type']);
      const ok = await exchangeFor(svc, 'crm-server', crm.body.access_token as string, BILLING, { subject_token_type: AT, scope: 'billing.refund_lookup' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });
  });
});
