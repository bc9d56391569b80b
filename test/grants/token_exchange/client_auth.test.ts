// RFC 6749 §2.3 / §5.2: client authentication at the token endpoint, as the token exchange grant sees it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loginUser, postForm } from '../../helpers/http.js';
import { AT, CRM, EXCHANGE, startService, type TestService } from '../../helpers/service.js';
import type { ExchangeDecisionEvent } from '../../../src/audit/events.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const invalidClient = { error: 'invalid_client', error_description: 'client authentication failed' };

describe('client authentication for token exchange', () => {
  let svc: TestService;
  let userToken: string;
  let fields: Record<string, string>;
  const token = () => `${svc.url}/token`;
  const events: ExchangeDecisionEvent[] = [];

  before(async () => {
    svc = await startService();
    svc.service.events.on((e) => {
      if (e.type === 'exchange') events.push(e);
    });
    userToken = (await loginUser(svc)).accessToken;
    fields = { grant_type: EXCHANGE, subject_token: userToken, subject_token_type: AT, resource: CRM };
  });
  after(() => svc.stop());

  it('TE-11 a wrong client secret over Basic: 401 invalid_client with a Basic challenge', async () => {
    const res = await postForm(token(), fields, { authorization: basic('agent', 'wrong-secret') });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, invalidClient);
    assert.equal(res.headers.get('www-authenticate'), `Basic realm="${svc.url}", error="invalid_client", error_description="client authentication failed"`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('TE-11 no client authentication at all: 401 invalid_client with a Basic challenge and no error code', async () => {
    const res = await postForm(token(), fields);
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, invalidClient);
    assert.equal(res.headers.get('www-authenticate'), `Basic realm="${svc.url}"`);
  });

  it('TE-11 a client_id in the body without its secret, or with a wrong one: 401 invalid_client with a Basic challenge', async () => {
    for (const extra of [{ client_id: 'agent' }, { client_id: 'agent', client_secret: 'wrong-secret' }, { client_id: 'nobody', client_secret: 'x' }]) {
      const res = await postForm(token(), { ...fields, ...extra });
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, invalidClient);
      assert.equal(res.headers.get('www-authenticate'), `Basic realm="${svc.url}"`);
    }
  });

  it('TE-11 an unknown client: 401 invalid_client', async () => {
    const res = await postForm(token(), fields, { authorization: basic('nobody', 'secret') });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, invalidClient);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  });

  it('every refused client authentication of an exchange is audited: invalid_client, the client only when it is registered', async () => {
    const cases: Array<[Record<string, string>, Record<string, string>, string]> = [
      [{}, { authorization: basic('agent', 'wrong-secret') }, 'agent'],
      [{ client_id: 'agent', client_secret: 'wrong-secret' }, {}, 'agent'],
      [{}, {}, ''],
      [{ client_id: 'nobody', client_secret: 'x' }, {}, ''],
    ];
    for (const [extra, headers, clientId] of cases) {
      const before = events.length;
      const res = await postForm(token(), { ...fields, ...extra }, headers);
      assert.equal(res.status, 401);
      const added = events.slice(before);
      assert.equal(added.length, 1, JSON.stringify(extra));
      assert.deepEqual([added[0]!.decision, added[0]!.error, added[0]!.reasons, added[0]!.clientId], ['deny', 'invalid_client', ['invalid_client'], clientId]);
      assert.ok(!JSON.stringify(added[0]).includes(userToken) && !JSON.stringify(added[0]).includes('wrong-secret'));
    }
    // Another client authentication failure that is not invalid_client keeps its own code.
    const before = events.length;
    const res = await postForm(token(), { ...fields, client_secret: svc.secrets.agent! }, { authorization: svc.basic('agent') });
    assert.equal(res.status, 400);
    assert.deepEqual(events.slice(before).map((e) => [e.error, e.reasons]), [['invalid_request', ['invalid_request']]]);
  });

  it('OA-03 Basic authentication plus client_secret in the body: invalid_request', async () => {
    const res = await postForm(token(), { ...fields, client_secret: svc.secrets.agent! }, { authorization: svc.basic('agent') });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'client authentication must only be provided using one mechanism' });
  });

  it('OA-04 wrong Basic credentials (right secret, other client): 401 invalid_client, WWW-Authenticate Basic', async () => {
    const res = await postForm(token(), fields, { authorization: basic('agent', svc.secrets.agent2!) });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, invalidClient);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="[^"]+", error="invalid_client"/);
  });

  it('OA-04 a malformed Authorization header: invalid_request', async () => {
    const res = await postForm(token(), fields, { authorization: 'Basic not-base64-with-colon' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'invalid authorization header value format' });
  });

  it('OA-05 client credentials in the query string are not used for authentication', async () => {
    const query = new URLSearchParams({ client_id: 'agent', client_secret: svc.secrets.agent! });
    const res = await postForm(`${token()}?${query}`, fields);
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, invalidClient);
    // Nor do they count as a second authentication method next to a valid one.
    const withBasic = await postForm(`${token()}?${query}`, fields, { authorization: svc.basic('agent') });
    assert.equal(withBasic.status, 200, JSON.stringify(withBasic.body));
  });

  it('OA-05 a body secret alone (client_secret_post) also authenticates a client_secret_basic client', async () => {
    // oidc-provider treats basic and post as interchangeable for secret-based clients.
    const res = await postForm(token(), { ...fields, client_id: 'agent', client_secret: svc.secrets.agent! });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('pragma'), 'no-cache');
  });
});
