// filterToolListResponses on its own: lists rewritten, every other answer passed exactly as it was written.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MAX_BUFFERED_BYTES, filterToolListResponses, type FilterRefusal, type NodeLikeResponse } from '../src/tools_list_filter.js';

/** A response that records what reaches the wire. */
function recorder(): NodeLikeResponse & { wire: string; status?: number; setHeader(name: string, value: unknown): void } {
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
    setHeader: (name: string, value: unknown) => void headers.set(name.toLowerCase(), value),
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

/** A recorder that also knows, as node:http does, when its head is out and when it was cut. */
function wire(): ReturnType<typeof recorder> & { headersSent: boolean; destroyed: boolean; destroy(): void } {
  const res = recorder() as ReturnType<typeof recorder> & { headersSent: boolean; destroyed: boolean; destroy(): void };
  const { writeHead } = res;
  res.headersSent = false;
  res.destroyed = false;
  res.writeHead = (statusCode: number, ...rest: unknown[]) => {
    res.headersSent = true;
    return writeHead(statusCode, ...rest);
  };
  res.destroy = () => {
    res.destroyed = true;
  };
  return res;
}

/** A chunk that counts how often it is read: one the filter no longer holds is never read. */
function probe() {
  const chunk = {
    reads: 0,
    toString() {
      chunk.reads++;
      return '"more"';
    },
  };
  return chunk;
}

/** A JSON tool list padded with `é` (two bytes, one character) to exactly `bytes` bytes of UTF-8. */
function paddedList(bytes: number): string {
  const bare = (pad: string) => JSON.stringify({ ...LIST, result: { ...LIST.result, pad } });
  const room = bytes - Buffer.byteLength(bare(''));
  assert.ok(room >= 0);
  const body = bare('é'.repeat(Math.floor(room / 2)) + 'x'.repeat(room % 2));
  assert.equal(Buffer.byteLength(body), bytes);
  return body;
}

const FILTERED = { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'lookup_customer' }] } };

