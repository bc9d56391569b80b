// The signing thread's key map stays bounded (maxKeys): every distinct DPoP proof key passes through the worker, and one
// that kept them all grew without end (~5 KB a key). Real worker threads, real jose keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign, compactVerify, generateKeyPair, type CryptoKey } from 'jose';
import { createJwsThread, JwsRejected } from '../../src/keys/jws_thread.js';

const encoder = new TextEncoder();

/** A fresh key pair and a compact JWS it signed (what a DPoP proof's signature check hands the thread). */
async function proofKey(n: number) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jws = await new CompactSign(encoder.encode(`{"n":${n}}`)).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt' }).sign(privateKey);
  return { publicKey: publicKey as CryptoKey, jws };
}

describe('jws thread keys', () => {
  it('many distinct verification keys: the worker holds at most maxKeys, and signing and verifying still work after evictions', async () => {
    const maxKeys = 16;
    const jws = createJwsThread({ maxKeys });
    try {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: false });
      const signing = { kid: 'k1', alg: 'ES256', key: privateKey as CryptoKey };
      const header = { alg: 'ES256', typ: 'at+jwt', kid: 'k1' };
      await compactVerify(await jws.sign(signing, header, '{"n":0}'), publicKey);

      const keys = await Promise.all(Array.from({ length: 200 }, (_, i) => proofKey(i)));
      // Ten keys a batch (asked for in one turn of the event loop), twenty batches: 200 keys through a map of 16.
      for (let i = 0; i < keys.length; i += 10) {
        await Promise.all(keys.slice(i, i + 10).map((k) => jws.verify(k.publicKey, k.jws, ['ES256'])));
        const { workerKeys, sentKeys } = jws.stats();
        assert.ok(workerKeys > 0 && workerKeys <= maxKeys, `the worker holds ${workerKeys} keys after ${i + 10}`);
        assert.equal(sentKeys, workerKeys);
      }

      // The signing key was forgotten long ago: it is sent again with its next job, and signs.
      await compactVerify(await jws.sign(signing, header, '{"n":1}'), publicKey);
      // So is the first proof key; and a bad signature is still jose's verdict, not a missing key.
      await jws.verify(keys[0]!.publicKey, keys[0]!.jws, ['ES256']);
      await assert.rejects(jws.verify(keys[0]!.publicKey, keys[1]!.jws, ['ES256']), (err: unknown) => err instanceof JwsRejected && err.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      assert.ok(jws.stats().workerKeys <= maxKeys);
    } finally {
      await jws.close();
    }
  });

  it('a batch with more distinct keys than maxKeys: no key is forgotten while a job needs it; the next batch trims the map', async () => {
    const maxKeys = 8;
    const jws = createJwsThread({ maxKeys });
    try {
      const keys = await Promise.all(Array.from({ length: 40 }, (_, i) => proofKey(i)));
      const results = await Promise.allSettled(keys.map((k) => jws.verify(k.publicKey, k.jws, ['ES256'])));
      assert.deepEqual(results.map((r) => r.status), keys.map(() => 'fulfilled'));
      // Every key of that batch was owed when it was sent: none could be forgotten then.
      assert.equal(jws.stats().workerKeys, 40);
      // The next batch forgets the least recently used, now that nothing is owed on them.
      await jws.verify(keys[0]!.publicKey, keys[0]!.jws, ['ES256']);
      assert.equal(jws.stats().workerKeys, maxKeys);
      // Batches sent before the earlier ones are answered (one a turn of the event loop): a later batch never forgets a
      // key whose job an earlier one still has queued on the worker.
      const pending: Promise<void>[] = [];
      for (let i = 0; i < keys.length; i += 5) {
        pending.push(...keys.slice(i, i + 5).map((k) => jws.verify(k.publicKey, k.jws, ['ES256'])));
        await new Promise((r) => setImmediate(r));
      }
      const again = await Promise.allSettled(pending);
      assert.deepEqual(again.map((r) => r.status), keys.map(() => 'fulfilled'));
    } finally {
      await jws.close();
    }
  });

  it('maxKeys must be a positive integer', () => {
    assert.throws(() => createJwsThread({ maxKeys: 0 }), TypeError);
  });
});
