// The signing thread's worker (started by jws_thread.ts): signs or verifies each job with jose and sends back what
// finished in each turn of its event loop, so one slow job never holds back the others.
import { parentPort } from 'node:worker_threads';
import type { CompactJWSHeaderParameters, CryptoKey, KeyObject } from 'jose';
import { signOnThisThread, verifyOnThisThread } from './jws_thread.js';

export type Job =
  | { id: number; key: number; sign: { header: CompactJWSHeaderParameters; payload: string } }
  | { id: number; key: number; verify: { jws: string; algorithms: string[] } };

export interface JobBatch {
  /** Keys to drop (least recently used, with no job owed), before `keys` are added: the map stays bounded. */
  forget: number[];
  /** Keys this worker does not hold (not sent yet, or forgotten since), by the number the jobs use. */
  keys: [number, CryptoKey | KeyObject][];
  jobs: Job[];
}

/**
 * Per finished job: its id, whether it succeeded, and the compact JWS (a signature) or `''` (a verification); on
 * failure jose's error code (a verification) or `''` (a signature). No message or stack crosses back.
 */
export interface JobResults {
  results: [id: number, ok: boolean, value: string][];
  /** How many keys this worker holds now (JwsThread.stats). */
  keys: number;
}

const keys = new Map<number, CryptoKey | KeyObject>();
const codeOf = (err: unknown) => String((err as { code?: unknown }).code ?? '');

if (parentPort) {
  const port = parentPort;
  let done: JobResults['results'] = [];
  const send = () => {
    const results = done;
    done = [];
    port.postMessage({ results, keys: keys.size } satisfies JobResults);
  };
  const finish = (id: number, ok: boolean, value: string) => {
    if (done.length === 0) setImmediate(send);
    done.push([id, ok, value]);
  };

  const run = (job: Job) => {
    const key = keys.get(job.key);
    if (!key) finish(job.id, false, '');
    else if ('sign' in job) {
      // The kid and alg travel in the header; the key is all the signer needs of the SigningKey.
      signOnThisThread({ kid: '', alg: '', key }, job.sign.header, job.sign.payload).then(
        (jws) => finish(job.id, true, jws),
        () => finish(job.id, false, ''),
      );
    } else {
      verifyOnThisThread(key, job.verify.jws, job.verify.algorithms).then(
        () => finish(job.id, true, ''),
        (err: unknown) => finish(job.id, false, codeOf(err)),
      );
    }
  };

  // One job started per turn of this thread's loop, so the results of jobs started before go back meanwhile: a batch
  // of ten does not hold its first signature until the tenth is started (measured: the request thread then idles less).
  const queue: Job[] = [];
  let draining = false;
  const next = () => {
    const job = queue.shift();
    if (job === undefined) {
      draining = false;
      return;
    }
    setImmediate(next);
    run(job);
  };
  port.on('message', (batch: JobBatch) => {
    for (const id of batch.forget) keys.delete(id);
    for (const [id, key] of batch.keys) keys.set(id, key);
    for (const job of batch.jobs) queue.push(job);
    if (!draining) {
      draining = true;
      next();
    }
  });
}
