// Revocation as tool servers see it, against real services on real Redis: the feed (snapshot, SSE, resume), two
// replicas sharing one Redis, delegation token introspection, metrics, and the verify SDK in feed and introspect modes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { createVerifier, VerifyError } from 'delegation-token-verify';
import { exchangeFor, loginUser, postForm } from '../helpers/http.js';
import { BILLING, CRM, startService, type TestService } from '../helpers/service.js';

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Opens the SSE feed and collects events until closed. */
function openFeed(svc: TestService, clientId: string, lastEventId?: string) {
  const events: SseEvent[] = [];
  const controller = new AbortController();
  const waiters: Array<() => void> = [];
  const ready = (async () => {
    // `v=2`: this consumer understands wire format v2 (token_digest records).
    const res = await fetch(`${svc.url}/revocations/events?v=2`, {
      headers: { authorization: svc.basic(clientId), accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const e: SseEvent = {};
            for (const line of block.split('\n')) {
              const [k, ...rest] = line.split(': ');
              if (k === 'id' || k === 'event' || k === 'data') e[k] = rest.join(': ');
            }
            events.push(e);
            waiters.splice(0).forEach((w) => w());
          }
        }
      } catch {
        /* aborted */
      }
    })();
  })();
  return {
    events,
    ready,
    revocations: () => events.filter((e) => e.event === 'revocation'),
    async waitFor(pred: (e: SseEvent) => boolean, ms = 2000): Promise<SseEvent> {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching event in ${ms} ms: ${JSON.stringify(events)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    close: () => controller.abort(),
  };
}

describe('revocation status for tool servers', () => {
  let a: TestService & { keysDir: string };
  let b: TestService;

  before(async () => {
    a = await startService();
    // A second replica: same Redis prefix, keys, secrets and issuer, its own port and process state.
    b = await startService({ share: { keysDir: a.keysDir, prefix: a.prefix, secrets: a.secrets }, extra: () => ({ issuer: a.url }) });
  });
  after(async () => {
    await b.stop();
    await a.stop();
  });

  async function delegation(username = 'bob') {
    const user = await loginUser(a, { username });
    const res = await exchangeFor(a, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(res.status, 200);
    return { user, token: res.body.access_token as string, claims: decodeJwt(res.body.access_token as string) };
  }

  const introspect = (svc: TestService, clientId: string, token: string) =>
    postForm(`${svc.url}/token/introspection/delegation`, { token }, { authorization: svc.basic(clientId) });

  it('feed endpoints authenticate tool servers: 401 without credentials, 403 for a client that is no tool server', async () => {
    const none = await fetch(`${a.url}/revocations`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic /);
    assert.deepEqual(await none.json(), { error: 'invalid_client', error_description: 'client authentication failed' });
    const agent = await fetch(`${a.url}/revocations`, { headers: { authorization: a.basic('agent') } });
    assert.equal(agent.status, 403);
    assert.deepEqual(await agent.json(), { error: 'access_denied', error_description: 'the client may not read revocations' });
  });

  it('a revocation on one replica: the other refuses the exchange, its feed delivers the event, its snapshot lists it', async () => {
    const { user, claims } = await delegation();
    const feed = openFeed(b, 'crm-server');
    await feed.ready;
    await feed.waitFor((e) => e.event === 'heartbeat');
    const revoked = await a.service.revocation.revoke({ kind: 'sid', value: claims.sid as string, by: 'test', reason: 'stolen' });
    assert.equal(revoked.created, true);
    const event = await feed.waitFor((e) => e.event === 'revocation' && JSON.parse(e.data!).value === claims.sid, 1000);
    assert.deepEqual({ ...JSON.parse(event.data!), revokedAt: 0, expiresAt: 0 }, { kind: 'sid', value: claims.sid, revokedAt: 0, expiresAt: 0, by: 'test', reason: 'stolen' });
    feed.close();

    const again = await exchangeFor(b, 'agent', user.accessToken, CRM);
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });

    const snap = await fetch(`${b.url}/revocations`, { headers: { authorization: b.basic('billing-server') } });
    assert.equal(snap.status, 200);
    const body = (await snap.json()) as { v: number; cursor: string; revocations: Array<{ kind: string; value: string }> };
    assert.equal(body.v, 2);
    // The cursor is at or after the sid event: ending the session also revokes its grants (token_digest records).
    const streamId = (id: string) => id.split('-').map(BigInt) as [bigint, bigint];
    const [cursor, seen] = [streamId(body.cursor), streamId(event.id!)];
    assert.ok(cursor[0] > seen[0] || (cursor[0] === seen[0] && cursor[1] >= seen[1]), `${body.cursor} before ${event.id}`);
    assert.ok(body.revocations.some((r) => r.kind === 'sid' && r.value === claims.sid));
  });

  it('a consumer reconnecting with Last-Event-ID receives what it missed, once', async () => {
    const first = await delegation();
    const feed = openFeed(a, 'crm-server');
    await feed.ready;
    await a.service.revocation.revoke({ kind: 'jti', value: first.claims.jti!, by: 'test' });
    const seen = await feed.waitFor((e) => e.event === 'revocation' && JSON.parse(e.data!).value === first.claims.jti);
    feed.close();

    const missed = [await delegation(), await delegation()];
    for (const m of missed) await a.service.revocation.revoke({ kind: 'jti', value: m.claims.jti!, by: 'test' });
    const resumed = openFeed(b, 'crm-server', seen.id);
    await resumed.ready;
    await resumed.waitFor((e) => e.event === 'revocation' && JSON.parse(e.data!).value === missed[1]!.claims.jti);
    // Each token revocation is two records: its descendants' `token_digest`, then its own `jti`.
    const jtis = resumed.revocations().map((e) => JSON.parse(e.data!) as { kind: string; value: string }).filter((r) => r.kind === 'jti');
    assert.deepEqual(jtis.map((r) => r.value), missed.map((m) => m.claims.jti));
    assert.equal(resumed.revocations().length, 4);
    // The first heartbeat vouches for what came before it (a consumer counts its freshness from it): after the catch-up.
    await resumed.waitFor((e) => e.event === 'heartbeat');
    assert.deepEqual(resumed.events.slice(0, 5).map((e) => e.event), ['revocation', 'revocation', 'revocation', 'revocation', 'heartbeat']);
    resumed.close();

    // Once the stream has been trimmed past a cursor, the consumer is told to re-snapshot.
    await a.redis.xtrim(`${a.prefix}rev:events`, 'MAXLEN', 1);
    const stale = openFeed(a, 'crm-server', seen.id);
    await stale.ready;
    await stale.waitFor((e) => e.event === 'heartbeat');
    assert.deepEqual(stale.events.slice(0, 2).map((e) => e.event), ['reset', 'heartbeat']);
    stale.close();

    // A cursor that is no stream id: reset, and live events still flow.
    const garbage = openFeed(a, 'crm-server', 'not-a-cursor');
    await garbage.ready;
    await garbage.waitFor((e) => e.event === 'reset');
    assert.equal(garbage.events[0]?.event, 'reset');
    const later = await delegation();
    await a.service.revocation.revoke({ kind: 'jti', value: later.claims.jti!, by: 'test' });
    await garbage.waitFor((e) => e.event === 'revocation' && JSON.parse(e.data!).value === later.claims.jti);
    garbage.close();
  });

  it('introspection of delegation tokens: claims with act and sid, then exactly {"active":false} once revoked', async () => {
    const { token, claims } = await delegation();
    const unauth = await postForm(`${a.url}/token/introspection/delegation`, { token });
    assert.equal(unauth.status, 401);
    assert.deepEqual(unauth.body, { error: 'invalid_client', error_description: 'client authentication failed' });
    const other = await introspect(a, 'billing-server', token);
    assert.deepEqual(other.body, { active: false });
    const live = await introspect(a, 'crm-server', token);
    assert.equal(live.status, 200);
    assert.equal(live.headers.get('cache-control'), 'no-store');
    assert.deepEqual(live.body, { active: true, token_type: 'Bearer', ...claims });
    await a.service.revocation.revoke({ kind: 'sid', value: claims.sid as string, by: 'test' });
    assert.deepEqual((await introspect(b, 'crm-server', token)).body, { active: false });
    assert.deepEqual((await introspect(a, 'crm-server', 'not-a-token')).body, { active: false });
  });

  it('revoking the agent stops its earlier tokens everywhere, including as multi-hop subjects', async () => {
    const { token } = await delegation();
    await new Promise((r) => setTimeout(r, 1100)); // revocation times are whole seconds: issued "at or before"
    await a.service.revocation.revoke({ kind: 'client', value: 'agent', by: 'test' });
    assert.deepEqual((await introspect(a, 'crm-server', token)).body, { active: false });
    const hop = await exchangeFor(b, 'crm-server', token, BILLING, { scope: 'billing.refund_lookup' });
    assert.deepEqual(hop.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
    // Tokens issued after the revocation are not affected.
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = await delegation('alice');
    assert.equal((await introspect(a, 'crm-server', fresh.token)).body.active, true);
  });

  it('the verify SDK refuses a revoked session in feed mode (no restart) and in introspect mode', async () => {
    const { token, claims } = await delegation();
    const feedVerifier = createVerifier({ issuer: a.url, audience: CRM, revocation: { mode: 'feed', clientId: 'crm-server', clientSecret: a.secrets['crm-server']! } });
    const introVerifier = createVerifier({ issuer: a.url, audience: CRM, revocation: { mode: 'introspect', clientId: 'crm-server', clientSecret: a.secrets['crm-server']!, cacheSeconds: 0 } });
    try {
      await feedVerifier.ready();
      assert.equal((await feedVerifier.verify(token)).sub, 'user-bob');
      assert.equal((await introVerifier.verify(token)).sid, claims.sid);
      await b.service.revocation.revoke({ kind: 'sid', value: claims.sid as string, by: 'test' });
      const deadline = Date.now() + 1000;
      let code: string | undefined;
      while (Date.now() < deadline && code === undefined) {
        code = await feedVerifier.verify(token).then(() => undefined, (err: VerifyError) => err.code);
      }
      assert.equal(code, 'ERR_REVOKED');
      await assert.rejects(introVerifier.verify(token), (err: VerifyError) => err.code === 'ERR_REVOKED' && err.status === 401);
    } finally {
      feedVerifier.close();
      introVerifier.close();
    }
  });

  it('/metrics exposes exchange, revocation and feed figures in Prometheus format', async () => {
    const res = await fetch(`${a.url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^dts_exchanges_total\{result="allow",error=""\} [1-9]\d*$/m);
    assert.match(text, /^dts_revocations_total\{kind="sid",created="true"\} [1-9]\d*$/m);
    assert.match(text, /^# TYPE dts_exchange_duration_seconds histogram$/m);
    assert.match(text, /^dts_revocation_feed_consumers \d+$/m);
    assert.match(text, /^dts_audit_events_dropped_total 0$/m);
  });
});
