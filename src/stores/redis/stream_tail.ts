// Follows a Redis stream on its own connection (XREAD BLOCK ties the connection up) and hands each new entry on.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import { isCluster } from './client.js';
import { ZERO_STREAM_ID, cursorIsStale, parseStreamId, type StreamBounds, type StreamId } from '../stream_id.js';

const BLOCK_MS = 2000;
const RETRY_MS = 500;
/** How much later than BLOCK_MS Redis may answer before the connection is taken for dead and replaced. */
const GRACE_MS = 1000;
export type StreamEntry = [id: string, fields: string[]];

export interface StreamTailOptions {
  onEntry: (entry: StreamEntry) => void;
  /**
   * Entries after the reader's position were trimmed away before it could read them: they are never delivered. Called
   * before the entries that follow the gap, which keep coming.
   */
  onGap: () => void;
  /** The fewest entries the stream keeps once trimmed (its `MAXLEN ~` cap; Redis never trims below it). */
  minRetained: number;
}

export class StreamTail {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #options: StreamTailOptions;
  #reader: Redis | undefined;
  #running: Promise<void> | undefined;
  /** Epoch ms of the last XREAD that came back (with or without entries), or of start() before the first one. */
  #readAt = 0;

  constructor(redis: Redis, key: string, options: StreamTailOptions) {
    this.#redis = redis;
    this.#key = key;
    this.#options = options;
  }

