// RS-01..04, RS-06, JW-08, JW-09 and the act/claim shape rules, against a JWKS served over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createVerifier, type Verifier } from 'delegation-token-verify';
import { rejectsWith } from './helpers/assert_error.js';
import { startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, makeKey, mint, now, type TestKey } from './helpers/tokens.js';

let issuer: FakeIssuer;
let es: TestKey;
let ed: TestKey;
let rs: TestKey;
let verifier: Verifier;

before(async () => {
  issuer = await startFakeIssuer();
  [es, ed, rs] = await Promise.all([makeKey('ES256', 'k-es'), makeKey('EdDSA', 'k-ed'), makeKey('RS256', 'k-rs')]);
  issuer.keys.push(es.publicJwk, ed.publicJwk, rs.publicJwk);
  verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false });
});
after(async () => {
  verifier.close();
  await issuer.close();
});

const token = (o: { header?: Record<string, unknown>; claims?: Record<string, unknown>; omit?: string[]; key?: TestKey } = {}) =>
  mint({ key: o.key ?? es, issuer: issuer.url, header: o.header, claims: o.claims, omit: o.omit });

describe('a good token', () => {
  it('is accepted with ES256, EdDSA and RS256 and shaped into a frozen VerifiedToken', async () => {
    for (const key of [es, ed, rs]) {
      const t = await token({ key, claims: { act: { sub: 'agent-b', iss: 'https://sts.example', act: { sub: 'agent-a' } } } });
      const v = await verifier.verify(t);
      assert.equal(v.sub, 'user-1');
      assert.equal(v.clientId, 'agent-a');
      assert.deepEqual(v.scopes, ['crm.lookup_customer', 'crm.export_customers']);
      assert.equal(v.sid, 'sess-1');
      assert.equal(typeof v.jti, 'string');
      assert.equal(v.exp, v.iat + 300);
      assert.deepEqual(v.actors, [{ sub: 'agent-b', iss: 'https://sts.example' }, { sub: 'agent-a' }]);
      assert.equal(v.claims.client_id, 'agent-a');
      assert.ok(Object.isFrozen(v) && Object.isFrozen(v.claims) && Object.isFrozen(v.actors));
    }
  });

  it('reads scope as space-separated values: each once, in order, empty values dropped (RFC 8693 §4.2)', async () => {
    const scopes = async (scope: string) => (await verifier.verify(await token({ claims: { scope } }))).scopes;
    assert.deepEqual(await scopes('a b c'), ['a', 'b', 'c']);
    assert.deepEqual(await scopes('a  b '), ['a', 'b']);
    assert.deepEqual(await scopes(' a b a'), ['a', 'b']);
    assert.deepEqual(await scopes(''), []);
    const many = Array.from({ length: 20 }, (_, i) => `s${i % 18}`).join(' ');
    assert.deepEqual(await scopes(many), Array.from({ length: 18 }, (_, i) => `s${i}`));
  });

  it('is frozen all the way down: scopes, actors, nested claims', async () => {
    const v = await verifier.verify(await token({ claims: { act: { sub: 'agent-b', act: { sub: 'agent-a' } }, extra: { list: [{ deep: 1 }] } } }));
    const extra = v.claims.extra as { list: Array<{ deep: number }> };
    for (const part of [v, v.scopes, v.actors, v.actors[0], v.ancestors, v.claims, v.claims.act, extra, extra.list, extra.list[0]]) {
      assert.ok(Object.isFrozen(part), JSON.stringify(part));
    }
  });

  it('with no scope has no scopes', async () => {
    const v = await verifier.verify(await token({ omit: ['scope'] }));
    assert.deepEqual(v.scopes, []);
  });

  it('0.2.0: a token without act is refused (RFC 8693 §4.1: a delegation token names its actor), as the issuer refuses it', async () => {
    await rejectsWith(verifier.verify(await token({ omit: ['act'] })), 'ERR_CLAIM_MISSING');
  });
});

describe('RS-01 / JW-09 typ', () => {
  for (const typ of ['JWT', undefined, 'dpop+jwt', 'txntoken+jwt', 'at+jwt; charset=x', 'application/jwt', 'at+jwt2']) {
    it(`refuses typ ${JSON.stringify(typ)}`, async () => {
      await rejectsWith(verifier.verify(await token({ header: { typ } })), 'ERR_TOKEN_TYPE');
    });
  }
  for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/AT+JWT']) {
    it(`accepts typ ${typ}`, async () => {
      assert.equal((await verifier.verify(await token({ header: { typ } }))).sub, 'user-1');
    });
  }
  it('refuses other JWT kinds signed by the same key: ID token, DPoP proof, SET, status list, txn token', async () => {
    const others = [
      { header: { typ: 'JWT' }, claims: { aud: AUDIENCE, nonce: 'n', auth_time: now() } },
      { header: { typ: 'dpop+jwt', jwk: es.publicJwk }, claims: { htm: 'POST', htu: AUDIENCE } },
      { header: { typ: 'secevent+jwt' }, claims: { events: {} }, omit: ['sub', 'exp'] },
      { header: { typ: 'statuslist+jwt' }, claims: { status_list: { bits: 1, lst: 'AA' } } },
      { header: { typ: 'txntoken+jwt' }, claims: { txn: 't', req_wl: 'x' } },
    ];
    for (const other of others) await rejectsWith(verifier.verify(await token(other)), 'ERR_TOKEN_TYPE');
  });
});

