// Introspection mode (RFC 7662) over real HTTP: active/inactive, answer cache, fail-closed on issuer errors.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { createVerifier, type Verifier } from 'delegation-token-verify';
import { rejectsWith } from './helpers/assert_error.js';
import { FEED_CLIENT, startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, makeKey, mint, now, type TestKey } from './helpers/tokens.js';

let issuer: FakeIssuer;
let es: TestKey;
const open: Verifier[] = [];

before(async () => {
  issuer = await startFakeIssuer();
  es = await makeKey('ES256', 'k-es');
  issuer.keys.push(es.publicJwk);
});
afterEach(() => {
  for (const v of open.splice(0)) v.close();
  issuer.fail = {};
});
after(() => issuer.close());

function introspecting(cacheSeconds?: number, overrides: { issuer?: string; clientSecret?: string } = {}): Verifier {
  const v = createVerifier({
    issuer: overrides.issuer ?? issuer.url,
    audience: AUDIENCE,
    jwksUri: `${issuer.url}/jwks`,
    revocation: { mode: 'introspect', ...FEED_CLIENT, ...overrides, cacheSeconds },
  });
  open.push(v);
  return v;
}
const token = () => mint({ key: es, issuer: issuer.url });

describe('revocation by introspection', () => {
  it('accepts an active token and refuses it once the issuer says active:false', async () => {
    const v = introspecting(0);
    await v.ready();
    const t = await token();
    assert.equal((await v.verify(t)).sub, 'user-1');
    issuer.inactive.add(t);
    await rejectsWith(v.verify(t), 'ERR_REVOKED');
  });

  it('reuses an active answer for cacheSeconds and shares concurrent calls', async () => {
    const v = introspecting(5);
    const t = await token();
    const start = issuer.counts.introspection;
    await Promise.all([v.verify(t), v.verify(t), v.verify(t)]);
    await v.verify(t);
    assert.equal(issuer.counts.introspection, start + 1);
    issuer.inactive.add(t);
    await v.verify(t); // within cacheSeconds: the cached "active" still stands
  });

  it('remembers active:false without asking again', async () => {
    const v = introspecting(0);
    const t = await token();
    issuer.inactive.add(t);
    await rejectsWith(v.verify(t), 'ERR_REVOKED');
    const start = issuer.counts.introspection;
    await rejectsWith(v.verify(t), 'ERR_REVOKED');
    assert.equal(issuer.counts.introspection, start);
  });

  describe('a token past exp but within clockTolerance (30 s)', () => {
    const expired = () => {
      const exp = now() - 10;
      return mint({ key: es, issuer: issuer.url, claims: { iat: exp - 300, exp } });
    };

    it('inactive: concurrent verifies share one call, the answer is remembered, and it is reported as expired', async () => {
      const v = introspecting(5);
      const t = await expired();
      issuer.inactive.add(t); // RFC 7662 §2.2: the issuer answers active:false for an expired token
      const start = issuer.counts.introspection;
      const errors = await Promise.all([1, 2, 3, 4, 5].map(() => rejectsWith(v.verify(t), 'ERR_EXPIRED')));
      assert.deepEqual(errors.map((e) => e.detail), Array(5).fill('introspection: active=false after exp'));
      await rejectsWith(v.verify(t), 'ERR_EXPIRED');
      assert.equal(issuer.counts.introspection, start + 1);
    });

    it('active: concurrent verifies share one call and the answer is reused for cacheSeconds', async () => {
      const v = introspecting(5);
      const t = await expired();
      const start = issuer.counts.introspection;
      const verified = await Promise.all([1, 2, 3, 4, 5].map(() => v.verify(t)));
      assert.deepEqual(verified.map((x) => x.sub), Array(5).fill('user-1'));
      await v.verify(t);
      assert.equal(issuer.counts.introspection, start + 1);
    });
  });

  it('fails closed with ERR_REVOCATION_UNAVAILABLE on 5xx, refused credentials or an unreachable issuer, without caching the failure', async () => {
    const v = introspecting(5);
    const t = await token();
    issuer.fail.introspection = 503;
    await rejectsWith(v.verify(t), 'ERR_REVOCATION_UNAVAILABLE');
    delete issuer.fail.introspection;
    assert.equal((await v.verify(t)).sub, 'user-1');

    await rejectsWith(introspecting(5, { clientSecret: 'wrong' }).verify(await token()), 'ERR_REVOCATION_UNAVAILABLE');

    // Tokens from an issuer whose introspection endpoint does not answer at all (keys still from the JWKS).
    const gone = 'http://127.0.0.1:9';
    const unreachable = introspecting(5, { issuer: gone });
    const foreign = await mint({ key: es, issuer: gone });
    await rejectsWith(unreachable.verify(foreign), 'ERR_REVOCATION_UNAVAILABLE');
  });
});

/**
 * An introspection endpoint that answers the first request on each connection (keep-alive) and, like a server whose
 * idle timeout fired just as the client reused the socket, drops a connection when a second request arrives on it.
 */
async function startDroppingIssuer(options: { answerFirst: boolean }) {
  const connections: Socket[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const socket = req.socket;
    const served = (socket as Socket & { served?: number }).served ?? 0;
    (socket as Socket & { served?: number }).served = served + 1;
    if (!options.answerFirst || served > 0) {
      socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive' });
      res.end(JSON.stringify({ active: true }));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    connections: () => connections.length,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('introspection over a keep-alive connection the issuer has closed', () => {
  it('a call on a connection the issuer dropped is repeated once on a fresh one, and succeeds', async () => {
    const dropping = await startDroppingIssuer({ answerFirst: true });
    try {
      const v = introspecting(0, { issuer: dropping.url });
      assert.equal((await v.verify(await mint({ key: es, issuer: dropping.url }))).sub, 'user-1');
      // The second call is handed the same idle socket; the issuer drops it, the SDK repeats on a new connection.
      assert.equal((await v.verify(await mint({ key: es, issuer: dropping.url }))).sub, 'user-1');
      assert.equal(dropping.requests(), 3);
      assert.equal(dropping.connections(), 2);
    } finally {
      await dropping.close();
    }
  });

  it('an issuer that drops every connection: exactly one repeat, then ERR_REVOCATION_UNAVAILABLE', async () => {
    const dropping = await startDroppingIssuer({ answerFirst: false });
    try {
      const v = introspecting(0, { issuer: dropping.url });
      const err = await rejectsWith(v.verify(await mint({ key: es, issuer: dropping.url })), 'ERR_REVOCATION_UNAVAILABLE');
      assert.equal(err.detail, 'introspection request failed');
      assert.equal(dropping.requests(), 2);
    } finally {
      await dropping.close();
    }
  });

  it('never repeats an HTTP error, a timeout or any other network failure', async () => {
    const v = introspecting(0);
    issuer.fail.introspection = 503;
    const start = issuer.counts.introspection;
    await rejectsWith(v.verify(await token()), 'ERR_REVOCATION_UNAVAILABLE');
    assert.equal(issuer.counts.introspection, start + 1);

    for (const failure of [
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) }),
    ]) {
      let calls = 0;
      const failing = createVerifier({
        issuer: issuer.url,
        audience: AUDIENCE,
        jwksUri: `${issuer.url}/jwks`,
        revocation: { mode: 'introspect', ...FEED_CLIENT, cacheSeconds: 0, fetch: async () => (calls++, Promise.reject(failure)) },
      });
      open.push(failing);
      await rejectsWith(failing.verify(await token()), 'ERR_REVOCATION_UNAVAILABLE');
      assert.equal(calls, 1, failure.message);
    }
  });
});
