// test:serial (scripts/run_tests.mjs): 60,000 markers and 2,000 revocations in flight; beside another file it ran past the 60 s file timeout once
// The revocation feed snapshot at scale, on a single Redis and on a Redis Cluster: read in bounded pages after the
// cursor, complete, and consistent with the cursor while revocations land between its pages.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createRedisStores } from '../../src/stores/redis/index.js';
import { SNAPSHOT_PAGE_SIZE } from '../../src/stores/redis/revocation_feed.js';
import type { ScriptedRedis, SnapshotPage } from '../../src/stores/redis/scripts.js';
import { mergeRevocation } from '../../src/stores/revocation.js';
import type { RevocationRecord, Stores } from '../../src/stores/types.js';
import { connectTestCluster, deleteClusterKeysWithPrefix } from '../helpers/redis_cluster.js';
import { openRedisHarness } from './redis_harness.js';

/** Enough markers for 60 pages: the old single script returned them all in one reply. */
const MARKERS = 60_000;
const nowSec = () => Math.floor(Date.now() / 1000);
const keyOf = (r: { kind: string; value: string }) => `${r.kind}:${r.value}`;

interface Opened {
  stores: Stores;
  redis: ScriptedRedis;
  prefix: string;
  close(): Promise<void>;
}

type PageMethod = 'dtsRevocationSnapshotPage' | 'dtsRevocationSnapshotPageCluster';

const layouts: Array<{ name: string; page: PageMethod; open(): Promise<Opened> }> = [
  {
    name: 'single Redis',
    page: 'dtsRevocationSnapshotPage',
    async open() {
      const h = await openRedisHarness();
      return { stores: h.stores, redis: h.redis as ScriptedRedis, prefix: h.prefix, close: () => h.close() };
    },
  },
  {
    name: 'Redis Cluster',
    page: 'dtsRevocationSnapshotPageCluster',
    async open() {
      const prefix = `test:${randomUUID()}:`;
      const redis = await connectTestCluster();
      const stores = createRedisStores(redis, { keyPrefix: prefix });
      return {
        stores,
        redis: redis as ScriptedRedis,
        prefix,
        async close() {
          await deleteClusterKeysWithPrefix(redis, prefix);
          await stores.close();
        },
      };
    },
  },
];

/**
 * Runs `before(n, first)` ahead of the n-th page call (`first`: the first page of a snapshot, which reads its cursor)
 * and keeps every page's reply. Wraps the store's own script call on its real client: nothing is faked.
 */
function interceptPages(redis: ScriptedRedis, method: PageMethod, before: (n: number, first: boolean) => Promise<void>) {
  const original = redis[method] as (...args: unknown[]) => Promise<SnapshotPage>;
  const replies: SnapshotPage[] = [];
  (redis as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
    // ioredis' auto-pipelining copies the method onto its pipeline and calls it there: only the store's call is a page.
    if (this !== redis) return original.apply(this, args);
    return (async () => {
      await before(replies.length + 1, args.at(-2) === '');
      const reply = await original.apply(redis, args);
      replies.push(reply);
      return reply;
    })();
  };
  return { replies, restore: () => void ((redis as unknown as Record<string, unknown>)[method] = original) };
}

/** Every command this process sends with `prefix` in its arguments, and the size of its reply (top-level elements). */
function recordCommands(prefix: string) {
  const proto = Redis.prototype as unknown as { sendCommand(command: { name: string; args: unknown[]; promise: Promise<unknown> }, stream?: unknown): unknown };
  const original = proto.sendCommand;
  const sent: Array<{ name: string; size?: number }> = [];
  let recording = true;
  proto.sendCommand = function (this: unknown, command, stream) {
    if (recording && command.args.some((arg) => String(arg).startsWith(prefix))) {
      const entry: { name: string; size?: number } = { name: command.name };
      sent.push(entry);
      command.promise.then(
        (reply) => (entry.size = Array.isArray(reply) ? reply.length : 1),
        () => {},
      );
    }
    return original.call(this, command, stream);
  };
  return {
    sent,
    pause: () => void (recording = false),
    resume: () => void (recording = true),
    restore: () => void (proto.sendCommand = original),
  };
}

