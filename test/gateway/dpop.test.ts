// The MCP gateway accepts DPoP-bound delegation tokens (RFC 9449 §7): the real service issues them (exchange with a
// proof), the gateway checks every proof with the verify SDK, htu against the route's public resource URI, the jti
// replay cache in Redis shared by replicas, optional nonces; upstream receives the gateway's assertion only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { createVerifier, expressTokenAuth } from 'delegation-token-verify';
import { calculateJwkThumbprint, decodeJwt, EmbeddedJWK, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import type { GatewayConfig } from '../../src/gateway/config.js';
import { call, GRANTED, startStack, TOOLS, type Stack } from './fixture.js';
import { loginUser, postForm } from '../helpers/http.js';
import { AT, EXCHANGE, freePort, REDIS_URL } from '../helpers/service.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp_proxy.js';

interface Key { privateKey: CryptoKey; jwk: JWK; jkt: string }
async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');
interface ProofOptions { htm?: string; htu?: string; jti?: string; ath?: string; nonce?: string }
function proof(key: Key, token: string, htu: string, o: ProofOptions = {}): Promise<string> {
  return new SignJWT({
    htm: o.htm ?? 'POST', htu: o.htu ?? htu, iat: Math.floor(Date.now() / 1000), jti: o.jti ?? randomBytes(16).toString('base64url'),
    ...(token ? { ath: o.ath ?? ath(token) } : {}), ...(o.nonce ? { nonce: o.nonce } : {}),
  }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk }).sign(key.privateKey);
}

/** POSTs one tools/call to `url` with exactly these auth headers. */
async function send(url: string, headers: Record<string, string>, id = 1) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: call(id, 'lookup_customer', { customerId: 'cus_1001' }),
  });
  const text = await res.text();
  let body: Record<string, unknown> | string = text;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // SSE or empty
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** Another gateway process in front of the same upstream, service and Redis: the same config on another port. */
async function replica(config: GatewayConfig): Promise<{ gateway: Gateway; url: string }> {
  const port = await freePort();
  const gateway = await createGateway({ ...config, port }, { logger: pino({ level: 'silent' }) });
  await gateway.listen(port, '127.0.0.1');
  await gateway.ready();
  return { gateway, url: `http://127.0.0.1:${port}/crm/mcp` };
}

