// upstreamAuth: exchange (src/gateway/upstream_token.ts) against a token endpoint this test plays: what the gateway
// refuses to send upstream.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { VerifiedToken } from 'delegation-token-verify';
import { decodeJwt } from 'jose';
import { createUpstreamTokens, UpstreamTokenError } from '../../src/gateway/upstream_token.js';

describe('gateway upstream tokens (upstreamAuth: exchange)', () => {
  let server: Server;
  let endpoint: string;
  let answer: Record<string, unknown>;
  const seen: Array<{ dpop: string | undefined }> = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push({ dpop: req.headers.dpop as string | undefined });
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const inbound = (jkt?: string) => ({ jti: `jti-${Math.random()}`, scopes: ['crm.lookup_customer'], ...(jkt ? { jkt } : {}) }) as unknown as VerifiedToken;
  const tokens = () => createUpstreamTokens({ tokenEndpoint: endpoint, clientId: 'gateway', clientSecret: 's', timeoutMs: 1000 });
  const upstream = new URL('http://upstream.test/mcp');

  it('a DPoP-bound inbound token that the endpoint answers with a bearer token is refused (a binding is never dropped)', async () => {
    answer = { access_token: 'unbound', token_type: 'Bearer', expires_in: 60 };
    seen.length = 0;
    await assert.rejects(tokens().credentialFor('in', inbound('thumb'), 'http://upstream.test/mcp', 'POST', upstream), (err) => err instanceof UpstreamTokenError && /unbound token/.test(err.message));
    assert.equal(typeof seen[0]?.dpop, 'string', 'the exchange carried a proof of the gateway key');
  });

  it('with serviceUrl the exchange is sent there, and its proof still names the token endpoint of the issuer (htu)', async () => {
    answer = { access_token: 'bound', token_type: 'DPoP', expires_in: 60 };
    seen.length = 0;
    const viaService = createUpstreamTokens({ tokenEndpoint: 'http://localhost:3000/token', tokenUrl: endpoint, clientId: 'gateway', clientSecret: 's', timeoutMs: 1000 });
    const credential = await viaService.credentialFor('in', inbound('thumb'), 'http://upstream.test/mcp', 'POST', upstream);
    assert.equal(credential.authorization, 'DPoP bound');
    assert.equal(seen.length, 1);
    assert.equal(decodeJwt(seen[0]!.dpop!).htu, 'http://localhost:3000/token');
  });

  it('a bearer inbound token gets the bearer answer, and no proof is sent', async () => {
    answer = { access_token: 'plain', token_type: 'Bearer', expires_in: 60 };
    seen.length = 0;
    assert.deepEqual(await tokens().credentialFor('in', inbound(), 'http://upstream.test/mcp', 'POST', upstream), { authorization: 'Bearer plain' });
    assert.equal(seen[0]?.dpop, undefined);
  });
});
