import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { generateKeyFile, KeyStoreError, loadOrCreateKeys, SIGNING_ALGS, type KeyStoreErrorCode } from '../../src/keys/index.js';
import { memberNames, PRIVATE_MEMBERS, PUBLIC_MEMBERS, tempDir } from './temp_dir.js';

function rejectsWith(code: KeyStoreErrorCode, file: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof KeyStoreError, `expected KeyStoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.ok(err.message.includes(file), `message names the file: ${err.message}`);
    return true;
  };
}

for (const alg of SIGNING_ALGS) {
  test(`load ${alg}: creates the file when missing, then loads the same keys`, async (t) => {
    const file = join(await tempDir(t), 'keys', 'jwks.json');
    const created = await loadOrCreateKeys({ file, alg });
    assert.equal(created.generated, true);
    assert.equal(created.file, file);
    assert.equal(created.signing.alg, alg);
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    const loaded = await loadOrCreateKeys({ file, alg });
    assert.equal(loaded.generated, false);
    assert.equal(loaded.signing.kid, created.signing.kid);
    assert.deepEqual(loaded.publicJwks, created.publicJwks);
  });

  test(`load ${alg}: public JWKS holds exactly the public members; private JWKS has no metadata`, async (t) => {
    const file = join(await tempDir(t), 'jwks.json');
    const keys = await loadOrCreateKeys({ file, alg });

    assert.equal(keys.publicJwks.keys.length, 2);
    for (const jwk of keys.publicJwks.keys) {
      assert.deepEqual(memberNames(jwk), [...PUBLIC_MEMBERS[alg]]);
      assert.equal(jwk.use, 'sig');
      assert.equal(jwk.alg, alg);
    }
    assert.equal(keys.privateJwks.keys.length, 2);
    for (const jwk of keys.privateJwks.keys) assert.deepEqual(memberNames(jwk), [...PRIVATE_MEMBERS[alg]]);
    // current first: oidc-provider signs with the first key that matches the alg.
    assert.equal(keys.privateJwks.keys[0]!.kid, keys.signing.kid);
    assert.deepEqual(
      keys.publicJwks.keys.map((jwk) => jwk.kid),
      keys.privateJwks.keys.map((jwk) => jwk.kid),
    );
  });

  test(`load ${alg}: a token signed with signing.key verifies against publicJwks`, async (t) => {
    const file = join(await tempDir(t), 'jwks.json');
    const keys = await loadOrCreateKeys({ file, alg });
    const token = await new SignJWT({ scope: 'tools:read' })
      .setProtectedHeader({ alg: keys.signing.alg, kid: keys.signing.kid })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(keys.signing.key);

    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.publicJwks));
    assert.equal(payload['scope'], 'tools:read');
    assert.equal(protectedHeader.kid, keys.signing.kid);
  });
}

test('load: concurrent first starts all end up with the one key in the file', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  const results = await Promise.all(Array.from({ length: 5 }, () => loadOrCreateKeys({ file, alg: 'ES256' })));
  assert.equal(results.filter((keys) => keys.generated).length, 1);
  const stored = JSON.parse(await readFile(file, 'utf8')) as { keys: Array<{ kid: string }> };
  for (const keys of results) assert.equal(keys.signing.kid, stored.keys[0]!.kid);
});

test('load: warns when the file mode is looser than 0600', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file });
  await chmod(file, 0o644);
  const warnings: string[] = [];
  await loadOrCreateKeys({ file, alg: 'ES256', onWarning: (message) => warnings.push(message) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /mode 644/);
  assert.ok(warnings[0]!.includes(file));
});

test('load: an existing file with another alg wins, with a warning', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file, alg: 'EdDSA' });
  const warnings: string[] = [];
  const keys = await loadOrCreateKeys({ file, alg: 'ES256', onWarning: (message) => warnings.push(message) });
  assert.equal(keys.signing.alg, 'EdDSA');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /signs with EdDSA, not the configured ES256/);
});

test('load: invalid JSON is KEYS_INVALID and the message quotes none of the file', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await writeFile(file, '{"keys": [{"d": "c2VjcmV0LWtleS1tYXRlcmlhbA"', { mode: 0o600 });
  await assert.rejects(loadOrCreateKeys({ file, alg: 'ES256' }), (err: unknown) => {
    rejectsWith('KEYS_INVALID', file)(err);
    assert.doesNotMatch((err as Error).message, /c2VjcmV0/);
    assert.equal((err as Error).cause, undefined);
    return true;
  });
});

test('load: a file that is not a JWKS is KEYS_INVALID', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await writeFile(file, '{"kty": "EC"}', { mode: 0o600 });
  await assert.rejects(loadOrCreateKeys({ file, alg: 'ES256' }), rejectsWith('KEYS_INVALID', file));
});

test('load: a file without a current key is KEYS_NO_CURRENT', async (t) => {
  const dir = await tempDir(t);
  const empty = join(dir, 'empty.json');
  await writeFile(empty, '{"keys": []}', { mode: 0o600 });
  await assert.rejects(loadOrCreateKeys({ file: empty, alg: 'ES256' }), rejectsWith('KEYS_NO_CURRENT', empty));

  const onlyNext = join(dir, 'only_next.json');
  await generateKeyFile({ file: onlyNext });
  const stored = JSON.parse(await readFile(onlyNext, 'utf8')) as { keys: Array<Record<string, unknown>> };
  stored.keys = stored.keys.filter((key) => key['x-status'] === 'next');
  await writeFile(onlyNext, JSON.stringify(stored));
  await assert.rejects(loadOrCreateKeys({ file: onlyNext, alg: 'ES256' }), rejectsWith('KEYS_NO_CURRENT', onlyNext));
});

/** Generates a file, lets `edit` change its parsed JSON, and writes it back. */
async function editedFile(dir: string, edit: (keys: Array<Record<string, unknown>>) => void): Promise<string> {
  const file = join(dir, 'jwks.json');
  await generateKeyFile({ file, force: true });
  const stored = JSON.parse(await readFile(file, 'utf8')) as { keys: Array<Record<string, unknown>> };
  edit(stored.keys);
  await writeFile(file, JSON.stringify(stored));
  return file;
}

test('load: a key without its private part is KEYS_INVALID', async (t) => {
  const file = await editedFile(await tempDir(t), (keys) => delete keys[1]!['d']);
  await assert.rejects(loadOrCreateKeys({ file, alg: 'ES256' }), (err: unknown) => {
    rejectsWith('KEYS_INVALID', file)(err);
    assert.match((err as Error).message, /no private part/);
    return true;
  });
});

test('load: malformed keys are KEYS_INVALID', async (t) => {
  const dir = await tempDir(t);
  const edits: Array<[string, (keys: Array<Record<string, unknown>>) => void, RegExp]> = [
    ['unknown status', (keys) => (keys[1]!['x-status'] = 'standby'), /x-status/],
    ['two current keys', (keys) => (keys[1]!['x-status'] = 'current'), /more than one current/],
    ['retired without retire-after', (keys) => (keys[1]!['x-status'] = 'retired'), /x-retire-after/],
    ['alg that does not fit the key', (keys) => (keys[0]!['alg'] = 'RS256'), /not an RSA key/],
    ['duplicate kid', (keys) => (keys[1]!['kid'] = keys[0]!['kid']), /more than once/],
    ['wrong use', (keys) => (keys[0]!['use'] = 'enc'), /use/],
    ['d that does not match the public key', (keys) => (keys[0]!['d'] = keys[1]!['d']), /not a usable ES256 key pair/],
  ];
  for (const [name, edit, message] of edits) {
    const file = await editedFile(dir, edit);
    await assert.rejects(loadOrCreateKeys({ file, alg: 'ES256' }), (err: unknown) => {
      rejectsWith('KEYS_INVALID', file)(err);
      assert.match((err as Error).message, message, name);
      return true;
    });
  }
});

test('load: a path that cannot be read as a file is KEYS_UNREADABLE', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await mkdir(file);
  await assert.rejects(loadOrCreateKeys({ file, alg: 'ES256' }), rejectsWith('KEYS_UNREADABLE', file));
});

test('load: a file without read permission is KEYS_UNREADABLE', async (t) => {
  if (process.getuid?.() === 0) return t.skip('root reads any file');
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file });
  await chmod(file, 0o000);
  await assert.rejects(loadOrCreateKeys({ file, alg: 'ES256' }), rejectsWith('KEYS_UNREADABLE', file));
});
