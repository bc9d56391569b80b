// Consent revocation in the audit trail: who revoked which consent (user, client, resource), why, in which request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CRM, type TestService } from '../helpers/service.js';
import { redisKeys } from '../../src/stores/redis/keys.js';
import { adminToken, call, startAdminService } from './helpers.js';

type Event = Record<string, unknown>;

describe('admin API: consent revocations are audited', () => {
  let svc: TestService;
  let token: string;
  const at = () => Math.floor(Date.now() / 1000);
  const remember = (accountId: string, clientId: string, grantId: string) =>
    svc.service.stores.consents.remember({ accountId, clientId, resource: CRM, scopes: ['crm.lookup_customer'], grantId, at: at() });
  async function revocationEvents(query: string): Promise<Event[]> {
    await svc.service.flushAudit();
    const res = await call(svc, 'GET', `/admin/audit?type=revocation&limit=500&${query}`, { token });
    assert.equal(res.status, 200, res.text);
    return (res.body.items as Event[]).map(({ id, time, ...rest }) => rest);
  }

  before(async () => {
    svc = await startAdminService();
    token = await adminToken(svc);
  });
  after(() => svc.stop());

  it('revoke-consent: one `consent` event naming the user, the client and the resource, with the reason and request id', async () => {
    const client = 'https://agents.example.com/.well-known/oauth-client/metadata/claude-desktop.json';
    await remember('user-carol', client, 'grant-consent-1');
    const res = await call(svc, 'POST', '/admin/consents/revoke', {
      token,
      json: { sub: 'user-carol', client_id: client, resource: CRM, reason: 'user asked on ticket 4711' },
      headers: { 'x-request-id': 'consent-revoke-1' },
    });
    assert.equal(res.status, 200, res.text);

    assert.deepEqual(await revocationEvents('sub=user-carol'), [
      {
        type: 'revocation',
        decision: 'allow',
        reasons: ['revoked'],
        requestId: 'consent-revoke-1',
        clientId: 'admin-cli',
        kind: 'consent',
        value: client,
        sub: 'user-carol',
        resource: CRM,
        reason: 'user asked on ticket 4711',
        created: true,
      },
    ]);
    // The grant's descendants marker says why too.
    const digests = (await revocationEvents('client_id=admin-cli')).filter((e) => e.kind === 'token_digest' && e.reason === 'user asked on ticket 4711');
    assert.equal(digests.length, 1);
    assert.deepEqual(digests.map((e) => e.requestId), ['consent-revoke-1']);
  });

  it('delete-client: one `consent` event per consent it revokes', async () => {
    const client = 'https://abandoned.example/client.json';
    await remember('user-dave', client, 'grant-consent-2');
    await remember('user-erin', client, 'grant-consent-3');
    const res = await call(svc, 'POST', `/admin/clients/${encodeURIComponent(client)}/delete`, { token, json: { reason: 'abandoned' }, headers: { 'x-request-id': 'delete-1' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.revokedConsents, 2);
    for (const sub of ['user-dave', 'user-erin']) {
      const events = (await revocationEvents(`sub=${sub}`)).filter((e) => e.kind === 'consent');
      assert.deepEqual(events.map((e) => [e.value, e.resource, e.reason, e.requestId, e.clientId, e.reasons]), [[client, CRM, 'abandoned', 'delete-1', 'admin-cli', ['revoked']]], sub);
    }
  });

  it('a grant that cannot be ended: 503, and the consent event still records the revocation, with grants_not_ended', async () => {
    const client = 'https://broken.example/client.json';
    await remember('user-frank', client, 'grant-consent-4');
    // A grant record of the wrong type: Redis refuses to read it (WRONGTYPE), a store failure while ending the grant.
    const grantKey = redisKeys.record(svc.prefix, 'Grant', 'grant-consent-4');
    await svc.redis.set(grantKey, 'not a hash');
    try {
      const res = await call(svc, 'POST', '/admin/consents/revoke', { token, json: { sub: 'user-frank', client_id: client, resource: CRM, reason: 'compromised' }, headers: { 'x-request-id': 'consent-revoke-2' } });
      assert.equal(res.status, 503, res.text);
    } finally {
      await svc.redis.del(grantKey);
    }
    const events = (await revocationEvents('sub=user-frank')).filter((e) => e.kind === 'consent');
    assert.deepEqual(events.map((e) => [e.value, e.reason, e.requestId, e.reasons]), [[client, 'compromised', 'consent-revoke-2', ['revoked', 'grants_not_ended']]]);
    // The consent is still listed, so the retry finds it and ends its grants (a consent removed first would answer 404
    // and leave the grants alive).
    const retry = await call(svc, 'POST', '/admin/consents/revoke', { token, json: { sub: 'user-frank', client_id: client, resource: CRM, reason: 'compromised' }, headers: { 'x-request-id': 'consent-revoke-3' } });
    assert.equal(retry.status, 200, retry.text);
    assert.deepEqual([retry.body.revoked, retry.body.endedGrants], [true, 1]);
    const after = (await revocationEvents('sub=user-frank')).filter((e) => e.kind === 'consent');
    assert.deepEqual(after.map((e) => [e.requestId, e.reasons]).sort(), [['consent-revoke-2', ['revoked', 'grants_not_ended']], ['consent-revoke-3', ['revoked']]]);
    assert.equal((await call(svc, 'POST', '/admin/consents/revoke', { token, json: { sub: 'user-frank', client_id: client, resource: CRM, reason: 'again' } })).status, 404);
  });
});
