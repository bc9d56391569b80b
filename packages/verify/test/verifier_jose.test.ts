// RS-05 and JW-01..07: algorithms, keys, JWKS refresh, jku/x5u/jwk, crit, duplicate names, malformed input.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportSPKI } from 'jose';
import { createVerifier, type Verifier } from 'delegation-token-verify';
import { stats } from '../src/internal_stats.js';
import { MAX_TOKEN_LENGTH } from '../src/precheck.js';
import { rejectsWith } from './helpers/assert_error.js';
import { startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, defaultClaims, makeKey, mint, signRaw, type TestKey } from './helpers/tokens.js';

let issuer: FakeIssuer;
let es: TestKey;
let rs: TestKey;
let verifier: Verifier;

before(async () => {
  issuer = await startFakeIssuer();
  [es, rs] = await Promise.all([makeKey('ES256', 'k-es'), makeKey('RS256', 'k-rs')]);
  issuer.keys.push(es.publicJwk, rs.publicJwk);
  verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false });
});
after(async () => {
  verifier.close();
  await issuer.close();
});

const token = (key: TestKey | Uint8Array | 'none' = es, header: Record<string, unknown> = {}, claims = {}) =>
  mint({ key, issuer: issuer.url, header, claims });
const header = (extra: Record<string, unknown> = {}) => JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'k-es', ...extra });
const claimsJson = () => JSON.stringify(defaultClaims(issuer.url));

describe('JW-01 / RS-05 / JW-02 / JW-03 algorithms', () => {
  for (const alg of ['none', 'None', 'NONE']) {
    it(`refuses alg ${alg}`, async () => {
      await rejectsWith(verifier.verify(await token('none', { alg })), 'ERR_ALGORITHM');
    });
  }
  it('refuses HS256 keyed with the RSA public key (key confusion)', async () => {
    const pem = new TextEncoder().encode(await exportSPKI(rs.publicKey));
    const jwkBytes = new TextEncoder().encode(JSON.stringify(rs.publicJwk));
    const rsOnly = createVerifier({ issuer: issuer.url, audience: AUDIENCE, algorithms: ['RS256'] });
    try {
      for (const secret of [pem, jwkBytes]) {
        await rejectsWith(verifier.verify(await token(secret, { kid: 'k-rs' })), 'ERR_ALGORITHM');
        await rejectsWith(rsOnly.verify(await token(secret, { kid: 'k-rs' })), 'ERR_ALGORITHM');
      }
    } finally {
      rsOnly.close();
    }
  });
  it('refuses an allowed alg that does not match the key behind the kid', async () => {
    await rejectsWith(verifier.verify(await token(rs, { kid: 'k-es' })), 'ERR_KEY_NOT_FOUND');
    await rejectsWith(verifier.verify(await token(es, { kid: 'k-rs' })), 'ERR_KEY_NOT_FOUND');
  });
  it('refuses an asymmetric alg outside the allow-list', async () => {
    const esOnly = createVerifier({ issuer: issuer.url, audience: AUDIENCE, algorithms: ['ES256'] });
    try {
      await rejectsWith(esOnly.verify(await token(rs)), 'ERR_ALGORITHM');
    } finally {
      esOnly.close();
    }
  });
});

