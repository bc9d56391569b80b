// A reused code or rotated refresh token, refused by oidc-provider itself (it read the record consumed): the grant ends
// once. oidc-provider's revoke (lib/helpers/revoke.js) asks each token model to revoke the grant's tokens while it
// destroys the Grant, whose end (provider/index.ts oneTimeGrants) revokes them after the grant: one revocation of the
// grant's tokens at the store, not one per model and again per model.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postForm } from '../../helpers/http.js';
import { CRM, REDIRECT, startService, type TestService } from '../../helpers/service.js';
import { authorize, codeFlow, codeFlowConfig, MCP, refresh } from './helpers.js';
import { redisKeys } from '../../../src/stores/redis/keys.js';

const MODELS = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode', 'Grant'];

describe('a reuse refused by oidc-provider ends the grant once', () => {
  let svc: TestService & { keysDir: string };
  /** Store calls that end a grant, as `method model grantId`. */
  const calls: string[] = [];

  before(async () => {
    svc = await startService({ extra: (port) => codeFlowConfig(port) });
    // The store's own adapters (one per model, cached), under every wrapper oidc-provider is given.
    for (const model of MODELS) {
      const adapter = svc.service.stores.adapterFor(model);
      for (const method of ['revokeByGrantId', 'destroy'] as const) {
        const inner = adapter[method].bind(adapter);
        adapter[method] = (id: string) => {
          calls.push(`${method} ${model} ${id}`);
          return inner(id);
        };
      }
    }
  });
  after(() => svc.stop());

  /** The grant-ending events stored for `grantId`'s delegation tokens (service.ts beforeDestroy, `grant_end`). */
  async function grantEndEvents(): Promise<number> {
    await svc.service.flushAudit();
    const entries = await svc.redis.xrange(redisKeys.audit(svc.prefix), '-', '+');
    return entries.filter(([, fields]) => fields[1]!.includes('"type":"revocation"') && fields[1]!.includes('grant_end')).length;
  }

  function assertEndedOnce(grantIds: Set<string>): void {
    assert.equal(grantIds.size, 1, calls.join('\n'));
    const [grantId] = [...grantIds];
    const ending = calls.filter((c) => c.endsWith(` ${grantId}`));
    assert.deepEqual(ending.filter((c) => c.startsWith('destroy Grant')), [`destroy Grant ${grantId}`], calls.join('\n'));
    assert.equal(ending.filter((c) => c.startsWith('revokeByGrantId')).length, 1, ending.join('\n'));
  }

  it('a code redeemed twice: one Grant destroy, one revocation of its tokens, one grant_end event', async () => {
    const { redirect, verifier } = await authorize(svc, { resource: CRM });
    const form = { grant_type: 'authorization_code', client_id: MCP, code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier, resource: CRM };
    assert.equal((await postForm(`${svc.url}/token`, form)).status, 200);
    const events = await grantEndEvents();
    calls.length = 0;
    const reused = await postForm(`${svc.url}/token`, form);
    assert.deepEqual(reused.body, { error: 'invalid_grant', error_description: 'grant request is invalid' });
    assertEndedOnce(new Set(calls.filter((c) => c.startsWith('revokeByGrantId') || c.startsWith('destroy Grant')).map((c) => c.split(' ')[2]!)));
    assert.equal((await grantEndEvents()) - events, 1);
  });

  it('a rotated refresh token used again: the same', async () => {
    const first = await codeFlow(svc, { resource: CRM });
    const second = await refresh(svc, first.body.refresh_token as string);
    assert.equal(second.status, 200);
    const events = await grantEndEvents();
    calls.length = 0;
    const reused = await refresh(svc, first.body.refresh_token as string);
    assert.equal(reused.body.error, 'invalid_grant');
    assertEndedOnce(new Set(calls.filter((c) => c.startsWith('revokeByGrantId') || c.startsWith('destroy Grant')).map((c) => c.split(' ')[2]!)));
    assert.equal((await grantEndEvents()) - events, 1);
    // Nothing of the family survives.
    assert.equal((await refresh(svc, second.body.refresh_token as string)).body.error, 'invalid_grant');
  });
});
