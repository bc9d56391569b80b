import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import {
  CLOCK_SKEW_SECONDS,
  generateKeyFile,
  KeyStoreError,
  listKeys,
  loadOrCreateKeys,
  rotateKeyFile,
} from '../../src/keys/index.js';
import { tempDir } from './temp_dir.js';

const T0 = 1_800_000_000;
const LIFETIME = 600;

test('rotate: next becomes current, current becomes retired with retire-after, a new next is added', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  const [current, next] = await generateKeyFile({ file, now: () => T0 });
  const summary = await rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => T0 + 10 });

  assert.equal(summary.promoted.kid, next!.kid);
  assert.equal(summary.retired.kid, current!.kid);
  assert.equal(summary.retired.retireAfter, T0 + 10 + LIFETIME + CLOCK_SKEW_SECONDS);
  assert.deepEqual(summary.dropped, []);
  assert.ok(![current!.kid, next!.kid].includes(summary.next.kid));
  assert.equal(summary.next.created, T0 + 10);

  const listed = await listKeys({ file, now: () => T0 + 10 });
  assert.deepEqual(
    listed.map((key) => [key.kid, key.status, key.created, key.retireAfter]),
    [
      [next!.kid, 'current', T0, null],
      [summary.next.kid, 'next', T0 + 10, null],
      [current!.kid, 'retired', T0, T0 + 10 + LIFETIME + CLOCK_SKEW_SECONDS],
    ],
  );
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('rotate: maxTokenLifetimeSeconds defaults to 3600', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file, now: () => T0 });
  const summary = await rotateKeyFile({ file, now: () => T0 });
  assert.equal(summary.retired.retireAfter, T0 + 3600 + CLOCK_SKEW_SECONDS);
});

test('rotate: the retired key stays published, so tokens it signed still verify', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file, now: () => T0 });
  const before = await loadOrCreateKeys({ file, alg: 'ES256', now: () => T0 });
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: before.signing.alg, kid: before.signing.kid })
    .sign(before.signing.key);

  await rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => T0 + 10 });
  const after = await loadOrCreateKeys({ file, alg: 'ES256', now: () => T0 + 20 });

  assert.notEqual(after.signing.kid, before.signing.kid);
  // The promoted key was already published before it started signing.
  assert.ok(before.publicJwks.keys.some((jwk) => jwk.kid === after.signing.kid));
  assert.deepEqual(
    after.privateJwks.keys.map((jwk) => jwk.kid),
    after.publicJwks.keys.map((jwk) => jwk.kid),
  );
  assert.equal(after.publicJwks.keys.length, 3);
  assert.equal(after.publicJwks.keys[2]!.kid, before.signing.kid);
  await jwtVerify(token, createLocalJWKSet(after.publicJwks));
});

test('rotate: a retired key is kept before its retire-after and dropped once it has passed', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  const [first] = await generateKeyFile({ file, now: () => T0 });
  const one = await rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => T0 });
  const retireAfter = one.retired.retireAfter!;

  // Second rotation just before the first retired key's retire-after: both retired keys stay.
  const two = await rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => retireAfter - 1 });
  assert.deepEqual(two.dropped, []);
  assert.deepEqual(
    two.keys.filter((key) => key.status === 'retired').map((key) => key.kid),
    [one.promoted.kid, first!.kid],
  );

  // Once it has passed, the key is no longer published, is shown as expired, and the next rotation drops it.
  const loaded = await loadOrCreateKeys({ file, alg: 'ES256', now: () => retireAfter });
  assert.ok(!loaded.publicJwks.keys.some((jwk) => jwk.kid === first!.kid));
  assert.ok(!loaded.privateJwks.keys.some((jwk) => jwk.kid === first!.kid));
  const listed = await listKeys({ file, now: () => retireAfter });
  assert.equal(listed.find((key) => key.kid === first!.kid)?.expired, true);

  // The next key added by `two` must be a token lifetime old before it can be promoted.
  const three = await rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => retireAfter - 1 + LIFETIME });
  assert.deepEqual(
    three.dropped.map((key) => key.kid),
    [first!.kid],
  );
  assert.ok(!three.keys.some((key) => key.kid === first!.kid));
  assert.deepEqual(
    three.keys.map((key) => key.status),
    ['current', 'next', 'retired', 'retired'],
  );
});

