// Signs the service's JWTs (and checks DPoP proofs' signatures) on a worker thread. The service runs every request's
// JavaScript on one thread, and under load that thread binds its rate (bench/README.md, "What binds the rate"); jose
// signs through Web Crypto, whose per-call dispatch (the job, WebIDL checks, a promise and its async hooks) costs that
// thread far more than handing the payload to a worker. Jobs asked for in one turn of the event loop go as one message.
import { Worker } from 'node:worker_threads';
import { CompactSign, compactVerify, type CompactJWSHeaderParameters, type CryptoKey, type KeyObject } from 'jose';
import type { Job, JobBatch, JobResults } from './jws_thread_worker.js';

/** A signing key as the key store holds it (non-extractable: it is cloned to the worker, never exported). */
export interface SigningKey {
  kid: string;
  alg: string;
  key: CryptoKey | KeyObject;
}

/** Signs a compact JWS: `header` protected, `payload` the exact UTF-8 text to sign. */
export type SignCompact = (key: SigningKey, header: CompactJWSHeaderParameters, payload: string) => Promise<string>;

const encoder = new TextEncoder();

/** jose's CompactSign on the calling thread (what the signing thread runs; the default where no thread is given). */
export const signOnThisThread: SignCompact = (signing, header, payload) => new CompactSign(encoder.encode(payload)).setProtectedHeader(header).sign(signing.key);

/** Verifies a compact JWS's signature with `key` (one of `algorithms`); when it fails, rejects with an error whose
 * `code` is jose's (jose's own error, or {@link JwsRejected} from the signing thread). */
export type VerifyCompact = (key: CryptoKey | KeyObject, jws: string, algorithms: string[]) => Promise<void>;

/** jose's compactVerify on the calling thread (what the signing thread runs; the default where no thread is given). */
export const verifyOnThisThread: VerifyCompact = async (key, jws, algorithms) => {
  await compactVerify(jws, key, { algorithms });
};

/** A signature that did not verify: `code` is jose's error code (e.g. `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`). */
export class JwsRejected extends Error {
  override name = 'JwsRejected';
  constructor(readonly code: string) {
    super('the JWS was rejected');
  }
}

/** The signing thread could not sign (it exited, failed to start or did not answer in time): fail closed with 503. */
export class SigningUnavailable extends Error {
  override name = 'SigningUnavailable';
}

export interface JwsThreadOptions {
  /** A signature not answered within this many milliseconds fails, with every other pending one, and the worker is
   * replaced. Default 5000. */
  timeoutMs?: number;
  /** After a worker exits, no new one starts for this long (requests fail fast meanwhile). Default 1000. */
  restartDelayMs?: number;
  /** The worker's entry (tests: a broken one). Default: jws_thread_worker next to this module. */
  workerUrl?: URL;
  /** Keys the worker holds at most (beyond those with a job still owed): past it the least recently used are
   * forgotten, and a forgotten key used again is sent again. Every distinct DPoP proof key passes through the worker,
   * so without a bound it would keep them all (~5 KB each). Default 2048: the proof checker's key cache (1000) and the
   * signing keys, with room to spare. */
  maxKeys?: number;
}

/** What the signing thread holds, for metrics and tests. */
export interface JwsThreadStats {
  /** Keys the current worker holds, as it reported with its last answer (0 before its first answer or without one). */
  workerKeys: number;
  /** Keys this side counts as held by the current worker (after the forgets it has sent). */
  sentKeys: number;
}

interface Pending {
  resolve: (value: string) => void;
  reject: (err: Error) => void;
  /** A verification: a failure is the JWS's, not the thread's. */
  verify: boolean;
}

/** A key the worker holds: how many jobs sent with it have not been answered (a key is never forgotten while one is). */
interface HeldKey {
  owed: number;
}

