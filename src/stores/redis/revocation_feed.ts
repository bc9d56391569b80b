// The revocation feed on Redis: snapshot (the cursor, then the live markers in pages), catch-up from the event stream, live tail.
import { epochSeconds } from '../oidc_records.js';
import { REVOCATION_EVENTS_MAX, mergeRevocation, parseRevocation } from '../revocation.js';
import { ZERO_STREAM_ID, cursorIsStale, parseStreamId } from '../stream_id.js';
import type { RevocationEvent, RevocationFeed, RevocationRecord } from '../types.js';
import { clusterKeys, redisKeys } from './keys.js';
import type { ScriptedRedis, SnapshotPage } from './scripts.js';
import { StreamTail, noSuchStream, pairs, streamBounds, type StreamEntry } from './stream_tail.js';

type Snapshot = { cursor: string; revocations: RevocationRecord[] };

/**
 * Index entries per snapshot page: one script call finds its place (O(log² n)) and reads this many records (about
 * 150 KB), 3-5 ms of Redis on a 2-core VM, so no call holds Redis long however many markers are live (250,000: 250
 * calls, 1.3 s in all). Smaller pages cost more round trips for the same total.
 */
export const SNAPSHOT_PAGE_SIZE = 1000;

interface Subscriber {
  event: (event: RevocationEvent) => void;
  gap: (() => void) | undefined;
}

export class RedisRevocationFeed implements RevocationFeed {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  /** Each subscription's listeners (an object per subscribe call, so the same function may subscribe twice). */
  readonly #listeners = new Set<Subscriber>();
  readonly #tail: StreamTail;
  /** The event stream: one key, so one slot on a Redis Cluster (keys.ts says why that is fine). */
  readonly #eventsKey: string;
  readonly #cluster: boolean;
  /** The snapshot being read, and the one queued behind it for the callers that arrived meanwhile (snapshot()). */
  #snapshotRunning: Promise<Snapshot> | undefined;
  #snapshotQueued: Promise<Snapshot> | undefined;