describe('RS-05 / JW-04 keys and the JWKS', () => {
  it('refuses a key that is not in the JWKS, under a known and an unknown kid', async () => {
    const stranger = await makeKey('ES256', 'k-es');
    await rejectsWith(verifier.verify(await token(stranger)), 'ERR_SIGNATURE');
    await rejectsWith(verifier.verify(await token({ ...stranger, kid: 'k-stranger' })), 'ERR_KEY_NOT_FOUND');
  });
  it('refuses a tampered payload or signature', async () => {
    const [h, , s] = (await token()).split('.');
    const forged = Buffer.from(JSON.stringify({ ...defaultClaims(issuer.url), scope: 'admin' })).toString('base64url');
    await rejectsWith(verifier.verify(`${h}.${forged}.${s}`), 'ERR_SIGNATURE');
    const [h2, p2, s2 = ''] = (await token()).split('.');
    const flipped = `${s2.slice(0, -2)}${s2.endsWith('AA') ? 'BA' : 'AA'}`;
    await rejectsWith(verifier.verify(`${h2}.${p2}.${flipped}`), 'ERR_SIGNATURE');
  });
  it('an unknown kid causes at most one rate-limited refresh; kid injection strings are inert', async () => {
    const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false, jwks: { cooldownSeconds: 0.3 } });
    try {
      const start = issuer.counts.jwks;
      await v.verify(await token());
      assert.equal(issuer.counts.jwks, start + 1);
      // Within the cooldown: no refresh at all.
      await rejectsWith(v.verify(await token(es, { kid: 'k-unknown' })), 'ERR_KEY_NOT_FOUND');
      assert.equal(issuer.counts.jwks, start + 1);
      await sleep(350);
      const kids = ['k-unknown', '../../jwks?x=1', "' OR 1=1 --", `${issuer.url}/evil`, 'k-es\u0000'];
      for (const kid of kids) await rejectsWith(v.verify(await token(es, { kid })), 'ERR_KEY_NOT_FOUND');
      assert.equal(issuer.counts.jwks, start + 2, 'one refresh for five unknown kids');
      assert.ok(issuer.paths.every((p) => p === '/jwks'), issuer.paths.join());
    } finally {
      v.close();
    }
  });
  it('picks up a rotated-in key with one refresh', async () => {
    const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, jwks: { cooldownSeconds: 0 } });
    const next = await makeKey('ES256', 'k-next');
    try {
      await v.verify(await token());
      issuer.keys.push(next.publicJwk);
      const before = issuer.counts.jwks;
      assert.equal((await v.verify(await token(next))).sub, 'user-1');
      assert.equal(issuer.counts.jwks, before + 1);
    } finally {
      issuer.keys.pop();
      v.close();
    }
  });
  // The verifier remembers the CryptoKey jose resolved for a kid; these prove the memo never outlives the key set.
  /** Put `keys` in the issuer's JWKS for the duration of `body`, then restore it. */
  async function withKeys(keys: TestKey[], body: () => Promise<void>): Promise<void> {
    const saved = [...issuer.keys];
    issuer.keys.splice(0, issuer.keys.length, ...keys.map((k) => k.publicJwk));
    try {
      await body();
    } finally {
      issuer.keys.splice(0, issuer.keys.length, ...saved);
    }
  }
  it('looks a known kid up in the JWKS once per key set, not on every call', async () => {
    const [first, second] = await Promise.all([makeKey('ES256', 'k-one'), makeKey('ES256', 'k-two')]);
    await withKeys([first], async () => {
      const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false, jwks: { cooldownSeconds: 0 } });
      try {
        const lookups = stats.jwksKeyLookups;
        for (let i = 0; i < 5; i++) await v.verify(await token(first));
        // The first lookup fetched the set (so is not kept); the second is remembered for the rest.
        assert.equal(stats.jwksKeyLookups, lookups + 2);
        issuer.keys.push(second.publicJwk);
        for (let i = 0; i < 3; i++) await v.verify(await token(second));
        for (let i = 0; i < 3; i++) await v.verify(await token(first));
        // k-two reloaded the set (two lookups, as above), which dropped k-one: one more lookup for it, then remembered.
        assert.equal(stats.jwksKeyLookups, lookups + 2 + 2 + 1);
      } finally {
        v.close();
      }
    });
  });
  it('drops remembered keys when an unknown kid reloads the key set (key replaced under the same kid)', async () => {
    const [before, after, added] = await Promise.all([makeKey('ES256', 'k-rot'), makeKey('ES256', 'k-rot'), makeKey('ES256', 'k-add')]);
    await withKeys([before], async () => {
      const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false, jwks: { cooldownSeconds: 0 } });
      try {
        for (let i = 0; i < 3; i++) assert.equal((await v.verify(await token(before))).sub, 'user-1');
        const fetches = issuer.counts.jwks;
        issuer.keys.splice(0, issuer.keys.length, after.publicJwk, added.publicJwk);
        assert.equal((await v.verify(await token(added))).sub, 'user-1');
        assert.equal(issuer.counts.jwks, fetches + 1);
        // The reload replaced k-rot: the old key must be gone from the memo, the new one used, with no further fetch.
        assert.equal((await v.verify(await token(after))).sub, 'user-1');
        await rejectsWith(v.verify(await token(before)), 'ERR_SIGNATURE');
        assert.equal(issuer.counts.jwks, fetches + 1);
      } finally {
        v.close();
      }
    });
  });
  it('drops remembered keys when the key set reloads for an unknown kid (key removed)', async () => {
    const [gone, next] = await Promise.all([makeKey('ES256', 'k-gone'), makeKey('ES256', 'k-next2')]);
    await withKeys([gone], async () => {
      const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false, jwks: { cooldownSeconds: 0 } });
      try {
        await v.verify(await token(gone));
        issuer.keys.splice(0, issuer.keys.length, next.publicJwk);
        await v.verify(await token(next));
        await rejectsWith(v.verify(await token(gone)), 'ERR_KEY_NOT_FOUND');
      } finally {
        v.close();
      }
    });
  });
  it('drops remembered keys when the key set reaches cacheMaxAge', async () => {
    const [before, after] = await Promise.all([makeKey('ES256', 'k-age'), makeKey('ES256', 'k-age')]);
    await withKeys([before], async () => {
      const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false, jwks: { cacheMaxAgeSeconds: 0.2 } });
      try {
        await v.verify(await token(before));
        issuer.keys.splice(0, issuer.keys.length, after.publicJwk);
        // Still fresh: the remembered key stands, as jose's own cache would.
        await rejectsWith(v.verify(await token(after)), 'ERR_SIGNATURE');
        const fetches = issuer.counts.jwks;
        await sleep(250);
        assert.equal((await v.verify(await token(after))).sub, 'user-1');
        assert.equal(issuer.counts.jwks, fetches + 1);
        await rejectsWith(v.verify(await token(before)), 'ERR_SIGNATURE');
      } finally {
        v.close();
      }
    });
  });
  it('does not remember a key looked up while a reload is in flight', async () => {
    const [before, after, added] = await Promise.all([makeKey('ES256', 'k-race'), makeKey('ES256', 'k-race'), makeKey('ES256', 'k-race2')]);
    // A JWKS endpoint that can hold its answer, so lookups can be started while jose's reload is under way.
    let keys = [before.publicJwk];
    let held: Array<() => void> | undefined;
    let requested: () => void = () => {};
    const jwks = createServer((_req, res) => {
      const answer = JSON.stringify({ keys });
      const send = () => res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
      requested();
      if (held) held.push(send);
      else send();
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, jwksUri, cache: false, jwks: { cooldownSeconds: 0 } });
    try {
      await v.verify(await token(before));
      const [unknownKid, ...sameKid] = await Promise.all([token(added), token(after), token(after), token(after)]);
      keys = [after.publicJwk, added.publicJwk];
      held = [];
      const reloadStarted = new Promise<void>((resolve) => (requested = resolve));
      const first = v.verify(unknownKid!);
      await reloadStarted;
      // These look k-race up while the reload runs, so they still get the old key (as jose alone would) ...
      const during = Promise.allSettled(sameKid.map((t) => v.verify(t)));
      await sleep(20);
      for (const send of held) send();
      held = undefined;
      assert.equal((await first).sub, 'user-1');
      await during;
      // ... but must not have kept it: once the reload is done, the new key is used.
      assert.equal((await v.verify(sameKid[0]!)).sub, 'user-1');
      await rejectsWith(v.verify(await token(before)), 'ERR_SIGNATURE');
    } finally {
      v.close();
      jwks.closeAllConnections();
      await new Promise<void>((resolve) => jwks.close(() => resolve()));
    }
  });
  it('keys a remembered key by alg as well as kid', async () => {
    const [ec, rsa] = await Promise.all([makeKey('ES256', 'k-both'), makeKey('RS256', 'k-both')]);
    await withKeys([ec, rsa], async () => {
      const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false });
      try {
        assert.equal((await v.verify(await token(ec))).sub, 'user-1');
        assert.equal((await v.verify(await token(rsa))).sub, 'user-1');
        assert.equal((await v.verify(await token(ec))).sub, 'user-1');
        await rejectsWith(v.verify(await token(ec, { alg: 'RS256' })), 'ERR_SIGNATURE');
      } finally {
        v.close();
      }
    });
  });
  it('answers ERR_JWKS_UNAVAILABLE (503) when the key set cannot be fetched', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const { port } = dead.address() as AddressInfo;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const unreachable = createVerifier({ issuer: issuer.url, audience: AUDIENCE, jwksUri: `http://127.0.0.1:${port}/jwks` });
    const failing = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
    issuer.fail.jwks = 500;
    try {
      await rejectsWith(unreachable.verify(await token()), 'ERR_JWKS_UNAVAILABLE');
      await rejectsWith(failing.verify(await token()), 'ERR_JWKS_UNAVAILABLE');
    } finally {
      delete issuer.fail.jwks;
      unreachable.close();
      failing.close();
    }
  });
});

