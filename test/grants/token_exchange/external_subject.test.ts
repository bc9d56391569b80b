// Who a trusted issuer's JWT speaks for: its `sub` namespaced by its issuer (`x-<issuer hash>|<sub>`), the account an
// upstream login through the same issuer has, never a local user or another issuer's user; every reader of the subject
// (token, policy references, audit, session registry, introspection, revoke-subject) sees that one account id.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { exchangeFor, loginUser } from '../../helpers/http.js';
import { startTestIdp, type TestIdp } from '../../helpers/test_idp.js';
import { startUpstreamIdp, type UpstreamIdp } from '../../helpers/upstream_idp.js';
import { Browser } from '../../helpers/browser.js';
import { CRM, JWT_TYPE, startService, testConfig, type TestService } from '../../helpers/service.js';
import { adminToken, call, introspectDelegation, waitForSession } from '../../admin/helpers.js';
import { authorize, startWithUpstream, type Svc } from '../../upstream/flow.js';
import type { ExchangeDecisionEvent } from '../../../src/audit/events.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };
const LOOKUP = 'crm.lookup_customer';
/** The namespace, computed here from its definition rather than with the code under test. */
const namespaced = (issuer: string, sub: string) => `x-${createHash('sha256').update(issuer).digest('base64url').slice(0, 10)}|${sub}`;

describe('external subject tokens: the sub is namespaced by the issuer', () => {
  let svc: TestService;
  let idp: TestIdp;
  const events: ExchangeDecisionEvent[] = [];
  const external = (sub: string, extra: Record<string, unknown> = {}) =>
    idp.sign({ sub, aud: svc.url, sid: `s-${randomBytes(4).toString('hex')}`, scope: LOOKUP, groups: ['support'], ...extra });
  const send = (token: string) => exchangeFor(svc, 'agent', token, CRM, { scope: LOOKUP, subject_token_type: JWT_TYPE });

  before(async () => {
    idp = await startTestIdp();
    svc = await startService({
      extra: (port) => {
        const base = testConfig(port, '', '');
        return {
          trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: [LOOKUP] }],
          // A policy reference to the subject's `sub`: it must resolve to the account, never to a name the issuer chose.
          agents: base.agents!.map((a) =>
            a.clientId === 'agent' ? { ...a, toolServers: [{ ...a.toolServers![0]!, arguments: { [LOOKUP]: { owner: { const: '${subject.sub}' } } } }, a.toolServers![1]!] } : a,
          ),
        };
      },
    });
    svc.service.events.on((e) => {
      if (e.type === 'exchange') events.push(e);
    });
  });
  after(async () => {
    await svc.stop();
    await idp.stop();
  });

  it('a trusted issuer naming a local user (sub "user-alice") gets its own account, in the token, policy, audit, registry and introspection', async () => {
    const local = await exchangeFor(svc, 'agent', (await loginUser(svc, { username: 'alice' })).accessToken, CRM, { scope: LOOKUP });
    assert.equal(local.status, 200, JSON.stringify(local.body));
    assert.equal(decodeJwt(local.body.access_token as string).sub, 'user-alice');

    const res = await send(await external('user-alice'));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const account = namespaced(idp.issuer, 'user-alice');
    const claims = decodeJwt(res.body.access_token as string);
    assert.equal(claims.sub, account);
    assert.equal(claims.iss, svc.url);
    // RFC 9396 / policy `${subject.sub}`: the account id, as the token's `sub` (and a hop's subject claims) say.
    assert.deepEqual(res.body.authorization_details, [{ type: 'mcp_tool', locations: [CRM], actions: [LOOKUP], arguments: { owner: { const: account } } }]);
    assert.equal(events.at(-1)!.sub, account);

    const intro = await introspectDelegation(svc, res.body.access_token as string);
    assert.equal(intro.status, 200);
    assert.deepEqual([intro.body.active, intro.body.sub], [true, account]);

    const admin = await adminToken(svc);
    const session = await waitForSession(svc, admin, claims.sid as string);
    assert.equal(session.sub, account);
    const listed = await call(svc, 'GET', `/admin/sessions?sub=${encodeURIComponent(account)}`, { token: admin });
    assert.deepEqual((listed.body.items as Array<{ sid: string }>).map((s) => s.sid), [claims.sid]);
    const alices = await call(svc, 'GET', '/admin/sessions?sub=user-alice', { token: admin });
    assert.ok(!(alices.body.items as Array<{ sid: string }>).some((s) => s.sid === claims.sid));
  });

  it('a sub spelling another issuer\'s account is namespaced again; one that would pass 512 code points namespaced is refused', async () => {
    const other = namespaced('https://login.example', 'alice@corp');
    const res = await send(await external(other));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(decodeJwt(res.body.access_token as string).sub, namespaced(idp.issuer, other));

    const room = 512 - namespaced(idp.issuer, '').length;
    const atLimit = await send(await external('u'.repeat(room)));
    assert.equal(atLimit.status, 200, JSON.stringify(atLimit.body));
    assert.equal([...(decodeJwt(atLimit.body.access_token as string).sub as string)].length, 512);
    const over = await send(await external('u'.repeat(room + 1)));
    assert.deepEqual([over.status, over.body], [400, SUBJECT_INVALID]);
    assert.deepEqual(events.at(-1)!.reasons, ['subject_token:malformed_sub']);
  });

  it('revoke-subject of the namespaced id refuses that user\'s external tokens and ends their delegation tokens; the local user is another subject', async () => {
    const admin = await adminToken(svc);
    const revoke = (sub: string) => call(svc, 'POST', `/admin/subjects/${encodeURIComponent(sub)}/revoke`, { token: admin, json: { reason: 'test: external subject' } });
    const sub = `ext-${randomBytes(4).toString('hex')}`;
    const subject = await external(sub);
    const issued = await send(subject);
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    // The exchange recorded the IdP session (written just after it): revoke-subject ends it too, by its sid.
    await svc.service.flushAudit();

    const res = await revoke(namespaced(idp.issuer, sub));
    assert.equal(res.status, 200, res.text);
    const again = await send(subject);
    assert.deepEqual([again.status, again.body], [400, SUBJECT_INVALID]);
    assert.deepEqual(events.at(-1)!.reasons, ['subject_token:session_revoked']);
    assert.equal((await introspectDelegation(svc, issued.body.access_token as string)).body.active, false);
    // The raw `sub` names nobody here: revoking it reaches neither the external user nor (below) the reverse.
    const bob = await send(await external('user-bob'));
    assert.equal(bob.status, 200, JSON.stringify(bob.body));
    assert.equal((await revoke('user-bob')).status, 200);
    const bobAgain = await send(await external('user-bob'));
    assert.equal(bobAgain.status, 200, JSON.stringify(bobAgain.body));
    assert.equal((await introspectDelegation(svc, bob.body.access_token as string)).body.active, true);
  });
});

