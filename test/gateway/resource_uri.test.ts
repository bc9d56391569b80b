// The resources/read rule (SPEC §12: deny by default; the route's `resources` prefixes) decided on the URI upstream
// will read: the MCP TypeScript SDK's McpServer looks a resource up by `new URL(uri).toString()`, so a URI is allowed
// only in its own WHATWG normal form, without userinfo, under a prefix that ends where a path segment does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { underPrefix, uriProblem } from '../../src/gateway/resource_uri.js';
import { postForm } from '../helpers/http.js';
import { post, startStack, type Stack } from './fixture.js';
import { startSdkUpstream, type SdkUpstream } from './sdk_upstream.js';

describe('uriProblem / underPrefix', () => {
  it('only a URI that is its own WHATWG serialisation, without userinfo, is compared', () => {
    for (const uri of ['docs://kb/public/terms', 'file:///srv/docs/readme', 'https://example.com/a?b#c', 'urn:isbn:0451450523', 'docs://']) assert.equal(uriProblem(uri), undefined, uri);
    const problems: Array<[string, RegExp]> = [
      ['docs://kb/public/../private/salaries', /normal form.*"docs:\/\/kb\/private\/salaries"/],
      ['docs://kb/public/%2e%2e/private/salaries', /normal form/],
      ['docs://kb/public/./terms', /normal form/],
      ['file:///srv/docs/../secrets/key', /normal form.*"file:\/\/\/srv\/secrets\/key"/],
      ['DOCS://kb/public/terms', /normal form/],
      ['https://EXAMPLE.com/', /normal form/],
      ['https://example.com', /normal form.*"https:\/\/example.com\/"/],
      ['docs://kb/public/te\trms', /normal form/],
      [' docs://kb/public/terms', /normal form/],
      ['docs://kb/public/terms\n', /normal form/],
      ['docs://user@kb/public/terms', /userinfo/],
      ['https://u:p@example.com/', /userinfo/],
      ['kb/public/terms', /not a URL/],
      ['', /not a URL/],
    ];
    for (const [uri, problem] of problems) assert.match(uriProblem(uri) ?? '', problem, JSON.stringify(uri));
  });

  it('a prefix covers a URI equal to it, or going on after a path segment ends; `*` any', () => {
    const yes: Array<[string, string]> = [
      ['docs://kb/public/terms', 'docs://kb/public/'],
      ['docs://kb/public/terms', 'docs://kb/public'],
      ['docs://kb/public', 'docs://kb/public'],
      ['docs://kb/public?v=2', 'docs://kb/public'],
      ['docs://kb/public#top', 'docs://kb/public'],
      ['docs://kb/x', 'docs://'],
      ['anything', '*'],
    ];
    for (const [uri, prefix] of yes) assert.equal(underPrefix(uri, prefix), true, `${uri} under ${prefix}`);
    const no: Array<[string, string]> = [
      ['docs://kb/publicity', 'docs://kb/public'],
      ['docs://kb/public-secret/x', 'docs://kb/public'],
      ['docs://kb/private/x', 'docs://kb/public/'],
      ['docs://kb/pub', 'docs://kb/public'],
    ];
    for (const [uri, prefix] of no) assert.equal(underPrefix(uri, prefix), false, `${uri} under ${prefix}`);
  });
});

describe('resources/read and prompts/get in front of the MCP SDK\'s McpServer', () => {
  let stack: Stack;
  let upstream: SdkUpstream;
  let token: string;
  before(async () => {
    upstream = await startSdkUpstream();
    stack = await startStack({ upstreamUrl: upstream.url, route: { resources: ['docs://kb/public/', 'file:///srv/docs'], prompts: ['greeting'] } });
    token = await stack.token();
  });
  after(async () => {
    await stack.stop();
    await upstream.stop();
  });

  let id = 0;
  const read = (uri: string) => post(stack, token, JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'resources/read', params: { uri } }), { 'mcp-protocol-version': '2025-11-25' });

  it('a URI under a prefix is read', async () => {
    for (const uri of ['docs://kb/public/terms', 'file:///srv/docs/readme']) {
      const res = await read(uri);
      assert.equal(res.status, 200, uri);
      assert.equal((res.body.result as { contents: Array<{ text: string }> }).contents[0]!.text, `content of ${uri}`);
    }
    assert.deepEqual(upstream.executed.splice(0), [{ tool: 'resources/read', args: 'docs://kb/public/terms' }, { tool: 'resources/read', args: 'file:///srv/docs/readme' }]);
  });

  it('dot segments, %2e, case, stripped characters, userinfo, a prefix not ending a segment: 403 resource_not_allowed, nothing read (before: the private resource was read)', async () => {
    const refused = [
      'docs://kb/private/salaries',
      'docs://kb/public/../private/salaries',
      'docs://kb/public/%2e%2e/private/salaries',
      'docs://kb/public/%2E%2E/private/salaries',
      'docs://kb/public/./../private/salaries',
      'file:///srv/docs/../secrets/key',
      'file:///srv/docsecret',
      'Docs://kb/public/terms',
      'docs://kb/public/te\trms',
      ' docs://kb/public/terms',
      'docs://reader@kb/public/terms',
      'docs:kb/public/terms',
    ];
    for (const uri of refused) {
      const res = await read(uri);
      assert.equal(res.status, 403, JSON.stringify(uri));
      assert.deepEqual(res.body, { jsonrpc: '2.0', error: { code: -32601, message: 'method not allowed' }, id });
    }
    assert.deepEqual(upstream.executed, [], 'upstream read nothing');
  });

  it('prompts/get: the exact name (the SDK looks prompts up by exact name)', async () => {
    const get = (name: string) => post(stack, token, JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'prompts/get', params: { name } }), { 'mcp-protocol-version': '2025-11-25' });
    assert.equal((await get('greeting')).status, 200);
    for (const name of ['internal', 'Greeting', 'greeting ', '*']) assert.equal((await get(name)).status, 403, name);
    assert.deepEqual(upstream.executed.splice(0), [{ tool: 'prompts/get', args: 'greeting' }]);
  });

  it('the audit event names the URI or prompt asked for, allowed or refused', async () => {
    const traversal = await read('docs://kb/public/../private/salaries');
    const allowed = await read('docs://kb/public/terms');
    upstream.executed.splice(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const admin = await postForm(`${stack.svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: stack.svc.basic('admin-cli') });
    const res = await fetch(`${stack.svc.url}/admin/audit?type=gateway&limit=100`, { headers: { authorization: `Bearer ${admin.body.access_token}` } });
    const { items } = (await res.json()) as { items: Array<Record<string, unknown>> };
    const of = (r: { headers: Headers }) => items.find((e) => e.requestId === r.headers.get('x-request-id'));
    assert.deepEqual([of(traversal)?.decision, of(traversal)?.reasons, of(traversal)?.uri], ['deny', ['resource_not_allowed'], 'docs://kb/public/../private/salaries']);
    assert.deepEqual([of(allowed)?.decision, of(allowed)?.uri], ['allow', 'docs://kb/public/terms']);
    const prompts = items.filter((e) => e.method === 'prompts/get').map((e) => [e.decision, e.prompt]);
    assert.deepEqual(prompts.sort(), [['allow', 'greeting'], ['deny', '*'], ['deny', 'Greeting'], ['deny', 'greeting '], ['deny', 'internal']].sort());
    assert.ok(items.every((e) => e.method === 'resources/read' || e.method === 'prompts/get' || (e.uri === undefined && e.prompt === undefined)));
  });
});
