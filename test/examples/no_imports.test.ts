// Tests drive the examples as programs (child processes), never import them: examples/ stays a reader's folder.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const TEST_DIR = fileURLToPath(new URL('..', import.meta.url));

it('no test file imports from examples/', () => {
  const files = (readdirSync(TEST_DIR, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const offenders = files.filter((f) => /\b(?:from|import)\s*\(?\s*['"][./]*examples\//.test(readFileSync(join(TEST_DIR, f), 'utf8')));
  assert.deepEqual(offenders, []);
});