describe('JW-05 jku, x5u and embedded jwk are never used', () => {
  it('ignores keys offered by the token itself', async () => {
    let attackerHits = 0;
    const attacker = await makeKey('ES256', 'k-attacker');
    const evil = createServer((_req, res) => {
      attackerHits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [attacker.publicJwk] }));
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;
    try {
      const offered = { jku: `${evilUrl}/jwks`, x5u: `${evilUrl}/cert.pem`, jwk: attacker.publicJwk };
      await rejectsWith(verifier.verify(await token(attacker, offered)), 'ERR_KEY_NOT_FOUND');
      await rejectsWith(verifier.verify(await token(attacker, { ...offered, kid: 'k-es' })), 'ERR_SIGNATURE');
      assert.equal(attackerHits, 0);
    } finally {
      evil.close();
    }
  });
});

describe('JW-06 crit', () => {
  for (const crit of [['x'], [], ['b64'], 'x']) {
    it(`refuses crit ${JSON.stringify(crit)}`, async () => {
      await rejectsWith(verifier.verify(await token(es, { crit, x: 1, b64: true })), 'ERR_TOKEN_MALFORMED');
    });
  }
});

describe('JW-07 duplicate names', () => {
  it('refuses a duplicate header name', async () => {
    const dup = `{"alg":"ES256","typ":"at+jwt","kid":"k-es","typ":"at+jwt"}`;
    await rejectsWith(verifier.verify(await signRaw(dup, claimsJson(), es)), 'ERR_TOKEN_MALFORMED');
  });
  it('refuses duplicate claim names, also escaped and nested in act', async () => {
    const base = claimsJson().slice(0, -1);
    for (const extra of [`,"sub":"admin"`, `,"s\\u0075b":"admin"`, `,"act":{"sub":"a","sub":"b"}`]) {
      const t = await signRaw(header(), `${base.replace(/,"act":\{[^}]*\}/, '')}${extra}}`, es);
      await rejectsWith(verifier.verify(t), 'ERR_TOKEN_MALFORMED');
    }
  });
  it('does not confuse the same name in different objects', async () => {
    const t = await signRaw(header(), claimsJson().replace(/}$/, ',"x":{"sub":"s","y":[{"sub":1},{"sub":2}]}}'), es);
    assert.equal((await verifier.verify(t)).sub, 'user-1');
  });
});