const OWN_WORKER = new URL(`./jws_thread_worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export interface JwsThread {
  sign: SignCompact;
  verify: VerifyCompact;
  /** How many keys the worker holds (bounded by `maxKeys`). */
  stats(): JwsThreadStats;
  /** Stops the worker; signatures still pending fail with SigningUnavailable. */
  close(): Promise<void>;
}

/**
 * One worker thread that signs with jose. Keys are cloned to it once each (a CryptoKey stays non-extractable), by
 * identity, so a rotated key reaches it with the first token it signs. It holds the `maxKeys` most recently used; a
 * key forgotten since is cloned to it again with its next job.
 *
 * @example
 * const jws = createJwsThread();
 * const token = await jws.sign(keys.signing, { alg: 'ES256', typ: 'at+jwt', kid: keys.signing.kid }, JSON.stringify(claims));
 * await jws.close();
 */
export function createJwsThread(options: JwsThreadOptions = {}): JwsThread {
  const timeoutMs = options.timeoutMs ?? 5000;
  const restartDelayMs = options.restartDelayMs ?? 1000;
  const workerUrl = options.workerUrl ?? OWN_WORKER;
  const maxKeys = options.maxKeys ?? 2048;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new TypeError('maxKeys must be a positive integer');
  const keyIds = new WeakMap<object, number>();
  let nextKeyId = 1;
  let nextJobId = 1;
  let queue: { job: Job; pending: Pending; keyObject: SigningKey['key'] }[] = [];
  let flushScheduled = false;
  let closed = false;

  // The current worker, the keys it holds (least recently used first) and the signatures it owes; replaced as a whole
  // when it fails.
  interface WorkerState {
    worker: Worker;
    held: Map<number, HeldKey>;
    /** The size of the worker's key map, as it reported with its last answer. */
    workerKeys: number;
    inflight: Map<number, { pending: Pending; sentAt: number; key: number }>;
  }
  let current: WorkerState | undefined;
  /** When the last worker exited or failed: no new one starts within `restartDelayMs` of that (a worker that dies at
   * start is not restarted for every job). A silent worker, replaced after `timeoutMs`, is replaced at once. */
  let lastExit = -Infinity;

  const fail = (jobs: Iterable<{ pending: Pending }>, why: string) => {
    for (const j of jobs) j.pending.reject(new SigningUnavailable(why));
  };

  const retire = async (why: string, exited = true) => {
    const old = current;
    if (!old) return;
    current = undefined;
    if (exited) lastExit = performance.now();
    fail(old.inflight.values(), why);
    old.inflight.clear();
    await old.worker.terminate();
  };

  const start = () => {
    const worker = new Worker(workerUrl);
    // Idle, a signing worker never keeps the process running; while it owes signatures it does (their callers wait).
    worker.unref();
    const state: WorkerState = { worker, held: new Map(), workerKeys: 0, inflight: new Map() };
    worker.on('message', ({ results, keys }: JobResults) => {
      state.workerKeys = keys;
      for (const [id, ok, value] of results) {
        const job = state.inflight.get(id);
        if (!job) continue;
        state.inflight.delete(id);
        const held = state.held.get(job.key);
        if (held) held.owed--;
        if (state.inflight.size === 0) worker.unref();
        if (ok) job.pending.resolve(value);
        else job.pending.reject(job.pending.verify ? new JwsRejected(value) : new SigningUnavailable('the signing thread could not sign'));
      }
    });
    worker.on('error', () => {
      if (current === state) void retire('the signing thread failed');
    });
    worker.on('exit', () => {
      if (current === state) void retire('the signing thread exited');
    });
    current = state;
    return state;
  };

  const flush = () => {
    flushScheduled = false;
    const jobs = queue;
    queue = [];
    if (jobs.length === 0) return;
    if (closed) return fail(jobs, 'the signing thread is closed');
    if (!current && performance.now() - lastExit < restartDelayMs) return fail(jobs, 'the signing thread is restarting');
    const state = current ?? start();
    const keys: [number, SigningKey['key']][] = [];
    const sentAt = performance.now();
    if (state.inflight.size === 0) state.worker.ref();
    const batch: JobBatch = { forget: [], keys, jobs: [] };
    for (const { job, pending, keyObject } of jobs) {
      const held = state.held.get(job.key);
      if (held) {
        // Most recently used last: Map keeps insertion order.
        state.held.delete(job.key);
        state.held.set(job.key, held);
        held.owed++;
      } else {
        state.held.set(job.key, { owed: 1 });
        keys.push([job.key, keyObject]);
      }
      job.id = nextJobId++;
      batch.jobs.push(job);
      state.inflight.set(job.id, { pending, sentAt, key: job.key });
    }
    // Past maxKeys the least recently used go, but never one a job still needs: those of this batch are owed, and the
    // worker runs its jobs in order, so one it has not answered yet may still be queued there.
    for (const [id, held] of state.held) {
      if (state.held.size <= maxKeys) break;
      if (held.owed > 0) continue;
      state.held.delete(id);
      batch.forget.push(id);
    }
    try {
      state.worker.postMessage(batch);
    } catch {
      void retire('the signing thread could not be reached');
    }
  };

  // One timer for every signature: a worker that stops answering fails what it owes and is replaced.
  const watchdog = setInterval(() => {
    const state = current;
    if (!state) return;
    const now = performance.now();
    for (const job of state.inflight.values()) {
      // Jobs are sent in order: the first one is the oldest.
      if (now - job.sentAt > timeoutMs) void retire('the signing thread did not answer in time', false);
      return;
    }
  }, Math.min(1000, timeoutMs));
  watchdog.unref();

  start();

  const enqueue = (keyObject: SigningKey['key'], make: (key: number) => Job, verify: boolean) =>
    new Promise<string>((resolve, reject) => {
      let key = keyIds.get(keyObject);
      if (key === undefined) keyIds.set(keyObject, (key = nextKeyId++));
      queue.push({ job: make(key), pending: { resolve, reject, verify }, keyObject });
      if (!flushScheduled) {
        flushScheduled = true;
        // Every job asked for in this turn of the event loop goes in one message.
        setImmediate(flush);
      }
    });

  return {
    sign: (signing, header, payload) => enqueue(signing.key, (key) => ({ id: 0, key, sign: { header, payload } }), false),
    verify: async (keyObject, jws, algorithms) => {
      await enqueue(keyObject, (key) => ({ id: 0, key, verify: { jws, algorithms } }), true);
    },
    stats: () => ({ workerKeys: current?.workerKeys ?? 0, sentKeys: current?.held.size ?? 0 }),
    async close() {
      closed = true;
      clearInterval(watchdog);
      await retire('the signing thread is closed');
    },
  };
}
