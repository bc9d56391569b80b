// Revocation feed client (wire format v2, v1 understood): snapshot, then server-sent events, with reconnects and a staleness fuse.
import { setTimeout as sleep } from 'node:timers/promises';
import { VerifyError } from './errors.js';
import { basicAuthorization, issuerEndpoint, ISSUER_TIMEOUT_MS } from './issuer_http.js';
import type { RevocationCheck } from './revocation.js';
import { FEED_VERSIONS, parseRevocationRecord, RevocationSet, UnknownRecordKind } from './revocation_set.js';
import { SseParser } from './sse.js';
import type { FetchLike, IssuerClientCredentials, RevocationRecord, VerifiedToken, VerifierHealth } from './types.js';

const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5_000;

export interface FeedOptions extends IssuerClientCredentials {
  maxStalenessSeconds?: number;
}

export class FeedRevocation implements RevocationCheck {
  readonly #set = new RevocationSet();
  readonly #fetch: FetchLike;
  readonly #authorization: string;
  readonly #snapshotUrl: string;
  readonly #eventsUrl: string;
  readonly #maxStalenessMs: number;
  readonly #now: () => number;
  readonly #closing = new AbortController();
  readonly #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (err: unknown) => void;
  #cursor = '0-0';
  /** When we last heard anything from the issuer; 0 until the first snapshot. */
  #lastActivityMs = 0;
  #lastError = 'no snapshot yet';
  /**
   * Why our view is known to be incomplete, until a snapshot loads in full: the issuer said `reset` (our cursor fell out
   * of its event history, so revocations may be missing), or published something this SDK cannot apply (an unknown
   * version or record kind). Nothing on the stream clears it: a heartbeat vouches for the stream, not for what we missed.
   */
  #incomplete: string | undefined;

  constructor(options: FeedOptions, issuer: string, now: () => number = Date.now) {
    this.#now = now;
    const staleness = options.maxStalenessSeconds ?? 30;
    if (!(staleness > 0)) throw new TypeError('revocation.maxStalenessSeconds must be > 0');
    if (!options.clientId || !options.clientSecret) throw new TypeError('revocation feed needs clientId and clientSecret');
    this.#maxStalenessMs = staleness * 1000;
    this.#fetch = options.fetch ?? fetch;
    this.#authorization = basicAuthorization(options.clientId, options.clientSecret);
    this.#snapshotUrl = issuerEndpoint(issuer, 'revocations');
    // `v=2`: we understand v2 records; an issuer sends a consumer that does not say so a reset instead of one.
    this.#eventsUrl = `${issuerEndpoint(issuer, 'revocations/events')}?v=2`;
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Nobody is obliged to await ready(); a rejection on close must not become an unhandled rejection.
    this.#ready.catch(() => {});
    void this.#run();
  }

