// README: "no revocation may be missed". Replica A's reader is cut off from Redis for a moment (well under the
// freshness window) while replica B revokes and the stream is trimmed past A's position: A must not answer from the
// incomplete view, and its feed must send `reset` so verifiers following it re-snapshot. A private redis-server; A
// reaches it through a TCP proxy the test cuts, B directly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createVerifier, VerifyError } from 'delegation-token-verify';
import type { TcpProxy } from '../helpers/tcp_proxy.js';
import { startReplicasBehindProxy, type ReplicasBehindProxy } from '../helpers/replicas.js';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { CRM, type TestService } from '../helpers/service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw SSE consumer that timestamps every event it receives. */
function watchFeed(svc: TestService) {
  const events: Array<{ at: number; event?: string }> = [];
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
          events.push({ at: Date.now(), event: /^event: (.*)$/m.exec(buffer.slice(0, cut))?.[1] });
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return {
    events,
    async waitFor(pred: (e: { at: number; event?: string }) => boolean, ms: number): Promise<void> {
      const deadline = Date.now() + ms;
      while (!events.some(pred)) {
        if (Date.now() > deadline) throw new Error(`no matching event in ${ms} ms: ${JSON.stringify(events.slice(-5))}`);
        await sleep(50);
      }
    },
    async close() {
      controller.abort();
      await done;
    },
  };
}

describe('a replica whose reader was cut off while the stream was trimmed past it', () => {
  let redisPort: number;
  let proxy: TcpProxy;
  let a: TestService & { keysDir: string };
  let b: TestService;
  let replicas: ReplicasBehindProxy | undefined;

  before(async () => {
    replicas = await startReplicasBehindProxy('feed-gap');
    ({ redisPort, proxy, a, b } = replicas);
  });
  after(() => replicas?.stop());

  it('never exchanges for the revoked agent, sends its feed consumers `reset`, and a feed verifier on it refuses the token', async () => {
    const login = await loginUser(a, { username: 'bob' });
    const victim = (await exchangeFor(a, 'agent', login.accessToken, CRM)).body.access_token as string;
    const feed = watchFeed(a);
    const verifier = createVerifier({
      issuer: a.url,
      audience: CRM,
      revocation: { mode: 'feed', clientId: 'crm-server', clientSecret: a.secrets['crm-server']!, maxStalenessSeconds: 10 },
    });
    const direct = new Redis(redisPort, '127.0.0.1');
    try {
      await verifier.ready();
      await feed.waitFor((e) => e.event === 'heartbeat', 3000);
      assert.equal((await verifier.verify(victim)).sub, 'user-bob');
      await sleep(1100); // the agent's cutoff lands in a later second than the token's iat
      const position = await b.service.stores.revocations.head();

      proxy.cut();
      const cutAt = Date.now();
      assert.equal((await b.service.revocation.revoke({ kind: 'client', value: 'agent', by: 'test', reason: 'compromised' })).created, true);
      for (let i = 0; i < 20; i++) await b.service.revocation.revoke({ kind: 'client', value: `filler-${i}`, by: 'test' });
      // As MAXLEN ~ does once ~10,000 revocations follow (README: the stream keeps about the last 10,000).
      await direct.xtrim(`${b.prefix}rev:events`, 'MAXLEN', 5);
      assert.equal((await b.service.stores.revocations.since(position)).reset, true);
      const restoredAt = Date.now();
      proxy.restore();
      assert.ok(restoredAt - cutAt < 2000, `cut off for ${restoredAt - cutAt} ms: well under the 5 s freshness window`);

      // A refuses (503 while it re-loads the snapshot, then the revocation itself); never issues.
      const seen: number[] = [];
      for (let i = 0; i < 100; i++) {
        const res = await exchangeFor(a, 'agent', login.accessToken, CRM);
        seen.push(res.status);
        assert.notEqual(res.status, 200, `A issued for the revoked agent after ${Date.now() - restoredAt} ms: ${seen.join(',')}`);
        if (res.status === 400) {
          assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
          break;
        }
        await sleep(50);
      }
      assert.equal(seen.at(-1), 400, seen.join(','));

      await feed.waitFor((e) => e.event === 'reset' && e.at >= restoredAt, 5000);
      // The reset sends the verifier to the snapshot, which has the revocation (without it, it accepts for good).
      const verdicts: string[] = [];
      for (let i = 0; i < 100 && verdicts.at(-1) !== 'ERR_REVOKED'; i++) {
        verdicts.push(await verifier.verify(victim).then(() => 'ACCEPTED', (err: VerifyError) => err.code));
        await sleep(50);
      }
      assert.equal(verdicts.at(-1), 'ERR_REVOKED', [...new Set(verdicts)].join(','));
      assert.equal((await fetch(`${a.url}/readyz`)).status, 200);
    } finally {
      verifier.close();
      direct.disconnect();
      await feed.close();
    }
  });
});