test('rotate: the new next key keeps the promoted alg unless --alg asks for another', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file, alg: 'EdDSA' });
  const same = await rotateKeyFile({ file });
  assert.equal(same.next.alg, 'EdDSA');

  // force: the rotations follow each other at once (the age rule has its own tests below).
  const migrating = await rotateKeyFile({ file, alg: 'RS256', force: true });
  assert.equal(migrating.promoted.alg, 'EdDSA');
  assert.equal(migrating.next.alg, 'RS256');
  const migrated = await rotateKeyFile({ file, force: true });
  assert.equal(migrated.promoted.alg, 'RS256');
  assert.equal(migrated.next.alg, 'RS256');
});

test('rotate: a missing file is KEYS_NOT_FOUND', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await assert.rejects(
    rotateKeyFile({ file }),
    (err: unknown) => err instanceof KeyStoreError && err.code === 'KEYS_NOT_FOUND' && err.message.includes(file),
  );
});

test('rotate: a file without a next key is KEYS_NO_NEXT and is left unchanged', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file });
  const stored = JSON.parse(await readFile(file, 'utf8')) as { keys: Array<Record<string, unknown>> };
  stored.keys = stored.keys.filter((key) => key['x-status'] === 'current');
  await writeFile(file, JSON.stringify(stored));

  const warnings: string[] = [];
  await loadOrCreateKeys({ file, alg: 'ES256', onWarning: (message) => warnings.push(message) });
  assert.match(warnings.join('\n'), /no next key/);

  await assert.rejects(
    rotateKeyFile({ file }),
    (err: unknown) => err instanceof KeyStoreError && err.code === 'KEYS_NO_NEXT',
  );
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), stored);
});

test('rotate: an invalid maxTokenLifetimeSeconds is rejected before touching the file', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file });
  const before = await readFile(file, 'utf8');
  await assert.rejects(rotateKeyFile({ file, maxTokenLifetimeSeconds: 0 }), RangeError);
  assert.equal(await readFile(file, 'utf8'), before);
});

test('rotate: a second rotation before the next key is a token lifetime old is KEYS_NEXT_TOO_NEW and leaves the file unchanged', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file, now: () => T0 });
  // Never rotated: the next key was generated with the current one, so every instance that signs publishes it.
  const one = await rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => T0 + 5 });
  const before = await readFile(file, 'utf8');

  await assert.rejects(
    rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => T0 + 5 + LIFETIME - 1 }),
    (err: unknown) => {
      assert.ok(err instanceof KeyStoreError);
      assert.equal(err.code, 'KEYS_NEXT_TOO_NEW');
      assert.equal(
        err.message,
        `key file ${file}: next key ${one.next.kid} was added ${LIFETIME - 1} s ago, less than the longest token lifetime ` +
          `(${LIFETIME} s), so instances not restarted since do not publish it; restart every instance and rotate ` +
          `after ${new Date((T0 + 5 + LIFETIME) * 1000).toISOString().replace('.000Z', 'Z')}, or pass --force once you know every instance has restarted`,
      );
      return true;
    },
  );
  assert.equal(await readFile(file, 'utf8'), before);

  // Once the next key is a token lifetime old, the rotation goes through and promotes it.
  const two = await rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => T0 + 5 + LIFETIME });
  assert.equal(two.promoted.kid, one.next.kid);
});

test('rotate: force promotes a young next key', async (t) => {
  const file = join(await tempDir(t), 'jwks.json');
  await generateKeyFile({ file, now: () => T0 });
  const one = await rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => T0 });
  const two = await rotateKeyFile({ file, maxTokenLifetimeSeconds: LIFETIME, now: () => T0 + 1, force: true });
  assert.equal(two.promoted.kid, one.next.kid);
  assert.equal(two.retired.kid, one.promoted.kid);
});
