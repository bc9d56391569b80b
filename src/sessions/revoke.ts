// What revoking a session, a user, an agent or a single token does, in one place (admin API, CLI and logout use it).
import type Provider from 'oidc-provider';
import type { DecisionEvents } from '../audit/events.js';
import type { ExchangeStateStore, RevocationKind, RevocationRecord, SessionRegistry } from '../stores/types.js';
import { tokenDigest } from './revocation.js';

export interface RevocationDeps {
  provider: Provider;
  store: ExchangeStateStore;
  sessions: SessionRegistry;
  /** The account's provider sessions (Stores.providerSessionsOf): also those that never exchanged a token. */
  providerSessionsOf: (accountId: string) => Promise<string[]>;
  /** Whether a recorded session id is a trusted issuer's session (`x-<issuer hash>.<session>`), which only a `sid`
   * marker can end here. Default: none is. */
  isExternalSession?: (sid: string) => boolean;
  events: DecisionEvents;
  /** How long a revocation is kept: at least as long as the longest token it could affect. */
  retentionSeconds: number;
  now?: () => number;
}

export interface RevokeRequest {
  /** `token_digest` markers are written by this service itself (revokeToken, revokeDerivedFrom), never asked for. */
  kind: Exclude<RevocationKind, 'token_digest'>;
  value: string;
  by: string;
  reason?: string;
  requestId?: string;
}

/** A remembered consent removed by an admin (admin/onboarding.ts): its grants end, each publishing a `token_digest`. */
export interface ConsentRevocation {
  /** The user who gave the consent. */
  sub: string;
  /** The client it was given to. */
  clientId: string;
  /** The tool server it was for (RFC 8707 resource indicator). */
  resource: string;
  by: string;
  reason: string;
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
   * own sessions and grants it covers, so the user's opaque tokens die too, and for a user the trusted issuers'
   * sessions the registry recorded for them (a `sid` marker each). Safe to repeat.
   */
  async revoke(req: RevokeRequest): Promise<RevokeResult> {
    const now = this.#now();
    const marker = (kind: RevocationKind, value: string) => ({
      kind,
      value,
      revokedAt: now,
      expiresAt: now + this.#d.retentionSeconds,
      by: req.by,
      ...(req.reason ? { reason: req.reason } : {}),
    });
    // A revoked token's descendants die with it: they carry its digest in `ancestors`. Written first, so a failure
    // between the two leaves the descendants revoked rather than the token alone.
    if (req.kind === 'jti') await this.#d.store.revoke(marker('token_digest', tokenDigest(req.value)));
    const { record, created } = await this.#d.store.revoke(marker(req.kind, req.value));
    const endedSessions: string[] = [];
    // The marker is written and published: the revocation holds from here. Ending the provider's sessions may still
    // fail (the caller answers 503 and the admin retries); the trail records this attempt as the one that created the
    // marker, with `sessions_not_ended`, so the retry's `already_revoked` is not the first the trail says of it.
    let ended = false;
    try {
      if (req.kind === 'sid') {
        if (await this.endProviderSession(req.value)) endedSessions.push(req.value);
      } else if (req.kind === 'sub') {
        // The registry knows the sessions that got delegation tokens; the provider's index every session the user
        // logged in with (one that only holds an opaque user token included). A subject revocation ends them all.
        const [recorded, provider] = await Promise.all([this.#d.sessions.sidsOf(req.value), this.#d.providerSessionsOf(req.value)]);
        const external = recorded.filter((sid) => this.#d.isExternalSession?.(sid));
        for (const sid of new Set([...recorded.filter((sid) => !external.includes(sid)), ...provider])) {
          if (await this.endProviderSession(sid)) endedSessions.push(sid);
        }
        // A trusted issuer's session lives on at its IdP, which may issue JWTs for it after the cutoff (a refresh, one
        // without `auth_time`): a `sid` marker ends it here, as ending a provider session ends ours.
        for (const sid of external) {
          const written = await this.#d.store.revoke(marker('sid', sid));
          this.#audit({ ...req, kind: 'sid', value: sid }, written.created, true);
        }
      }
      ended = true;
    } finally {
      this.#audit(req, created, ended);
    }
    return { record, created, endedSessions };
  }

  #audit(req: RevokeRequest, created: boolean, ended: boolean): void {
    this.#d.events.emit({
      type: 'revocation',
      time: Date.now(),
      decision: 'allow',
      reasons: [created ? 'revoked' : 'already_revoked', ...(ended ? [] : ['sessions_not_ended'])],
      ...(req.requestId ? { requestId: req.requestId } : {}),
      clientId: req.by,
      kind: req.kind,
      value: req.value,
      ...(req.kind === 'sid' ? { sid: req.value } : {}),
      ...(req.kind === 'sub' ? { sub: req.value } : {}),
      ...(req.reason ? { reason: req.reason } : {}),
      created,
    });
  }

