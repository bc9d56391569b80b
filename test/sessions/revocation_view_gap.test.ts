// A replica's revocation view whose stream reader was cut off while the stream was trimmed past it: its cursor reaches
// the stream's head again, but it lacks what was trimmed, so it refuses (503) until it has re-loaded the snapshot.
// A private redis-server; the view's replica reaches it through a TCP proxy the test cuts, the other one directly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis, createRedisClient, createRedisStores } from '../../src/stores/redis/index.js';
import type { RevocationFeed, RevocationRecord, Stores } from '../../src/stores/types.js';
import { StoreUnavailable } from '../../src/stores/errors.js';
import { RevocationView } from '../../src/sessions/revocation_view.js';
import { startRedis } from '../helpers/private_redis.js';
import { freePort } from '../helpers/service.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp_proxy.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const marker = (kind: RevocationRecord['kind'], value: string): RevocationRecord => ({ kind, value, revokedAt: nowSeconds(), expiresAt: nowSeconds() + 600 });

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The real feed, its snapshots held back while `hold` is set (a re-snapshot still in flight), and counted. */
function heldSnapshots(feed: RevocationFeed) {
  const control = { hold: false, requested: 0, release: () => {} };
  const wrapped: RevocationFeed = {
    snapshot: async () => {
      control.requested++;
      while (control.hold) await new Promise<void>((resolve) => (control.release = resolve));
      return feed.snapshot();
    },
    since: (c) => feed.since(c),
    head: () => feed.head(),
    tailAgeMs: () => feed.tailAgeMs(),
    subscribe: (listener, onGap) => feed.subscribe(listener, onGap),
  };
  return { wrapped, control };
}

describe('revocation view: a gap in the stream', () => {
  let server: ChildProcess;
  let proxy: TcpProxy;
  let cutOff: Stores;
  let other: Stores;
  before(async () => {
    const port = await freePort();
    server = await startRedis(port);
    proxy = await startTcpProxy({ port });
    const keyPrefix = `view-gap:${randomUUID()}:`;
    const viaProxy = createRedisClient(`redis://127.0.0.1:${proxy.port}`, { onError: () => {} });
    await connectRedis(viaProxy, `redis://127.0.0.1:${proxy.port}`);
    cutOff = createRedisStores(viaProxy, { keyPrefix });
    const direct = createRedisClient(`redis://127.0.0.1:${port}`);
    await connectRedis(direct, `redis://127.0.0.1:${port}`);
    // A low cap, so a few hundred revocations trim the stream (Redis trims whole nodes of 100 entries).
    other = createRedisStores(direct, { keyPrefix, revocationEventsMax: 10 });
  });
  after(async () => {
    proxy?.restore();
    await cutOff?.close();
    await other?.close();
    await proxy?.close();
    server?.kill('SIGKILL');
  });

  it('refuses from the moment the reader finds the gap until a snapshot taken after it has loaded', async () => {
    const { wrapped, control } = heldSnapshots(cutOff.revocations);
    const view = new RevocationView({ feed: wrapped, store: cutOff.exchange, maxStalenessMs: 5000 });
    await view.start();
    try {
      await other.exchange.revoke(marker('jti', 'before'));
      assert.equal((await view.read({ jti: 'before', clientIds: [] })).jti?.value, 'before');
      const loads = control.requested;
      const position = await other.revocations.head();

      // Cut off for well under maxStalenessMs: staleness by age alone would never notice.
      proxy.cut();
      await other.exchange.revoke(marker('client', 'agent-x'));
      await Promise.all(Array.from({ length: 300 }, (_, i) => other.exchange.revoke(marker('jti', `filler-${i}`))));
      // Trimmed past the reader's position: agent-x's event is gone from the stream.
      assert.equal((await other.revocations.since(position)).reset, true);
      control.hold = true;
      proxy.restore();

      // The reader reads again, finds the trimmed events, and the view asks for a snapshot.
      await until(() => control.requested > loads, 10_000, 'a re-snapshot');
      assert.equal(view.fresh(), false);
      // Its cursor is at the stream's head, so the fence alone would let it answer "not revoked": it must refuse.
      await assert.rejects(view.read({ clientIds: ['agent-x'] }), StoreUnavailable);

      control.hold = false;
      control.release();
      await until(() => view.fresh(), 5000, 'the re-loaded view');
      assert.equal((await view.read({ clientIds: ['agent-x'] })).clients[0]?.value, 'agent-x');
    } finally {
      control.hold = false;
      control.release();
      view.close();
    }
  });
});
