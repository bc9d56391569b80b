// Introspection mode (RFC 7662) over real HTTP: active/inactive, answer cache, fail-closed on issuer errors.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createVerifier, type Verifier } from 'delegation-token-verify';
import { rejectsWith } from './helpers/assert_error.js';
import { FEED_CLIENT, startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, makeKey, mint, type TestKey } from './helpers/tokens.js';

let issuer: FakeIssuer;
let es: TestKey;
const open: Verifier[] = [];

before(async () => {
  issuer = await startFakeIssuer();
  es = await makeKey('ES256', 'k-es');
  issuer.keys.push(es.publicJwk);
});
afterEach(() => {
  for (const v of open.splice(0)) v.close();
  issuer.fail = {};
});
after(() => issuer.close());

function introspecting(cacheSeconds?: number, overrides: { issuer?: string; clientSecret?: string } = {}): Verifier {
  const v = createVerifier({
    issuer: overrides.issuer ?? issuer.url,
    audience: AUDIENCE,
    jwksUri: `${issuer.url}/jwks`,
    revocation: { mode: 'introspect', ...FEED_CLIENT, ...overrides, cacheSeconds },
  });
  open.push(v);
  return v;
}
const token = () => mint({ key: es, issuer: issuer.url });

describe('revocation by introspection', () => {
  it('accepts an active token and refuses it once the issuer says active:false', async () => {
    const v = introspecting(0);
    await v.ready();
    const t = await token();
    assert.equal((await v.verify(t)).sub, 'user-1');
    issuer.inactive.add(t);
    await rejectsWith(v.verify(t), 'ERR_REVOKED');
  });

  it('reuses an active answer for cacheSeconds and shares concurrent calls', async () => {
    const v = introspecting(5);
    const t = await token();
    const start = issuer.counts.introspection;
    await Promise.all([v.verify(t), v.verify(t), v.verify(t)]);
    await v.verify(t);
    assert.equal(issuer.counts.introspection, start + 1);
    issuer.inactive.add(t);
    await v.verify(t); // within cacheSeconds: the cached "active" still stands
  });

  it('remembers active:false without asking again', async () => {
    const v = introspecting(0);
    const t = await token();
    issuer.inactive.add(t);
    await rejectsWith(v.verify(t), 'ERR_REVOKED');
    const start = issuer.counts.introspection;
    await rejectsWith(v.verify(t), 'ERR_REVOKED');
    assert.equal(issuer.counts.introspection, start);
  });

  it('fails closed with ERR_REVOCATION_UNAVAILABLE on 5xx, refused credentials or an unreachable issuer, without caching the failure', async () => {
    const v = introspecting(5);
    const t = await token();
    issuer.fail.introspection = 503;
    await rejectsWith(v.verify(t), 'ERR_REVOCATION_UNAVAILABLE');
    delete issuer.fail.introspection;
    assert.equal((await v.verify(t)).sub, 'user-1');

    await rejectsWith(introspecting(5, { clientSecret: 'wrong' }).verify(await token()), 'ERR_REVOCATION_UNAVAILABLE');

    // Tokens from an issuer whose introspection endpoint does not answer at all (keys still from the JWKS).
    const gone = 'http://127.0.0.1:9';
    const unreachable = introspecting(5, { issuer: gone });
    const foreign = await mint({ key: es, issuer: gone });
    await rejectsWith(unreachable.verify(foreign), 'ERR_REVOCATION_UNAVAILABLE');
  });
});