describe('malformed input', () => {
  it('refuses a missing or empty token with ERR_TOKEN_MISSING', async () => {
    await rejectsWith(verifier.verify(undefined), 'ERR_TOKEN_MISSING');
    await rejectsWith(verifier.verify(''), 'ERR_TOKEN_MISSING');
  });
  it('refuses wrong segment counts, bad base64url, non-UTF-8, non-object JSON and oversize tokens', async () => {
    const good = await token();
    const [h, p] = good.split('.');
    const cases = [
      'abc',
      `${h}.${p}`,
      `${h}.${p}.sig.x.y`,
      `${h}.${p}!.sig`,
      `${h}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.sig`,
      `${Buffer.from('[1]').toString('base64url')}.${p}.sig`,
      `${h}.${Buffer.from('"str"').toString('base64url')}.sig`,
      `${good}${'A'.repeat(17_000)}`,
    ];
    for (const t of cases) await rejectsWith(verifier.verify(t), 'ERR_TOKEN_MALFORMED');
  });
  it('refuses a token without kid', async () => {
    await rejectsWith(verifier.verify(await token(es, { kid: undefined })), 'ERR_TOKEN_MALFORMED');
  });
  it('refuses a header nested 5000 deep, under the length limit, with a VerifyError and never a RangeError', async () => {
    const depth = 5000;
    const deep = (fields: Record<string, unknown>) => `${JSON.stringify(fields).slice(0, -1)},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const noKid = await signRaw(deep({ alg: 'ES256', typ: 'at+jwt' }), claimsJson(), es);
    const [h, , s] = (await signRaw(deep(JSON.parse(header())), claimsJson(), es)).split('.');
    const notClaims = `${h}.${Buffer.from('{"sub":"a","sub":"b"}').toString('base64url')}.${s}`;
    for (const t of [noKid, notClaims]) {
      assert.ok(t.length < MAX_TOKEN_LENGTH, `${t.length}`);
      await rejectsWith(verifier.verify(t), 'ERR_TOKEN_MALFORMED');
    }
    // RFC 7515 §4: a header parameter that is not understood is ignored, however deep; the signature still decides.
    await rejectsWith(verifier.verify(`${h}.${(await token()).split('.')[1]}.${s}`), 'ERR_SIGNATURE');
  });
  it('refuses as malformed, with a fixed detail, anything but a VerifyError thrown while prechecking', async () => {
    // A throwing getter inherited by every object (reached here through a header without alg) stands in for any
    // unexpected throw; verify prechecks before its first await, so the getter is gone when the promise settles.
    const t = await token(es, { alg: undefined });
    const thrown = new Error('raw internal message');
    Object.defineProperty(Object.prototype, 'alg', { configurable: true, get: () => { throw thrown; } });
    let pending: Promise<unknown>;
    try {
      pending = verifier.verify(t);
    } finally {
      delete (Object.prototype as Record<string, unknown>).alg;
    }
    const err = await rejectsWith(pending, 'ERR_TOKEN_MALFORMED');
    assert.equal(err.detail, 'token could not be decoded');
    assert.equal(err.cause, thrown);
    await rejectsWith(verifier.verify(t), 'ERR_ALGORITHM');
  });
});
