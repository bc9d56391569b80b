// This replica's in-memory copy of every live revocation marker, fed by the shared revocation stream, so the exchange
// checks revocation without reading markers from the store. Fail closed: a view that cannot prove it is current is
// never used to say "not revoked".
import { StoreUnavailable } from '../stores/errors.js';
import { mergeRevocation, revocationLookups, toRevocationHits } from '../stores/revocation.js';
import { ZERO_STREAM_ID, compareStreamIds, parseStreamId, type StreamId } from '../stores/stream_id.js';
import type { ExchangeStateStore, RevocationEvent, RevocationFeed, RevocationHits, RevocationQuery, RevocationRecord } from '../stores/types.js';

/** How the exchange reads the revocation markers that can touch a subject. */
export interface RevocationReader {
  /**
   * The markers `query` names, as of a moment after every revocation acknowledged before `fence` was read: the
   * revocation stream's newest id, read with the subject (ExchangeStateStore.readOpaqueToken); read now when absent.
   */
  read(query: RevocationQuery, fence?: Promise<string> | string): Promise<RevocationHits>;
}

export interface RevocationViewOptions {
  feed: RevocationFeed;
  /** Read when the view is behind the stream's head (an event still in flight to this replica). */
  store: Pick<ExchangeStateStore, 'readRevocations'>;
  /**
   * Longest silence of this replica's stream reader before the view is stale (refuse with 503, re-snapshot once the
   * reader reads again). Above the reader's healthy interval on a quiet stream (XREAD BLOCK 2 s plus the reply).
   */
  maxStalenessMs: number;
  /** Epoch milliseconds (tests). */
  now?: () => number;
  /** Counts checks answered by reading the store because the view was behind. */
  onBehind?: () => void;
}

/**
 * The status routes' freshness window for feed heartbeats (MIN_VOUCH_MS): this replica refuses exchanges from its view
 * when its reader has not read the stream for longer than it would vouch to a tool server.
 */
export const REVOCATION_VIEW_MAX_STALENESS_MS = 5_000;

