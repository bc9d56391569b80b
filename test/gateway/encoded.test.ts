// GW-04 (SPEC §12), fail closed: the gateway asks upstream for `Accept-Encoding: identity`. An upstream that encodes its
// answer anyway would hand the client a tools/list the filter cannot read (and without the `Content-Encoding` that
// names it): 502, audited, nothing of the body forwarded.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { postForm } from '../helpers/http.js';
import { post, startStack, TOOLS, type Stack } from './fixture.js';

describe('an upstream answer with a Content-Encoding', () => {
  let stack: Stack;
  let upstream: Server;
  const acceptEncoding: Array<string | undefined> = [];
  before(async () => {
    upstream = createServer((req, res) => {
      acceptEncoding.push(req.headers['accept-encoding']);
      req.resume();
      req.on('end', () => {
        const body = gzipSync(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } })) } }));
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(body.length) });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    stack = await startStack({ upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp` });
  });
  after(async () => {
    await stack.stop();
    upstream.closeAllConnections();
    upstream.close();
  });

  it('is 502 upstream answered an encoded body, audited with its reason; the gateway had asked for identity', async () => {
    const token = await stack.token();
    const res = await post(stack, token, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    assert.equal(res.status, 502);
    assert.deepEqual(res.body, { jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'upstream answered an encoded body' } });
    assert.equal(res.headers.get('content-encoding'), null);
    assert.deepEqual(acceptEncoding, ['identity']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const admin = await postForm(`${stack.svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: stack.svc.basic('admin-cli') });
    const audit = await fetch(`${stack.svc.url}/admin/audit?type=gateway&limit=10`, { headers: { authorization: `Bearer ${admin.body.access_token}` } });
    const { items } = (await audit.json()) as { items: Array<Record<string, unknown>> };
    const event = items.find((e) => e.method === 'tools/list');
    assert.deepEqual([event?.status, event?.reasons], [502, ['upstream_encoded_body']]);
  });
});
