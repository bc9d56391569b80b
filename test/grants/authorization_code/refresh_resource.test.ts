// A refresh refused for its `resource` (RFC 8707 §2: invalid_target) consumes nothing: the same refresh token with the
// right resource still works, and the chain is not taken for a reuse.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { introspectDelegation } from '../../admin/helpers.js';
import { postForm } from '../../helpers/http.js';
import { BILLING, CRM, type TestService } from '../../helpers/service.js';
import { codeFlow, MCP, refresh, startCodeFlowService } from './helpers.js';

/** A refresh as the MCP client sends it; `resource` repeated when an array, absent when undefined. */
const refreshWith = (svc: TestService, refreshToken: string, resource: string | string[] | undefined) =>
  postForm(`${svc.url}/token`, { grant_type: 'refresh_token', client_id: MCP, refresh_token: refreshToken, resource });

describe('refresh with a resource the refresh token was not granted for', () => {
  let svc: TestService & { keysDir: string };
  before(async () => {
    svc = await startCodeFlowService();
  });
  after(() => svc.stop());

  const refused: Array<[string, string | string[]]> = [
    ['another tool server, allowed to the client but not granted', BILLING],
    ['a non-canonical spelling of the granted one', `${CRM}/`],
    ['this service itself, not granted', ''],
    ['two resources', [CRM, BILLING]],
  ];
  for (const [label, resource] of refused) {
    it(`${label}: 400 invalid_target, then the same refresh token with the granted resource → 200`, async () => {
      const first = await codeFlow(svc, { resource: CRM });
      assert.equal(first.status, 200);
      const rt = first.body.refresh_token as string;
      const bad = await refreshWith(svc, rt, resource || svc.url);
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.deepEqual(bad.body, { error: 'invalid_target', error_description: 'resource indicator is missing, or unknown' });
      assert.equal(bad.headers.get('cache-control'), 'no-store');
      assert.equal(await svc.redis.hget(`${svc.prefix}oidc:RefreshToken:${rt}`, 'consumed'), null, 'not consumed');

      const good = await refresh(svc, rt, MCP, CRM);
      assert.equal(good.status, 200, JSON.stringify(good.body));
      assert.equal((await introspectDelegation(svc, good.body.access_token as string)).body.active, true);
      assert.equal((await introspectDelegation(svc, first.body.access_token as string)).body.active, true, 'the grant lives on');
      assert.equal((await refresh(svc, good.body.refresh_token as string, MCP, CRM)).status, 200);
    });
  }

  it('no resource: the granted one (unchanged)', async () => {
    const first = await codeFlow(svc, { resource: CRM });
    const res = await refreshWith(svc, first.body.refresh_token as string, undefined);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
});