  /**
   * Delivers every entry after the stream's newest id as read for this call (readHead): whatever a command sent on the
   * same client after start() cannot see (the view's snapshot, a feed consumer's catch-up) is delivered. A dropped
   * connection resumes where it stopped, or reports the gap (onGap) when the stream was trimmed past it meanwhile.
   */
  start(): void {
    if (this.#running) return;
    this.#readAt = Date.now();
    const from = readHead(this.#redis, this.#key);
    // No commandTimeout on a connection that blocks on purpose, and not ioredis' blockingTimeout either: that one
    // answers null as Redis would, so a dead connection (a partition sends no RST) would pass for a quiet stream.
    // The loop's own deadline below drops such a connection and does not count it as a read.
    const reader = isCluster(this.#redis)
      ? // A Cluster's duplicate() takes (startup nodes, options), the per-node options under redisOptions.
        ((this.#redis as unknown as Cluster).duplicate([], { redisOptions: { commandTimeout: undefined, blockingTimeout: undefined } }) as unknown as Redis)
      : this.#redis.duplicate({ commandTimeout: undefined, blockingTimeout: undefined });
    reader.on('error', () => {}); // the loop below sees every failure as a rejected command
    // Every connection the reader loses, while a read is pending or between reads: ioredis reconnects and may resend a
    // pending XREAD on the new connection, so a reply alone does not show that the reader was cut off meanwhile.
    let drops = 0;
    const dropped = () => drops++;
    reader.on('close', dropped);
    if (isCluster(reader)) {
      reader.on('+node', (node: Redis) => node.on('close', dropped));
      reader.on('-node', dropped);
    }
    this.#reader = reader;
    this.#running = this.#loop(reader, from, () => drops);
  }

  /**
   * Milliseconds since a read of the stream last succeeded: every entry appended before then has been handed on, or
   * its loss reported (onGap). Grows without bound while Redis cannot be read (partition, outage), so callers can stop
   * vouching for freshness.
   */
  ageMs(): number {
    return this.#running ? Date.now() - this.#readAt : Infinity;
  }

  /** Forgets the reader at once, so a start() right after gets a fresh one; resolves when the old loop has ended. */
  async stop(): Promise<void> {
    const [reader, running] = [this.#reader, this.#running];
    this.#reader = undefined;
    this.#running = undefined;
    reader?.disconnect();
    await running;
  }

  /**
   * README: "no revocation may be missed". XREAD resumes from the last id delivered, but it cannot say whether entries
   * after that id were trimmed (MAXLEN ~) before it ran: those would be skipped in silence. So a read is checked
   * against the stream's bounds (XINFO STREAM, cursorIsStale: the rule `since` applies to a consumer's cursor) when a
   * gap is possible, and only then, so a healthy reader costs one XREAD per wake-up as before:
   * - the first read, any read after a failed one, and any read after the connection dropped (between reads, or under
   *   a pending read ioredis then resent): XINFO and a non-blocking XREAD in one MULTI, so both see the same stream;
   * - a read that returned at least `minRetained` entries. The stream is only trimmed by `MAXLEN ~ minRetained`, which
   *   keeps at least the newest `minRetained`: an entry after our position is trimmed only when that many newer ones
   *   exist, all after our position too, so a read that skipped trimmed entries returns at least that many. Exact
   *   wherever the delay came from, where a time threshold is not: a reply held up in the network or behind a stalled
   *   event loop can look like a normal read by its timing. It runs after that read, so a burst trimmed right after
   *   it may be reported too: a needless re-snapshot, never a missed revocation.
   */
  async #loop(reader: Redis, from: Promise<string>, drops: () => number): Promise<void> {
    // Never a position from this process' clock: stream ids are Redis' clock, and a service clock ahead of it would
    // skip every entry up to the time it shows. Without a head, the whole retained stream (a rare, one-off replay:
    // listeners merge idempotently) rather than a guessed start that could lose an entry.
    let lastId = await from.catch(() => ZERO_STREAM_ID);
    /** The drop count under which the last read (checked or continuous with one) ran; -1: check the next read. */
    let continuous = -1;
    while (this.#reader === reader) {
      try {
        if (reader.status === 'wait') await reader.connect();
        const sentAt = drops();
        const checked = sentAt !== continuous;
        const deadline = () => reader.disconnect(true);
        const reply = checked
          ? await withDeadline(checkedRead(reader, this.#key, lastId), BLOCK_MS + GRACE_MS, deadline)
          : { entries: await withDeadline(blockingRead(reader, this.#key, lastId), BLOCK_MS + GRACE_MS, deadline), gap: false };
        if (this.#reader !== reader) break;
        // A reply that crossed a reconnect: discarded unseen, the checked read that follows reads the same entries again.
        if (drops() !== sentAt) continue;
        let { gap } = reply;
        if (!checked && reply.entries.length >= this.#options.minRetained) gap = await this.#trimmedPast(reader, lastId);
        if (this.#reader !== reader) break;
        continuous = sentAt;
        this.#readAt = Date.now();
        if (gap) this.#options.onGap();
        for (const entry of reply.entries) {
          lastId = entry[0];
          this.#options.onEntry(entry);
        }
      } catch {
        continuous = -1;
        if (this.#reader === reader) await sleep(RETRY_MS, undefined, { ref: false });
      }
    }
  }

  /** Whether entries after `cursor` are gone from the stream now (XINFO STREAM). */
  async #trimmedPast(reader: Redis, cursor: string): Promise<boolean> {
    const info = await withDeadline(reader.xinfo('STREAM', this.#key).catch(noSuchStream), GRACE_MS, () => reader.disconnect(true));
    return cursorIsStale(parseStreamId(cursor) as StreamId, streamBounds(info));
  }
}

/** The reader's steady state: wait up to BLOCK_MS for entries after `lastId`. */
async function blockingRead(reader: Redis, key: string, lastId: string): Promise<StreamEntry[]> {
  const reply = await reader.xread('BLOCK', BLOCK_MS, 'STREAMS', key, lastId);
  return (reply ?? []).flatMap(([, entries]) => entries as StreamEntry[]);
}

/** The stream's bounds and every retained entry after `lastId`, in one MULTI: whether the read skipped a trimmed entry. */
async function checkedRead(reader: Redis, key: string, lastId: string): Promise<{ entries: StreamEntry[]; gap: boolean }> {
  const results = await reader.multi().xinfo('STREAM', key).xread('STREAMS', key, lastId).exec();
  const [[infoError, info] = [null, null], [readError, reply] = [null, null]] = results ?? [];
  if (readError) throw readError;
  const bounds = streamBounds(infoError ? noSuchStream(infoError) : info);
  const entries = ((reply as Array<[string, StreamEntry[]]> | null) ?? []).flatMap(([, e]) => e);
  return { entries, gap: cursorIsStale(parseStreamId(lastId) as StreamId, bounds) };
}

/** XINFO STREAM on a key that does not exist: null (a stream never written, or lost with Redis' data). */
export function noSuchStream(error: Error): null {
  if (/no such key/i.test(error.message)) return null;
  throw error;
}

/**
 * What XINFO STREAM says about retention (a RESP2 flat array, replyMapping 'legacy'); a missing stream has generated
 * nothing, so any cursor but `0-0` is ahead of it (the stream was recreated).
 */
export function streamBounds(info: unknown): StreamBounds {
  if (info === null) return { lastGenerated: { ms: 0, seq: 0 }, firstRetained: undefined, trimmed: false };
  const fields = pairs(info as unknown[]);
  const lastGenerated = parseStreamId(String(fields.get('last-generated-id')));
  const entriesAdded = Number(fields.get('entries-added'));
  if (!lastGenerated || !Number.isSafeInteger(entriesAdded)) throw new Error('XINFO STREAM without entries-added: Redis 7.0 or newer is required');
  const firstEntry = fields.get('first-entry') as StreamEntry | null | undefined;
  return { lastGenerated, firstRetained: firstEntry ? parseStreamId(firstEntry[0]) : undefined, trimmed: entriesAdded > Number(fields.get('length')) };
}

/**
 * The stream's newest id (ZERO_STREAM_ID when empty), with XREVRANGE COUNT 1 written to the socket before this returns:
 * Redis runs one connection's commands in the order written, and on a Cluster the feed's keys share the stream's slot,
 * so whatever the caller sends afterwards on `redis` runs after this read. A pipeline, not a plain command: the
 * single-node client auto-pipelines, and an auto-pipelined command waits for setImmediate, so a MULTI sent in the same
 * tick (RevocationFeed.since) would overtake it.
 */
function readHead(redis: Redis, key: string): Promise<string> {
  const head = redis
    .pipeline()
    .xrevrange(key, '+', '-', 'COUNT', 1)
    .exec()
    .then((results) => {
      const [[error, entries] = [null, []]] = results ?? [];
      if (error) throw error;
      return (entries as StreamEntry[])[0]?.[0] ?? ZERO_STREAM_ID;
    });
  head.catch(() => {}); // awaited by the loop, which may not have started yet
  return head;
}

/** Rejects when `promise` has not settled within `ms` (after calling `onTimeout`); a late rejection is swallowed. */
async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`no reply within ${ms} ms`));
    }, ms);
  });
  promise.catch(() => {});
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A RESP2 flat array of field, value, field, value… as a Map. */
export function pairs(flat: unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}