describe('filterToolListResponses holds at most maxBufferedBytes of an answer', () => {
  it('JSON past the bound: its head went out as written, the answer is cut, the hook told, later chunks never read or held (before: held whole)', () => {
    const res = wire();
    const reasons: FilterRefusal[] = [];
    filterToolListResponses(res, () => true, keep, { maxBufferedBytes: 1024, onRefused: (reason) => reasons.push(reason) });
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's-1' });
    // The status line and headers are out at once (a framework finding them out never answers on top of them).
    assert.equal(res.headersSent, true);
    assert.equal(res.getHeader('mcp-session-id'), 's-1');
    assert.equal(res.write(Buffer.from(`{"jsonrpc":"2.0","id":1,"result":{"pad":"${'x'.repeat(900)}`)), true);
    assert.equal(res.wire, '');
    // 600 characters, 1,200 bytes: counted in bytes, so this chunk passes the bound.
    assert.equal(res.write('é'.repeat(600)), true);
    assert.equal(res.destroyed, true);
    assert.deepEqual([res.status, res.wire], [200, '']);
    assert.deepEqual(reasons, ['too_large']);
    const later = probe();
    let called = false;
    assert.equal(res.write(later, () => void (called = true)), true);
    res.end(later);
    res.writeHead(200, { 'content-type': 'application/json' });
    assert.equal(later.reads, 0);
    assert.ok(called);
    assert.equal(res.wire, '');
    assert.deepEqual(reasons, ['too_large']);

    // Only what is held to be read is bounded: an error answer neither JSON nor an event stream streams through.
    const plain = wire();
    filterToolListResponses(plain, () => true, keep, { maxBufferedBytes: 10 });
    plain.writeHead(404, { 'content-type': 'text/plain' });
    plain.write('x'.repeat(100));
    plain.end('y'.repeat(100));
    assert.deepEqual([plain.status, plain.wire], [404, 'x'.repeat(100) + 'y'.repeat(100)]);
  });

  // The MCP client reads any 2xx GET body as an event stream, whatever its type (client/streamableHttp.js); so does
  // the filter: a tool list sent there is filtered, and text that is no event stream is not passed.
  it('a 2xx answer of another type, or none, is read as an event stream; an error answer is passed', () => {
    const list = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { tools: [{ name: 'crm.lookup_customer' }, { name: 'export_customers' }] } });
    for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/octet-stream' }]) {
      const res = wire();
      filterToolListResponses(res, () => true, keep);
      res.writeHead(200, headers);
      res.end(`data: ${list}\n\n`);
      assert.equal(res.destroyed, false, JSON.stringify(headers));
      assert.doesNotMatch(res.wire, /export_customers/, JSON.stringify(headers));
      assert.match(res.wire, /crm\.lookup_customer/);
    }
    const text = wire();
    filterToolListResponses(text, () => true, keep);
    text.writeHead(200, { 'content-type': 'text/plain' });
    text.end('OK');
    assert.deepEqual([text.destroyed, text.wire], [true, '']);
  });

  // eventsource-parser drops a leading "\u00EF\u00BB\u00BF" (a byte order mark decoded as Latin-1): a line the filter does
  // not read as a field may be data to a client. Only data, event, id, retry and comments pass.
  it('an event with a field the filter does not know is cut (a Latin-1 byte order mark before data:)', () => {
    const list = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { tools: [{ name: 'export_customers' }] } });
    for (const body of [`\u00EF\u00BB\u00BFdata: ${list}\n\n`, `dat: x\ndata: ${list}\n\n`]) {
      const res = wire();
      filterToolListResponses(res, () => true, keep);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(body);
      assert.deepEqual([res.destroyed, /export_customers/.test(res.wire)], [true, false], JSON.stringify(body.slice(0, 12)));
    }
    const ok = wire();
    filterToolListResponses(ok, () => true, keep);
    ok.writeHead(200, { 'content-type': 'text/event-stream' });
    ok.end(`: comment\nevent: message\nid: 1\nretry: 1000\ndata: ${list}\n\n`);
    assert.deepEqual([ok.destroyed, /export_customers/.test(ok.wire), /event: message/.test(ok.wire)], [false, false, true]);
  });

  it('JSON exactly at the bound passes (filtered as ever); one byte over is cut, whatever the chunks', () => {
    const body = paddedList(4096);
    const at = wire();
    filterToolListResponses(at, () => true, keep, { maxBufferedBytes: 4096 });
    at.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
    assert.equal(at.getHeader('content-length'), undefined);
    const bytes = Buffer.from(body);
    // Split inside a two-byte character: the decoder holds half of it, the bytes are counted as they came.
    const cut = body.indexOf('é') + 1;
    at.write(bytes.subarray(0, cut));
    at.end(bytes.subarray(cut));
    assert.deepEqual([at.status, at.destroyed], [200, false]);
    const { pad, ...result } = (JSON.parse(at.wire) as { result: { pad: string } }).result;
    assert.deepEqual({ ...FILTERED, result }, FILTERED);
    assert.equal(Buffer.byteLength(pad), Buffer.byteLength(JSON.parse(body).result.pad));

    const over = wire();
    filterToolListResponses(over, () => true, keep, { maxBufferedBytes: 4095 });
    over.writeHead(200, { 'content-type': 'application/json' });
    over.end(body);
    assert.deepEqual([over.destroyed, over.wire], [true, '']);
  });

  it('JSON written with end() alone (Koa, res.send): cut past the bound; at the bound, filtered', () => {
    for (const [bytes, destroyed] of [[201, true], [200, false]] as const) {
      const res = wire();
      filterToolListResponses(res, () => true, keep, { maxBufferedBytes: 200 });
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(paddedList(bytes));
      assert.deepEqual([res.status, res.destroyed], [200, destroyed]);
      if (destroyed) assert.equal(res.wire, '');
      else assert.deepEqual((JSON.parse(res.wire) as typeof FILTERED).result.tools, FILTERED.result.tools);
    }
  });

  it('SSE: an event past the bound cuts the stream (its head is out), the events before it pass as written, later ones are never read', () => {
    const res = wire();
    const reasons: FilterRefusal[] = [];
    filterToolListResponses(res, () => true, keep, { maxBufferedBytes: 2048, onRefused: (reason) => reasons.push(reason) });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const first = `id: 1\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress' })}\n\n`;
    res.write(first);
    assert.equal(res.wire, first);
    // An event that never ends, trickling in: held until it passes the bound, then cut.
    res.write('id: 2\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[');
    for (let i = 0; i < 100 && !res.destroyed; i++) res.write(Buffer.from(`${JSON.stringify({ name: `tool_${i}`, description: 'é'.repeat(20) })},`));
    assert.equal(res.destroyed, true);
    assert.deepEqual(reasons, ['too_large']);
    assert.equal(res.wire, first);
    const later = probe();
    res.write(later);
    res.end(later);
    assert.equal(later.reads, 0);
    assert.equal(res.wire, first);
    assert.deepEqual(reasons, ['too_large']);
  });

  it('SSE: the bound is per event: one exactly at it passes, as do many whose sum is far past it; an event past it arriving whole is cut too', () => {
    const data = paddedList(1000);
    const event = `data: ${data}`;
    const bound = Buffer.byteLength(event);
    const res = wire();
    filterToolListResponses(res, () => true, keep, { maxBufferedBytes: bound });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < 20; i++) res.write(`${event}\n\n`);
    res.end(`${event}\n\n`);
    assert.equal(res.destroyed, false);
    const events = res.wire.split('\n\n').filter(Boolean);
    assert.equal(events.length, 21);
    for (const e of events) assert.deepEqual(JSON.parse(e.slice('data: '.length)).result.tools, FILTERED.result.tools);

    for (const last of [false, true]) {
      const over = wire();
      filterToolListResponses(over, () => true, keep, { maxBufferedBytes: bound - 1 });
      over.writeHead(200, { 'content-type': 'text/event-stream' });
      over.write(': ok\n\n');
      if (last) over.end(event);
      else over.write(`${event}\n\n: after\n\n`);
      assert.deepEqual([over.destroyed, over.wire], [true, ': ok\n\n'], `ending the stream: ${last}`);
    }

    // Only the text after what is held is searched for an event end: one split across writes anywhere (CRLF, CR, LF)
    // is found all the same, and a stream larger than the bound whose events are each under it passes at every split.
    const other = { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } };
    const stream = `id: 1\r\ndata: ${JSON.stringify(LIST)}\r\n\r\ndata: ${JSON.stringify(other)}\n\ndata: ${JSON.stringify({ ...LIST, id: 2 })}\r\r`;
    const messages = (text: string) =>
      text
        .replace(/\r\n|\r/g, '\n')
        .split('\n\n')
        .map((e) => e.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5)).join('\n'))
        .filter(Boolean)
        .map((d) => JSON.parse(d) as unknown);
    for (let i = 0; i <= stream.length; i++) {
      const split = wire();
      filterToolListResponses(split, () => true, keep, { maxBufferedBytes: 200 });
      split.writeHead(200, { 'content-type': 'text/event-stream' });
      split.write(Buffer.from(stream.slice(0, i)));
      split.write(stream.slice(i));
      split.end();
      assert.deepEqual(messages(split.wire), [FILTERED, other, { ...FILTERED, id: 2 }], `split at ${i}`);
    }
  });

  it('the default bound is 16 MiB: a JSON answer of exactly that passes, one byte more is cut; a bound not a positive integer is refused', () => {
    assert.equal(DEFAULT_MAX_BUFFERED_BYTES, 16 * 1024 * 1024);
    const body = Buffer.from(paddedList(DEFAULT_MAX_BUFFERED_BYTES));
    const at = wire();
    filterToolListResponses(at, () => true, keep);
    at.writeHead(200, { 'content-type': 'application/json' });
    for (let i = 0; i < body.length; i += 1 << 20) at.write(body.subarray(i, i + (1 << 20)));
    at.end();
    assert.equal(at.status, 200);
    assert.deepEqual((JSON.parse(at.wire) as typeof FILTERED).result.tools, FILTERED.result.tools);

    const over = wire();
    filterToolListResponses(over, () => true, keep);
    over.writeHead(200, { 'content-type': 'application/json' });
    over.write(body);
    over.end('\n');
    assert.deepEqual([over.destroyed, over.wire], [true, '']);

    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1024', null]) {
      assert.throws(() => filterToolListResponses(wire(), () => true, keep, { maxBufferedBytes: bad as number }), TypeError, String(bad));
    }
  });
});

