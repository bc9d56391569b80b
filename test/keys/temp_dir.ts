// A temporary directory per test, removed when the test ends.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keys-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Expected members of a public JWK per alg, plus kid, alg and use. */
export const PUBLIC_MEMBERS = {
  ES256: ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'],
  EdDSA: ['alg', 'crv', 'kid', 'kty', 'use', 'x'],
  RS256: ['alg', 'e', 'kid', 'kty', 'n', 'use'],
} as const;

/** Expected members of a clean private JWK per alg. */
export const PRIVATE_MEMBERS = {
  ES256: [...PUBLIC_MEMBERS.ES256, 'd'].sort(),
  EdDSA: [...PUBLIC_MEMBERS.EdDSA, 'd'].sort(),
  RS256: [...PUBLIC_MEMBERS.RS256, 'd', 'dp', 'dq', 'p', 'q', 'qi'].sort(),
} as const;

export function memberNames(value: object): string[] {
  return Object.keys(value).sort();
}
