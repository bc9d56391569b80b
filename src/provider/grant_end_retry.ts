// Grant ends that failed because the store could not answer, kept in this process and run again until they succeed:
// a reused code or refresh token answered 503 must still end its grant once the store is back, with nobody asking again.
import { AsyncResource } from 'node:async_hooks';
import type { Logger } from 'pino';
import { scrub } from '../http/scrub.js';
import { grantRoot, tokenDigest } from '../sessions/revocation.js';

/**
 * What oneTimeGrants (index.ts) tells of each grant end it runs. Failures are numbered: an end that goes through settles
 * only the failures recorded before it started. One recorded while it ran (a token the winner of a race saved after
 * this end's revocation, its own revocation failing) is left for another round.
 */
export interface GrantEnds {
  /** An end of `grantId` starts: returns the number of failures recorded so far, to hand back to `ended`. */
  started(grantId: string): number;
  /** The end of `grantId` failed, and not with an oidc-provider answer: the store did. Keep it and run it again. */
  failed(grantId: string, err: unknown): void;
  /** `grantId`'s end went through (a request's, or a retry's): what failed of it before `startedAt` is done. */
  ended(grantId: string, startedAt: number): void;
}

/** The timer functions the retries use; tests pass their own to fire them at will. */
export interface RetryTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface GrantEndRetryMetrics {
  /** Grants whose end waits for a retry (`dts_grant_ends_pending`). */
  pending: { set(value: number): void };
  /** Retries, by result (`dts_grant_end_retries_total`). */
  retries: { inc(labels: { result: 'ended' | 'failed' }): void };
  /** Failed ends not kept: the set was full (`dts_grant_ends_dropped_total`). */
  dropped: { inc(): void };
}

export interface GrantEndRetryOptions {
  /**
   * The whole end of a grant, as a reuse runs it: the Grant destroyed through the adapter oidc-provider is given (its
   * destroy hooks publish the delegation tokens' root digest), then every token issued under it.
   */
  end: (grantId: string) => Promise<void>;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  metrics?: GrantEndRetryMetrics;
  /**
   * Most grants kept at once (10,000): an id and its place in a Set, about 200 bytes each, so at most a few MB; and
   * far more than one replica should ever see fail in one outage (a legitimate client never reuses a code or refresh
   * token). A flood of reuses during an outage then cannot grow the process without bound; past it, each failed end
   * is logged as an error and counted (`dts_grant_ends_dropped_total`), its request still answered 503.
   */
  maxGrants?: number;
  /** Delay before the first retry after a failure, doubled after every round that failed (500 ms). */
  baseDelayMs?: number;
  /** Cap of the delay between rounds (10 s): the longest a grant stays alive after the store is back. */
  maxDelayMs?: number;
  /** Grant ends run at once within a round (16). */
  concurrency?: number;
  /** In [0, 1): spreads each delay over its upper half, so replicas that failed together do not retry together. */
  random?: () => number;
  timers?: RetryTimers;
  /** Milliseconds, for the shutdown budget. */
  now?: () => number;
}

/** Of the 10 s that drainOnSignal (http/startup.ts) allows after the grace period, the share of the last attempt; the
 * audit flush and closing Redis come after it. */
export const FINAL_ATTEMPT_BUDGET_MS = 3_000;

/** At most this many digests in the log line listing the grants left at shutdown (the count is always there). */
const MAX_LOGGED_DIGESTS = 100;

const defaultTimers: RetryTimers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The only name a grant goes by in logs: the digest its delegation tokens carry (`ancestors`) and its revocation publishes. */
export const grantDigest = (grantId: string) => tokenDigest(grantRoot(grantId));

/** Why an end failed, for the log: an error's message (ServiceUnavailable's internal detail, its message being only the
 * RFC code), never the error object (ioredis errors carry the command's arguments: keys that hold token ids). */
const reason = (err: unknown) => {
  const detail = (err as { error_detail?: unknown } | undefined)?.error_detail;
  return scrub(typeof detail === 'string' ? detail : err instanceof Error ? err.message : err).slice(0, 200);
};

