// DPoP (RFC 9449) at oidc-provider's own grants (authorization_code, refresh_token, client_credentials): the exchange's
// proof checks run in front of them (src/dpop/token_endpoint.ts): htu against the configured issuer, the configured
// window, strict JSON, one replay key space shared with the exchange, the same nonces, requireDpop at
// client_credentials; and a store outage is a 503. Real service, real Redis; proofs made with jose or by hand.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, KeyObject, randomBytes, sign } from 'node:crypto';
import { request } from 'node:http';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { devLogin } from '../../tools/dev_login.js';
import { postForm, type FormResponse } from '../helpers/http.js';
import { AT, CRM, EXCHANGE, REDIRECT, startService, testConfig, type TestService } from '../helpers/service.js';
import { StoreUnavailable } from '../../src/stores/errors.js';

const LEDGER = 'http://tools.test/ledger/mcp';
const INVALID_PROOF = { error: 'invalid_dpop_proof', error_description: 'the DPoP proof is invalid' };
const REQUIRED = { error: 'invalid_request', error_description: 'a DPoP proof is required' };
const NONCE_REQUIRED = { error: 'use_dpop_nonce', error_description: 'a DPoP nonce is required' };

interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function dpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

const proof = (key: DpopKey, htu: string, claims: JWTPayload = {}) =>
  new SignJWT({ htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url'), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .sign(key.privateKey);

/** POST /token over node:http, so a test controls raw headers (repeated ones, Host) and sees every response header. */
function rawPost(url: string, body: Record<string, string>, headers: Array<[string, string]>): Promise<FormResponse & { raw: string[] }> {
  const target = new URL(`${url}/token`);
  const payload = new URLSearchParams(body).toString();
  const host: Array<[string, string]> = headers.some(([k]) => k === 'host') ? [] : [['host', target.host]];
  const flat = [['content-type', 'application/x-www-form-urlencoded'], ['accept', 'application/json'], ['content-length', String(Buffer.byteLength(payload))], ...host, ...headers].flat();
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: flat }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve({ status: res.statusCode!, headers: h, body: text ? JSON.parse(text) : {}, raw: res.rawHeaders });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const dpopNonceHeaders = (raw: string[]) => raw.filter((_, i) => i % 2 === 0 && raw[i]!.toLowerCase() === 'dpop-nonce');

/** The service these tests run against: `agent` may refresh and exchange, LEDGER requires DPoP, admin-cli may ask for it. */
const start = (extra: Record<string, unknown> = {}) =>
  startService({
    extra: (port) => {
      const base = testConfig(port, '', '');
      return {
        clients: base.clients!.map((c) =>
          c.client_id === 'agent' ? { ...c, grant_types: ['authorization_code', 'refresh_token', EXCHANGE] }
          : c.client_id === 'admin-cli' ? { ...c, scope: 'admin crm.lookup_customer ledger.read' }
          : c,
        ),
        toolServers: [...base.toolServers!, { resource: LEDGER, scopes: ['ledger.read'], requireDpop: true, maxTtlSeconds: 300 }],
        ...extra,
      };
    },
  });

/** Authorization code + PKCE as alice through the dev login; the code is exchanged with `dpop` (a proof, or a maker of one per nonce). */
async function loginCode(svc: TestService, offline = false): Promise<Record<string, string>> {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${svc.url}/auth`);
  auth.search = new URLSearchParams({
    client_id: 'agent', response_type: 'code', redirect_uri: REDIRECT, scope: `openid crm.lookup_customer${offline ? ' offline_access' : ''}`,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', state: 'st', prompt: 'consent',
  }).toString();
  const code = (await devLogin(auth, REDIRECT, 'alice')).searchParams.get('code')!;
  return { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
}

describe('DPoP at oidc-provider grants: the exchange checks in front (nonces off)', () => {
  let svc: TestService;
  let htu: string;
  const token = (fields: Record<string, string>, clientId: string, dpop?: string) =>
    postForm(`${svc.url}/token`, fields, { authorization: svc.basic(clientId), ...(dpop ? { dpop } : {}) });
  const clientCredentials = (dpop?: string, resource = CRM, clientId = 'admin-cli') =>
    token({ grant_type: 'client_credentials', resource, scope: resource === LEDGER ? 'ledger.read' : 'crm.lookup_customer' }, clientId, dpop);

  before(async () => {
    // proxy: X-Forwarded-Host is trusted, as behind a proxy: it must still not move the htu a proof is checked against.
    svc = await start({ proxy: true });
    htu = `${svc.url}/token`;
  });
  after(() => svc.stop());

  it('login, refresh and client_credentials with a valid proof: 200, token_type DPoP, bound to the proof key', async () => {
    const key = await dpopKey();
    const login = await token(await loginCode(svc, true), 'agent', await proof(key, htu));
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.token_type, 'DPoP');
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: login.body.refresh_token as string }, 'agent', await proof(key, htu));
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(refreshed.body.token_type, 'DPoP');
    // The refreshed user token is bound: its holder exchanges it with a proof of the same key.
    const exchanged = await token({ grant_type: EXCHANGE, subject_token: refreshed.body.access_token as string, subject_token_type: AT, resource: CRM }, 'agent', await proof(key, htu));
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    assert.deepEqual(decodeJwt(exchanged.body.access_token as string).cnf, { jkt: key.jkt });
    const cc = await clientCredentials(await proof(key, htu));
    assert.equal(cc.status, 200, JSON.stringify(cc.body));
    assert.equal(cc.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(cc.body.access_token as string).cnf, { jkt: key.jkt });
  });

  it('RFC 9449 §11.1: a proof spent at one grant is refused at every other, the exchange included, and for every client', async () => {
    const key = await dpopKey();
    // Spent at the code grant, then at the exchange.
    const p = await proof(key, htu);
    const login = await token(await loginCode(svc), 'agent', p);
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const exchanged = await token({ grant_type: EXCHANGE, subject_token: login.body.access_token as string, subject_token_type: AT, resource: CRM }, 'agent', p);
    assert.deepEqual([exchanged.status, exchanged.body], [400, INVALID_PROOF]);
    // Spent at the exchange, then at refresh.
    const offline = await token(await loginCode(svc, true), 'agent', await proof(key, htu));
    const q = await proof(key, htu);
    const first = await token({ grant_type: EXCHANGE, subject_token: offline.body.access_token as string, subject_token_type: AT, resource: CRM }, 'agent', q);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const refresh = await token({ grant_type: 'refresh_token', refresh_token: offline.body.refresh_token as string }, 'agent', q);
    assert.deepEqual([refresh.status, refresh.body], [400, INVALID_PROOF]);
    // Spent at client_credentials: refused there again (not invalid_grant), and for another client at another grant.
    const r = await proof(key, htu);
    assert.equal((await clientCredentials(r)).status, 200);
    const again = await clientCredentials(r);
    assert.deepEqual([again.status, again.body], [400, INVALID_PROOF]);
    const otherClient = await token(await loginCode(svc), 'agent', r);
    assert.deepEqual([otherClient.status, otherClient.body], [400, INVALID_PROOF]);
  });

  it('RFC 9449 §4.3 htu is the configured issuer: a proof for the Host or X-Forwarded-Host the request names is refused', async () => {
    const key = await dpopKey();
    const fields = { grant_type: 'client_credentials', scope: 'crm.lookup_customer', resource: CRM };
    const auth: [string, string] = ['authorization', svc.basic('admin-cli')];
    const byHost = await rawPost(svc.url, fields, [auth, ['host', 'evil.example'], ['dpop', await proof(key, 'http://evil.example/token')]]);
    assert.deepEqual([byHost.status, byHost.body], [400, INVALID_PROOF]);
    const forwarded: Array<[string, string]> = [['x-forwarded-host', 'evil.example'], ['x-forwarded-proto', 'https']];
    const byForwarded = await rawPost(svc.url, fields, [auth, ...forwarded, ['dpop', await proof(key, 'https://evil.example/token')]]);
    assert.deepEqual([byForwarded.status, byForwarded.body], [400, INVALID_PROOF]);
    assert.equal(byForwarded.headers.get('cache-control'), 'no-store');
    assert.equal(byForwarded.headers.get('pragma'), 'no-cache');
  });

  it('RFC 9449 §11.1 iat within dpop.proofWindowSeconds (60): ±240 s and ±10 min are invalid_dpop_proof, never use_dpop_nonce', async () => {
    const key = await dpopKey();
    const now = Math.floor(Date.now() / 1000);
    for (const skew of [-240, 240, -600, 600, -86400]) {
      const res = await clientCredentials(await proof(key, htu, { iat: now + skew }));
      assert.deepEqual([res.status, res.body], [400, INVALID_PROOF], `iat now${skew}`);
    }
  });

  it('DP-02 and JW-07 at client_credentials: every bad proof → 400 invalid_dpop_proof with the fixed description', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
    const claims = (o: Record<string, unknown> = {}) => ({ htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url'), ...o });
    const es = (header: unknown, payload: unknown) => {
      const input = `${b64(header)}.${b64(payload)}`;
      return `${input}.${sign('sha256', Buffer.from(input), { key: KeyObject.from(privateKey as never), dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    const H = { typ: 'dpop+jwt', alg: 'ES256', jwk };
    const cases: Array<[string, string[]]> = [
      ['typ JWT', [es({ ...H, typ: 'JWT' }, claims())]],
      ['alg none', [`${b64({ typ: 'dpop+jwt', alg: 'none', jwk })}.${b64(claims())}.`]],
      ['alg HS256', [(() => { const i = `${b64({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: b64('secret') } })}.${b64(claims())}`; return `${i}.${createHmac('sha256', 'secret').update(i).digest('base64url')}`; })()]],
      ['jwk with d', [es({ ...H, jwk: { ...jwk, d: 'AAAA' } }, claims())]],
      ['htm GET', [es(H, claims({ htm: 'GET' }))]],
      ['htu other path', [es(H, claims({ htu: `${svc.url}/other` }))]],
      ['two DPoP headers', [es(H, claims()), es(H, claims())]],
      ['duplicate header member', [es(`{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":${JSON.stringify(jwk)}}`, claims())]],
      ['duplicate claim', [es(H, JSON.stringify(claims()).replace('{', '{"htm":"GET",'))]],
      ['crit', [es({ ...H, crit: ['x'], x: 1 }, claims())]],
    ];
    for (const [name, proofs] of cases) {
      const res = await rawPost(svc.url, { grant_type: 'client_credentials', scope: 'crm.lookup_customer', resource: CRM }, [['authorization', svc.basic('admin-cli')], ...proofs.map((p) => ['dpop', p] as [string, string])]);
      assert.deepEqual([res.status, res.body], [400, INVALID_PROOF], name);
    }
  });

  it('toolServers[].requireDpop at client_credentials: no proof → 400 invalid_request; a proof → a bound token', async () => {
    const none = await clientCredentials(undefined, LEDGER);
    assert.deepEqual([none.status, none.body], [400, REQUIRED]);
    assert.equal(none.headers.get('cache-control'), 'no-store');
    // Named among several resources too (oidc-provider would refuse the request anyway: one resource per token).
    const twice = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', resource: [CRM, LEDGER], scope: 'ledger.read' }, { authorization: svc.basic('admin-cli') });
    assert.deepEqual([twice.status, twice.body], [400, REQUIRED]);
    const key = await dpopKey();
    const bound = await clientCredentials(await proof(key, htu), LEDGER);
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    assert.equal(bound.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(bound.body.access_token as string).cnf, { jkt: key.jkt });
    // Another tool server stays as it was: Bearer without a proof.
    const bearer = await clientCredentials();
    assert.equal(bearer.status, 200, JSON.stringify(bearer.body));
    assert.equal(bearer.body.token_type, 'Bearer');
  });

  it('RFC 3986 §6.2.2.2: an htu with percent-encoded unreserved characters names the same endpoint (at the exchange)', async () => {
    const key = await dpopKey();
    const login = await token(await loginCode(svc), 'agent', await proof(key, htu));
    const res = await token({ grant_type: EXCHANGE, subject_token: login.body.access_token as string, subject_token_type: AT, resource: CRM }, 'agent', await proof(key, `${svc.url}/%74%6Fken`));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.token_type, 'DPoP');
  });

  it('the body oidc-provider reads is the one sent: a form with a charset, and an oversized one refused as oidc-provider does', async () => {
    const key = await dpopKey();
    const fields = new URLSearchParams({ grant_type: 'client_credentials', scope: 'crm.lookup_customer', resource: CRM }).toString();
    const res = await fetch(`${svc.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'application/json', authorization: svc.basic('admin-cli'), dpop: await proof(key, htu) },
      body: fields,
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as { token_type: string }).token_type, 'DPoP');
    const big = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', scope: 'crm.lookup_customer', resource: CRM, pad: 'x'.repeat(60 * 1024) }, { authorization: svc.basic('admin-cli'), dpop: await proof(key, htu) });
    assert.deepEqual([big.status, big.body], [400, { error: 'invalid_request', error_description: 'failed to parse the request body' }]);
  });

  it('fail closed: the replay store down → 503 temporarily_unavailable, nothing issued', async () => {
    const store = svc.service.stores.dpopReplay;
    const claim = store.claim;
    store.claim = async () => {
      throw new StoreUnavailable(new Error('connection refused'));
    };
    try {
      const res = await clientCredentials(await proof(await dpopKey(), htu));
      assert.deepEqual([res.status, res.body], [503, { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' }]);
    } finally {
      store.claim = claim;
    }
  });
});

describe('DPoP at oidc-provider grants with nonces required (dpop.requireNonce)', () => {
  let svc: TestService;
  let htu: string;
  before(async () => {
    svc = await start({ dpop: { requireNonce: true } });
    htu = `${svc.url}/token`;
  });
  after(() => svc.stop());

  const cc = (dpop: string) =>
    rawPost(svc.url, { grant_type: 'client_credentials', scope: 'crm.lookup_customer', resource: CRM }, [['authorization', svc.basic('admin-cli')], ['dpop', dpop]]);

  it('RFC 9449 §8: no nonce → 400 use_dpop_nonce with one DPoP-Nonce; that one nonce serves every grant (ours and oidc-provider checks agree)', async () => {
    const key = await dpopKey();
    const first = await cc(await proof(key, htu));
    assert.deepEqual([first.status, first.body], [400, NONCE_REQUIRED]);
    assert.equal(dpopNonceHeaders(first.raw).length, 1);
    const nonce = first.headers.get('dpop-nonce')!;
    const retry = await cc(await proof(key, htu, { nonce }));
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.body.token_type, 'DPoP');
    assert.ok(dpopNonceHeaders(retry.raw).length <= 1);
    // The same nonce at the login (oidc-provider's grant, checked by both) and then at the exchange.
    const login = await rawPost(svc.url, await loginCode(svc), [['authorization', svc.basic('agent')], ['dpop', await proof(key, htu, { nonce })]]);
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.token_type, 'DPoP');
    const exchanged = await rawPost(svc.url, { grant_type: EXCHANGE, subject_token: login.body.access_token as string, subject_token_type: AT, resource: CRM }, [['authorization', svc.basic('agent')], ['dpop', await proof(key, htu, { nonce })]]);
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    // And a nonce the exchange handed out serves oidc-provider's grants.
    const fromExchange = await rawPost(svc.url, { grant_type: EXCHANGE, subject_token: login.body.access_token as string, subject_token_type: AT, resource: CRM }, [['authorization', svc.basic('agent')], ['dpop', await proof(key, htu)]]);
    assert.deepEqual([fromExchange.status, fromExchange.body], [400, NONCE_REQUIRED]);
    const again = await cc(await proof(key, htu, { nonce: fromExchange.headers.get('dpop-nonce')! }));
    assert.equal(again.status, 200, JSON.stringify(again.body));
  });

  it('a forged nonce → 400 use_dpop_nonce with one fresh DPoP-Nonce', async () => {
    const res = await cc(await proof(await dpopKey(), htu, { nonce: randomBytes(32).toString('base64url') }));
    assert.deepEqual([res.status, res.body], [400, { error: 'use_dpop_nonce', error_description: 'the DPoP nonce is invalid or expired' }]);
    assert.equal(dpopNonceHeaders(res.raw).length, 1);
  });

  it('a valid nonce does not lift the iat window: ±10 min → 400 invalid_dpop_proof', async () => {
    const key = await dpopKey();
    const nonce = (await cc(await proof(key, htu))).headers.get('dpop-nonce')!;
    const now = Math.floor(Date.now() / 1000);
    for (const skew of [-600, 600, -3600]) {
      const res = await cc(await proof(key, htu, { nonce, iat: now + skew }));
      assert.deepEqual([res.status, res.body], [400, INVALID_PROOF], `iat now${skew}`);
    }
  });
});
