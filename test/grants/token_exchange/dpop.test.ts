// DPoP (RFC 9449) at the token endpoint, issuer side: DP-01…DP-03, bound subject tokens (holder's key, or the tool
// server of the token's aud), bindings never dropped, DPoP required by policy, introspection, discovery, audit and the
// session registry. Real service, real Redis; proofs made with jose.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, KeyObject, randomBytes, sign } from 'node:crypto';
import { request } from 'node:http';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { devLogin } from '../../../tools/dev_login.js';
import { exchangeFor, postForm, type FormResponse } from '../../helpers/http.js';
import { startTestIdp, type TestIdp } from '../../helpers/test_idp.js';
import { AT, BILLING, CRM, JWT_TYPE, REDIRECT, startService, testConfig, type TestService } from '../../helpers/service.js';
import type { ExchangeDecisionEvent } from '../../../src/audit/events.js';

const LEDGER = 'http://tools.test/ledger/mcp';
const INVALID_PROOF = { error: 'invalid_dpop_proof', error_description: 'the DPoP proof is invalid' };
const REQUIRED = { error: 'invalid_request', error_description: 'a DPoP proof is required' };
const MISMATCH = { error: 'invalid_request', error_description: 'the DPoP proof does not match the subject_token' };

interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

interface ProofOptions {
  htu?: string;
  htm?: string;
  iat?: number;
  jti?: string;
  nonce?: string;
  ath?: string;
  typ?: string;
  jwk?: JWK;
  omit?: string[];
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');
const b64u = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function proof(key: DpopKey, url: string, o: ProofOptions = {}): Promise<string> {
  const claims: JWTPayload = {
    htm: o.htm ?? 'POST',
    htu: o.htu ?? `${url}/token`,
    iat: o.iat ?? Math.floor(Date.now() / 1000),
    jti: o.jti ?? randomBytes(16).toString('base64url'),
    ...(o.nonce ? { nonce: o.nonce } : {}),
    ...(o.ath ? { ath: o.ath } : {}),
  };
  for (const name of o.omit ?? []) delete claims[name];
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: o.typ ?? 'dpop+jwt', jwk: o.jwk ?? key.jwk }).sign(key.privateKey);
}