/** What a consumer holds after loading `snapshot` and applying `events` in order (RevocationView's merge). */
function consumerState(snapshot: RevocationRecord[], events: RevocationRecord[]): Map<string, RevocationRecord> {
  const held = new Map<string, RevocationRecord>();
  for (const record of [...snapshot, ...events]) {
    const existing = held.get(keyOf(record));
    held.set(keyOf(record), existing ? mergeRevocation(existing, record).record : record);
  }
  return held;
}

for (const layout of layouts) {
  describe(`revocation snapshot in pages (${layout.name})`, () => {
    let opened: Opened;
    before(async () => {
      opened = await layout.open();
    });
    after(() => opened?.close());

    it(`reads ${MARKERS} markers in bounded pages, complete, and consistent with its cursor while revocations land between pages`, async () => {
      const { stores, redis, prefix } = opened;
      const t = nowSec();
      /** The store's answer to every revoke, so what it holds now (revoke returns the stored record). */
      const expected = new Map<string, RevocationRecord>();
      const revoke = async (record: RevocationRecord) => {
        const { record: stored } = await stores.exchange.revoke(record);
        expected.set(keyOf(stored), stored);
        return stored;
      };
      // Five expiry seconds, so each score holds ~12,000 entries and pages start and end inside a run of equal scores
      // (ordered by member bytes: a few values outside ASCII, where Lua's locale-bound `<` could differ).
      const value = (i: number) => (i % 997 === 0 ? `bulk-é-${i}` : i % 991 === 0 ? `bulk-\u{1F511}-${i}` : `bulk-${i}`);
      for (let i = 0; i < MARKERS; i += 2000) {
        await Promise.all(
          Array.from({ length: Math.min(2000, MARKERS - i) }, (_, j) => revoke({ kind: 'sid', value: value(i + j), revokedAt: t, expiresAt: t + 3600 + ((i + j) % 5), by: 'backchannel_logout' })),
        );
      }
      await revoke({ kind: 'sub', value: 'alice', revokedAt: t - 100, expiresAt: t + 3602, reason: 'first' });

      // Changes made between pages 5 and 6 and between pages 20 and 21 (inside the first and the second run of equal
      // scores), by the same store as any replica would.
      const changed = new Set<string>();
      const readSoFar: RevocationRecord[] = [];
      const injected: RevocationRecord[] = [];
      const commands = recordCommands(prefix);
      const pages = interceptPages(redis, layout.page, async (n) => {
        if (n !== 6 && n !== 21) return;
        const lastMember = pages.replies.at(-1)?.[3];
        readSoFar.length = 0;
        for (const [, , , , ...records] of pages.replies) for (const json of records) if (json) readSoFar.push(JSON.parse(json) as RevocationRecord);
        commands.pause();
        const change = async (record: RevocationRecord) => {
          changed.add(keyOf(record));
          injected.push(await revoke(record));
        };
        // Entries already read move to a later score: an offset into the index would now skip as many unread ones.
        for (const r of readSoFar.filter((r) => !changed.has(keyOf(r))).slice(0, 10)) await change({ ...r, expiresAt: r.expiresAt + 10_000 });
        // The entry the next page starts after moves too: the position is found from its old (score, member) pair.
        const last = expected.get(lastMember ?? '');
        assert.ok(last, `previous page ended at ${lastMember}`);
        await change({ ...last, expiresAt: last.expiresAt + 20_000 });
        // New markers before the read position (never paged: the stream has them) and after it (paged as well).
        for (const expiresIn of [60, 61, 7200, 7201]) await change({ kind: 'jti', value: randomUUID(), revokedAt: t, expiresAt: t + expiresIn });
        // A later cutoff replaces a stored one (a new revocation of the same user).
        if (n === 21) await change({ kind: 'sub', value: 'alice', revokedAt: t, expiresAt: t + 3602, reason: 'again' });
        commands.resume();
      });
      let snap: Awaited<ReturnType<Stores['revocations']['snapshot']>>;
      try {
        snap = await stores.revocations.snapshot();
      } finally {
        commands.restore();
        pages.restore();
      }
      await new Promise((resolve) => setImmediate(resolve)); // reply sizes are recorded by promise callbacks

      // Bounded: only page calls, none replying more than a page; the first one read the cursor.
      for (const c of commands.sent) assert.ok((c.size ?? Infinity) <= SNAPSHOT_PAGE_SIZE + 4, `${c.name} replied ${c.size} elements`);
      assert.deepEqual(new Set(commands.sent.map((c) => c.name)), new Set(['evalsha']));
      assert.equal(commands.sent.length, pages.replies.length);
      assert.ok(pages.replies.length > MARKERS / SNAPSHOT_PAGE_SIZE, `${pages.replies.length} pages`);
      pages.replies.forEach(([cursor, entries, , , ...records], i) => {
        assert.ok(entries <= SNAPSHOT_PAGE_SIZE && records.length === entries, `a page of ${entries} entries, ${records.length} records`);
        assert.equal(cursor, i === 0 ? snap.cursor : '');
      });

      // Each marker once, in index order (expiresAt, then `kind:value` bytes).
      const keys = snap.revocations.map(keyOf);
      assert.equal(new Set(keys).size, keys.length);
      for (let i = 1; i < snap.revocations.length; i++) {
        const [a, b] = [snap.revocations[i - 1] as RevocationRecord, snap.revocations[i] as RevocationRecord];
        assert.ok(a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && Buffer.compare(Buffer.from(keyOf(a)), Buffer.from(keyOf(b))) < 0), `order at ${i}`);
      }

      // Complete: every marker nobody touched during the read is in the snapshot itself, as stored.
      const inSnapshot = new Map(snap.revocations.map((r) => [keyOf(r), r]));
      assert.equal(changed.size, 2 * (10 + 1 + 4) + 1);
      for (const [key, record] of expected) if (!changed.has(key)) assert.deepEqual(inSnapshot.get(key), record, key);

      // Consistent with the cursor: every change made during the read is in the stream after it, and a consumer that
      // loads the snapshot then applies those events holds exactly what the store holds.
      const { events, reset } = await stores.revocations.since(snap.cursor);
      assert.equal(reset, false);
      assert.deepEqual(
        events.map((e) => e.record),
        injected,
      );
      assert.deepEqual(consumerState(snap.revocations, events.map((e) => e.record)), expected);
      assert.equal(expected.get('sub:alice')?.reason, 'again');
    });

    it('concurrent snapshots share one read, started after every caller that joined it', async () => {
      const { stores, redis } = opened;
      const feed = stores.revocations;
      const t = nowSec();
      // More than a page, whatever ran before.
      for (let i = 0; i <= SNAPSHOT_PAGE_SIZE; i += 500) {
        await Promise.all(Array.from({ length: 500 }, () => stores.exchange.revoke({ kind: 'jti', value: randomUUID(), revokedAt: t, expiresAt: t + 600 })));
      }
      const first = (await stores.exchange.revoke({ kind: 'jti', value: randomUUID(), revokedAt: t, expiresAt: t + 600 })).record;
      let reads = 0;
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let holding = false;
      const pages = interceptPages(redis, layout.page, async (n, firstPage) => {
        if (firstPage) reads++;
        if (n !== 2) return;
        holding = true;
        await held;
      });
      try {
        // Held before its second page, after its cursor (read by the first).
        const one = feed.snapshot();
        let settled = false;
        one.then(
          () => (settled = true),
          () => (settled = true),
        );
        await until(() => holding || settled);
        assert.ok(holding, 'the snapshot was not read in pages');
        assert.equal(reads, 1);
        // Revoked after the running read took its cursor: callers from now on must get a read that starts later.
        const late = (await stores.exchange.revoke({ kind: 'jti', value: randomUUID(), revokedAt: t, expiresAt: t + 600 })).record;
        const [two, three] = [feed.snapshot(), feed.snapshot()];
        assert.equal(two, three);
        release();
        const [a, b, c] = await Promise.all([one, two, three]);
        assert.equal(reads, 2);
        assert.equal(b, c);
        assert.ok(a.revocations.some((r) => r.value === first.value));
        assert.ok(b.revocations.some((r) => r.value === late.value));
        // The first read's cursor came before `late`: a consumer of it gets `late` from the stream.
        assert.ok((await feed.since(a.cursor)).events.some((e) => e.record.value === late.value));
        assert.deepEqual((await feed.since(b.cursor)).events, []);
        await feed.snapshot();
        assert.equal(reads, 3);
      } finally {
        release();
        pages.restore();
      }
    });
  });
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}
