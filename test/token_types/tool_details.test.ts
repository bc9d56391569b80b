// Unit tests of src/token_types/tool_details.ts: a subject token's mcp_tool locations in the resource parameter's
// canonical form; an uncanonicalisable location or a (location, tool) repeated once canonical refuses the claim.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { McpToolDetails } from 'delegation-token-verify';
import { canonicalToolDetails } from '../../src/token_types/tool_details.js';

const CRM = 'http://tools.test/crm/mcp';
const entry = (location: string, actions: string[], args?: McpToolDetails['arguments']): McpToolDetails => ({
  type: 'mcp_tool',
  locations: [location],
  actions,
  ...(args ? { arguments: args } : {}),
});

describe('canonicalToolDetails', () => {
  it('RFC 8707 §2: every spelling the resource parameter accepts becomes the registered form; the input is untouched', () => {
    for (const spelling of [CRM, 'HTTP://TOOLS.TEST/crm/mcp', 'http://tools.test:80/crm/mcp', 'http://Tools.Test:80/crm/mcp']) {
      const input = [entry(spelling, ['lookup'], { id: { const: 'c-1' } })];
      assert.deepEqual(canonicalToolDetails(input), [entry(CRM, ['lookup'], { id: { const: 'c-1' } })], spelling);
      assert.equal(input[0]!.locations[0], spelling);
    }
    assert.deepEqual(canonicalToolDetails([entry('https://tools.test:443/', ['a'])]), [entry('https://tools.test', ['a'])]);
    // Distinct tools, or one tool at distinct tool servers, are not a repetition.
    assert.deepEqual(canonicalToolDetails([entry(CRM, ['a']), entry('HTTP://TOOLS.TEST/crm/mcp', ['b']), entry('http://tools.test/billing/mcp', ['a'])]), [
      entry(CRM, ['a']),
      entry(CRM, ['b']),
      entry('http://tools.test/billing/mcp', ['a']),
    ]);
  });

  it('RFC 9396 §5: a location that is no resource indicator, or one tool twice at one location once canonical, is null', () => {
    for (const location of ['http://u@tools.test/crm/mcp', `${CRM}#f`, 'urn:example:crm', 'mailto:a@tools.test', 'ftp://tools.test/crm']) {
      assert.equal(canonicalToolDetails([entry(location, ['a'])]), null, location);
    }
    assert.equal(canonicalToolDetails([entry(CRM, ['a'], { n: { maximum: 1 } }), entry('http://TOOLS.TEST:80/crm/mcp', ['a'], { n: { maximum: 9 } })]), null);
    assert.equal(canonicalToolDetails([entry(CRM, ['b']), entry('http://tools.test:80/crm/mcp', ['c', 'b'])]), null);
  });
});
