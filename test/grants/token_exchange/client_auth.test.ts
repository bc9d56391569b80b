// RFC 6749 §2.3 / §5.2: client authentication at the token endpoint, as the token exchange grant sees it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loginUser, postForm } from '../../helpers/http.js';
import { AT, CRM, EXCHANGE, startService, type TestService } from '../../helpers/service.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const invalidClient = { error: 'invalid_client', error_description: 'client authentication failed' };

describe('client authentication for token exchange', () => {
  let svc: TestService;
  let userToken: string;
  let fields: Record<string, string>;
  const token = () => `${svc.url}/token`;

  before(async () => {
    svc = await startService();
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
