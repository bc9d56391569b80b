// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// The CLI's admin client against a server that answers badly: a success is a complete JSON object with the members the
// command prints, anything else a one-line error and a non-zero exit (never `{}` and exit 0, never a crash).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminApiError, AdminClient } from '../../src/admin/client.js';
import { main } from '../../src/admin/cli.js';

type Answer = (res: ServerResponse) => void;

describe('admin client: broken answers', () => {
  let server: Server;
  let url: string;
  let answer: Answer = (res) => res.end();

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/token') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ access_token: 't', token_type: 'Bearer', expires_in: 300 }));
        return;
      }
      answer(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const json = (status: number, body: string): Answer => (res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };

  async function cli(args: string[]) {
    let out = '';
    let err = '';
    const code = await main(['admin', ...args], { out: (s) => (out += s), err: (s) => (err += s), env: { DTS_URL: url, DTS_CLIENT_SECRET: 's' } });
    return { code, out, err };
  }

  it('an empty, non-object or member-less 2xx body is invalid_response with exit 1, for every command', async () => {
    const commands = [
      ['sessions'],
      ['session', 'sid-1'],
      ['audit'],
      ['consents'],
      ['clients'],
      ['revoke-session', 'sid-1', '--reason', 'x'],
      ['revoke-token', 'jti-1', '--reason', 'x'],
      ['revoke-consent', '--sub', 'u', '--client-id', 'c', '--resource', 'https://r.example', '--reason', 'x'],
      ['delete-client', 'c', '--reason', 'x'],
    ];
    const answers: Array<[string, Answer, RegExp]> = [
      ['empty 200', (res) => res.writeHead(200).end(), /^error: invalid_response - HTTP 200 without a JSON object\n$/],
      ['empty text/html 200', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end(), /^error: invalid_response - HTTP 200 without a JSON object\n$/],
      ['204', (res) => res.writeHead(204).end(), /^error: invalid_response - HTTP 204 without a JSON object\n$/],
      ['null', json(200, 'null'), /^error: invalid_response - HTTP 200 without a JSON object\n$/],
      ['an array', json(200, '[]'), /^error: invalid_response - HTTP 200 without a JSON object\n$/],
      ['{}', json(200, '{}'), /^error: invalid_response - the answer is not an? [a-z ]+ \(\w+\)\n$/],
      ['items not objects', json(200, '{"items":[1],"sid":"s","sub":"u","tree":[]}'), /^error: invalid_response - /],
    ];
    for (const [label, a, pattern] of answers) {
      answer = a;
      for (const args of commands) {
        if (label === 'items not objects' && !['sessions', 'audit', 'consents', 'clients'].includes(args[0]!)) continue;
        const r = await cli(args);
        assert.equal(r.code, 1, `${label}: ${args[0]}`);
        assert.equal(r.out, '', `${label}: ${args[0]}`);
        assert.match(r.err, pattern, `${label}: ${args[0]}: ${r.err}`);
        assert.doesNotMatch(r.err, /Cannot read properties|internal_error/);
      }
    }
  });

  it('a body cut off after the status line is invalid_response; one that stalls is a timeout', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"items":[');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const cut = await cli(['sessions']);
    assert.deepEqual([cut.code, cut.out], [1, '']);
    assert.equal(cut.err, 'error: invalid_response - HTTP 200 with a body that could not be read\n');

    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"items":[');
    };
    const client = new AdminClient({ url, clientId: 'admin-cli', clientSecret: 's', timeoutMs: 300 });
    await assert.rejects(client.sessions({}), (err: unknown) => {
      assert.ok(err instanceof AdminApiError);
      assert.equal(err.error, 'timeout');
      assert.equal(err.description, `no complete answer from ${url} within 300 ms`);
      return true;
    });
  });

  it('a well-formed answer still prints', async () => {
    answer = json(200, JSON.stringify({ items: [] }));
    assert.deepEqual(await cli(['sessions']), { code: 0, out: '(no sessions)\n', err: '' });
    answer = json(404, JSON.stringify({ error: 'not_found', error_description: 'session not found' }));
    assert.deepEqual(await cli(['session', 'x']), { code: 1, out: '', err: 'error: not_found - session not found\n' });
    answer = (res) => res.writeHead(502).end();
    assert.deepEqual(await cli(['sessions']), { code: 1, out: '', err: 'error: http_502 - HTTP 502\n' });
  });
});
