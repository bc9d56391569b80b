// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// The signing thread: real worker threads, real jose signatures checked with the public keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign, compactVerify, decodeProtectedHeader, generateKeyPair, type CryptoKey } from 'jose';
import { createJwsThread, JwsRejected, SigningUnavailable } from '../../src/keys/jws_thread.js';

const header = (kid: string) => ({ alg: 'ES256', typ: 'at+jwt', kid });
const decoder = new TextDecoder();

async function es256(kid: string) {
  // Non-extractable, as the key store imports it: the thread gets a clone, never the key's bytes.
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: false });
  return { signing: { kid, alg: 'ES256', key: privateKey as CryptoKey }, publicKey };
}

describe('jws thread', () => {
  it('signs on the worker: every token verifies with the public key and carries its own payload and header', async () => {
    const jws = createJwsThread();
    try {
      const { signing, publicKey } = await es256('k1');
      // Asked for in one turn of the event loop: they go to the worker together and come back apart.
      const payloads = Array.from({ length: 50 }, (_, i) => JSON.stringify({ sub: `user-${i}`, jti: `j-${i}` }));
      const tokens = await Promise.all(payloads.map((p) => jws.sign(signing, header('k1'), p)));
      assert.equal(new Set(tokens).size, 50);
      for (let i = 0; i < tokens.length; i++) {
        const { payload, protectedHeader } = await compactVerify(tokens[i]!, publicKey, { algorithms: ['ES256'] });
        assert.equal(decoder.decode(payload), payloads[i]);
        assert.deepEqual(protectedHeader, header('k1'));
      }
    } finally {
      await jws.close();
    }
  });

  it('a rotated key reaches the worker with the first token it signs', async () => {
    const jws = createJwsThread();
    try {
      const a = await es256('a');
      const b = await es256('b');
      const first = await jws.sign(a.signing, header('a'), '{"n":1}');
      const second = await jws.sign(b.signing, header('b'), '{"n":2}');
      const third = await jws.sign(a.signing, header('a'), '{"n":3}');
      await compactVerify(first, a.publicKey);
      await compactVerify(second, b.publicKey);
      await compactVerify(third, a.publicKey);
      await assert.rejects(compactVerify(second, a.publicKey), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
      assert.equal(decodeProtectedHeader(second).kid, 'b');
    } finally {
      await jws.close();
    }
  });

  it('a worker that exits fails what it owes with SigningUnavailable, fails fast for restartDelayMs after the exit, then starts a new one', async () => {
    const jws = createJwsThread({ workerUrl: new URL('./fixtures/worker_exits.mjs', import.meta.url), restartDelayMs: 200 });
    try {
      const { signing } = await es256('k1');
      // The worker has run longer than restartDelayMs when it exits: the delay counts from the exit, not the start.
      await new Promise((r) => setTimeout(r, 300));
      await assert.rejects(jws.sign(signing, header('k1'), '{}'), (err: unknown) => err instanceof SigningUnavailable && err.message === 'the signing thread exited');
      await assert.rejects(jws.sign(signing, header('k1'), '{}'), (err: unknown) => err instanceof SigningUnavailable && err.message === 'the signing thread is restarting');
      await new Promise((r) => setTimeout(r, 250));
      // A new worker is started (this fixture exits again: the failure is its own, not a stale one).
      await assert.rejects(jws.sign(signing, header('k1'), '{}'), (err: unknown) => err instanceof SigningUnavailable && err.message === 'the signing thread exited');
    } finally {
      await jws.close();
    }
  });

  it('a worker that does not answer in time: SigningUnavailable, and the next signature goes to a new worker', async () => {
    const jws = createJwsThread({ workerUrl: new URL('./fixtures/worker_silent.mjs', import.meta.url), timeoutMs: 150, restartDelayMs: 0 });
    try {
      const { signing } = await es256('k1');
      const started = performance.now();
      await assert.rejects(jws.sign(signing, header('k1'), '{}'), (err: unknown) => err instanceof SigningUnavailable && err.message === 'the signing thread did not answer in time');
      assert.ok(performance.now() - started < 2000);
      await assert.rejects(jws.sign(signing, header('k1'), '{}'), (err: unknown) => err instanceof SigningUnavailable && err.message === 'the signing thread did not answer in time');
    } finally {
      await jws.close();
    }
  });

  it('verifies on the worker: a good signature resolves; a bad one, or an alg not allowed, rejects with jose\'s code', async () => {
    const jws = createJwsThread();
    try {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const good = await new CompactSign(new TextEncoder().encode('{"htm":"POST"}')).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt' }).sign(privateKey);
      const [h, p, sig] = good.split('.');
      const tampered = `${h}.${p}.${sig!.startsWith('A') ? 'B' : 'A'}${sig!.slice(1)}`;
      const results = await Promise.allSettled([
        jws.verify(publicKey, good, ['ES256']),
        jws.verify(publicKey, tampered, ['ES256']),
        jws.verify(publicKey, good, ['EdDSA']),
      ]);
      assert.deepEqual(results[0], { status: 'fulfilled', value: undefined });
      const codes = results.slice(1).map((r) => (r.status === 'rejected' && r.reason instanceof JwsRejected ? r.reason.code : r.status));
      assert.deepEqual(codes, ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'ERR_JOSE_ALG_NOT_ALLOWED']);
    } finally {
      await jws.close();
    }
  });

  it('after close, signing fails with SigningUnavailable', async () => {
    const jws = createJwsThread();
    const { signing } = await es256('k1');
    await jws.sign(signing, header('k1'), '{}');
    await jws.close();
    await assert.rejects(jws.sign(signing, header('k1'), '{}'), (err: unknown) => err instanceof SigningUnavailable && err.message === 'the signing thread is closed');
  });
});
