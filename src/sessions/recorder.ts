// Subscribes to allowed exchanges and records them in the session registry (the delegation tree), off the request path.
import type { Logger } from 'pino';
import type { DecisionEvents } from '../audit/events.js';
import type { SessionRegistry } from '../stores/types.js';
import { actList } from '../token_types/act.js';

export function attachSessionRecorder(
  events: DecisionEvents,
  o: { sessions: SessionRegistry; issuerOf: (sid: string) => string; retentionSeconds: number; logger: Logger; onError: () => void },
): void {
  events.on((e) => {
    if (e.type !== 'exchange' || e.decision !== 'allow' || !e.sid || !e.sub || !e.jti || !e.exp || !e.toolServer) return;
    const [current, ...prior] = actList(e.act);
    o.sessions
      .recordIssued(
        { sid: e.sid, sub: e.sub, issuer: o.issuerOf(e.sid) },
        {
          at: Math.floor(e.time / 1000),
          clientId: current?.sub ?? e.clientId,
          priorActors: prior.map((a) => a.sub),
          toolServer: e.toolServer,
          scopes: e.grantedScopes ?? [],
          jti: e.jti,
          exp: e.exp,
          ...(e.subjectJti ? { parentJti: e.subjectJti } : {}),
        },
        o.retentionSeconds,
      )
      .catch((err: unknown) => {
        o.onError();
        o.logger.error({ err: (err as Error).message, sid: e.sid }, 'session record could not be stored');
      });
  });
}
