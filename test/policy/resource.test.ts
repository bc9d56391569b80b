// canonicalResource: RFC 8707 §2 resource indicators in the canonical form tool servers are registered under.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalResource } from '../../src/policy/resource.js';

describe('canonicalResource', () => {
  it('RI-06 lowercases scheme and host, drops a default port and a lone "/" path', () => {
    const cases: Array<[string, string]> = [
      ['https://tools.example/mcp', 'https://tools.example/mcp'],
      ['HTTPS://TOOLS.Example/mcp', 'https://tools.example/mcp'],
      ['https://tools.example:443/mcp', 'https://tools.example/mcp'],
      ['http://tools.example:80/mcp', 'http://tools.example/mcp'],
      ['http://tools.example:8080/mcp', 'http://tools.example:8080/mcp'],
      ['https://tools.example/', 'https://tools.example'],
      ['https://tools.example', 'https://tools.example'],
    ];
    for (const [input, canonical] of cases) assert.equal(canonicalResource(input), canonical, input);
  });

  it('keeps the path case, a trailing slash on a longer path, and the query (RFC 8707 allows one)', () => {
    assert.equal(canonicalResource('https://tools.example/MCP'), 'https://tools.example/MCP');
    assert.equal(canonicalResource('https://tools.example/mcp/'), 'https://tools.example/mcp/');
    assert.equal(canonicalResource('https://tools.example/mcp?tenant=a'), 'https://tools.example/mcp?tenant=a');
  });

  it('RI-01 refuses what is not an absolute URI', () => {
    for (const value of ['mcp.example.com', '/mcp', '//tools.example/mcp', '', ' ', 'tools.example:443/mcp']) {
      assert.equal(canonicalResource(value), undefined, JSON.stringify(value));
    }
  });

  it('RI-02 refuses any fragment, even an empty one', () => {
    for (const value of ['https://tools.example/mcp#frag', 'https://tools.example/mcp#', 'https://tools.example/#/a']) assert.equal(canonicalResource(value), undefined, value);
  });

  it('refuses schemes other than http(s) and URIs with userinfo', () => {
    for (const value of ['urn:example:tool', 'ftp://tools.example/mcp', 'javascript:alert(1)', 'file:///etc/passwd', 'https://user:pass@tools.example/mcp', 'https://user@tools.example/mcp']) {
      assert.equal(canonicalResource(value), undefined, value);
    }
  });
});
