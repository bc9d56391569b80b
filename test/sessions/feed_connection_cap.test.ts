// Revocation feed (SSE) connections are capped per client and process: one over the cap is 429 with Retry-After, and a
// closed connection frees its slot.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { startService, type TestService } from '../helpers/service.js';
import { parseConfig } from '../../src/config/load.js';
import { testConfig } from '../helpers/service.js';

const CAP = 3;
const TOO_MANY = { error: 'too_many_requests', error_description: 'too many open revocation feed connections for this client' };

interface Opened {
  status: number;
  headers: IncomingMessage['headers'];
  /** The first chunk of an open stream, or the whole body of a refusal. */
  body: string;
  req: ClientRequest;
}

describe('revocation feed: connections per client are capped', () => {
  let svc: TestService;
  const open: Opened[] = [];

  /** Opens GET /revocations/events on its own socket; resolves with the status and the first bytes (the whole body when refused). */
  function openFeed(clientId: string): Promise<Opened> {
    return new Promise((resolve, reject) => {
      const req = request(`${svc.url}/revocations/events`, { agent: false, headers: { authorization: svc.basic(clientId), accept: 'text/event-stream' } }, (res) => {
        res.setEncoding('utf8');
        let body = '';
        if (res.statusCode === 200) {
          res.once('data', (chunk: string) => {
            const o = { status: 200, headers: res.headers, body: chunk, req };
            open.push(o);
            resolve(o);
          });
          res.on('error', () => undefined);
        } else {
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, req }));
        }
      });
      req.on('error', (err) => (open.some((o) => o.req === req) ? undefined : reject(err)));
      req.end();
    });
  }

  before(async () => {
    svc = await startService({ extra: () => ({ revocation: { maxFeedConnectionsPerClient: CAP } }) });
  });
  after(async () => {
    for (const o of open) o.req.destroy();
    await svc.stop();
  });

  it('defaults to 8 per client', () => {
    assert.equal(parseConfig(testConfig(1, 'p:', '/tmp')).revocation.maxFeedConnectionsPerClient, 8);
  });

  it('cap + 1 streams: the last gets 429 with Retry-After and a JSON error; other clients are counted apart', async () => {
    for (let i = 0; i < CAP; i++) {
      const ok = await openFeed('crm-server');
      assert.equal(ok.status, 200);
      assert.match(ok.headers['content-type'] ?? '', /^text\/event-stream/);
    }
    const refused = await openFeed('crm-server');
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal(refused.headers['cache-control'], 'no-store');
    assert.match(refused.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(refused.body), TOO_MANY);
    const other = await openFeed('billing-server');
    assert.equal(other.status, 200);
  });

  it('closing one stream lets a new one in, and the cap still holds after', async () => {
    const mine = open.filter((o) => o.req.getHeader('authorization') === svc.basic('crm-server'));
    assert.equal(mine.length, CAP);
    mine[0]!.req.destroy();
    // The server frees the slot when it sees the socket close: moments later.
    let next: Opened | undefined;
    for (let i = 0; i < 50; i++) {
      next = await openFeed('crm-server');
      if (next.status === 200) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(next?.status, 200);
    const again = await openFeed('crm-server');
    assert.equal(again.status, 429);
    assert.deepEqual(JSON.parse(again.body), TOO_MANY);
  });
});
