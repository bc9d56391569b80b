// One rule for an inbound X-Request-Id (src/http/request_id.ts), at the service's request log as at the gateway: kept
// when 1 to 64 visible ASCII characters, else replaced by a fresh UUID, never cut or echoed into a header or a log line.
import assert from 'node:assert/strict';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Koa from 'koa';
import { pino } from 'pino';
import { requestLog } from '../../src/http/app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('service request log: the inbound X-Request-Id', () => {
  let server: Server;
  let port: number;
  const lines: Array<Record<string, unknown>> = [];

  before(async () => {
    const app = new Koa();
    app.use(requestLog(pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) })));
    app.use((ctx) => {
      ctx.body = { ok: true };
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** The answer's X-Request-Id and the request's log line id, for a request sending `value` (raw, as Node sends it). */
  function send(value: string | string[] | undefined): Promise<{ header: string; logged: unknown }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers: value === undefined ? {} : { 'x-request-id': value } }, (res) => {
        res.resume();
        res.on('end', () => {
          const header = res.headers['x-request-id'] as string;
          resolve({ header, logged: lines.find((l) => l.reqId === header)?.reqId });
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('a short visible-ASCII id is echoed in the answer and the log line', async () => {
    for (const id of ['lb-7f3a', 'x'.repeat(64), 'a/b:c=d+e~!']) {
      assert.deepEqual(await send(id), { header: id, logged: id });
    }
  });

  it('an id too long, with a control character, a space or a non-ASCII byte, sent twice, or empty: a fresh UUID, not a cut copy', async () => {
    const rejected: Array<string | string[]> = ['x'.repeat(65), `ok-${'y'.repeat(100)}`, 'a\tb', 'a b', 'caf\u00e9', ['one', 'two'], ''];
    const from = lines.length;
    for (const value of rejected) {
      const { header, logged } = await send(value);
      assert.match(header, UUID, JSON.stringify(value));
      assert.equal(logged, header, JSON.stringify(value));
    }
    assert.equal(lines.length - from, rejected.length);
    for (const line of lines.slice(from)) assert.match(String(line.reqId), UUID);
  });
});
