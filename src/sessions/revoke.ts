// What revoking a session, a user, an agent or a single token does, in one place (admin API, CLI and logout use it).
import type Provider from 'oidc-provider';
import type { DecisionEvents } from '../audit/events.js';
import type { ExchangeStateStore, RevocationKind, RevocationRecord, SessionRegistry } from '../stores/types.js';

export interface RevocationDeps {
  provider: Provider;
  store: ExchangeStateStore;
  sessions: SessionRegistry;
  events: DecisionEvents;
  /** How long a revocation is kept: at least as long as the longest token it could affect. */
  retentionSeconds: number;
  now?: () => number;
}

export interface RevokeRequest {
  kind: RevocationKind;
  value: string;
  by: string;
  reason?: string;
  requestId?: string;
}

export interface RevokeResult {
  record: RevocationRecord;
  created: boolean;
  /** Provider sessions ended by this revocation (own sessions only). */
  endedSessions: string[];
}

export class RevocationService {
  readonly #d: RevocationDeps;
  readonly #now: () => number;

  constructor(deps: RevocationDeps) {
    this.#d = deps;
    this.#now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * Records the revocation (shared by every replica through the store and its event stream), then ends the provider's
   * own sessions and grants it covers, so the user's opaque tokens die too. Safe to repeat.
   */
  async revoke(req: RevokeRequest): Promise<RevokeResult> {
    const now = this.#now();
    const { record, created } = await this.#d.store.revoke({
      kind: req.kind,
      value: req.value,
      revokedAt: now,
      expiresAt: now + this.#d.retentionSeconds,
      by: req.by,
      ...(req.reason ? { reason: req.reason } : {}),
    });
    const endedSessions: string[] = [];
    if (req.kind === 'sid') {
      if (await this.endProviderSession(req.value)) endedSessions.push(req.value);
    } else if (req.kind === 'sub') {
      for (const sid of await this.#d.sessions.sidsOf(req.value)) {
        if (await this.endProviderSession(sid)) endedSessions.push(sid);
      }
    }
    this.#d.events.emit({
      type: 'revocation',
      time: Date.now(),
      decision: 'allow',
      reasons: [created ? 'revoked' : 'already_revoked'],
      ...(req.requestId ? { requestId: req.requestId } : {}),
      clientId: req.by,
      kind: req.kind,
      value: req.value,
      ...(req.kind === 'sid' ? { sid: req.value } : {}),
      ...(req.kind === 'sub' ? { sub: req.value } : {}),
      ...(req.reason ? { reason: req.reason } : {}),
      created,
    });
    return { record, created, endedSessions };
  }

  /** Ends a provider session and every grant (and so every token) it holds; false when there was none. */
  async endProviderSession(sessionUid: string): Promise<boolean> {
    const { provider } = this.#d;
    const session = await provider.Session.findByUid(sessionUid);
    if (!session) return false;
    for (const auth of Object.values(session.authorizations ?? {})) {
      const grantId = (auth as { grantId?: string }).grantId;
      if (!grantId) continue;
      const grant = await provider.Grant.find(grantId);
      await grant?.destroy();
      // One grant index covers every model in our adapters; the calls per model keep this true for any adapter.
      await provider.AccessToken.revokeByGrantId(grantId);
      await provider.AuthorizationCode.revokeByGrantId(grantId);
      await provider.RefreshToken.revokeByGrantId(grantId);
    }
    await session.destroy();
    return true;
  }
}
