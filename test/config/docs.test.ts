// docs/configuration.md is generated from the schema; this keeps the committed file true to the code.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { renderConfigDocs, walk, type Row } from '../../src/config/gen_docs.js';

it('docs/configuration.md matches the schema (run `npm run docs:config` after changing it)', () => {
  assert.equal(readFileSync('docs/configuration.md', 'utf8'), renderConfigDocs());
});

it('a number shows the range the schema enforces: both bounds, one, or none; exclusive bounds as such', () => {
  const type = (schema: z.ZodType) => {
    const rows: Row[] = [];
    walk(z.object({ n: schema }), '', rows);
    return rows[0]!.type;
  };
  assert.equal(type(z.number().int().min(60).max(86400).default(3600)), 'integer 60–86400');
  assert.equal(type(z.number().int().min(300).optional()), 'integer ≥ 300');
  assert.equal(type(z.number().max(5)), 'number ≤ 5');
  assert.equal(type(z.number().gt(0).lt(1)), 'number > 0, < 1');
  assert.equal(type(z.number().int()), 'integer');
  assert.equal(type(z.array(z.number().int().min(1).max(9))), '(integer 1–9)[]');
  // The table row of a real key.
  assert.match(renderConfigDocs(), /^\| `userTokens\.accessTokenTtlSeconds` \| integer 60–86400 \| `3600` \|/m);
});