  check(_token: string, verified: VerifiedToken): void {
    // Fail closed: without a recent sign of life we cannot know what was revoked in the meantime.
    if (this.#lastActivityMs === 0) throw this.#unavailable(this.#lastError);
    // Fail closed: a record we missed or cannot apply might be the one that revokes this token.
    if (this.#incomplete !== undefined) {
      throw this.#unavailable(this.#incomplete === this.#lastError ? this.#incomplete : `${this.#incomplete}; ${this.#lastError}`);
    }
    const silentMs = this.#now() - this.#lastActivityMs;
    if (silentMs > this.#maxStalenessMs) throw this.#unavailable(`feed silent for ${silentMs} ms; ${this.#lastError}`);
    const record = this.#set.match(verified);
    if (record) {
      const reason = record.reason ? ` (${record.reason})` : '';
      throw new VerifyError('ERR_REVOKED', { detail: `revoked by ${record.kind}=${record.value}${reason}` });
    }
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  health(): VerifierHealth['revocation'] {
    if (this.#lastActivityMs === 0) return { mode: 'feed', fresh: false };
    const ageMs = Math.max(0, this.#now() - this.#lastActivityMs);
    // The same three conditions `check` refuses on, so the probe and the verdict can never disagree.
    return { mode: 'feed', fresh: this.#incomplete === undefined && ageMs <= this.#maxStalenessMs, ageMs };
  }

  close(): void {
    this.#closing.abort();
    this.#rejectReady(new VerifyError('ERR_REVOCATION_UNAVAILABLE', { detail: 'closed before first snapshot' }));
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closing.signal.aborted) {
      try {
        // The first connection, and any after a reset or something we could not apply ("until a snapshot it fully
        // understands", docs/revocation-feed.md), starts with a snapshot: resuming from our cursor would never bring
        // what we missed. A snapshot that fails is retried through the backoff below, so an issuer that resets every
        // time cannot make us spin, and we stay closed meanwhile.
        if (this.#lastActivityMs === 0 || this.#incomplete !== undefined) await this.#loadSnapshot();
        // The snapshot resolved ready(): a caller may have closed us in between, and must not be left an open stream.
        if (this.#closing.signal.aborted) return;
        await this.#stream(() => (failures = 0));
        if (this.#incomplete === undefined) this.#lastError = 'event stream ended';
      } catch (err) {
        if (this.#closing.signal.aborted) return;
        this.#lastError = err instanceof Error ? err.message : String(err);
      }
      const delay = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** failures++);
      try {
        await sleep(delay * (0.5 + Math.random() / 2), undefined, { signal: this.#closing.signal });
      } catch {
        return; // closed while waiting
      }
    }
  }

  async #loadSnapshot(): Promise<void> {
    const response = await this.#fetch(this.#snapshotUrl, {
      headers: { authorization: this.#authorization, accept: 'application/json' },
      signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(ISSUER_TIMEOUT_MS)]),
    });
    if (response.status !== 200) throw new Error(`snapshot answered ${response.status}`);
    const body = (await response.json()) as { v?: unknown; cursor?: unknown; revocations?: unknown };
    if (!FEED_VERSIONS.has(body.v)) throw this.#incompleteBecause(`snapshot wire format ${JSON.stringify(body.v)} is not one this SDK knows`);
    if (typeof body.cursor !== 'string' || !Array.isArray(body.revocations)) throw new Error('malformed snapshot');
    const now = this.#now() / 1000;
    let records: RevocationRecord[];
    try {
      records = body.revocations.map(parseRevocationRecord).filter((r): r is RevocationRecord => r !== undefined && r.expiresAt >= now);
    } catch (err) {
      if (err instanceof UnknownRecordKind) throw this.#incompleteBecause(err.message);
      throw err;
    }
    this.#set.replaceAll(records);
    this.#incomplete = undefined;
    this.#cursor = body.cursor;
    this.#lastActivityMs = this.#now();
    this.#resolveReady();
  }

  /** Follow the event stream until it ends, fails, goes silent or asks for a reset (which marks our view incomplete). */
  async #stream(onEvent: () => void): Promise<void> {
    const streamAbort = new AbortController();
    const stop = () => streamAbort.abort();
    this.#closing.signal.addEventListener('abort', stop, { once: true });
    // An 'abort' listener added to a signal already aborted never fires: close() must still end this stream.
    if (this.#closing.signal.aborted) stop();
    // A connection that stays open but carries nothing is as stale as a closed one: drop it and reconnect.
    const watchdog = setTimeout(stop, this.#maxStalenessMs);
    watchdog.unref();
    try {
      const response = await this.#fetch(this.#eventsUrl, {
        headers: {
          authorization: this.#authorization,
          accept: 'text/event-stream',
          'cache-control': 'no-cache',
          'last-event-id': this.#cursor,
        },
        signal: streamAbort.signal,
      });
      const type = response.headers.get('content-type') ?? '';
      if (response.status !== 200 || !type.startsWith('text/event-stream') || !response.body) {
        await response.body?.cancel();
        throw new Error(`event stream answered ${response.status} ${type}`);
      }
      const parser = new SseParser(this.#cursor);
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        for (const event of parser.push(decoder.decode(chunk, { stream: true }))) {
          // Our cursor fell out of the issuer's event history: revocations may be missing from our view, so refuse at
          // once (not only when the staleness bound runs out) until a snapshot has loaded.
          if (event.type === 'reset') {
            this.#incompleteBecause('event stream reset: revocations may be missing until a snapshot loads');
            return;
          }
          if (event.type === 'stale') {
            this.#replicaStale(event.data);
            continue;
          }
          if (event.type === 'heartbeat') {
            const v = (safeJson(event.data) as { v?: unknown } | undefined)?.v;
            if (v !== undefined && !FEED_VERSIONS.has(v)) throw this.#incompleteBecause(`event stream wire format ${JSON.stringify(v)} is not one this SDK knows`);
            this.#touch();
          } else if (event.type === 'revocation') {
            let record: RevocationRecord | undefined;
            try {
              record = parseRevocationRecord(safeJson(event.data));
            } catch (err) {
              if (!(err instanceof UnknownRecordKind)) throw err;
              // Not applied, not skipped: refuse every token until a snapshot we fully understand.
              this.#incompleteBecause(err.message);
              return;
            }
            if (record) this.#set.add(record);
            if (event.lastEventId) this.#cursor = event.lastEventId;
            this.#touch();
          } else continue;
          watchdog.refresh();
          onEvent();
        }
      }
    } finally {
      clearTimeout(watchdog);
      this.#closing.signal.removeEventListener('abort', stop);
      streamAbort.abort();
    }
  }

  #incompleteBecause(detail: string): Error {
    this.#incomplete = detail;
    this.#lastError = detail;
    return new Error(detail);
  }

  #touch(): void {
    this.#lastActivityMs = this.#now();
    this.#set.prune(this.#lastActivityMs / 1000);
  }

  /** The issuer's replica cannot read its revocation stream: what we know is only as fresh as its last good read. */
  #replicaStale(data: string): void {
    const age = (safeJson(data) as { age?: unknown } | undefined)?.age;
    const readAt = typeof age === 'number' && age >= 0 ? this.#now() - age * 1000 : -Infinity;
    // Never 0 (that means "no snapshot yet"); an unknown age counts as stale at once.
    this.#lastActivityMs = Math.max(1, Math.min(this.#lastActivityMs, readAt));
    this.#lastError = 'the issuer cannot read its revocation stream';
  }

  #unavailable(detail: string): VerifyError {
    return new VerifyError('ERR_REVOCATION_UNAVAILABLE', { detail });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