describe('external subject tokens: the upstream login\'s issuer is one account', () => {
  let idp: UpstreamIdp;
  let svc: Svc;
  const AUDIENCE = 'urn:test:dts-token-exchange';

  before(async () => {
    idp = await startUpstreamIdp();
    svc = await startWithUpstream(idp, {
      trustedIssuers: [{ issuer: idp.issuer, jwksUri: `${idp.issuer}/jwks`, audience: AUDIENCE, allowedScopes: [LOOKUP] }],
    });
  });
  after(async () => {
    await svc?.stop();
    await idp?.stop();
  });

  it('a JWT from the upstream issuer for the same sub yields the same delegation `sub` as that user\'s upstream login; revoke-subject reaches both', async () => {
    idp.user = { sub: 'carol', sid: 'up-sess-carol', groups: ['support'] };
    const { accessToken } = await authorize(svc, new Browser(svc));
    assert.ok(accessToken);
    const viaLogin = await exchangeFor(svc, 'agent', accessToken, CRM, { scope: LOOKUP });
    assert.equal(viaLogin.status, 200, JSON.stringify(viaLogin.body));
    const account = namespaced(idp.issuer, 'carol');
    assert.equal(decodeJwt(viaLogin.body.access_token as string).sub, account);

    // The upstream provider's key signs a plain JWT for this service (its logout-token signer, made an ordinary JWT).
    const jwt = await idp.logoutToken({ sub: 'carol', sid: 'up-sess-carol', aud: AUDIENCE, events: undefined, scope: LOOKUP, groups: ['support'] }, { typ: 'JWT' });
    const viaJwt = await exchangeFor(svc, 'agent', jwt, CRM, { scope: LOOKUP, subject_token_type: JWT_TYPE });
    assert.equal(viaJwt.status, 200, JSON.stringify(viaJwt.body));
    const claims = decodeJwt(viaJwt.body.access_token as string);
    assert.equal(claims.sub, account);

    const admin = await adminToken(svc);
    const res = await call(svc, 'POST', `/admin/subjects/${encodeURIComponent(account)}/revoke`, { token: admin, json: { reason: 'test: one account' } });
    assert.equal(res.status, 200, res.text);
    for (const [token, type] of [[accessToken, undefined], [jwt, JWT_TYPE]] as const) {
      const refused = await exchangeFor(svc, 'agent', token, CRM, { scope: LOOKUP, ...(type ? { subject_token_type: type } : {}) });
      assert.deepEqual([refused.status, refused.body], [400, SUBJECT_INVALID], type ?? 'user token');
    }
    for (const issued of [viaLogin, viaJwt]) assert.equal((await introspectDelegation(svc, issued.body.access_token as string)).body.active, false);
  });
});