  /** `eventsMax`: the stream's cap as the revoke scripts trim it (RedisExchangeStateStore), which the tail relies on. */
  constructor(redis: ScriptedRedis, prefix: string, cluster = false, eventsMax = REVOCATION_EVENTS_MAX) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#cluster = cluster;
    this.#eventsKey = (cluster ? clusterKeys : redisKeys).revocationEvents(prefix);
    this.#tail = new StreamTail(redis, this.#eventsKey, {
      onEntry: (entry) => this.#deliver(toEvent(entry)),
      onGap: () => this.#gap(),
      minRetained: eventsMax,
    });
  }

  /**
   * Callers that arrive while a snapshot is being read share ONE more, started when that one ends: N tool servers
   * fetching at once (all reset after an outage) cost at most two reads, and every caller still gets a snapshot whose
   * cursor was read after its call. That matters: the revocation view subscribes (the tail starts at the head it reads
   * then) and snapshots afterwards, and re-snapshots only once the tail reads again; a snapshot begun before either
   * could have a cursor older than where the tail starts (or events trimmed since), and the view would miss the events
   * between the two. A failed read fails the callers that shared it; each retries as it would have.
   */
  snapshot(): Promise<Snapshot> {
    if (this.#snapshotQueued) return this.#snapshotQueued;
    const running = this.#snapshotRunning;
    const read: Promise<Snapshot> = running
      ? running
          .catch(() => {})
          .then(() => {
            this.#snapshotQueued = undefined;
            this.#snapshotRunning = read;
            return this.#readSnapshot();
          })
      : this.#readSnapshot();
    if (running) this.#snapshotQueued = read;
    else this.#snapshotRunning = read;
    const settled = () => {
      if (this.#snapshotRunning === read) this.#snapshotRunning = undefined;
    };
    read.then(settled, settled);
    return read;
  }

  /**
   * The cursor, then every live record in pages of SNAPSHOT_PAGE_SIZE index entries (revocationSnapshotLua), each page
   * one bounded script call: one script over every marker outgrew the command timeout (about 150,000 markers) and held
   * Redis meanwhile. The first page's script reads the cursor before its entries, so a store that fits in one page is
   * still one atomic call. Why the later pages need not be atomic with the cursor:
   * - A revoke writes the record (single Redis: the marker; Cluster: the feed slot's copy, which is what is read here),
   *   its index entry and, when the record changed, its stream event in ONE script (revocation_scripts.ts). The cursor
   *   is read in one atomic step, so each revoke ran wholly before it or wholly after it, and stream ids only grow.
   * - A record whose last change ran before the cursor was in the index then, and leaves it only when it has expired
   *   (the pruning in revoke scripts removes expired entries only). Each page starts strictly after the previous
   *   page's last (score, member) pair, found by value, not by offset: entries removed or moved before that point
   *   shift nothing, and an entry that stays put is read exactly once. Its record is read then, and is the one of the
   *   cursor or a later one (records only widen: mergeRevocation); one that expired meanwhile may be missing, harmless
   *   (no token it could match is still valid).
   * - A record that changed after the cursor has that change in the stream after the cursor, which every consumer
   *   reads next (the view's live tail, the SDK's events with Last-Event-ID; a cursor trimmed meanwhile gets `reset`).
   *   It may also be in a page, or twice (a widened expiry moves its entry to a later page). Consumers merge a record
   *   with what they hold by the same monotone rule (RevocationView: mergeRevocation; the SDK's RevocationSet: latest
   *   revokedAt and expiresAt), in any order, so a record seen both ways ends as the latest; here a record read twice
   *   is merged and kept once, in its later place.
   * Order: as the index reads (expiresAt, then `kind:value` bytes) but for such merged records.
   */
  async #readSnapshot(): Promise<Snapshot> {
    const keys = this.#cluster ? clusterKeys : redisKeys;
    const [index, events] = [keys.revocationIndex(this.#prefix), this.#eventsKey];
    const read = (after: [string, string]): Promise<SnapshotPage> =>
      this.#cluster
        ? this.#redis.dtsRevocationSnapshotPageCluster(index, events, clusterKeys.revocationRecords(this.#prefix), '', epochSeconds(), SNAPSHOT_PAGE_SIZE, ...after)
        : this.#redis.dtsRevocationSnapshotPage(index, events, redisKeys.revocationPrefix(this.#prefix), epochSeconds(), SNAPSHOT_PAGE_SIZE, ...after);
    let cursor: string | undefined;
    const records = new Map<string, RevocationRecord>();
    for (let next = read(['', '']); ; ) {
      const [pageCursor, entries, lastScore, lastMember, ...page] = await next;
      cursor ??= pageCursor; // the first page's: read before any entry
      // The next page is read by Redis while this one is parsed here (still one page in flight at a time); awaited
      // on the next turn, and never left rejecting unhandled should parsing this one throw.
      const more = entries >= SNAPSHOT_PAGE_SIZE;
      if (more) (next = read([lastScore, lastMember])).catch(() => {});
      for (const json of page) {
        const record = parseRevocation(json);
        if (!record) continue; // the marker expired by Redis' clock (the index entry is pruned by the next revoke)
        const key = `${record.kind}:${record.value}`;
        const seen = records.get(key);
        if (seen) records.delete(key);
        records.set(key, seen ? mergeRevocation(seen, record).record : record);
      }
      if (!more) return { cursor, revocations: [...records.values()] };
    }
  }

  /** XINFO and XRANGE in one MULTI, so the trim check and the read see the same stream. */
  async since(cursor: string): Promise<{ events: RevocationEvent[]; reset: boolean }> {
    const from = parseStreamId(cursor);
    if (!from) return { events: [], reset: true };
    const key = this.#eventsKey;
    const results = await this.#redis.multi().xinfo('STREAM', key).xrange(key, `(${cursor}`, '+').exec();
    const [[infoError, info] = [null, null], [rangeError, entries] = [null, null]] = results ?? [];
    // A missing stream has generated nothing: any cursor but 0-0 is ahead of it (the stream was recreated).
    const bounds = streamBounds(infoError ? noSuchStream(infoError) : info);
    if (rangeError) throw rangeError;
    if (cursorIsStale(from, bounds)) return { events: [], reset: true };
    return { events: (entries as StreamEntry[]).map(toEvent), reset: false };
  }

  subscribe(listener: (event: RevocationEvent) => void, onGap?: () => void): () => void {
    const subscription = { event: listener, gap: onGap };
    this.#listeners.add(subscription);
    this.#tail.start();
    return () => {
      this.#listeners.delete(subscription);
      if (this.#listeners.size === 0) void this.#tail.stop();
    };
  }

  tailAgeMs(): number {
    return this.#tail.ageMs();
  }

  /** One XREVRANGE COUNT 1: the newest entry's id (a trimmed stream keeps its newest entry). */
  async head(): Promise<string> {
    const [last] = (await this.#redis.xrevrange(this.#eventsKey, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return last?.[0] ?? ZERO_STREAM_ID;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#tail.stop();
  }

  #deliver(event: RevocationEvent): void {
    this.#each((s) => s.event(event));
  }

  /** The tail lost events to trimming: every listener's view is incomplete until it re-snapshots (RevocationFeed). */
  #gap(): void {
    this.#each((s) => s.gap?.());
  }

  #each(call: (subscriber: Subscriber) => void): void {
    for (const subscriber of this.#listeners) {
      try {
        call(subscriber);
      } catch {
        // One failing listener must not cost the others their events.
      }
    }
  }
}

function toEvent([id, fields]: StreamEntry): RevocationEvent {
  const record = parseRevocation(pairs(fields).get('record') as string | undefined);
  if (!record) throw new Error(`revocation event ${id} has no record`);
  return { id, record };
}
