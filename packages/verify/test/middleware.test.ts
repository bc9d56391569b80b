// koaBearerAuth and expressBearerAuth on real Koa and Express apps: exact statuses, challenges and bodies.
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import Koa from 'koa';
import {
  createVerifier,
  expressBearerAuth,
  koaBearerAuth,
  resourceMetadataUrl,
  type Verifier,
} from 'delegation-token-verify';
import { FEED_CLIENT, startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { getWithAuthorizations } from './helpers/raw_request.js';
import { AUDIENCE, makeKey, mint, type TestKey } from './helpers/tokens.js';

const METADATA = 'https://tools.example/.well-known/oauth-protected-resource/mcp';
const options = { resourceMetadataUrl: resourceMetadataUrl(AUDIENCE), requiredScopes: ['crm.lookup_customer'] };

let issuer: FakeIssuer;
let es: TestKey;
let verifier: Verifier;
let unavailable: Verifier;
const servers: Server[] = [];
const apps: Record<'koa' | 'express', { plain: string; down: string }> = {} as never;

async function listen(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function koaApp(v: Verifier) {
  const app = new Koa();
  app.use(koaBearerAuth(v, options));
  app.use((ctx) => {
    ctx.body = { sub: (ctx.state.auth as { sub: string }).sub };
  });
  return app.callback();
}

function expressApp(v: Verifier) {
  const app = express();
  app.use(expressBearerAuth(v, options));
  app.get('/', (req, res) => {
    res.json({ sub: (req as unknown as { auth: { sub: string } }).auth.sub });
  });
  return app;
}

before(async () => {
  issuer = await startFakeIssuer();
  es = await makeKey('ES256', 'k-es');
  issuer.keys.push(es.publicJwk);
  verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
  // An introspection endpoint that always fails: every otherwise-good token meets ERR_REVOCATION_UNAVAILABLE.
  unavailable = createVerifier({ issuer: issuer.url, audience: AUDIENCE, revocation: { mode: 'introspect', ...FEED_CLIENT, clientSecret: 'x' } });
  apps.koa = { plain: await listen(koaApp(verifier)), down: await listen(koaApp(unavailable)) };
  apps.express = { plain: await listen(expressApp(verifier)), down: await listen(expressApp(unavailable)) };
});
after(async () => {
  verifier.close();
  unavailable.close();
  for (const s of servers) s.closeAllConnections(), s.close();
  await issuer.close();
});

const get = (url: string, authorization?: string) =>
  fetch(url, { headers: authorization === undefined ? {} : { authorization } });

for (const kind of ['koa', 'express'] as const) {
  describe(`${kind} bearer middleware`, () => {
    it('MCP-01: no credentials → 401 with resource_metadata and no error code', async () => {
      for (const authorization of [undefined, 'Basic dXNlcjpwYXNz', '']) {
        const res = await get(apps[kind].plain, authorization);
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${METADATA}"`);
        assert.equal(await res.text(), '');
      }
    });

    it('MCP-04: a token in the query string is never read', async () => {
      const res = await get(`${apps[kind].plain}/?access_token=${await mint({ key: es, issuer: issuer.url })}`);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${METADATA}"`);
    });

    it('a bad token → 401 invalid_token with description and resource_metadata (MCP-02)', async () => {
      const cases: Array<[string, string]> = [
        ['Bearer not.a.jwt', 'malformed access token'],
        [`Bearer ${await mint({ key: es, issuer: issuer.url, claims: { aud: 'https://tools.example/other' } })}`, 'token not issued for this resource'],
        [`Bearer ${await mint({ key: es, issuer: issuer.url, header: { typ: 'JWT' } })}`, 'not an access token'],
      ];
      for (const [authorization, description] of cases) {
        const res = await get(apps[kind].plain, authorization);
        assert.equal(res.status, 401);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer error="invalid_token", error_description="${description}", resource_metadata="${METADATA}"`,
        );
        assert.deepEqual(await res.json(), { error: 'invalid_token', error_description: description });
      }
    });

    it('RFC 6750 §3.1: the scheme without a token → 400 invalid_request with resource_metadata', async () => {
      for (const authorization of ['Bearer', 'bearer   ']) {
        const res = await get(apps[kind].plain, authorization);
        assert.equal(res.status, 400);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer error="invalid_request", error_description="no access token", resource_metadata="${METADATA}"`,
        );
        assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'no access token' });
      }
    });

    it('RFC 6750 §3.1: two Authorization header lines → 400 invalid_request, even when the first is a good token', async () => {
      const good = `Bearer ${await mint({ key: es, issuer: issuer.url })}`;
      for (const lines of [[good, 'Bearer junk'], ['Basic dXNlcjpwYXNz', good], [good, good]]) {
        const res = await getWithAuthorizations(apps[kind].plain, lines);
        assert.equal(res.status, 400);
        assert.equal(
          res.headers['www-authenticate'],
          `Bearer error="invalid_request", error_description="more than one Authorization header", resource_metadata="${METADATA}"`,
        );
        assert.deepEqual(JSON.parse(res.body), { error: 'invalid_request', error_description: 'more than one Authorization header' });
      }
      // One line is still one credential.
      assert.equal((await getWithAuthorizations(apps[kind].plain, [good])).status, 200);
    });

    it('MCP-03: a missing scope → 403 insufficient_scope with scope and resource_metadata', async () => {
      const t = await mint({ key: es, issuer: issuer.url, claims: { scope: 'crm.export_customers' } });
      const res = await get(apps[kind].plain, `Bearer ${t}`);
      assert.equal(res.status, 403);
      assert.equal(
        res.headers.get('www-authenticate'),
        `Bearer error="insufficient_scope", scope="crm.lookup_customer", resource_metadata="${METADATA}"`,
      );
      assert.deepEqual(await res.json(), { error: 'insufficient_scope', error_description: 'insufficient scope' });
    });

    it('revocation unavailable → 503 temporarily_unavailable, no challenge', async () => {
      const res = await get(apps[kind].down, `Bearer ${await mint({ key: es, issuer: issuer.url })}`);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('www-authenticate'), null);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.deepEqual(await res.json(), { error: 'temporarily_unavailable', error_description: 'revocation status unavailable' });
    });

    it('a good token passes, with a case-insensitive scheme, and lands on the request', async () => {
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        const res = await get(apps[kind].plain, `${scheme} ${await mint({ key: es, issuer: issuer.url })}`);
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { sub: 'user-1' });
      }
    });
  });
}