describe('RS-02 required claims', () => {
  for (const claim of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'sid']) {
    it(`refuses a token without ${claim}`, async () => {
      await rejectsWith(verifier.verify(await token({ omit: [claim] })), 'ERR_CLAIM_MISSING');
    });
  }
  for (const [claim, value] of [['sub', 42], ['client_id', ''], ['sid', null], ['jti', {}], ['scope', ['a']], ['exp', 'soon']] as const) {
    it(`refuses ${claim}=${JSON.stringify(value)}`, async () => {
      await rejectsWith(verifier.verify(await token({ claims: { [claim]: value } })), 'ERR_CLAIM_INVALID');
    });
  }
});

describe('RS-03 / RS-04 issuer and audience', () => {
  it('refuses an iss that differs by a trailing slash', async () => {
    await rejectsWith(verifier.verify(await token({ claims: { iss: `${issuer.url}/` } })), 'ERR_ISSUER');
  });
  it("refuses another tool's aud (MCP-02)", async () => {
    await rejectsWith(verifier.verify(await token({ claims: { aud: 'https://tools.example/other' } })), 'ERR_AUDIENCE');
    await rejectsWith(verifier.verify(await token({ claims: { aud: `${AUDIENCE}/` } })), 'ERR_AUDIENCE');
    await rejectsWith(verifier.verify(await token({ claims: { aud: ['https://a.example'] } })), 'ERR_AUDIENCE');
  });
  it('accepts an aud array that includes ours', async () => {
    const t = await token({ claims: { aud: ['https://tools.example/other', AUDIENCE] } });
    assert.equal((await verifier.verify(t)).sub, 'user-1');
  });
});

describe('RS-06 / JW-08 time', () => {
  it('accepts exp 30 s past with 60 s leeway, refuses 10 min past', async () => {
    const lenient = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clockTolerance: 60 });
    try {
      assert.equal((await lenient.verify(await token({ claims: { exp: now() - 30 } }))).sub, 'user-1');
      await rejectsWith(lenient.verify(await token({ claims: { exp: now() - 600 } })), 'ERR_EXPIRED');
    } finally {
      lenient.close();
    }
  });
  it('refuses exp beyond the default 30 s leeway', async () => {
    await rejectsWith(verifier.verify(await token({ claims: { exp: now() - 45 } })), 'ERR_EXPIRED');
  });
  it('refuses nbf and iat in the future', async () => {
    await rejectsWith(verifier.verify(await token({ claims: { nbf: now() + 120 } })), 'ERR_NOT_YET_VALID');
    await rejectsWith(verifier.verify(await token({ claims: { iat: now() + 120 } })), 'ERR_NOT_YET_VALID');
  });
  it('refuses tokens older than maxTokenAge', async () => {
    const strict = createVerifier({ issuer: issuer.url, audience: AUDIENCE, maxTokenAge: 60 });
    try {
      await rejectsWith(strict.verify(await token({ claims: { iat: now() - 120 } })), 'ERR_EXPIRED');
    } finally {
      strict.close();
    }
  });
  it('refuses a leeway above 300 s and unsafe algorithms at construction', () => {
    const base = { issuer: issuer.url, audience: AUDIENCE };
    assert.throws(() => createVerifier({ ...base, clockTolerance: 301 }), TypeError);
    for (const alg of ['none', 'HS256', 'HS512', 'NONE']) {
      assert.throws(() => createVerifier({ ...base, algorithms: [alg] }), TypeError);
    }
    assert.throws(() => createVerifier({ ...base, algorithms: [] }), TypeError);
    assert.throws(() => createVerifier({ ...base, issuer: 'not a url' }), TypeError);
  });
});

describe('act (RFC 8693 §4.1) and other claim rules', () => {
  const deep = (n: number): Record<string, unknown> => (n === 1 ? { sub: 'a1' } : { sub: `a${n}`, act: deep(n - 1) });
  const bad = {
    'a string': 'agent-a',
    'an array': [{ sub: 'agent-a' }],
    'no sub': { iss: 'x' },
    'numeric sub': { sub: 7 },
    'numeric iss': { sub: 'a', iss: 7 },
    'exp inside': { sub: 'a', exp: now() + 60 },
    'nbf inside': { sub: 'a', nbf: now() },
    'aud inside nested act': { sub: 'b', act: { sub: 'a', aud: AUDIENCE } },
    'a nested non-object': { sub: 'b', act: 'a' },
    'depth 11': deep(11),
  };
  for (const [name, act] of Object.entries(bad)) {
    it(`refuses act with ${name}`, async () => {
      await rejectsWith(verifier.verify(await token({ claims: { act } })), 'ERR_ACT_INVALID');
    });
  }
  it('accepts depth 10 with the current actor first', async () => {
    const v = await verifier.verify(await token({ claims: { act: deep(10) } }));
    assert.deepEqual(v.actors.map((a) => a.sub), ['a10', 'a9', 'a8', 'a7', 'a6', 'a5', 'a4', 'a3', 'a2', 'a1']);
  });
  it('refuses a DPoP-bound token presented as bearer (RFC 9449 §7.2)', async () => {
    await rejectsWith(verifier.verify(await token({ claims: { cnf: { jkt: 'abc' } } })), 'ERR_TOKEN_BOUND');
  });
  it('refuses missing scopes with 403 and reports the required ones', async () => {
    const err = await rejectsWith(
      verifier.verify(await token(), { requiredScopes: ['crm.lookup_customer', 'crm.delete_customer'] }),
      'ERR_INSUFFICIENT_SCOPE',
    );
    assert.deepEqual(err.requiredScopes, ['crm.lookup_customer', 'crm.delete_customer']);
    const ok = await verifier.verify(await token(), { requiredScopes: ['crm.export_customers'] });
    assert.equal(ok.sub, 'user-1');
  });
});