describe('MCP gateway: DPoP-bound delegation tokens (RFC 9449 §7, issue 13)', () => {
  let stack: Stack;
  let key: Key;
  let bound: string;
  let metadata: string;
  const extra: Array<{ close(): Promise<void> }> = [];

  const ALGS = 'algs="ES256 EdDSA RS256 PS256"';
  const challenge = (error: string, description: string) => `DPoP error="${error}", error_description="${description}", ${ALGS}, ${metadata}`;
  const posts = () => stack.upstream.received.filter((r) => r.httpMethod === 'POST').length;
  const dpop = async (o: ProofOptions = {}, k = key, token = bound) => ({ authorization: `DPoP ${token}`, dpop: await proof(k, token, stack.resource, o) });

  before(async () => {
    stack = await startStack();
    metadata = `resource_metadata="${stack.gatewayUrl}/.well-known/oauth-protected-resource/crm/mcp"`;
    const user = await loginUser(stack.svc, { clientId: 'agent', username: 'bob', scope: `openid ${TOOLS.join(' ')}` });
    key = await newKey();
    // The agent exchanges with a proof for the token endpoint (htu = the service's public token endpoint).
    const tokenProof = await proof(key, '', `${stack.svc.url}/token`);
    const res = await postForm(
      `${stack.svc.url}/token`,
      { grant_type: EXCHANGE, subject_token: user.accessToken, subject_token_type: AT, resource: stack.resource, scope: GRANTED.join(' ') },
      { authorization: stack.svc.basic('agent'), dpop: tokenProof },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.token_type, 'DPoP');
    bound = res.body.access_token as string;
    assert.deepEqual(decodeJwt(bound).cnf, { jkt: key.jkt });
  });
  after(async () => {
    for (const g of extra) await g.close().catch(() => {});
    await stack.stop();
  });

  it('a valid proof passes; upstream receives the assertion only, never the token, the proof or a binding', async () => {
    const before = stack.upstream.received.length;
    const headers = await dpop();
    const res = await send(stack.resource, headers);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('dpop-nonce'), null);
    const received = stack.upstream.received.slice(before).find((r) => (r.body as { method?: string } | undefined)?.method === 'tools/call')!;
    assert.ok(received, 'reached upstream');
    assert.equal(received.headers.authorization, undefined);
    assert.equal(received.headers.dpop, undefined);
    const all = JSON.stringify(received.headers);
    assert.ok(!all.includes(bound) && !all.includes(headers.dpop) && !all.includes(key.jkt));
    const assertion = decodeJwt(received.headers['delegation-assertion'] as string);
    assert.equal(assertion.sub, 'user-bob');
    assert.equal(assertion.tool, 'lookup_customer');
    assert.equal(assertion.delegation_jti, decodeJwt(bound).jti);
    assert.equal(assertion.cnf, undefined);
  });

  it('the gateway decision event records the binding (jkt)', async () => {
    assert.equal((await send(stack.resource, await dpop(), 41)).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    const admin = await postForm(`${stack.svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: stack.svc.basic('admin-cli') });
    const res = await fetch(`${stack.svc.url}/admin/audit?type=gateway&limit=50`, { headers: { authorization: `Bearer ${admin.body.access_token}` } });
    const { items } = (await res.json()) as { items: Array<Record<string, unknown>> };
    const allow = items.find((e) => e.decision === 'allow' && e.jti === decodeJwt(bound).jti && e.tool === 'lookup_customer');
    assert.ok(allow, 'allow event');
    assert.equal(allow.jkt, key.jkt);
    assert.equal(allow.clientId, 'agent');
  });

  const INVALID = 'invalid DPoP proof';
  const cases: Array<[string, () => Promise<Record<string, string>>, string, string]> = [
    ['bad ath (over another token)', () => dpop({ ath: ath('another token') }), 'invalid_dpop_proof', INVALID],
    ['proof key ≠ cnf.jkt', async () => dpop({}, await newKey()), 'invalid_dpop_proof', 'DPoP proof key does not match the token'],
    ['no proof', async () => ({ authorization: `DPoP ${bound}` }), 'invalid_dpop_proof', 'DPoP proof missing'],
    ['the bound token as Bearer (RFC 9449 §7.2)', async () => ({ authorization: `Bearer ${bound}`, dpop: (await dpop()).dpop }), 'invalid_token', 'sender-constrained token presented as bearer'],
    ['htu on another path of the gateway', () => dpop({ htu: `${stack.gatewayUrl}/billing/mcp` }), 'invalid_dpop_proof', INVALID],
    ['htm another method', () => dpop({ htm: 'GET' }), 'invalid_dpop_proof', INVALID],
  ];
  for (const [name, headers, error, description] of cases) {
    it(`✗ ${name} → 401 with the exact DPoP challenge; nothing reaches upstream`, async () => {
      const before = posts();
      const res = await send(stack.resource, await headers());
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, { error, error_description: description });
      assert.equal(res.headers.get('www-authenticate'), challenge(error, description));
      assert.equal(posts(), before);
    });
  }

  it('✗ no credentials: both challenges (Bearer, and DPoP with algs)', async () => {
    const res = await send(stack.resource, {});
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer ${metadata}, DPoP ${ALGS}, ${metadata}`);
  });

  it('✗ a replayed proof → 401 "DPoP proof replayed", at the same replica and at a second replica sharing the Redis', async () => {
    const b = await replica(stack.config);
    extra.push(b.gateway);
    const once = await dpop();
    assert.equal((await send(stack.resource, once)).status, 200);
    const before = posts();
    for (const url of [stack.resource, b.url]) {
      const again = await send(url, once);
      assert.equal(again.status, 401, url);
      assert.deepEqual(again.body, { error: 'invalid_dpop_proof', error_description: 'DPoP proof replayed' });
      assert.equal(again.headers.get('www-authenticate'), challenge('invalid_dpop_proof', 'DPoP proof replayed'));
    }
    // First seen at B, replayed at A.
    const second = await dpop();
    assert.equal((await send(b.url, second)).status, 200);
    assert.equal((await send(stack.resource, second)).status, 401);
    assert.equal(posts(), before + 1);
    // B compares htu with the public resource URI, not the address the request arrived on (its Host header).
    const arrival = await send(b.url, await dpop({ htu: b.url }));
    assert.equal(arrival.status, 401);
    assert.equal(arrival.headers.get('www-authenticate'), challenge('invalid_dpop_proof', INVALID));
  });

  it('nonces (dpop.nonceSecret): use_dpop_nonce with a DPoP-Nonce, then the nonce passes, at any replica sharing the secret', async () => {
    const secretFile = join(stack.keysDir, 'dpop-nonce.secret');
    writeFileSync(secretFile, randomBytes(32).toString('base64url'), { mode: 0o600 });
    const config = { ...stack.config, dpop: { ...stack.config.dpop, nonceSecret: { file: secretFile, generate: false } } };
    const n1 = await replica(config);
    const n2 = await replica(config);
    extra.push(n1.gateway, n2.gateway);
    const before = posts();
    // Nonces change with the minute (verify SDK dpop_nonce.ts): a later answer repeats this one unless a minute began since.
    const step = Math.floor(Date.now() / 60_000);
    const sameNonce = (header: string | null) => (Math.floor(Date.now() / 60_000) === step ? assert.equal(header, nonce) : assert.match(header ?? '', /^[A-Za-z0-9_-]{43}$/));
    const first = await send(n1.url, await dpop());
    assert.equal(first.status, 401);
    assert.deepEqual(first.body, { error: 'use_dpop_nonce', error_description: 'resource server requires nonce in DPoP proof' });
    assert.equal(first.headers.get('www-authenticate'), challenge('use_dpop_nonce', 'resource server requires nonce in DPoP proof'));
    const nonce = first.headers.get('dpop-nonce')!;
    assert.match(nonce, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(posts(), before);
    const stale = await send(n1.url, await dpop({ nonce: 'not-a-nonce' }));
    assert.equal(stale.status, 401);
    sameNonce(stale.headers.get('dpop-nonce'));
    for (const url of [n1.url, n2.url]) {
      const ok = await send(url, await dpop({ nonce }));
      assert.equal(ok.status, 200, ok.text);
      sameNonce(ok.headers.get('dpop-nonce'));
    }
    assert.equal(posts(), before + 2);
    // Without a nonce secret (the first replica) no nonce is asked for.
    assert.equal((await send(stack.resource, await dpop())).status, 200);
  });

  it('fail closed: the replay store unreachable → 503 temporarily_unavailable, nothing reaches upstream', async () => {
    const proxy: TcpProxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379));
    const g = await replica({ ...stack.config, redis: { ...stack.config.redis, url: `redis://127.0.0.1:${proxy.port}` } });
    extra.push(g.gateway, { close: async () => proxy.close() });
    assert.equal((await send(g.url, await dpop())).status, 200);
    proxy.cut();
    const before = posts();
    const res = await send(g.url, await dpop());
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, { error: 'temporarily_unavailable', error_description: 'DPoP replay check unavailable' });
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal(res.headers.get('www-authenticate'), null);
    assert.equal(posts(), before);
    proxy.restore();
  });

  it('upstreamAuth: exchange with a DPoP-bound token: re-exchanged with a proof of the gateway\'s own key; upstream gets a token bound to that key and a fresh proof per call', async () => {
    const g = await replica({ ...stack.config, routes: stack.config.routes.map((r) => ({ ...r, upstreamAuth: 'exchange' as const })) });
    extra.push(g.gateway);
    const seen: Array<{ token: string; proof: string }> = [];
    for (const id of [7, 8]) {
      const inbound = await dpop();
      const res = await send(g.url, inbound, id);
      assert.equal(res.status, 200, res.text);
      const received = stack.upstream.received.at(-1)!;
      const [scheme, token] = String(received.headers.authorization).split(' ');
      assert.equal(scheme, 'DPoP');
      assert.notEqual(token, bound);
      assert.equal(received.headers['delegation-assertion'], undefined);
      assert.notEqual(received.headers.dpop, inbound.dpop);
      const claims = decodeJwt(token!);
      assert.equal(claims.aud, stack.upstream.url);
      assert.deepEqual(claims.act, { sub: 'gateway', act: decodeJwt(bound).act });
      // RFC 9449 §4.3: the proof verifies with its own jwk, names this request and the token, and its key is the binding.
      const proofJwt = String(received.headers.dpop);
      const { payload, protectedHeader } = await jwtVerify(proofJwt, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
      const upstream = new URL(stack.upstream.url);
      assert.equal(payload.htm, 'POST');
      assert.equal(payload.htu, `${upstream.origin}${upstream.pathname}`);
      assert.equal(payload.ath, ath(token!));
      assert.deepEqual(claims.cnf, { jkt: await calculateJwkThumbprint(protectedHeader.jwk!) });
      assert.notEqual((claims.cnf as { jkt: string }).jkt, key.jkt);
      seen.push({ token: token!, proof: proofJwt });
    }
    // The exchanged token is cached per inbound token; every call gets its own proof.
    assert.equal(seen[1]!.token, seen[0]!.token);
    assert.notEqual(seen[1]!.proof, seen[0]!.proof);
  });

  it('upstreamAuth: exchange when the token endpoint requires DPoP nonces: the gateway retries once with the DPoP-Nonce it was given', async () => {
    const strict = await startStack({ route: { upstreamAuth: 'exchange' }, service: { dpop: { requireNonce: true } } });
    try {
      const user = await loginUser(strict.svc, { clientId: 'agent', username: 'bob', scope: `openid ${TOOLS.join(' ')}` });
      const form = { grant_type: EXCHANGE, subject_token: user.accessToken, subject_token_type: AT, resource: strict.resource, scope: GRANTED.join(' ') };
      const htu = `${strict.svc.url}/token`;
      const first = await postForm(htu, form, { authorization: strict.svc.basic('agent'), dpop: await proof(key, '', htu) });
      assert.equal(first.status, 400);
      assert.equal(first.body.error, 'use_dpop_nonce');
      const nonce = first.headers.get('dpop-nonce')!;
      const res = await postForm(htu, form, { authorization: strict.svc.basic('agent'), dpop: await proof(key, '', htu, { nonce }) });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const token = res.body.access_token as string;
      const answer = await send(strict.resource, { authorization: `DPoP ${token}`, dpop: await proof(key, token, strict.resource) }, 9);
      assert.equal(answer.status, 200, answer.text);
      const received = strict.upstream.received.at(-1)!;
      assert.match(String(received.headers.authorization), /^DPoP /);
      assert.equal(typeof received.headers.dpop, 'string');
    } finally {
      await strict.stop();
    }
  });

  it('upstreamAuth: exchange when the upstream resource server requires DPoP nonces (RFC 9449 §9): the gateway answers the challenge itself, once, and keeps the nonce', async () => {
    // The upstream: a tool server behind the verify SDK's expressTokenAuth, with resource-server nonces.
    const port = await freePort();
    const upstreamUrl = `http://127.0.0.1:${port}/mcp`;
    const strict = await startStack({ upstreamUrl, route: { upstreamAuth: 'exchange' } });
    const verifier = createVerifier({ issuer: strict.svc.url, audience: upstreamUrl, dpop: { nonceSecret: randomBytes(32) } });
    const auth = expressTokenAuth(verifier, { resourceMetadataUrl: `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp` });
    let demandAlways = false;
    const seen: Array<{ nonce: unknown; status: number }> = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const nonce = typeof req.headers.dpop === 'string' ? decodeJwt(req.headers.dpop).nonce : undefined;
        if (demandAlways) {
          // An upstream whose nonces never satisfy it: it asks again, with a new nonce, every time.
          seen.push({ nonce, status: 401 });
          res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce", algs="ES256"', 'dpop-nonce': randomBytes(16).toString('base64url') }).end();
          return;
        }
        void auth(req, res, () => {
          seen.push({ nonce, status: 200 });
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [] } }));
        }).then(() => {
          if (res.statusCode !== 200) seen.push({ nonce, status: res.statusCode });
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const user = await loginUser(strict.svc, { clientId: 'agent', username: 'bob', scope: `openid ${TOOLS.join(' ')}` });
      const htu = `${strict.svc.url}/token`;
      const form = { grant_type: EXCHANGE, subject_token: user.accessToken, subject_token_type: AT, resource: strict.resource, scope: GRANTED.join(' ') };
      const exchanged = await postForm(htu, form, { authorization: strict.svc.basic('agent'), dpop: await proof(key, '', htu) });
      assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
      const token = exchanged.body.access_token as string;
      const call = async (id: number) => send(strict.resource, { authorization: `DPoP ${token}`, dpop: await proof(key, token, strict.resource) }, id);

      // First call: upstream asks for a nonce; the gateway retries once with a fresh proof naming it; the client gets
      // upstream's answer, never its challenge or its nonce.
      const first = await call(1);
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(first.body, { jsonrpc: '2.0', id: 1, result: { content: [] } });
      assert.equal(first.headers.get('dpop-nonce'), null);
      assert.equal(first.headers.get('www-authenticate'), null);
      assert.equal(seen.length, 2);
      assert.deepEqual(seen[0], { nonce: undefined, status: 401 });
      assert.equal(seen[1]!.status, 200);
      assert.equal(seen[1]!.nonce, verifier.dpopNonce());

      // Second call: the gateway's first proof already names the nonce it kept: one upstream request.
      const second = await call(2);
      assert.equal(second.status, 200, second.text);
      assert.deepEqual(seen.slice(2), [{ nonce: verifier.dpopNonce(), status: 200 }]);

      // An upstream that asks again after the retry: 502 to the client (it cannot satisfy upstream's nonce), after
      // exactly two upstream requests, and the decision event says why.
      demandAlways = true;
      const before = seen.length;
      const refused = await call(3);
      assert.equal(refused.status, 502);
      assert.deepEqual(refused.body, { jsonrpc: '2.0', id: 3, error: { code: -32603, message: "upstream refused the gateway's DPoP proof" } });
      assert.equal(refused.headers.get('www-authenticate'), null);
      assert.equal(seen.length - before, 2);
      await new Promise((r) => setTimeout(r, 300));
      const admin = await postForm(`${strict.svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: strict.svc.basic('admin-cli') });
      const audit = await fetch(`${strict.svc.url}/admin/audit?type=gateway&limit=50`, { headers: { authorization: `Bearer ${admin.body.access_token}` } });
      const { items } = (await audit.json()) as { items: Array<Record<string, unknown>> };
      const event = items.find((e) => e.status === 502);
      assert.ok(event, 'decision event for the refused call');
      assert.equal(event.decision, 'allow');
      assert.deepEqual(event.reasons, ['upstream_dpop_nonce_refused']);
    } finally {
      verifier.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await strict.stop();
    }
  });

  it('RFC 9449 §7.1: a per-call 403 to a DPoP-bound caller names the route verifier\'s proof algorithms (dpop.algorithms)', async () => {
    const r = await replica({ ...stack.config, dpop: { ...stack.config.dpop, algorithms: ['ES256'] } });
    extra.push(r.gateway);
    const res = await fetch(r.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(await dpop()) },
      body: call(61, 'export_customers', {}),
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('www-authenticate'), `DPoP error="insufficient_scope", scope="export_customers", algs="ES256", ${metadata}`);
  });

  it('an unbound (Bearer) token still passes as Bearer', async () => {
    assert.equal((await send(stack.resource, { authorization: `Bearer ${await stack.token()}` })).status, 200);
  });
});
