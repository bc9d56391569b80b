// docs/configuration.md is generated from the schema; this keeps the committed file true to the code.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderConfigDocs } from '../../src/config/gen_docs.js';

it('docs/configuration.md matches the schema (run `npm run docs:config` after changing it)', () => {
  assert.equal(readFileSync('docs/configuration.md', 'utf8'), renderConfigDocs());
});