/**
 * RFC 6749 §4.1.2 / RFC 9700 §4.14.2 made durable within the process: a grant whose end failed is kept (a bounded,
 * insertion-ordered set) and ended again in rounds, with capped exponential backoff, until its end goes through.
 * The store is one thing, so backoff is shared: a round stops at the first batch that fails (a store that is down
 * fails them all, a hung one would make each wait its command timeout), and a grant whose end failed goes to the back,
 * so one that keeps failing for its own reason never holds up the others.
 *
 * @example
 * const grantEnds = new GrantEndRetry({ end: (id) => provider.Grant.adapter.destroy(id), logger });
 * const adapter = failClosed(Base, { grantEnds });
 * // shutdown, before the store is closed:
 * await grantEnds.finish(FINAL_ATTEMPT_BUDGET_MS);
 */
export class GrantEndRetry implements GrantEnds {
  readonly #end: (grantId: string) => Promise<void>;
  readonly #logger: GrantEndRetryOptions['logger'];
  readonly #metrics: GrantEndRetryMetrics | undefined;
  readonly #max: number;
  readonly #base: number;
  readonly #cap: number;
  readonly #concurrency: number;
  readonly #random: () => number;
  readonly #timers: RetryTimers;
  readonly #now: () => number;
  /** Timers are set from inside requests; run outside them, so a retry neither holds a request's context (oidc-provider
   * keeps `ctx` in an AsyncLocalStorage) nor is taken by oneTimeGrants for part of that request. */
  readonly #scope = new AsyncResource('GrantEndRetry');
  /** Grant id -> the number of its latest failure; insertion-ordered (a grant that failed again goes to the back). */
  readonly #pending = new Map<string, number>();
  /** Failures recorded so far: numbers them, and marks where an end started (`started`). One counter for every grant,
   * so a number never repeats, even for a grant cleared and failing again. */
  #recorded = 0;
  #timer: unknown;
  #round: Promise<void> | undefined;
  /** Rounds that failed in a row: the exponent of the next delay. */
  #failures = 0;
  #closed = false;

