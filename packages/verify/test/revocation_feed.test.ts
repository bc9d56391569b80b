// Revocation feed mode over real HTTP: snapshot, SSE events, reconnect with Last-Event-ID, reset, staleness.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createVerifier, VerifyError, type Verifier, type VerifierOptions } from 'delegation-token-verify';
import { stats } from '../src/internal_stats.js';
import { rejectsWith } from './helpers/assert_error.js';
import { FEED_CLIENT, startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, makeKey, mint, now, type TestKey } from './helpers/tokens.js';

let issuer: FakeIssuer;
let es: TestKey;
const open: Verifier[] = [];

before(async () => {
  issuer = await startFakeIssuer({ heartbeatMs: 100 });
  es = await makeKey('ES256', 'k-es');
  issuer.keys.push(es.publicJwk);
});
// One verifier per test, so that only it is connected (e.g. the one `event: reset` reaches the right client).
afterEach(() => {
  for (const v of open.splice(0)) v.close();
});
after(() => issuer.close());

function feedVerifier(extra: Partial<Extract<VerifierOptions['revocation'], { mode: 'feed' }>> = {}): Verifier {
  const v = createVerifier({
    issuer: issuer.url,
    audience: AUDIENCE,
    revocation: { mode: 'feed', ...FEED_CLIENT, ...extra },
  });
  open.push(v);
  return v;
}
const token = (claims: Record<string, unknown> = {}) => mint({ key: es, issuer: issuer.url, claims });
const expiresAt = () => now() + 600;

/** Poll until verify fails with `code` (events arrive asynchronously). */
async function eventually(fn: () => Promise<unknown>, code: string, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await fn();
    } catch (err) {
      if (err instanceof VerifyError && err.code === code) return;
    }
    if (Date.now() > deadline) assert.fail(`no ${code} within ${ms} ms`);
    await sleep(25);
  }
}

