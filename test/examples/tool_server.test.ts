// The example tool servers' HTTP surface that the agent flow does not reach: RFC 9728 metadata and the 401 challenges.
// The servers run as a child process (`examples/run.ts --serve`, in-memory STS), never imported.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serveExampleProcess } from '../helpers/example_process.js';

describe('example tool servers', () => {
  let sts: { issuer: string };
  let crm: string;
  let stop: () => Promise<void> = async () => {};
  const metadataUrl = () => `${new URL(crm).origin}/.well-known/oauth-protected-resource/mcp`;

  before(async () => {
    const served = await serveExampleProcess<{ issuer: string; crmResource: string }>('examples/run.ts', ['--serve'], { EXAMPLE_STORE: 'memory' });
    stop = served.stop;
    sts = { issuer: served.ready.issuer };
    crm = served.ready.crmResource;
  });

  after(async () => {
    await stop();
  });

  const post = (headers: Record<string, string> = {}) =>
    fetch(crm, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });

  it('serves RFC 9728 metadata naming the STS and every scope the CRM accepts', async () => {
    const res = await fetch(metadataUrl());
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      resource: crm,
      authorization_servers: [sts.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['crm.lookup_customer', 'crm.export_customers', 'billing.refund_lookup'],
      resource_name: 'crm',
    });
  });

  it('answers a request without credentials with bare Bearer and DPoP challenges (RFC 6750 §3.1, RFC 9449 §7.1)', async () => {
    const res = await post();
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${metadataUrl()}", DPoP algs="ES256 EdDSA RS256 PS256", resource_metadata="${metadataUrl()}"`);
    assert.equal(await res.text(), '');
  });

  it('answers a bad token with 401 invalid_token and the fixed description', async () => {
    const res = await post({ authorization: 'Bearer not-a-jwt' });
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer error="invalid_token", error_description="malformed access token", resource_metadata="${metadataUrl()}"`,
    );
    assert.deepEqual(await res.json(), { error: 'invalid_token', error_description: 'malformed access token' });
  });

  it('offers no SSE stream or session (stateless): GET is 405', async () => {
    const res = await fetch(crm, { headers: { accept: 'text/event-stream' } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    await res.body?.cancel();
  });
});