  constructor(o: GrantEndRetryOptions) {
    this.#end = o.end;
    this.#logger = o.logger;
    this.#metrics = o.metrics;
    this.#max = o.maxGrants ?? 10_000;
    this.#base = o.baseDelayMs ?? 500;
    this.#cap = o.maxDelayMs ?? 10_000;
    this.#concurrency = o.concurrency ?? 16;
    this.#random = o.random ?? Math.random;
    this.#timers = o.timers ?? defaultTimers;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Grants whose end waits for a retry. */
  get pending(): number {
    return this.#pending.size;
  }

  started(_grantId: string): number {
    return this.#recorded;
  }

  failed(grantId: string, err: unknown): void {
    const number = ++this.#recorded;
    // Already kept (a retry's own failure, or another end of it failing meanwhile): an end in flight must not clear it.
    // Its place is kept; the round that runs it reschedules.
    if (this.#pending.has(grantId)) {
      this.#pending.set(grantId, number);
      return;
    }
    if (this.#pending.size >= this.#max) {
      this.#metrics?.dropped.inc();
      this.#logger.error({ grantDigest: grantDigest(grantId), pending: this.#pending.size, reason: reason(err) }, 'grant end failed and is not retried: the retry set is full');
      return;
    }
    this.#pending.set(grantId, number);
    this.#metrics?.pending.set(this.#pending.size);
    if (this.#closed) {
      this.#logger.error({ grantDigest: grantDigest(grantId), reason: reason(err) }, 'grant end failed while shutting down: not retried');
      return;
    }
    this.#logger.warn({ grantDigest: grantDigest(grantId), pending: this.#pending.size, reason: reason(err) }, 'grant end failed: the store is unavailable; retrying');
    if (this.#timer === undefined && this.#round === undefined) this.#schedule();
  }

  ended(grantId: string, startedAt: number): void {
    const latest = this.#pending.get(grantId);
    // A failure recorded after this end started may be of a step it had already passed: kept for another round.
    if (latest === undefined || latest > startedAt) return;
    this.#pending.delete(grantId);
    this.#metrics?.pending.set(this.#pending.size);
  }

  /**
   * Shutdown: no more rounds; one last one within `budgetMs` (after a round in flight, within the same budget), then
   * logs the grants left, whose end is lost with the process. Resolves to how many are left.
   */
  async finish(budgetMs: number = FINAL_ATTEMPT_BUDGET_MS): Promise<number> {
    this.stop();
    const deadline = this.#now() + budgetMs;
    if (this.#round) await this.#withinBudget(this.#round, deadline);
    if (this.#pending.size > 0 && this.#now() < deadline) await this.#withinBudget(this.#runRound(deadline), deadline);
    const left = [...this.#pending.keys()];
    if (left.length > 0) {
      this.#logger.error({ left: left.length, grantDigests: left.slice(0, MAX_LOGGED_DIGESTS).map(grantDigest) }, 'grant ends left undone at shutdown: these grants stay valid until they expire');
    }
    return left.length;
  }

  /** Immediate stop: no more rounds (a round in flight runs to its end). */
  stop(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
  }

  /** Capped exponential backoff, spread over the upper half of each delay. */
  #delay(): number {
    const full = Math.min(this.#cap, this.#base * 2 ** this.#failures);
    return Math.round(full / 2 + (full / 2) * this.#random());
  }

  #schedule(): void {
    if (this.#closed) return;
    const ms = this.#delay();
    this.#timer = this.#scope.runInAsyncScope(() =>
      this.#timers.set(() => {
        this.#timer = undefined;
        void this.#runRound();
      }, ms),
    );
  }

  /** One round over the grants pending when it starts; then the next one is scheduled while any are left. */
  #runRound(deadline?: number): Promise<void> {
    const round = (async () => {
      let failed: { grantId: string; err: unknown } | undefined;
      const ids = [...this.#pending.keys()];
      for (let i = 0; i < ids.length && !failed; i += this.#concurrency) {
        if (deadline !== undefined && this.#now() >= deadline) break;
        const batch = ids.slice(i, i + this.#concurrency).filter((id) => this.#pending.has(id));
        for (const outcome of await Promise.all(batch.map((id) => this.#attempt(id)))) failed ??= outcome;
      }
      this.#failures = failed ? this.#failures + 1 : 0;
      if (failed && !this.#closed) {
        this.#logger.warn(
          { grantDigest: grantDigest(failed.grantId), pending: this.#pending.size, failedRounds: this.#failures, reason: reason(failed.err) },
          'grant end retry failed: the store is still unavailable',
        );
      }
    })();
    this.#round = round;
    return round.finally(() => {
      if (this.#round === round) this.#round = undefined;
      if (this.#pending.size > 0 && this.#timer === undefined && this.#round === undefined) this.#schedule();
    });
  }

  /** Runs one grant's end again; resolves to the failure, if it failed. */
  async #attempt(grantId: string): Promise<{ grantId: string; err: unknown } | undefined> {
    const startedAt = this.started(grantId);
    try {
      await this.#end(grantId);
    } catch (err) {
      this.#metrics?.retries.inc({ result: 'failed' });
      this.#toBack(grantId);
      return { grantId, err };
    }
    this.#metrics?.retries.inc({ result: 'ended' });
    this.ended(grantId, startedAt);
    if (this.#pending.has(grantId)) {
      // The store answered (no backoff), but an end of this grant failed while this one ran: once more, next round.
      this.#toBack(grantId);
      this.#logger.info({ grantDigest: grantDigest(grantId), pending: this.#pending.size }, 'grant ended on retry, but failed again meanwhile: ending it again');
      return undefined;
    }
    this.#logger.info({ grantDigest: grantDigest(grantId), pending: this.#pending.size }, 'grant ended on retry');
    return undefined;
  }

  /** To the back of the set, keeping its latest failure (unless a request ended it meanwhile). */
  #toBack(grantId: string): void {
    const latest = this.#pending.get(grantId);
    if (latest === undefined) return;
    this.#pending.delete(grantId);
    this.#pending.set(grantId, latest);
  }

  #withinBudget(work: Promise<unknown>, deadline: number): Promise<unknown> {
    let handle: unknown;
    const timeout = new Promise<void>((resolve) => {
      handle = this.#timers.set(resolve, Math.max(0, deadline - this.#now()));
    });
    return Promise.race([work, timeout]).finally(() => this.#timers.clear(handle));
  }
}