describe('revocation feed', () => {
  it('applies the snapshot once ready() resolves', async () => {
    const revoked = await token({ jti: 'jti-snap' });
    issuer.revoke({ kind: 'jti', value: 'jti-snap', revokedAt: now(), expiresAt: expiresAt(), reason: 'test' });
    const v = feedVerifier();
    await v.ready();
    await rejectsWith(v.verify(revoked), 'ERR_REVOKED');
    assert.equal((await v.verify(await token())).sub, 'user-1');
  });

  it('close() right after ready() leaves no event stream open (the shutdown signal was already aborted)', async () => {
    const opened: Array<[string, AbortSignal | null | undefined]> = [];
    const v = feedVerifier({ fetch: (url, init) => (opened.push([String(url), init?.signal]), fetch(url, init)) });
    await v.ready();
    v.close();
    await sleep(300); // long enough for a stream request to reach the issuer
    assert.equal(issuer.openStreams(), 0);
    assert.deepEqual(
      opened.map(([url, signal]) => [url, signal?.aborted]),
      [[`${issuer.url}/revocations`, true]],
    );
  });

  it('refuses a token as soon as its revocation arrives over SSE, cached or not (RV-01)', async () => {
    const v = feedVerifier();
    await v.ready();
    const t = await token({ sid: 'sess-live' });
    await v.verify(t);
    issuer.revoke({ kind: 'sid', value: 'sess-live', revokedAt: now(), expiresAt: expiresAt() });
    await eventually(() => v.verify(t), 'ERR_REVOKED');
  });

  it('revokes by sub and by client (client_id or any actor) only for tokens issued up to revokedAt', async () => {
    const v = feedVerifier();
    await v.ready();
    const old = now() - 10;
    const bySub = await token({ sub: 'user-gone', iat: old });
    const byActor = await token({ client_id: 'agent-x', act: { sub: 'agent-x', act: { sub: 'agent-evil' } }, iat: old });
    const byClient = await token({ client_id: 'agent-bad', act: { sub: 'agent-bad' }, iat: old });
    issuer.revoke({ kind: 'sub', value: 'user-gone', revokedAt: old, expiresAt: expiresAt() });
    issuer.revoke({ kind: 'client', value: 'agent-evil', revokedAt: old, expiresAt: expiresAt() });
    issuer.revoke({ kind: 'client', value: 'agent-bad', revokedAt: old, expiresAt: expiresAt() });
    await eventually(() => v.verify(bySub), 'ERR_REVOKED');
    await eventually(() => v.verify(byActor), 'ERR_REVOKED');
    await eventually(() => v.verify(byClient), 'ERR_REVOKED');
    // Issued after the revocation: a new login is not affected.
    assert.equal((await v.verify(await token({ sub: 'user-gone', iat: old + 1 }))).sub, 'user-gone');
  });

  it('reconnects with Last-Event-ID and receives the events it missed, without a new snapshot', async () => {
    const v = feedVerifier();
    await v.ready();
    issuer.revoke({ kind: 'jti', value: 'jti-marker', revokedAt: now(), expiresAt: expiresAt() });
    await eventually(async () => v.verify(await token({ jti: 'jti-marker' })), 'ERR_REVOKED');
    const snapshots = issuer.counts.snapshot;
    const streams = issuer.counts.streams;
    const cursorBeforeCut = issuer.cursor();
    issuer.fail.events = 503; // the stream is down while a revocation happens
    issuer.dropStreams();
    const missed = await token({ jti: 'jti-missed' });
    issuer.revoke({ kind: 'jti', value: 'jti-missed', revokedAt: now(), expiresAt: expiresAt() });
    await v.verify(missed); // still accepted: we have not heard of it yet
    const lastSeen = issuer.lastEventIds.length;
    delete issuer.fail.events;
    await eventually(() => v.verify(missed), 'ERR_REVOKED');
    assert.ok(issuer.counts.streams > streams);
    assert.equal(issuer.counts.snapshot, snapshots);
    // Every reconnect resumed from the cursor of the last event seen before the cut.
    const resumedFrom = issuer.lastEventIds.slice(lastSeen);
    assert.ok(resumedFrom.length > 0);
    assert.ok(resumedFrom.every((id) => id === cursorBeforeCut), `${resumedFrom.join()} vs ${cursorBeforeCut}`);
  });

  it('refetches the snapshot on event: reset', async () => {
    const v = feedVerifier();
    await v.ready();
    const snapshots = issuer.counts.snapshot;
    const t = await token({ jti: 'jti-silent' });
    issuer.revoke({ kind: 'jti', value: 'jti-silent', revokedAt: now(), expiresAt: expiresAt() }, true);
    issuer.resetNext = true;
    issuer.dropStreams();
    await eventually(() => v.verify(t), 'ERR_REVOKED');
    assert.ok(issuer.counts.snapshot > snapshots);
  });

  it('after event: reset refuses every token at once, heartbeats or not, until a snapshot has loaded', async () => {
    const v = feedVerifier({ maxStalenessSeconds: 30 });
    await v.ready();
    const fine = await token();
    const revoked = await token({ jti: 'jti-trimmed' });
    assert.equal((await v.verify(revoked)).jti, 'jti-trimmed');
    const resets = issuer.counts.resets;
    const snapshots = issuer.counts.snapshot;
    // Revoked while the verifier was away, and the event history has since moved past its cursor (a day of logouts):
    // only a snapshot holds it, and the snapshot fails (too many records for the issuer's store to answer in time).
    issuer.revoke({ kind: 'jti', value: 'jti-trimmed', revokedAt: now(), expiresAt: expiresAt() }, true);
    issuer.trim();
    issuer.fail.snapshot = 503;
    const deadline = Date.now() + 8_000;
    try {
      issuer.dropStreams(); // it resumes from its cursor and hears heartbeat, reset, heartbeat
      while (issuer.counts.resets === resets && Date.now() < deadline) await sleep(10);
      assert.equal(issuer.counts.resets, resets + 1, 'the verifier did not resume (no reset sent)');
      // A heartbeat has just arrived, far inside maxStalenessSeconds: still the view is known to be incomplete.
      await eventually(() => v.verify(fine), 'ERR_REVOCATION_UNAVAILABLE', 1_000);
      await rejectsWith(v.verify(revoked), 'ERR_REVOCATION_UNAVAILABLE');
      assert.deepEqual([v.health().ready, v.health().revocation.fresh], [false, false]);
      // It retries the snapshot and stays closed while that fails.
      while (issuer.counts.snapshot < snapshots + 2 && Date.now() < deadline) await sleep(25);
      assert.ok(issuer.counts.snapshot >= snapshots + 2, 'the verifier did not retry the snapshot');
      await rejectsWith(v.verify(fine), 'ERR_REVOCATION_UNAVAILABLE');
      assert.deepEqual([v.health().ready, v.health().revocation.fresh], [false, false]);
    } finally {
      delete issuer.fail.snapshot;
    }
    while (!v.health().ready && Date.now() < deadline + 8_000) await sleep(25);
    assert.equal(v.health().ready, true);
    await rejectsWith(v.verify(revoked), 'ERR_REVOKED');
    assert.equal((await v.verify(fine)).sub, 'user-1');
    // It resumed from the snapshot's cursor, which the history holds: no further reset.
    await sleep(300);
    assert.equal(issuer.counts.resets, resets + 1);
    assert.equal(v.health().ready, true);
  });

  it('applies a burst of revocations without walking its whole record set on each one', async () => {
    // An issuer of its own, so the other tests do not load these records.
    const own = await startFakeIssuer({ heartbeatMs: 100 });
    own.keys.push(es.publicJwk);
    const held = 20_000;
    const burst = 1_000;
    for (let i = 0; i < held; i++) own.revoke({ kind: 'sid', value: `held-${i}`, revokedAt: now(), expiresAt: expiresAt() }, true);
    const v = createVerifier({ issuer: own.url, audience: AUDIENCE, revocation: { mode: 'feed', ...FEED_CLIENT } });
    try {
      await v.ready();
      const victim = await mint({ key: es, issuer: own.url, claims: { jti: 'jti-last-of-burst' } });
      await v.verify(victim);
      const visits = stats.revocationPruneVisits;
      for (let i = 0; i < burst - 1; i++) own.revoke({ kind: 'sid', value: `burst-${i}`, revokedAt: now(), expiresAt: expiresAt() });
      own.revoke({ kind: 'jti', value: 'jti-last-of-burst', revokedAt: now(), expiresAt: expiresAt() });
      await eventually(() => v.verify(victim), 'ERR_REVOKED');
      // Pruning on each of the `burst` events looks at expired records only (none here), not at the `held` + `burst`
      // records each time: a full walk per event would be burst * held = 20,000,000 visits.
      const visited = stats.revocationPruneVisits - visits;
      assert.ok(visited <= burst, `pruning visited ${visited} records for a burst of ${burst} on ${held}`);
    } finally {
      v.close();
      await own.close();
    }
  });

  it('fails closed with ERR_REVOCATION_UNAVAILABLE when heartbeats stop, and recovers when they resume', async () => {
    const v = feedVerifier({ maxStalenessSeconds: 0.4 });
    await v.ready();
    const t = await token();
    await v.verify(t);
    issuer.heartbeats = false;
    try {
      await sleep(600);
      await rejectsWith(v.verify(t), 'ERR_REVOCATION_UNAVAILABLE');
    } finally {
      issuer.heartbeats = true;
    }
    const deadline = Date.now() + 8_000;
    while (Date.now() < deadline) {
      if (await v.verify(t).then(() => true, () => false)) return;
      await sleep(50);
    }
    assert.fail('did not recover');
  });

  it('health() reports the feed going stale with no traffic, agreeing with verify, and fresh again when it resumes', async () => {
    issuer.fail.snapshot = 500;
    try {
      const early = feedVerifier();
      assert.deepEqual(early.health(), { ready: false, revocation: { mode: 'feed', fresh: false } });
    } finally {
      delete issuer.fail.snapshot;
    }
    const v = feedVerifier({ maxStalenessSeconds: 0.4 });
    await v.ready();
    const fresh = v.health();
    assert.equal(fresh.ready, true);
    assert.equal(fresh.revocation.mode, 'feed');
    assert.equal(fresh.revocation.fresh, true);
    assert.ok(fresh.revocation.ageMs! >= 0 && fresh.revocation.ageMs! <= 400, String(fresh.revocation.ageMs));
    issuer.heartbeats = false;
    try {
      await sleep(600);
      const stale = v.health();
      assert.deepEqual([stale.ready, stale.revocation.fresh], [false, false]);
      assert.ok(stale.revocation.ageMs! > 400);
      await rejectsWith(v.verify(await token()), 'ERR_REVOCATION_UNAVAILABLE');
    } finally {
      issuer.heartbeats = true;
    }
    const deadline = Date.now() + 8_000;
    while (!v.health().ready && Date.now() < deadline) await sleep(50);
    assert.equal(v.health().ready, true);
    // The other modes have nothing that goes stale.
    const none = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
    assert.deepEqual(none.health(), { ready: true, revocation: { mode: 'none', fresh: true } });
    const introspecting = createVerifier({ issuer: issuer.url, audience: AUDIENCE, revocation: { mode: 'introspect', ...FEED_CLIENT } });
    assert.deepEqual(introspecting.health(), { ready: true, revocation: { mode: 'introspect', fresh: true } });
    introspecting.close();
  });

  it('fails closed before the first snapshot (issuer down or our credentials refused)', async () => {
    issuer.fail.snapshot = 500;
    try {
      const v = feedVerifier();
      await rejectsWith(v.verify(await token()), 'ERR_REVOCATION_UNAVAILABLE');
    } finally {
      delete issuer.fail.snapshot;
    }
    const wrong = feedVerifier({ clientSecret: 'wrong' });
    await sleep(100);
    await rejectsWith(wrong.verify(await token()), 'ERR_REVOCATION_UNAVAILABLE');
    wrong.close();
    await assert.rejects(wrong.ready(), VerifyError);
  });

  it('a second sub/client event with a later revokedAt moves the cutoff (issue 8 item 1)', async () => {
    const v = feedVerifier();
    await v.ready();
    const t = now() - 20;
    const between = await token({ sub: 'user-twice', iat: t + 5 });
    const betweenClient = await token({ client_id: 'agent-twice', act: { sub: 'agent-twice' }, iat: t + 5 });
    issuer.revoke({ kind: 'sub', value: 'user-twice', revokedAt: t, expiresAt: expiresAt() });
    issuer.revoke({ kind: 'client', value: 'agent-twice', revokedAt: t, expiresAt: expiresAt() });
    const atCutoff = await token({ sub: 'user-twice', iat: t });
    await eventually(() => v.verify(atCutoff), 'ERR_REVOKED');
    assert.equal((await v.verify(between)).sub, 'user-twice');
    assert.equal((await v.verify(betweenClient)).clientId, 'agent-twice');
    issuer.revoke({ kind: 'sub', value: 'user-twice', revokedAt: t + 10, expiresAt: expiresAt() });
    issuer.revoke({ kind: 'client', value: 'agent-twice', revokedAt: t + 10, expiresAt: expiresAt() });
    await eventually(() => v.verify(between), 'ERR_REVOKED');
    await eventually(() => v.verify(betweenClient), 'ERR_REVOKED');
    // An older event arriving late never moves the cutoff back.
    issuer.revoke({ kind: 'sub', value: 'user-twice', revokedAt: t, expiresAt: expiresAt() });
    await sleep(200);
    await rejectsWith(v.verify(between), 'ERR_REVOKED');
  });

  it('a token_digest record (v2) revokes every token carrying that digest in ancestors, whenever issued', async () => {
    const v = feedVerifier();
    await v.ready();
    const [root, parent, other] = ['A', 'B', 'C'].map((c) => c.repeat(43));
    const child = await token({ ancestors: [root] });
    const grandchild = await token({ ancestors: [root, parent] });
    const unrelated = await token({ ancestors: [other] });
    issuer.revoke({ kind: 'token_digest', value: parent!, revokedAt: now() - 100, expiresAt: expiresAt() });
    await eventually(() => v.verify(grandchild), 'ERR_REVOKED');
    assert.equal((await v.verify(child)).ancestors.length, 1);
    issuer.revoke({ kind: 'token_digest', value: root!, revokedAt: now() - 100, expiresAt: expiresAt() });
    await eventually(() => v.verify(child), 'ERR_REVOKED');
    assert.deepEqual((await v.verify(unrelated)).ancestors, [other]);
    // A malformed ancestors claim is not one our issuer mints.
    await rejectsWith(v.verify(await token({ ancestors: ['short'] })), 'ERR_CLAIM_INVALID');
    await rejectsWith(v.verify(await token({ ancestors: root })), 'ERR_CLAIM_INVALID');
    assert.ok(issuer.paths.some((p) => p === '/revocations/events?v=2'));
  });

  it('after a heartbeat of a wire format it does not know, fails closed until it has fetched a snapshot it understands', async () => {
    issuer.heartbeatVersion = 2;
    try {
      const v = feedVerifier();
      await v.ready();
      const t = await token();
      assert.equal((await v.verify(t)).sub, 'user-1');
      const before = issuer.counts.snapshot;
      // Snapshots are refused for now, so the closed state can be seen before it recovers.
      issuer.fail.snapshot = 503;
      issuer.heartbeat({ t: now(), v: 3 });
      await eventually(() => v.verify(t), 'ERR_REVOCATION_UNAVAILABLE');
      const deadline = Date.now() + 8_000;
      while (issuer.counts.snapshot === before && Date.now() < deadline) await sleep(25);
      assert.ok(issuer.counts.snapshot > before, 'the verifier never asked for a new snapshot');
      // Until it has a snapshot it understands, it stays closed.
      await sleep(300);
      await rejectsWith(v.verify(t), 'ERR_REVOCATION_UNAVAILABLE');
      assert.deepEqual([v.health().ready, v.health().revocation.fresh], [false, false]);
      delete issuer.fail.snapshot;
      const refused = issuer.counts.snapshot;
      while (!v.health().ready && Date.now() < deadline + 8_000) await sleep(25);
      assert.equal(v.health().ready, true);
      await sleep(300); // three v2 heartbeats on the new stream: no further snapshot
      assert.equal(issuer.counts.snapshot, refused + 1);
      assert.equal(v.health().ready, true);
      assert.equal((await v.verify(t)).sub, 'user-1');
    } finally {
      issuer.heartbeatVersion = undefined;
      delete issuer.fail.snapshot;
    }
  });

  it('fails closed on a record kind it does not know, over SSE and in the snapshot', async () => {
    const v = feedVerifier();
    await v.ready();
    const fine = await token();
    assert.equal((await v.verify(fine)).sub, 'user-1');
    issuer.revoke({ kind: 'from_the_future', value: 'x', revokedAt: now(), expiresAt: expiresAt() });
    await eventually(() => v.verify(fine), 'ERR_REVOCATION_UNAVAILABLE');
    // The snapshot it refetches still holds the record: it stays closed, it does not skip it.
    await sleep(400);
    await rejectsWith(v.verify(fine), 'ERR_REVOCATION_UNAVAILABLE');
    // A new verifier whose first snapshot holds it never becomes ready.
    const fresh = feedVerifier();
    await rejectsWith(fresh.verify(fine), 'ERR_REVOCATION_UNAVAILABLE');
  });

  it('fails closed on a snapshot wire-format version it does not know', async () => {
    issuer.feedVersion = 3;
    try {
      const v = feedVerifier();
      await sleep(300);
      await rejectsWith(v.verify(await token()), 'ERR_REVOCATION_UNAVAILABLE');
    } finally {
      issuer.feedVersion = 2;
    }
  });
});
