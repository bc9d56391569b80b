import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { generateKeyFile, KeyStoreError, SIGNING_ALGS } from '../../src/keys/index.js';
import { memberNames, PRIVATE_MEMBERS, tempDir } from './temp_dir.js';

const NOW = 1_800_000_000;

for (const alg of SIGNING_ALGS) {
  test(`generate ${alg}: a current and a next key, kid = RFC 7638 thumbprint, file mode 0600`, async (t) => {
    const file = join(await tempDir(t), 'nested', 'jwks.json');
    const info = await generateKeyFile({ file, alg, now: () => NOW });

    assert.deepEqual(
      info.map((key) => [key.status, key.alg, key.created, key.retireAfter, key.expired]),
      [
        ['current', alg, NOW, null, false],
        ['next', alg, NOW, null, false],
      ],
    );
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    const { keys } = JSON.parse(await readFile(file, 'utf8')) as { keys: Array<JWK & Record<string, unknown>> };
    assert.equal(keys.length, 2);
    for (const [index, jwk] of keys.entries()) {
      assert.deepEqual(memberNames(jwk), [...PRIVATE_MEMBERS[alg], 'x-created', 'x-status'].sort());
      assert.equal(jwk.kid, await calculateJwkThumbprint(jwk, 'sha256'));
      assert.equal(jwk.kid, info[index]!.kid);
      assert.equal(jwk.alg, alg);
      assert.equal(jwk.use, 'sig');
      assert.equal(jwk['x-created'], NOW);
    }
    assert.deepEqual(
      keys.map((jwk) => jwk['x-status']),
      ['current', 'next'],
    );
    assert.notEqual(keys[0]!.kid, keys[1]!.kid);
  });
}

test('generate: RS256 keys are 2048-bit, EdDSA keys are Ed25519', async (t) => {
  const dir = await tempDir(t);
  await generateKeyFile({ file: join(dir, 'rsa.json'), alg: 'RS256' });
  await generateKeyFile({ file: join(dir, 'ed.json'), alg: 'EdDSA' });
  const rsa = JSON.parse(await readFile(join(dir, 'rsa.json'), 'utf8')).keys[0] as JWK;
  const ed = JSON.parse(await readFile(join(dir, 'ed.json'), 'utf8')).keys[0] as JWK;
  assert.equal(Buffer.from(rsa.n!, 'base64url').length * 8, 2048);
  assert.equal(ed.kty, 'OKP');
  assert.equal(ed.crv, 'Ed25519');
});

test('generate: defaults to ES256', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  const info = await generateKeyFile({ file });
  assert.deepEqual(
    info.map((key) => key.alg),
    ['ES256', 'ES256'],
  );
});

test('generate: refuses to overwrite without force, replaces with force', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  const first = await generateKeyFile({ file });
  const before = await readFile(file, 'utf8');

  await assert.rejects(generateKeyFile({ file }), (err: unknown) => {
    assert.ok(err instanceof KeyStoreError);
    assert.equal(err.code, 'KEYS_EXISTS');
    assert.equal(err.file, file);
    assert.match(err.message, /already exists/);
    return true;
  });
  assert.equal(await readFile(file, 'utf8'), before, 'the existing file is untouched');

  const second = await generateKeyFile({ file, force: true, alg: 'EdDSA' });
  assert.notEqual(second[0]!.kid, first[0]!.kid);
  assert.equal(second[0]!.alg, 'EdDSA');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('generate: an unsupported alg is KEYS_UNSUPPORTED_ALG', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await assert.rejects(
    generateKeyFile({ file, alg: 'HS256' as never }),
    (err: unknown) => err instanceof KeyStoreError && err.code === 'KEYS_UNSUPPORTED_ALG',
  );
});

test('generate: every directory it creates for the key file is 0700', async (t) => {
  const dir = await tempDir(t);
  await generateKeyFile({ file: join(dir, 'keys', 'deeper', 'jwks.json') });
  for (const d of ['keys', 'keys/deeper']) assert.equal((await stat(join(dir, d))).mode & 0o777, 0o700, d);
});
