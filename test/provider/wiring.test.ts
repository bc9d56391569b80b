// One composition root: src/service.ts decides what is built with what; the provider module only configures
// oidc-provider from the slices it is given, and nothing outside service.ts registers the grant or builds the policy.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const read = (file: string) => readFileSync(join(SRC, file), 'utf8');

it('provider/index.ts imports no grant, policy, token type or store wiring', () => {
  const imports = [...read('provider/index.ts').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
  assert.deepEqual(imports.filter((i) => /grants\/|policy\/|token_types\/|stores\/|audit\//.test(i!)), []);
});

it('only service.ts registers the token exchange grant and builds the policy', () => {
  const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const wiring = files.filter((f) => /registerTokenExchange\(provider, \{|new Policy\(/.test(read(f)));
  assert.deepEqual(wiring, ['service.ts']);
});