  /**
   * RFC 7009 revocation of one of the provider's own tokens (its id is its value): records a `token_digest` marker so
   * every delegation token derived from it is revoked too. Called before the provider destroys the token, so a store
   * failure fails the revocation request (the client retries) instead of leaving the descendants alive.
   */
  async revokeDerivedFrom(tokenId: string, by: string, reason = 'access token revoked (RFC 7009)', requestId?: string): Promise<void> {
    const now = this.#now();
    const value = tokenDigest(tokenId);
    const { created } = await this.#d.store.revoke({
      kind: 'token_digest',
      value,
      revokedAt: now,
      expiresAt: now + this.#d.retentionSeconds,
      by,
      reason,
    });
    this.#d.events.emit({
      type: 'revocation',
      time: Date.now(),
      decision: 'allow',
      reasons: [created ? 'revoked' : 'already_revoked'],
      ...(requestId ? { requestId } : {}),
      clientId: by,
      kind: 'token_digest',
      value,
      reason,
      created,
    });
  }

  /**
   * The audit record of a consent's revocation: who (`clientId`), which consent (`sub`, the client as `value`,
   * `resource`), why and in which request. Its grants' `token_digest` events say what was published, not whose consent
   * it was. `grantsEnded` false: the consent is gone but ending a grant failed (the caller answered 503).
   */
  consentRevoked(req: ConsentRevocation, grantsEnded: boolean): void {
    this.#d.events.emit({
      type: 'revocation',
      time: Date.now(),
      decision: 'allow',
      reasons: ['revoked', ...(grantsEnded ? [] : ['grants_not_ended'])],
      ...(req.requestId ? { requestId: req.requestId } : {}),
      clientId: req.by,
      kind: 'consent',
      value: req.clientId,
      sub: req.sub,
      resource: req.resource,
      reason: req.reason,
      created: true,
    });
  }

  /** Ends a provider session and every grant (and so every token) it holds; false when there was none. */
  async endProviderSession(sessionUid: string): Promise<boolean> {
    const { provider } = this.#d;
    const session = await provider.Session.findByUid(sessionUid);
    if (!session) return false;
    for (const auth of Object.values(session.authorizations ?? {})) {
      const grantId = (auth as { grantId?: string }).grantId;
      if (grantId) await this.endGrant(grantId);
    }
    await session.destroy();
    return true;
  }

  /** Ends a provider grant and every token issued from it (codes, access and refresh tokens); destroying the grant
   * publishes its digest, so the delegation tokens derived from it die too (service.ts, beforeDestroy). */
  async endGrant(grantId: string): Promise<void> {
    const { provider } = this.#d;
    const grant = await provider.Grant.find(grantId);
    await grant?.destroy();
    // One grant index covers every model in our adapters; the calls per model keep this true for any adapter.
    await provider.AccessToken.revokeByGrantId(grantId);
    await provider.AuthorizationCode.revokeByGrantId(grantId);
    await provider.RefreshToken.revokeByGrantId(grantId);
  }
}
