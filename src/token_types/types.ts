// What a validated subject or actor token tells the exchange, whatever its type.
import type { McpToolDetails } from 'delegation-token-verify';
import type { RevocationHits } from '../stores/types.js';

/** RFC 8693 §4.1 actor claim: the outermost is the current actor, nested ones are prior actors. */
export interface ActClaim {
  sub: string;
  iss?: string;
  act?: ActClaim;
}

export interface MayActClaim {
  sub?: string;
  iss?: string;
}

export type SubjectKind = 'user_token' | 'delegation' | 'external';

export interface SubjectContext {
  kind: SubjectKind;
  sub: string;
  /** Session id the delegation token will carry: the provider session uid, or the namespaced external session. */
  sid: string;
  /** The user's own grant: issued scopes can never be wider. */
  scopes: Set<string>;
  /** What the `sub` and `client` revocation cutoffs compare with: when the subject token was issued, or when its
   * session logged in if earlier (our own user token's session, an external JWT's `auth_time`), so nothing a session
   * obtains later escapes a cutoff it predates. */
  iat: number;
  exp: number;
  /** When the originating session ends, if known. */
  sessionEnd?: number;
  authTime?: number;
  acr?: string;
  groups: string[];
  /** The subject token's own act chain (multi-hop). */
  act?: ActClaim;
  mayAct?: MayActClaim;
  /** The client the subject token was issued to (own tokens) or requested it (delegation tokens). */
  issuedTo?: string;
  /** RFC 8693 §4.1: the client a user's token was issued to, as the prior actor a token exchanged from it by another
   * client names (our user token: `{sub: <client>}`; an external JWT: its `azp`, else `client_id`, with its `iss`). */
  holder?: ActClaim;
  /** For delegation tokens: the tool server the token was issued for. */
  audience?: string;
  jti?: string;
  /**
   * The `ancestors` claim of a token derived from this subject: the subject's own ancestors, then the digest of the
   * subject token's id (sessions/revocation.ts tokenDigest), root first. Empty when the subject has no revocable id.
   */
  lineage: string[];
  /** Revocation markers read with the token, in the same round trip. */
  revocations: RevocationHits;
  /** What a policy's `${subject.<claim>}` references resolve against: an external JWT's or a delegation token's claims,
   * a demo user's `sub`, `username`, `name` and `claims`. */
  claims?: Readonly<Record<string, unknown>>;
  /** RFC 9396 §9.1: the `authorization_details` the subject token carries (our delegation token on a hop, or an external
   * JWT): they bound what is granted from it; absent when it carries none. Locations canonical (policy/resource.ts). */
  authorizationDetails?: readonly McpToolDetails[];
  /** RFC 9449 §6: the thumbprint of the key the subject token is bound to (`cnf.jkt`, or the opaque token's `jkt`). */
  jkt?: string;
  /** Whether the subject's store read claimed the request's DPoP replay key (`ValidationContext.dpopReplay`); absent when it did not try. */
  dpopReplayClaimed?: boolean;
}

export interface ActorContext {
  sub: string;
  iss?: string;
}

/** Thrown by validators: the client sees a fixed description; `reason` goes to logs and audit. */
export class TokenRejected extends Error {
  override name = 'TokenRejected';
  constructor(
    readonly reason: string,
    readonly which: 'subject_token' | 'actor_token' = 'subject_token',
  ) {
    super(reason);
  }
}

/** Thrown when a dependency needed to judge the token is down (Redis, a JWKS): the exchange answers 503. */
export class DependencyUnavailable extends Error {
  override name = 'DependencyUnavailable';
}