describe('filterToolListResponses reads an answer as a client would, and passes none it cannot read', () => {
  const BOM = '\uFEFF';
  /** The answer `writes` makes through the filter: what reached the wire, whether it was cut, the hook's reasons. */
  const through = (writes: (res: ReturnType<typeof wire>) => void) => {
    const res = wire();
    const reasons: FilterRefusal[] = [];
    filterToolListResponses(res, () => true, keep, { onRefused: (reason) => reasons.push(reason) });
    writes(res);
    return { status: res.status, wire: res.wire, destroyed: res.destroyed, reasons, contentType: res.getHeader('content-type') };
  };

  it('the mode is the Content-Type essence: JSON with a parameter naming text/event-stream is read as JSON and filtered (before: passed as an event stream, unfiltered)', () => {
    for (const contentType of ['application/json; x="text/event-stream"', 'Application/JSON ;charset=utf-8', 'application/vnd.example+json']) {
      const out = through((res) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(JSON.stringify(LIST));
      });
      assert.deepEqual([out.status, out.destroyed, JSON.parse(out.wire)], [200, false, FILTERED], contentType);
    }
    // An event stream whose type names JSON too, or a type that is neither but names one: a client matching the text
    // would read either; refused in place (500), nothing of the body passed.
    for (const contentType of ['text/event-stream; x="application/json"', 'text/plain; x="application/json"', 'text/plain; x="text/event-stream"']) {
      const out = through((res) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(JSON.stringify(LIST));
      });
      assert.equal(out.status, 500, contentType);
      assert.doesNotMatch(out.wire, /export_customers/, contentType);
      assert.deepEqual(out.reasons, ['unreadable'], contentType);
    }
  });

  it('a JSON body after byte order marks is filtered (before: one BOM stripped by the decoder, JSON.parse failed, the list passed unfiltered)', () => {
    for (const boms of [1, 2, 3]) {
      const out = through((res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(Buffer.from(BOM.repeat(boms) + JSON.stringify(LIST)));
      });
      assert.deepEqual([out.destroyed, JSON.parse(out.wire)], [false, FILTERED], `${boms} BOMs`);
    }
    // Written as text too (no decoder on the way): the same.
    const text = through((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(BOM + BOM + JSON.stringify(LIST));
    });
    assert.deepEqual(JSON.parse(text.wire), FILTERED);
    // An event stream's leading BOMs, as text: its first event is read, not taken for a field named "\uFEFFdata".
    const sse = through((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`${BOM}${BOM}data: ${JSON.stringify(LIST)}\n\n`);
    });
    assert.deepEqual(JSON.parse(sse.wire.slice('data: '.length)), FILTERED);
  });

  it('a Content-Type sent twice is refused in place (500), nothing of the body passed (before: the first value chose the mode)', () => {
    const body = JSON.stringify(LIST);
    const cases: Array<[string, (res: ReturnType<typeof wire>) => void]> = [
      ['raw array', (res) => res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Type', 'application/json'])],
      ['raw array, JSON twice', (res) => res.writeHead(200, ['content-type', 'application/json', 'content-type', 'application/json'])],
      ['array value', (res) => res.writeHead(200, { 'content-type': ['text/plain', 'application/json'] })],
      ['set before', (res) => (res.setHeader('content-type', ['text/event-stream', 'application/json']), res.writeHead(200))],
    ];
    for (const [name, head] of cases) {
      const out = through((res) => {
        head(res);
        res.end(body);
      });
      assert.equal(out.status, 500, name);
      assert.equal(out.contentType, 'application/json', name);
      assert.deepEqual(JSON.parse(out.wire), { error: 'server_error', error_description: 'tool list could not be filtered' }, name);
      assert.deepEqual(out.reasons, ['unreadable'], name);
    }
  });

  it('a JSON body that does not parse is cut, never passed (before: passed as written); an empty one passes', () => {
    for (const body of [`${JSON.stringify(LIST)}garbage`, `data: ${JSON.stringify(LIST)}\n\n`, `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"export_customers"}]}`]) {
      const out = through((res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(body.slice(0, 10));
        res.end(body.slice(10));
      });
      assert.deepEqual([out.destroyed, out.wire, out.reasons], [true, '', ['not_json']], body);
    }
    for (const body of ['', ' \n']) {
      const out = through((res) => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(body);
      });
      assert.deepEqual([out.status, out.destroyed, out.wire, out.reasons], [202, false, body, []]);
    }
  });

  it('an event whose data does not parse as JSON cuts the stream (MCP events carry JSON-RPC); events without data, or with empty data, pass', () => {
    const progress = `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress' })}\n\n`;
    const ok = through((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`id: 0\ndata: \n\n: comment\n\nretry: 1000\n\n${progress}`);
      res.end();
    });
    assert.deepEqual([ok.destroyed, ok.wire], [false, `id: 0\ndata: \n\n: comment\n\nretry: 1000\n\n${progress}`]);
    const bad = through((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(progress);
      res.write(`data: ${JSON.stringify(LIST)}x\n\n`);
      res.end(progress);
    });
    assert.deepEqual([bad.destroyed, bad.wire, bad.reasons], [true, progress, ['not_json']]);
  });
});