/** POST /token over node:http, so a test controls raw headers: repeated ones, the Host the request arrives with. */
function rawPost(url: string, body: Record<string, string>, headers: Array<[string, string]>): Promise<FormResponse & { raw: string[] }> {
  const target = new URL(`${url}/token`);
  const payload = new URLSearchParams(body).toString();
  // A raw header list gets no Host from node:http: add the target's unless the test names another.
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

/** Authorization code + PKCE through the dev login page; the code exchange carries a DPoP proof when `key` is given. */
async function login(svc: TestService, { key, username = 'bob', clientId = 'agent' }: { key?: DpopKey; username?: string; clientId?: string } = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${svc.url}/auth`);
  auth.search = new URLSearchParams({
    client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid crm.lookup_customer billing.refund_lookup',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', state: 'st',
  }).toString();
  const code = (await devLogin(auth, REDIRECT, username)).searchParams.get('code')!;
  const fields = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
  const headers = (dpop?: string): Record<string, string> => ({ authorization: svc.basic(clientId), ...(dpop ? { dpop } : {}) });
  let res = await postForm(`${svc.url}/token`, fields, headers(key && (await proof(key, svc.url))));
  const nonce = res.headers.get('dpop-nonce');
  if (key && res.status === 400 && res.body.error === 'use_dpop_nonce' && nonce) {
    res = await postForm(`${svc.url}/token`, fields, headers(await proof(key, svc.url, { nonce })));
  }
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { accessToken: res.body.access_token as string, tokenType: res.body.token_type as string };
}

function recordExchanges(svc: TestService): ExchangeDecisionEvent[] {
  const seen: ExchangeDecisionEvent[] = [];
  svc.service.events.on((e) => {
    if (e.type === 'exchange') seen.push(e);
  });
  return seen;
}

describe('DPoP at the token endpoint (nonces off)', () => {
  let svc: TestService;
  let idp: TestIdp;
  let events: ExchangeDecisionEvent[];
  let bearerUser: string;
  const dp = (key: DpopKey, o?: ProofOptions) => proof(key, svc.url, o);
  const withProof = async (subject: string, resource: string, dpop: string | undefined, clientId = 'agent', extra: Record<string, string> = {}) =>
    postForm(`${svc.url}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subject, subject_token_type: AT, resource, ...extra }, {
      authorization: svc.basic(clientId),
      ...(dpop ? { dpop } : {}),
    });

  before(async () => {
    idp = await startTestIdp();
    svc = await startService({
      extra: (port) => {
        const base = testConfig(port, '', '');
        return {
          clients: base.clients!.map((c) => (c.client_id === 'agent2' ? { ...c, dpop_bound_access_tokens: true } : c)),
          toolServers: [...base.toolServers!, { resource: LEDGER, scopes: ['crm.lookup_customer'], requireDpop: true }],
          agents: base.agents!.map((a) => (a.clientId === 'agent' ? { ...a, toolServers: [...a.toolServers!, { resource: LEDGER, scopes: ['crm.lookup_customer'] }] } : a)),
          trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: ['crm.lookup_customer'] }],
        };
      },
    });
    events = recordExchanges(svc);
    bearerUser = (await login(svc)).accessToken;
  });
  after(async () => {
    await svc.stop();
    await idp.stop();
  });

  it('DP-01 a valid proof gets token_type DPoP and cnf.jkt = the proof key thumbprint (RFC 7638); audit and session registry note it', async () => {
    const key = await dpopKey();
    const res = await withProof(bearerUser, CRM, await dp(key));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.token_type, 'DPoP');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const claims = decodeJwt(res.body.access_token as string);
    assert.deepEqual(claims.cnf, { jkt: key.jkt });
    const event = events.at(-1)!;
    assert.deepEqual([event.decision, event.jkt, event.jti], ['allow', key.jkt, claims.jti]);
    await svc.service.flushAudit();
    const record = await svc.service.stores.sessions.get(claims.sid as string);
    assert.equal(record!.hops.find((h) => h.jti === claims.jti)!.jkt, key.jkt);
  });

  it('without a proof the token stays a Bearer token without cnf', async () => {
    const res = await withProof(bearerUser, CRM, undefined);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(decodeJwt(res.body.access_token as string).cnf, undefined);
  });

  it('delegation introspection returns token_type DPoP and cnf.jkt (RFC 9449 §6.2)', async () => {
    const key = await dpopKey();
    const token = (await withProof(bearerUser, CRM, await dp(key))).body.access_token as string;
    const res = await postForm(`${svc.url}/token/introspection/delegation`, { token }, { authorization: svc.basic('crm-server') });
    assert.equal(res.status, 200);
    assert.equal(res.body.active, true);
    assert.equal(res.body.token_type, 'DPoP');
    assert.deepEqual(res.body.cnf, { jkt: key.jkt });
  });

  it('htu is compared with the configured issuer, not the Host the request arrived with; query and fragment ignored', async () => {
    const key = await dpopKey();
    const body = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: bearerUser, subject_token_type: AT, resource: CRM };
    const auth: [string, string] = ['authorization', svc.basic('agent')];
    const proxied: [string, string] = ['host', 'sts.internal:8443'];
    const ok = await rawPost(svc.url, body, [auth, proxied, ['dpop', await dp(key)]]);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.token_type, 'DPoP');
    const arrival = await rawPost(svc.url, body, [auth, proxied, ['dpop', await dp(key, { htu: 'http://sts.internal:8443/token' })]]);
    assert.deepEqual([arrival.status, arrival.body], [400, INVALID_PROOF]);
    assert.deepEqual(events.at(-1)!.reasons, ['htu_mismatch']);
    const query = await withProof(bearerUser, CRM, await dp(key, { htu: `${svc.url}/token?x=1#f` }));
    assert.equal(query.status, 200, JSON.stringify(query.body));
  });

  describe('DP-02 bad proofs → 400 invalid_dpop_proof', () => {
    const cases: Array<[string, string, (key: DpopKey) => Promise<string>]> = [
      ['typ JWT', 'wrong_typ', (k) => dp(k, { typ: 'JWT' })],
      ['alg none', 'alg_not_allowed', async (k) => `${b64u({ alg: 'none', typ: 'dpop+jwt', jwk: k.jwk })}.${b64u({ htm: 'POST', htu: `${svc.url}/token`, iat: Math.floor(Date.now() / 1000), jti: 'j-none' })}.`],
      ['alg HS256', 'alg_not_allowed', async (k) => {
        const input = `${b64u({ alg: 'HS256', typ: 'dpop+jwt', jwk: k.jwk })}.${b64u({ htm: 'POST', htu: `${svc.url}/token`, iat: Math.floor(Date.now() / 1000), jti: 'j-hs' })}`;
        return `${input}.${createHmac('sha256', 'secret').update(input).digest('base64url')}`;
      }],
      ['alg ES384 (not in the allow-list)', 'alg_not_allowed', async () => {
        const k = await dpopKey('ES384');
        return new SignJWT({ htm: 'POST', htu: `${svc.url}/token`, iat: Math.floor(Date.now() / 1000), jti: 'j-384' }).setProtectedHeader({ alg: 'ES384', typ: 'dpop+jwt', jwk: k.jwk }).sign(k.privateKey);
      }],
      ['jwk with the private key (d)', 'private_key', async (k) => dp(k, { jwk: await exportJWK(k.privateKey) })],
      ['a symmetric jwk (k)', 'private_key', (k) => dp(k, { jwk: { kty: 'oct', k: 'c2VjcmV0' } })],
      ['jwk of an unknown kty', 'malformed', (k) => dp(k, { jwk: { kty: 'XYZ', x: 'a' } })],
      ['duplicate header member', 'malformed', async (k) => {
        const good = await dp(k);
        const header = Buffer.from(good.split('.')[0]!, 'base64url').toString().replace('{', '{"alg":"none",');
        return `${Buffer.from(header).toString('base64url')}.${good.split('.').slice(1).join('.')}`;
      }],
      ['signature by another key', 'bad_signature', async (k) => proof(await dpopKey(), svc.url, { jwk: k.jwk })],
      ['htm GET', 'htm_mismatch', (k) => dp(k, { htm: 'GET' })],
      ['htu of another endpoint', 'htu_mismatch', (k) => dp(k, { htu: `${svc.url}/token/introspection` })],
      ['htu of another host', 'htu_mismatch', (k) => dp(k, { htu: 'https://evil.example/token' })],
      ['iat 10 minutes ahead', 'iat_out_of_window', (k) => dp(k, { iat: Math.floor(Date.now() / 1000) + 600 })],
      ['iat 10 minutes old', 'iat_out_of_window', (k) => dp(k, { iat: Math.floor(Date.now() / 1000) - 600 })],
      ['no jti', 'bad_jti', (k) => dp(k, { omit: ['jti'] })],
      ['no htu', 'htu_mismatch', (k) => dp(k, { omit: ['htu'] })],
      ['not a JWT', 'malformed', async () => 'not-a-jwt'],
    ];
    for (const [name, reason, make] of cases) {
      it(name, async () => {
        const res = await withProof(bearerUser, CRM, await make(await dpopKey()));
        assert.deepEqual([res.status, res.body], [400, INVALID_PROOF]);
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.deepEqual([events.at(-1)!.error, events.at(-1)!.reasons], ['invalid_dpop_proof', [reason]]);
      });
    }

    it('a key seen before (its import cached) still has every proof signature checked; extra jwk members change nothing', async () => {
      const key = await dpopKey();
      const first = await withProof(bearerUser, CRM, await dp(key));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal((decodeJwt(first.body.access_token as string).cnf as { jkt: string }).jkt, key.jkt);
      // The same public key in the header, signed by another key: refused although the header's key is cached.
      const forged = await proof(await dpopKey(), svc.url, { jwk: key.jwk });
      const res = await withProof(bearerUser, CRM, forged);
      assert.deepEqual([res.status, res.body], [400, INVALID_PROOF]);
      assert.deepEqual(events.at(-1)!.reasons, ['bad_signature']);
      // Non-thumbprint members (RFC 7638 §3.2) do not change the key, the thumbprint or the binding.
      const again = await withProof(bearerUser, CRM, await dp(key, { jwk: { ...key.jwk, kid: 'k1', use: 'sig', alg: 'ES256' } }));
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal((decodeJwt(again.body.access_token as string).cnf as { jkt: string }).jkt, key.jkt);
      // The same thumbprint under another alg is not the cached key: refused as not allowed (ES384 is not listed).
      const otherAlg = `${b64u({ alg: 'ES384', typ: 'dpop+jwt', jwk: key.jwk })}.${b64u({ htm: 'POST', htu: `${svc.url}/token`, iat: Math.floor(Date.now() / 1000), jti: 'j-alg' })}.AAAA`;
      const alg = await withProof(bearerUser, CRM, otherAlg);
      assert.deepEqual([alg.status, alg.body, events.at(-1)!.reasons], [400, INVALID_PROOF, ['alg_not_allowed']]);
    });

    it('proofs under the other default algs (Ed25519, EdDSA) bind the token to their key; a critical header is refused', async () => {
      for (const alg of ['Ed25519', 'EdDSA']) {
        const { privateKey, publicKey } = await generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg, { extractable: true });
        const jwk = await exportJWK(publicKey);
        const signed = await new SignJWT({ htm: 'POST', htu: `${svc.url}/token`, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url') })
          .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk }).sign(privateKey);
        const res = await withProof(bearerUser, CRM, signed);
        assert.equal(res.status, 200, `${alg} ${JSON.stringify(res.body)}`);
        assert.deepEqual([res.body.token_type, (decodeJwt(res.body.access_token as string).cnf as { jkt: string }).jkt], ['DPoP', await calculateJwkThumbprint(jwk)]);
      }
      const key = await dpopKey();
      // Signed correctly (jose would not sign an unknown critical parameter): only `crit` is wrong with it.
      const input = `${b64u({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk, crit: ['x'], x: 1 })}.${b64u({ htm: 'POST', htu: `${svc.url}/token`, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url') })}`;
      const raw = `${input}.${sign('sha256', Buffer.from(input), { key: KeyObject.from(key.privateKey), dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
      const res = await withProof(bearerUser, CRM, raw);
      assert.deepEqual([res.status, res.body, events.at(-1)!.reasons], [400, INVALID_PROOF, ['malformed']]);
    });

    it('two DPoP headers', async () => {
      const key = await dpopKey();
      const body = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: bearerUser, subject_token_type: AT, resource: CRM };
      const res = await rawPost(svc.url, body, [['authorization', svc.basic('agent')], ['dpop', await dp(key)], ['dpop', await dp(key)]]);
      assert.deepEqual([res.status, res.body], [400, INVALID_PROOF]);
      assert.deepEqual(events.at(-1)!.reasons, ['multiple_proofs']);
    });

    it('a replayed jti: the same proof twice, also at a second replica sharing Redis', async () => {
      const key = await dpopKey();
      const once = await dp(key);
      assert.equal((await withProof(bearerUser, CRM, once)).status, 200);
      const again = await withProof(bearerUser, CRM, once);
      assert.deepEqual([again.status, again.body], [400, INVALID_PROOF]);
      assert.deepEqual(events.at(-1)!.reasons, ['replayed']);
      const stored = await svc.redis.keys(`${svc.prefix}dpop:*`);
      assert.ok(stored.length >= 1);
      for (const k of stored) {
        const ttl = await svc.redis.ttl(k);
        assert.ok(ttl > 0 && ttl <= 121, `ttl ${ttl}`); // 2 × proofWindowSeconds + 1 (src/dpop/proof.ts)
      }
      // A replica of the same issuer (same public URL, same Redis): the proof used here is refused there.
      let replicaPort = 0;
      const replica = await startService({ share: { keysDir: (svc as TestService & { keysDir: string }).keysDir, prefix: svc.prefix, secrets: svc.secrets }, extra: (port) => {
        replicaPort = port;
        return { issuer: svc.url };
      } });
      try {
        const fields = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: bearerUser, subject_token_type: AT, resource: CRM };
        const fresh = await dp(key);
        const there = await postForm(`http://127.0.0.1:${replicaPort}/token`, fields, { authorization: replica.basic('agent'), dpop: fresh });
        assert.equal(there.status, 200, JSON.stringify(there.body));
        const back = await withProof(bearerUser, CRM, fresh);
        assert.deepEqual([back.status, back.body], [400, INVALID_PROOF]);
      } finally {
        await replica.stop();
      }
    });
  });

  it('a proof is spent by the subject read that claims it: refused after an unknown subject, and across the user-token and hop paths', async () => {
    const key = await dpopKey();
    const invalidSubject = { error: 'invalid_request', error_description: 'subject_token is invalid' };
    // The user token's read claims the proof in the same round trip, whatever the token turns out to be.
    const spent = await dp(key);
    const unknown = await withProof(randomBytes(32).toString('base64url'), CRM, spent);
    assert.deepEqual([unknown.status, unknown.body], [400, invalidSubject]);
    const reused = await withProof(bearerUser, CRM, spent);
    assert.deepEqual([reused.status, reused.body, events.at(-1)!.reasons], [400, INVALID_PROOF, ['replayed']]);
    // The proof is checked before the subject is read: a bad proof with an unknown subject is a proof error.
    const both = await withProof(randomBytes(32).toString('base64url'), CRM, await dp(key, { htm: 'GET' }));
    assert.deepEqual([both.status, both.body, events.at(-1)!.reasons], [400, INVALID_PROOF, ['htm_mismatch']]);
    // With a valid subject the refusal's audit event still names whose token it was (the subject is read, unclaimed).
    const refused = await withProof(bearerUser, CRM, await dp(key, { htm: 'GET' }));
    const event = events.at(-1)!;
    assert.deepEqual([refused.status, refused.body, event.reasons, event.decision, event.sub, event.act], [400, INVALID_PROOF, ['htm_mismatch'], 'deny', 'user-bob', { sub: 'agent' }]);
    assert.equal(typeof event.sid, 'string');
    // The signature is checked while the subject is read, and its verdict comes first: a forged proof with an unknown
    // subject is a proof error too. A proof whose claims pass is claimed by that read, so a forged one is spent (it
    // could never pass anyway); one refused for its claims is read without a claim, whatever its signature.
    const replayKeys = async () => (await svc.redis.keys(`${svc.prefix}dpop:*`)).length;
    const keysBefore = await replayKeys();
    const forged = await withProof(randomBytes(32).toString('base64url'), CRM, await proof(await dpopKey(), svc.url, { jwk: key.jwk }));
    assert.deepEqual([forged.status, forged.body, events.at(-1)!.reasons], [400, INVALID_PROOF, ['bad_signature']]);
    assert.equal(await replayKeys(), keysBefore + 1);
    const forgedWithUser = await withProof(bearerUser, CRM, await proof(await dpopKey(), svc.url, { jwk: key.jwk, htm: 'GET' }));
    assert.deepEqual([forgedWithUser.status, forgedWithUser.body, events.at(-1)!.reasons, events.at(-1)!.sub], [400, INVALID_PROOF, ['bad_signature'], 'user-bob']);
    assert.equal(await replayKeys(), keysBefore + 1);
    // A hop (a delegation token subject) claims through the replay store: one namespace with the read's claim.
    const crmToken = (await withProof(bearerUser, CRM, undefined, 'agent', { scope: 'crm.lookup_customer billing.refund_lookup' })).body.access_token as string;
    const hop = (dpop: string) => withProof(crmToken, BILLING, dpop, 'crm-server', { scope: 'billing.refund_lookup' });
    const first = await dp(key);
    assert.equal((await withProof(bearerUser, CRM, first)).status, 200);
    const atHop = await hop(first);
    assert.deepEqual([atHop.status, atHop.body, events.at(-1)!.reasons], [400, INVALID_PROOF, ['replayed']]);
    const second = await dp(key);
    assert.equal((await hop(second)).status, 200);
    const atUser = await withProof(bearerUser, CRM, second);
    assert.deepEqual([atUser.status, atUser.body, events.at(-1)!.reasons], [400, INVALID_PROOF, ['replayed']]);
  });

  describe('a DPoP-bound subject token', () => {
    let holder: DpopKey;
    let boundUser: string;
    before(async () => {
      holder = await dpopKey();
      const login1 = await login(svc, { key: holder });
      assert.equal(login1.tokenType, 'DPoP');
      boundUser = login1.accessToken;
    });

    it('the login (authorization code + PKCE) with a proof binds the user token: its record and introspection carry the jkt', async () => {
      const res = await postForm(`${svc.url}/token/introspection`, { token: boundUser }, { authorization: svc.basic('agent') });
      assert.equal(res.body.active, true);
      assert.deepEqual(res.body.cnf, { jkt: holder.jkt });
    });

    it('(a) the holder of its key exchanges it: the new token is bound to the same key', async () => {
      const res = await withProof(boundUser, CRM, await dp(holder));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.token_type, 'DPoP');
      assert.deepEqual(decodeJwt(res.body.access_token as string).cnf, { jkt: holder.jkt });
    });

    it('(a) with ath over the subject token as extra evidence; an ath over anything else is refused', async () => {
      const ok = await withProof(boundUser, CRM, await dp(holder, { ath: sha256(boundUser) }));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const bad = await withProof(boundUser, CRM, await dp(holder, { ath: sha256('another token') }));
      assert.deepEqual([bad.status, bad.body, events.at(-1)!.reasons], [400, MISMATCH, ['dpop_ath_mismatch']]);
    });

    it('a binding is never dropped: no proof → invalid_request', async () => {
      const res = await withProof(boundUser, CRM, undefined);
      assert.deepEqual([res.status, res.body, events.at(-1)!.reasons], [400, REQUIRED, ['dpop_required_by_subject']]);
    });

    it('a proof of another key → invalid_request', async () => {
      const res = await withProof(boundUser, CRM, await dp(await dpopKey()));
      assert.deepEqual([res.status, res.body, events.at(-1)!.reasons], [400, MISMATCH, ['dpop_key_mismatch']]);
    });

    it('(b) multi-hop: the tool server of its aud exchanges it with a proof of its own key; the hop is bound to that key', async () => {
      const agentToken = (await withProof(boundUser, CRM, await dp(holder), 'agent', { scope: 'crm.lookup_customer billing.refund_lookup' })).body.access_token as string;
      const crmKey = await dpopKey();
      const hop = await withProof(agentToken, BILLING, await dp(crmKey), 'crm-server', { scope: 'billing.refund_lookup' });
      assert.equal(hop.status, 200, JSON.stringify(hop.body));
      assert.equal(hop.body.token_type, 'DPoP');
      assert.deepEqual(decodeJwt(hop.body.access_token as string).cnf, { jkt: crmKey.jkt });
      // The holder's key is accepted too (path a), and the hop is then bound to it.
      const byHolderKey = await withProof(agentToken, BILLING, await dp(holder), 'crm-server', { scope: 'billing.refund_lookup' });
      assert.deepEqual(decodeJwt(byHolderKey.body.access_token as string).cnf, { jkt: holder.jkt });
      // Never dropped on a hop either.
      const none = await withProof(agentToken, BILLING, undefined, 'crm-server', { scope: 'billing.refund_lookup' });
      assert.deepEqual([none.status, none.body, events.at(-1)!.reasons], [400, REQUIRED, ['dpop_required_by_subject']]);
      // Another client than the aud's tool server: refused before the DPoP rule (the audience binding).
      const other = await withProof(agentToken, BILLING, await dp(crmKey), 'billing-server', { scope: 'billing.refund_lookup' });
      assert.deepEqual([other.status, other.body], [400, { error: 'invalid_request', error_description: 'subject_token is invalid' }]);
    });

    it('an external JWT with cnf.jkt: its holder only; a cnf we cannot check (x5t#S256) is refused', async () => {
      const key = await dpopKey();
      const ext = (cnf: unknown) => idp.sign({ sub: 'ext-user', aud: svc.url, sid: 's1', scope: 'crm.lookup_customer', cnf });
      const external = await ext({ jkt: key.jkt });
      const ok = await withProof(external, CRM, await dp(key), 'agent', { subject_token_type: JWT_TYPE });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(decodeJwt(ok.body.access_token as string).cnf, { jkt: key.jkt });
      const wrong = await withProof(external, CRM, await dp(await dpopKey()), 'agent', { subject_token_type: JWT_TYPE });
      assert.deepEqual([wrong.status, wrong.body], [400, MISMATCH]);
      const mtls = await withProof(await ext({ 'x5t#S256': sha256('cert') }), CRM, await dp(key), 'agent', { subject_token_type: JWT_TYPE });
      assert.deepEqual([mtls.status, mtls.body, events.at(-1)!.reasons], [400, { error: 'invalid_request', error_description: 'subject_token is invalid' }, ['subject_token:unsupported_cnf']]);
    });
  });

  describe('policy requires DPoP', () => {
    it('per tool server (toolServers[].requireDpop): no proof → invalid_request; a proof → a bound token', async () => {
      const none = await withProof(bearerUser, LEDGER, undefined, 'agent', { scope: 'crm.lookup_customer' });
      assert.deepEqual([none.status, none.body, events.at(-1)!.reasons], [400, REQUIRED, ['dpop_required_by_tool_server']]);
      const key = await dpopKey();
      const ok = await withProof(bearerUser, LEDGER, await dp(key), 'agent', { scope: 'crm.lookup_customer' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.token_type, 'DPoP');
    });

    it('per agent client (clients[].dpop_bound_access_tokens, RFC 9449 §5.2), at the exchange and at its login', async () => {
      const key = await dpopKey();
      const user = (await login(svc, { clientId: 'agent2', key })).accessToken;
      const none = await withProof(user, CRM, undefined, 'agent2');
      assert.deepEqual([none.status, none.body], [400, REQUIRED]);
      const ok = await withProof(user, CRM, await dp(key), 'agent2');
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.token_type, 'DPoP');
      // oidc-provider's own check in its authorization code grant (its description is generic).
      await assert.rejects(login(svc, { clientId: 'agent2' }), /invalid_grant/);
    });
  });

  it('client_credentials with a proof gets a DPoP-bound token (oidc-provider features.dPoP)', async () => {
    const key = await dpopKey();
    const res = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', resource: CRM, scope: 'crm.lookup_customer' }, { authorization: svc.basic('admin-cli'), dpop: await dp(key) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(res.body.access_token as string).cnf, { jkt: key.jkt });
  });
});

