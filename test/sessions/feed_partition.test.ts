// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// A replica cut off from Redis must not tell verifiers "all clear": a real partition (a private redis-server behind a
// TCP proxy the test cuts), a second replica on the same Redis that revokes meanwhile, and a feed-mode SDK verifier.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { createVerifier, VerifyError } from 'delegation-token-verify';
import type { TcpProxy } from '../helpers/tcp_proxy.js';
import { startReplicasBehindProxy, type ReplicasBehindProxy } from '../helpers/replicas.js';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { CRM, type TestService } from '../helpers/service.js';

const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' };
/** The service's freshness window: a heartbeat vouches for a stream read at most this long ago (MIN_VOUCH_MS). */
const VOUCH_MS = 5_000;
const STALENESS_S = 3;

interface Seen {
  at: number;
  event?: string;
  data?: string;
}

/** A raw SSE consumer that timestamps every event it receives. */
function watchFeed(svc: TestService) {
  const events: Seen[] = [];
  const controller = new AbortController();
  const done = (async () => {
    const res = await fetch(`${svc.url}/revocations/events?v=2`, {
      headers: { authorization: svc.basic('crm-server'), accept: 'text/event-stream' },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    let buffer = '';
    try {
      for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const e: Seen = { at: Date.now() };
          for (const line of buffer.slice(0, cut).split('\n')) {
            const [k, ...rest] = line.split(': ');
            if (k === 'event' || k === 'data') e[k] = rest.join(': ');
          }
          buffer = buffer.slice(cut + 2);
          events.push(e);
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return {
    events,
    async waitFor(pred: (e: Seen) => boolean, ms: number): Promise<Seen> {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching event in ${ms} ms: ${JSON.stringify(events)}`);
        await sleep(50);
      }
    },
    async close() {
      controller.abort();
      await done;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `verify` ends with `code` (undefined: success); returns how long that took. */
async function until(verify: () => Promise<unknown>, code: string | undefined, ms: number): Promise<number> {
  const start = Date.now();
  let last: string | undefined = 'none';
  while (Date.now() - start < ms) {
    last = await verify().then(
      () => undefined,
      (err: VerifyError) => err.code,
    );
    if (last === code) return Date.now() - start;
    await sleep(100);
  }
  throw new Error(`expected ${code ?? 'success'} within ${ms} ms, last saw ${last}`);
}

describe('a replica partitioned from Redis stops vouching for freshness', () => {
  let proxy: TcpProxy;
  let a: TestService & { keysDir: string };
  let b: TestService;
  let replicas: ReplicasBehindProxy | undefined;

  before(async () => {
    replicas = await startReplicasBehindProxy('feed-partition');
    ({ proxy, a, b } = replicas);
  });
  after(() => replicas?.stop());

  it('cut: heartbeats stop, one stale event, the snapshot answers 503, the verifier refuses; restore: it recovers and knows what was revoked meanwhile', async () => {
    const victim = (await exchangeFor(a, 'agent', (await loginUser(a, { username: 'bob' })).accessToken, CRM)).body.access_token as string;
    const bystander = (await exchangeFor(a, 'agent', (await loginUser(a, { username: 'alice' })).accessToken, CRM)).body.access_token as string;
    const feed = watchFeed(a);
    const verifier = createVerifier({
      issuer: a.url,
      audience: CRM,
      revocation: { mode: 'feed', clientId: 'crm-server', clientSecret: a.secrets['crm-server']!, maxStalenessSeconds: STALENESS_S },
    });
    try {
      await verifier.ready();
      await feed.waitFor((e) => e.event === 'heartbeat', 3000);
      assert.equal((await verifier.verify(victim)).sub, 'user-bob');

      const cutAt = Date.now();
      proxy.cut();
      // The verifier fails closed within the service's window plus its own staleness bound (plus a tick of slack).
      const refusedAfter = await until(() => verifier.verify(bystander), 'ERR_REVOCATION_UNAVAILABLE', VOUCH_MS + STALENESS_S * 1000 + 2000);
      const stale = await feed.waitFor((e) => e.event === 'stale', VOUCH_MS + 2000);
      const age = JSON.parse(stale.data!).age;
      assert.ok(stale.at - cutAt >= VOUCH_MS - 500, `stale announced ${stale.at - cutAt} ms after the cut`);
      assert.ok(typeof age === 'number' && age >= VOUCH_MS / 1000, `age ${age}`);

      const snapshot = await fetch(`${a.url}/revocations`, { headers: { authorization: a.basic('crm-server') } });
      assert.equal(snapshot.status, 503);
      assert.equal(snapshot.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await snapshot.json(), UNAVAILABLE);

      // Replica B, on the same Redis, revokes the victim's session while A is cut off.
      const sid = decodeJwt(victim).sid as string;
      assert.equal((await b.service.revocation.revoke({ kind: 'sid', value: sid, by: 'test', reason: 'partition' })).created, true);
      await sleep(3000);
      const cutOff = feed.events.filter((e) => e.at > stale.at);
      assert.deepEqual(cutOff, [], 'replica A sent events while cut off');
      const lastHeartbeat = Math.max(...feed.events.filter((e) => e.event === 'heartbeat').map((e) => e.at));
      assert.ok(lastHeartbeat - cutAt <= VOUCH_MS + 1000, `heartbeat ${lastHeartbeat - cutAt} ms after the cut`);
      await assert.rejects(verifier.verify(bystander), (err: VerifyError) => err.code === 'ERR_REVOCATION_UNAVAILABLE' && err.status === 503);

      proxy.restore();
      const restoredAt = Date.now();
      const revocation = await feed.waitFor((e) => e.event === 'revocation', 10_000);
      assert.equal(JSON.parse(revocation.data!).value, sid);
      await feed.waitFor((e) => e.event === 'heartbeat' && e.at > restoredAt, 5000);
      const recoveredAfter = await until(() => verifier.verify(bystander), undefined, 15_000);
      await assert.rejects(verifier.verify(victim), (err: VerifyError) => err.code === 'ERR_REVOKED');
      const snapshotAgain = await fetch(`${a.url}/revocations`, { headers: { authorization: a.basic('crm-server') } });
      assert.equal(snapshotAgain.status, 200);
      console.log(`# refused ${refusedAfter} ms after the cut; recovered ${recoveredAfter} ms after the restore`);
    } finally {
      verifier.close();
      await feed.close();
    }
  });
});
