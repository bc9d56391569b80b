// The verification cache: repeated tokens skip signature checks; revocation and scopes are still checked per call.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stats } from '../src/internal_stats.js';
import { createVerifier } from 'delegation-token-verify';
import { rejectsWith } from './helpers/assert_error.js';
import { FEED_CLIENT, startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, makeKey, mint, now, type TestKey } from './helpers/tokens.js';

let issuer: FakeIssuer;
let es: TestKey;

before(async () => {
  issuer = await startFakeIssuer();
  es = await makeKey('ES256', 'k-es');
  issuer.keys.push(es.publicJwk);
});
after(() => issuer.close());

const token = (claims: Record<string, unknown> = {}) => mint({ key: es, issuer: issuer.url, claims });

describe('verification cache', () => {
  it('verifies the signature of a repeated token once, and returns the same frozen result', async () => {
    const verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
    try {
      const t = await token();
      const start = stats.signatureVerifications;
      const first = await verifier.verify(t);
      const second = await verifier.verify(t);
      assert.equal(stats.signatureVerifications, start + 1);
      assert.equal(first, second);
    } finally {
      verifier.close();
    }
  });

  it('still checks requiredScopes on a cache hit', async () => {
    const verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
    try {
      const t = await token();
      await verifier.verify(t, { requiredScopes: ['crm.lookup_customer'] });
      const start = stats.signatureVerifications;
      await rejectsWith(verifier.verify(t, { requiredScopes: ['crm.delete_customer'] }), 'ERR_INSUFFICIENT_SCOPE');
      assert.equal(stats.signatureVerifications, start);
    } finally {
      verifier.close();
    }
  });

  it('still checks revocation on a cache hit', async () => {
    const verifier = createVerifier({
      issuer: issuer.url,
      audience: AUDIENCE,
      revocation: { mode: 'introspect', ...FEED_CLIENT, cacheSeconds: 0 },
    });
    try {
      const t = await token();
      await verifier.verify(t);
      issuer.inactive.add(t);
      const start = stats.signatureVerifications;
      await rejectsWith(verifier.verify(t), 'ERR_REVOKED');
      assert.equal(stats.signatureVerifications, start);
    } finally {
      verifier.close();
    }
  });

  it('is bounded (least recently used goes first) and can be disabled', async () => {
    const small = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: { maxEntries: 2 } });
    const none = createVerifier({ issuer: issuer.url, audience: AUDIENCE, cache: false });
    try {
      const [t1, t2, t3] = await Promise.all([token(), token(), token()]);
      for (const t of [t1, t2, t1, t3]) await small.verify(t as string); // t2 is now least recently used
      let start = stats.signatureVerifications;
      await small.verify(t1 as string);
      await small.verify(t3 as string);
      assert.equal(stats.signatureVerifications, start, 't1 and t3 still cached');
      await small.verify(t2 as string);
      assert.equal(stats.signatureVerifications, start + 1, 't2 was evicted');

      start = stats.signatureVerifications;
      await none.verify(t1 as string);
      await none.verify(t1 as string);
      assert.equal(stats.signatureVerifications, start + 2);
    } finally {
      small.close();
      none.close();
    }
  });

  it('does not serve a token past its exp', async () => {
    const verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clockTolerance: 0 });
    try {
      const exp = now() + 1;
      const t = await token({ exp });
      await verifier.verify(t);
      await sleep(exp * 1000 - Date.now() + 50);
      await rejectsWith(verifier.verify(t), 'ERR_EXPIRED');
    } finally {
      verifier.close();
    }
  });
});
