// Subscribes to allowed exchanges and records them in the session registry (the delegation tree), off the request path.
// Hops are queued and written in batches, one registry batch (one Redis round trip) per flush, like the audit writer,
// but at most once per `minIntervalMs` (revocation.sessionRecordIntervalMs), so a busy session is written once per batch.
// The queue is bounded: past `maxPending` waiting hops, new ones are dropped and counted.
import type { Logger } from 'pino';
import type { DecisionEvents } from '../audit/events.js';
import { validateIssued } from '../stores/session_records.js';
import type { IssuedEntry, SessionRegistry } from '../stores/types.js';
import { actList } from '../token_types/act.js';
import { createBatchQueue } from '../audit/batch_queue.js';

export interface SessionRecorderOptions {
  sessions: SessionRegistry;
  issuerOf: (sid: string) => string;
  retentionSeconds: number;
  logger: Logger;
  /** Called once per hop that could not be recorded (malformed, dropped from a full queue, or in a failed batch). */
  onError: () => void;
  /** Largest batch per round trip, and the most hops waiting before new ones are dropped (bounded memory). */
  maxBatch?: number;
  maxPending?: number;
  /** At least this long between two batches (see createBatchQueue); default 0. */
  minIntervalMs?: number;
}

export function attachSessionRecorder(events: DecisionEvents, o: SessionRecorderOptions): { flush(): Promise<void> } {
  const failed = (count: number, message: string, fields: Record<string, unknown>) => {
    for (let i = 0; i < count; i++) o.onError();
    o.logger.error({ ...fields, failed: count }, message);
  };
  const queue = createBatchQueue<IssuedEntry>({
    write: (batch) => o.sessions.recordIssuedMany(batch),
    onFailed: (batch, err) =>
      failed(batch.length, 'session records could not be stored', { err: (err as Error).message, sids: [...new Set(batch.map((e) => e.session.sid))].slice(0, 10) }),
    onDropped: (count) => failed(count, 'session records dropped: too many waiting to be stored', {}),
    ...(o.maxBatch ? { maxBatch: o.maxBatch } : {}),
    ...(o.maxPending ? { maxPending: o.maxPending } : {}),
    ...(o.minIntervalMs ? { minIntervalMs: o.minIntervalMs } : {}),
  });

  events.on((e) => {
    if (e.type !== 'exchange' || e.decision !== 'allow' || !e.sid || !e.sub || !e.jti || !e.exp || !e.toolServer) return;
    const [current, ...prior] = actList(e.act);
    const entry: IssuedEntry = {
      session: { sid: e.sid, sub: e.sub, issuer: o.issuerOf(e.sid) },
      hop: {
        at: Math.floor(e.time / 1000),
        clientId: current?.sub ?? e.clientId,
        priorActors: prior.map((a) => a.sub),
        toolServer: e.toolServer,
        scopes: e.grantedScopes ?? [],
        jti: e.jti,
        exp: e.exp,
        ...(e.subjectJti ? { parentJti: e.subjectJti } : {}),
        ...(e.jkt ? { jkt: e.jkt } : {}),
      },
      retentionSeconds: o.retentionSeconds,
    };
    // A malformed hop would fail its whole batch: refuse it here, alone.
    try {
      validateIssued(entry.session, entry.hop, entry.retentionSeconds);
    } catch (err) {
      failed(1, 'session record could not be stored', { err: (err as Error).message, sid: e.sid });
      return;
    }
    queue.push(entry);
  });
  return queue;
}
