// forward() on its own: what it does when reporting a cut answer fails in turn.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { forward } from '../../src/gateway/upstream.js';

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
};

describe('forward', () => {
  let upstream: Server;
  let upstreamUrl: URL;
  before(async () => {
    upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    upstreamUrl = new URL(`${await listen(upstream)}/mcp`);
  });
  after(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  it('a throw while the answer streams whose report throws too cuts the answer, never the process', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    let reported = 0;
    const gateway = createServer((_req, res) => {
      // What writes the answer fails (as the tools/list filter may), and so does whatever reports it (a logger).
      res.write = () => {
        throw new Error('writer broke');
      };
      void forward(upstreamUrl, 'POST', { 'content-type': 'application/json' }, Buffer.from('{}'), res, {
        timeoutMs: 1000,
        requestId: 1,
        onStreamFailure: () => {
          reported++;
          throw new Error('reporter broke');
        },
      });
    });
    try {
      const outcome = await fetch(await listen(gateway), { method: 'POST', body: '{}' }).then(
        async (res) => (await res.text().then(() => 'answered', () => 'cut')),
        () => 'cut',
      );
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(outcome, 'cut');
      assert.equal(reported, 1);
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', onUncaught);
      gateway.closeAllConnections();
      gateway.close();
    }
  });
});
