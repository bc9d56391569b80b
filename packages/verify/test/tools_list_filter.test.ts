// filterToolListResponses on its own: lists rewritten, every other answer passed exactly as it was written.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterToolListResponses, type NodeLikeResponse } from '../src/tools_list_filter.js';

/** A response that records what reaches the wire. */
function recorder(): NodeLikeResponse & { wire: string; status?: number } {
  const headers = new Map<string, unknown>();
  const res = {
    wire: '',
    status: undefined as number | undefined,
    writeHead(statusCode: number, ...rest: unknown[]) {
      res.status = statusCode;
      const given = rest.find((a) => typeof a === 'object' && a !== null) as Record<string, unknown> | undefined;
      for (const [k, v] of Object.entries(given ?? {})) headers.set(k.toLowerCase(), v);
      return res;
    },
    write(chunk: unknown) {
      res.wire += String(chunk);
      return true;
    },
    end(chunk?: unknown) {
      if (chunk !== undefined && typeof chunk !== 'function') res.wire += String(chunk);
      return res;
    },
    getHeader: (name: string) => headers.get(name),
    removeHeader: (name: string) => void headers.delete(name),
  };
  return res;
}

const keep = (tool: string) => tool !== 'export_customers';
const LIST = { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'lookup_customer' }, { name: 'export_customers' }] } };

describe('filterToolListResponses', () => {
  it('JSON: a list is filtered; a body without one passes byte for byte (spacing, escapes, numbers beyond 2^53)', () => {
    const listed = recorder();
    filterToolListResponses(listed, () => true, keep);
    listed.writeHead(200, { 'content-type': 'application/json' });
    listed.end(JSON.stringify(LIST));
    assert.deepEqual(JSON.parse(listed.wire), { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'lookup_customer' }] } });

    const verbatim = '{ "jsonrpc":"2.0","id":2, "result":{"content":[{"type":"text","text":"caf\\u00e9"}],"n":12345678901234567891,"f":1.0} }';
    for (const body of [verbatim, `[${verbatim},${verbatim}]`]) {
      const res = recorder();
      filterToolListResponses(res, () => true, keep);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(Buffer.from(body.slice(0, 30)));
      res.end(Buffer.from(body.slice(30)));
      assert.equal(res.wire, body);
    }
  });

  it('JSON with a repeated member name is sent as it was read (the last one), never as written', () => {
    // JSON.parse keeps the last `result` (no tools); a client keeping the first would see every tool.
    const body = `{"jsonrpc":"2.0","id":1,"result":${JSON.stringify(LIST.result)},"result":{}}`;
    const res = recorder();
    filterToolListResponses(res, () => true, keep);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
    assert.equal(res.wire, '{"jsonrpc":"2.0","id":1,"result":{}}');
  });

  it('SSE: a list event is rewritten, every other event (multi-line data included) passes as written', () => {
    const res = recorder();
    filterToolListResponses(res, () => true, keep);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const other = 'id: 1\ndata: {"jsonrpc":"2.0",\ndata:  "id":3,"result":{"n":12345678901234567891}}\n\n';
    res.write(other.slice(0, 25));
    res.write(other.slice(25) + `id: 2\ndata: ${JSON.stringify(LIST)}\n\n`);
    res.end(': comment\n\n');
    const events = res.wire.split('\n\n');
    assert.equal(`${events[0]}\n\n`, other);
    assert.deepEqual(JSON.parse(events[1]!.split('data: ')[1]!), { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'lookup_customer' }] } });
    assert.equal(events[2], ': comment');
  });
});