describe('DP-03 DPoP nonces required (dpop.requireNonce)', () => {
  let svc: TestService;
  let user: string;
  before(async () => {
    svc = await startService({ extra: () => ({ dpop: { requireNonce: true } }) });
    user = (await login(svc, { key: await dpopKey() })).accessToken;
  });
  after(() => svc.stop());

  const post = (subject: string, dpop: string) =>
    rawPost(svc.url, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subject, subject_token_type: AT, resource: CRM }, [['authorization', svc.basic('agent')], ['dpop', dpop]]);
  const nonceHeaders = (raw: string[]) => raw.filter((_, i) => i % 2 === 0 && raw[i]!.toLowerCase() === 'dpop-nonce');

  it('a proof without a nonce → 400 use_dpop_nonce with exactly one DPoP-Nonce; the retry with it succeeds', async () => {
    const bearer = (await login(svc)).accessToken;
    const key = await dpopKey();
    const first = await post(bearer, await proof(key, svc.url));
    assert.deepEqual([first.status, first.body], [400, { error: 'use_dpop_nonce', error_description: 'a DPoP nonce is required' }]);
    assert.equal(nonceHeaders(first.raw).length, 1);
    const nonce = first.headers.get('dpop-nonce')!;
    assert.match(nonce, /^[\w-]{43}$/);
    const retry = await post(bearer, await proof(key, svc.url, { nonce }));
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.body.token_type, 'DPoP');
    assert.ok(user);
  });

  it('a stale or forged nonce → 400 use_dpop_nonce with a fresh DPoP-Nonce', async () => {
    const key = await dpopKey();
    const bearer = (await login(svc)).accessToken;
    const res = await post(bearer, await proof(key, svc.url, { nonce: randomBytes(32).toString('base64url') }));
    assert.deepEqual([res.status, res.body], [400, { error: 'use_dpop_nonce', error_description: 'the DPoP nonce is invalid or expired' }]);
    assert.equal(nonceHeaders(res.raw).length, 1);
  });
});
