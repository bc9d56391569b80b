// expressTokenAuth, koaTokenAuth and mcpAuth (Bearer and DPoP) on real Express and Koa apps: malformed requests.
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import Koa from 'koa';
import { createVerifier, expressTokenAuth, koaTokenAuth, mcpAuth, resourceMetadataUrl, type Verifier } from 'delegation-token-verify';
import { startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { getWithAuthorizations } from './helpers/raw_request.js';
import { AUDIENCE, makeKey, mint, type TestKey } from './helpers/tokens.js';

const METADATA = 'https://tools.example/.well-known/oauth-protected-resource/mcp';
const ALGS = 'ES256 EdDSA RS256 PS256';
const options = { resourceMetadataUrl: resourceMetadataUrl(AUDIENCE) };

let issuer: FakeIssuer;
let es: TestKey;
let verifier: Verifier;
const servers: Server[] = [];
const urls = {} as Record<'express' | 'koa' | 'mcp', string>;

async function listen(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

before(async () => {
  issuer = await startFakeIssuer();
  es = await makeKey('ES256', 'k-es');
  issuer.keys.push(es.publicJwk);
  verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
  const expressApp = express();
  expressApp.get('/mcp', expressTokenAuth(verifier, options), (_req, res) => void res.json({ ok: true }));
  const mcpApp = express();
  mcpApp.get('/mcp', mcpAuth(verifier, options), (_req, res) => void res.json({ ok: true }));
  const koaApp = new Koa();
  koaApp.use(koaTokenAuth(verifier, options));
  koaApp.use((ctx) => {
    ctx.body = { ok: true };
  });
  urls.express = await listen(expressApp);
  urls.mcp = await listen(mcpApp);
  urls.koa = await listen(koaApp.callback());
});
after(async () => {
  verifier.close();
  for (const s of servers) s.closeAllConnections(), s.close();
  await issuer.close();
});

for (const kind of ['express', 'koa', 'mcp'] as const) {
  describe(`${kind} token middleware: RFC 6750 §3.1 invalid_request`, () => {
    it('a scheme without a token → 400 invalid_request in that scheme\'s challenge, with resource_metadata', async () => {
      const cases: Array<[string, string]> = [
        ['Bearer', `Bearer error="invalid_request", error_description="no access token", resource_metadata="${METADATA}"`],
        ['bearer   ', `Bearer error="invalid_request", error_description="no access token", resource_metadata="${METADATA}"`],
        ['DPoP', `DPoP error="invalid_request", error_description="no access token", algs="${ALGS}", resource_metadata="${METADATA}"`],
      ];
      for (const [authorization, challenge] of cases) {
        const res = await fetch(urls[kind], { headers: { authorization } });
        assert.equal(res.status, 400, authorization);
        assert.equal(res.headers.get('www-authenticate'), challenge);
        assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'no access token' });
      }
    });

    it('two Authorization header lines → 400 invalid_request, even when the first is a good token', async () => {
      const good = `Bearer ${await mint({ key: es, issuer: issuer.url })}`;
      for (const lines of [[good, 'Bearer junk'], ['Basic dXNlcjpwYXNz', good], [good, good]]) {
        const res = await getWithAuthorizations(urls[kind], lines);
        assert.equal(res.status, 400);
        assert.equal(
          res.headers['www-authenticate'],
          `Bearer error="invalid_request", error_description="more than one Authorization header", resource_metadata="${METADATA}"`,
        );
        assert.deepEqual(JSON.parse(res.body), { error: 'invalid_request', error_description: 'more than one Authorization header' });
      }
      // One line is still one credential.
      const one = await getWithAuthorizations(urls[kind], [good]);
      assert.deepEqual([one.status, JSON.parse(one.body)], [200, { ok: true }]);
    });
  });
}
