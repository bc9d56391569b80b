// An MCP client (public, authorization code + refresh with a tool server resource) whose user logs in through the
// upstream provider: the delegation token names the upstream account and carries its groups; the upstream's
// back-channel logout ends the client's access (SPEC §13 OB-03): refresh invalid_grant, the delegation token inactive.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { postForm } from '../helpers/http.js';
import { BILLING, CRM, startService, type TestService } from '../helpers/service.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream_idp.js';
import { codeFlow, codeFlowConfig, refresh } from '../grants/authorization_code/helpers.js';
import { sidPrefixFor } from '../../src/token_types/context.js';

describe('MCP client with the upstream login', () => {
  let idp: UpstreamIdp;
  let svc: TestService;
  before(async () => {
    idp = await startUpstreamIdp();
    const secretFile = join(tmpdir(), `dts-upstream-${randomBytes(6).toString('hex')}`);
    writeFileSync(secretFile, idp.clientSecret, { mode: 0o600 });
    svc = await startService({
      extra: (port) =>
        codeFlowConfig(port, {
          demoLogin: { enabled: false, users: [] },
          upstreamLogin: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: { file: secretFile }, backchannelLogout: true },
        }),
    });
  });
  after(async () => {
    await svc?.stop();
    await idp?.stop();
  });

  it('gets a delegation token for the upstream account with its groups; back-channel logout ends refresh and the token', async () => {
    idp.user = { sub: 'kim', sid: 'up-sess-kim', groups: ['finance'] };
    const res = await codeFlow(svc, { resource: BILLING, scope: 'openid offline_access billing.refund_lookup' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const claims = decodeJwt(res.body.access_token as string);
    assert.equal(claims.sub, `${sidPrefixFor(idp.issuer)}|kim`);
    assert.deepEqual(claims.groups, ['finance']);
    assert.deepEqual(claims.act, { sub: 'mcp-client' });
    const refreshToken = res.body.refresh_token as string;
    assert.ok(refreshToken);

    const logout = await postForm(`${svc.url}/backchannel-logout`, { logout_token: await idp.logoutToken({ sid: 'up-sess-kim' }) });
    assert.equal(logout.status, 200);

    const refreshed = await refresh(svc, refreshToken, 'mcp-client', BILLING);
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    const introspected = await postForm(`${svc.url}/token/introspection/delegation`, { token: res.body.access_token as string }, { authorization: svc.basic('billing-server') });
    assert.deepEqual(introspected.body, { active: false });
  });

  it('an upstream user outside the group gets 400 invalid_grant for the group-limited tool server, a token for the other', async () => {
    idp.user = { sub: 'lee', sid: 'up-sess-lee', groups: ['support'] };
    const billing = await codeFlow(svc, { resource: BILLING, scope: 'openid billing.refund_lookup' });
    assert.equal(billing.status, 400);
    assert.deepEqual(billing.body, { error: 'invalid_grant', error_description: 'the user may not be delegated to this client' });
    const crm = await codeFlow(svc, { resource: CRM, scope: 'openid crm.lookup_customer' });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
  });
});