const key = (kind: string, value: string) => `${kind}:${value}`;
/** How often a stale view looks again whether it can re-snapshot. */
const RESYNC_POLL_MS = 200;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export class RevocationView implements RevocationReader {
  readonly #options: RevocationViewOptions;
  readonly #now: () => number;
  readonly #markers = new Map<string, RevocationRecord>();
  /** The newest stream id applied (snapshot cursor or live event). */
  #cursor: StreamId = { ms: 0, seq: 0 };
  #loaded = false;
  /**
   * Set when the reader went silent beyond maxStalenessMs, or reported a gap (events trimmed before it read them):
   * cleared by a snapshot requested after the last gap.
   */
  #stale = false;
  /** Gaps the feed reported; a snapshot clears `#stale` only if none came while it was read. */
  #gaps = 0;
  #resync: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #sweptAt = 0;

  constructor(options: RevocationViewOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Subscribes first, then loads the snapshot: an event is either in the snapshot or delivered live (merges are idempotent). */
  async start(): Promise<void> {
    this.#unsubscribe ??= this.#options.feed.subscribe((event) => this.#apply(event), () => this.#gap());
    await this.#load();
  }

  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#loaded = false;
  }

  /** Loaded, and the stream reader has read within maxStalenessMs. */
  fresh(): boolean {
    if (!this.#loaded || this.#stale) return false;
    if (this.#options.feed.tailAgeMs() <= this.#options.maxStalenessMs) return true;
    // The reader resumes from its last id, but a stream trimmed meanwhile would have lost events: re-snapshot first.
    this.#stale = true;
    this.#scheduleResync();
    return false;
  }

  /** The revocation stream's newest id, read now (RevocationFeed.head). */
  fence(): Promise<string> {
    // As storeFailuresAsUnavailable: an I/O failure is an outage (503); a TypeError is a bug (500), never disguised.
    const head = this.#options.feed.head().catch((err: unknown) => {
      throw err instanceof StoreUnavailable || err instanceof TypeError ? err : new StoreUnavailable(err);
    });
    head.catch(() => {}); // awaited by read(); a refusal before that must not be an unhandled rejection
    return head;
  }

  async read(query: RevocationQuery, fence?: Promise<string> | string): Promise<RevocationHits> {
    const head = await (fence ?? this.fence());
    // SPEC fail-closed rule (the verify SDK's feed mode): a view that cannot prove it is fresh is not used; 503.
    if (!this.fresh()) throw new StoreUnavailable('revocation view is stale');
    const headId = parseStreamId(head);
    if (!headId) throw new StoreUnavailable(`unreadable revocation stream head ${head}`);
    // Every revocation acknowledged before the fence was read is at or before the head: applied here, or read from the store.
    if (compareStreamIds(this.#cursor, headId) < 0) {
      this.#options.onBehind?.();
      return this.#options.store.readRevocations(query);
    }
    this.#sweep();
    const nowSeconds = Math.floor(this.#now() / 1000);
    return toRevocationHits(
      revocationLookups(query).map(({ kind, value }) => {
        const record = this.#markers.get(key(kind, value));
        return record && record.expiresAt > nowSeconds ? record : undefined;
      }),
    );
  }

  /** Live markers held (tests, metrics). */
  get size(): number {
    return this.#markers.size;
  }

  async #load(): Promise<void> {
    const gaps = this.#gaps;
    const { cursor, revocations } = await this.#options.feed.snapshot();
    for (const record of revocations) this.#merge(record);
    this.#advance(cursor);
    this.#loaded = true;
    // A snapshot requested before a gap was reported may predate what the gap lost: only a later one clears it.
    if (this.#gaps === gaps) this.#stale = false;
  }

  /**
   * README: "no revocation may be missed". The stream lost events this view never applied, so the view is incomplete
   * although its cursor reaches the stream's head (the fence in read() cannot see it): refuse until a snapshot loads.
   */
  #gap(): void {
    this.#gaps++;
    this.#stale = true;
    this.#scheduleResync();
  }

  #scheduleResync(): void {
    if (this.#resync) return;
    this.#resync = (async () => {
      // Wait until the reader reads again; a snapshot taken after that cannot miss what the gap lost.
      while (this.#unsubscribe && this.#options.feed.tailAgeMs() > this.#options.maxStalenessMs) {
        await sleep(RESYNC_POLL_MS);
      }
      if (this.#unsubscribe) await this.#load();
    })()
      // Still stale: retried below, after a pause, so a snapshot that fails at once does not spin.
      .catch(() => sleep(RESYNC_POLL_MS))
      .finally(() => {
        this.#resync = undefined;
        if (this.#stale && this.#unsubscribe) this.#scheduleResync();
      });
  }

  #apply(event: RevocationEvent): void {
    this.#merge(event.record);
    this.#advance(event.id);
  }

  #merge(record: RevocationRecord): void {
    const k = key(record.kind, record.value);
    const existing = this.#markers.get(k);
    if (!existing) {
      this.#markers.set(k, record);
      return;
    }
    // The store's own merge rule: a cutoff only moves later (a live event older than the snapshot changes nothing).
    const merged = mergeRevocation(existing, record);
    if (merged.write) this.#markers.set(k, merged.record);
  }

  #advance(id: string): void {
    const parsed = parseStreamId(id === '' ? ZERO_STREAM_ID : id);
    if (parsed && compareStreamIds(parsed, this.#cursor) > 0) this.#cursor = parsed;
  }

  /** Drops expired markers, at most once a second. */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#sweptAt < 1000) return;
    this.#sweptAt = now;
    const nowSeconds = Math.floor(now / 1000);
    for (const [k, record] of this.#markers) if (record.expiresAt <= nowSeconds) this.#markers.delete(k);
  }
}
