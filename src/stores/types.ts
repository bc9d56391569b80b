// Storage interfaces, one per concern. Each has a Redis implementation (stores/redis/) and an in-memory one
// (stores/memory/) for single-instance development; both run the same contract suite (test/stores/).

/** A stored oidc-provider model payload (opaque to us except for the fields named in the interfaces below). */
export type AdapterPayload = Record<string, unknown> & {
  jti?: string;
  kind?: string;
  exp?: number;
  iat?: number;
  uid?: string;
  grantId?: string;
  userCode?: string;
  consumed?: number;
};

/**
 * The oidc-provider Adapter contract (see oidc-provider's example adapter), for one model name.
 * - `upsert` replaces the whole record and (re)sets its expiry to `expiresIn` seconds.
 * - `consume` is a compare-and-set: it stamps `consumed` (epoch seconds) on an existing, unconsumed record; otherwise
 *   (already consumed, or gone) it rejects with `AlreadyConsumed` (stores/errors.ts), naming the record's grant, so one
 *   code or refresh token is honoured once even when requests race (RFC 6749 §4.1.2). Each call names itself with a
 *   `stamp` (by default a fresh random one, oidc_records.ts consumeStamp), stored with `consumed`: the same call
 *   repeated (a command resent after its reply was lost) succeeds again, so a lost reply never turns the one
 *   legitimate use into a reuse. A payload saved with `consumed` carries no stamp: every consume of it is refused.
 * - `revokeByGrantId` destroys every record that carried that `grantId`.
 * Records expire on their own; nothing grows without bound.
 */
export interface OidcAdapter {
  upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  consume(id: string, stamp?: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/**
 * `token_digest`: base64url(SHA-256(token id)) of a revoked token (an opaque token's id is its value, so the id itself is
 * never stored); it revokes every delegation token whose `ancestors` claim carries that digest.
 */
export type RevocationKind = 'sid' | 'sub' | 'client' | 'jti' | 'token_digest';

/** One revocation record. `revokedAt` and `expiresAt` are epoch seconds. */
export interface RevocationRecord {
  kind: RevocationKind;
  value: string;
  revokedAt: number;
  expiresAt: number;
  by?: string;
  reason?: string;
}

/** Which revocation markers to read for one subject. */
export interface RevocationQuery {
  sid?: string;
  sub?: string;
  jti?: string;
  /** Every client in the actor chain plus the requesting client. */
  clientIds: string[];
  /** The token's `ancestors` digests (tokens it was derived from). */
  ancestors?: string[];
}

/** The markers found; absent members mean "not revoked". */
export interface RevocationHits {
  sid?: RevocationRecord;
  sub?: RevocationRecord;
  jti?: RevocationRecord;
  clients: RevocationRecord[];
  /** A revoked ancestor (`token_digest` marker), if any. */
  ancestor?: RevocationRecord;
}

/** What one round trip returns for a provider-issued opaque access token used as a subject token. */
export interface OpaqueSubjectState {
  /** The AccessToken record, or undefined when unknown or expired. */
  token: AdapterPayload | undefined;
  /** The provider Session the token is bound to (found by the token's `sessionUid`), or undefined. */
  session: AdapterPayload | undefined;
  /** Revocation markers for the token's session uid (`sid`), `accountId` (`sub`), its `clientId` and `extraClientIds`. */
  revocations: RevocationHits;
}

/** The opaque token and its session, with no revocation marker, and the revocation stream's newest id read with them. */
export interface OpaqueTokenState {
  token: AdapterPayload | undefined;
  session: AdapterPayload | undefined;
  /** `RevocationFeed.head()` read in the same step: the fence of the replica's revocation view (sessions/revocation_view.ts). */
  revocationHead: string;
  /** Present only when the read was given a `ReplayClaim`: whether this read claimed it (`DpopReplayStore.claim`'s answer). */
  replayClaimed?: boolean;
}

/** A DPoP proof's replay key to claim in the same step as a read (`DpopReplayStore.claim`'s arguments). */
export interface ReplayClaim {
  key: string;
  ttlSeconds: number;
}

/**
 * Reads everything the exchange needs about its subject in exactly one Redis round trip (one Lua call or one pipeline),
 * never one per check.
 */
export interface ExchangeStateStore {
  readOpaqueSubject(tokenId: string, extraClientIds: string[]): Promise<OpaqueSubjectState>;
  /**
   * `readOpaqueSubject` for a replica that checks revocation against its in-memory view: no marker is read; the
   * revocation stream's head is read instead (single Redis: one script; Redis Cluster: the token, the head and, for a
   * token seen before, its session record together; else then the session uid index and the session record).
   * `digest`: the token's SHA-256 (tokenDigest, which the caller computes anyway); the cluster read remembers sessions by it.
   * `replay`: a DPoP proof's replay key, claimed in the same step exactly as `DpopReplayStore.claim` would (single Redis:
   * inside the same script; Redis Cluster: a `SET NX` sent with the reads), whatever the token turns out to be.
   */
  readOpaqueToken(tokenId: string, digest: string, replay?: ReplayClaim): Promise<OpaqueTokenState>;
  readRevocations(query: RevocationQuery): Promise<RevocationHits>;
  /**
   * Writes a revocation marker that expires at `record.expiresAt`, indexes it for the feed snapshot and appends it to the
   * revocation event stream, atomically (the rule is mergeRevocation() in revocation.ts). `created: true` means this call
   * recorded a revocation and published it as a feed event: a marker that did not exist, or, for the cutoff kinds `sub`
   * and `client`, a later `revokedAt` (the record, with its `by` and `reason`, replaces the stored one). Anything else
   * is a repeat: `created: false`; when it widens the retention to a later expiresAt, the changed record is published as
   * an event all the same (views and feed consumers keep the marker that long).
   */
  revoke(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }>;
}

/**
 * RFC 9449 §11.1 replay protection of DPoP proofs. `claim` is atomic across every user of the store (all replicas
 * sharing one Redis): exactly one caller gets `true` for a key while it lives; the key expires after `ttlSeconds`
 * (the proof's acceptance window), so nothing grows without bound.
 */
export interface DpopReplayStore {
  claim(key: string, ttlSeconds: number): Promise<boolean>;
}

/** A user's remembered consent for one client and one tool server (or this service itself): what the consent page granted. */
export interface ConsentRecord {
  accountId: string;
  clientId: string;
  /** The resource indicator (RFC 8707) the consent is for. */
  resource: string;
  /** Every scope consented to so far for this resource (tool scopes and OpenID scopes such as offline_access), sorted. */
  scopes: string[];
  /** The provider grants made under this consent that may still be alive, oldest first: revoking ends them. */
  grantIds: string[];
  /**
   * True once a grant id that may still be alive was dropped (more than MAX_CONSENT_GRANTS at once, or a record written
   * before grant ids were kept until they expire): `grantIds` cannot name every grant, so revoking the consent must reach
   * the others another way (admin/onboarding.ts revokes the user). Stays true until the consent is removed.
   */
  grantsOverflowed: boolean;
  /** Epoch seconds. */
  createdAt: number;
  updatedAt: number;
}

/**
 * The most grant ids one consent keeps: grants live at most a login session (`userTokens.sessionTtlSeconds`), one per
 * session, so this many at once is far beyond any person; reaching it sets `grantsOverflowed` (the oldest is dropped).
 */
export const MAX_CONSENT_GRANTS = 1000;

/** What the store kept per consent before grant ids expired (the newest 20): such a full record may have dropped some. */
export const LEGACY_CONSENT_GRANTS = 20;

/**
 * Consents remembered per (user, client, resource), shared by replicas; kept until revoked (no TTL).
 * - `remember` is atomic: the scopes are added to the record's (a union), the grant id appended (moved to the end when
 *   present), kept until `keepUntil` (its latest), the record created when absent. The same write drops the grant ids
 *   whose `keepUntil` is before `at`; one without `keepUntil` is kept until the consent is removed. Beyond
 *   MAX_CONSENT_GRANTS the oldest is dropped and the record marked `grantsOverflowed`.
 * - `remove` returns the record it removed, so its grants can be ended.
 */
export interface ConsentStore {
  /**
   * `at`: epoch seconds, the write's now. `keepUntil`: epoch seconds after which neither the grant nor any token issued
   * from it can be alive (its expiry plus the longest lifetime of a token issued from it); absent, kept until removed.
   */
  remember(c: { accountId: string; clientId: string; resource: string; scopes: string[]; grantId: string; at: number; keepUntil?: number }): Promise<ConsentRecord>;
  find(accountId: string, clientId: string, resource: string): Promise<ConsentRecord | undefined>;
  /**
   * One page of the records matching every given filter member: newest first (`createdAt` descending, ties in a fixed
   * order; onboarding_order.ts), after `page.cursor` when given. The order never changes while a record lives, so
   * pages read one after another neither skip nor repeat one (a record removed meanwhile is gone, one added may be
   * missed). A cursor that is not one of this listing's is a TypeError. Reads every record (one HSCAN on Redis).
   */
  list(filter: { accountId?: string; clientId?: string }, page: { cursor?: string; limit: number }): Promise<Page<ConsentRecord>>;
  /**
   * The document clients (`https://` ids: onboarding_order.ts `isDocumentClientId`) holding at least one consent, each
   * with how many, in `clientOrderKey` order (fixed while a client is listed), only those after the position `after`
   * (a clientOrderKey) when given, at most `limit`. A malformed `after` is a TypeError. Reads only what it returns: an
   * index that `remember` (a new record) and `remove` keep in the same atomic step as the record.
   */
  listDocumentClients(limit: number, after?: string): Promise<DocumentClientEntry[]>;
  remove(accountId: string, clientId: string, resource: string): Promise<ConsentRecord | undefined>;
}

/** A client identified by a Client ID Metadata Document that users consented to, as listed by the consent store. */
export interface DocumentClientEntry {
  clientId: string;
  /** How many consent records (user, resource) it holds. */
  consents: number;
}

/** One client onboarded by Dynamic Client Registration, as listed by the store. */
export interface RegisteredClientEntry {
  clientId: string;
  /** Epoch seconds the client is deleted at unless it is used again. */
  expiresAt: number;
}

/**
 * Client onboarding state shared by replicas (rate limits, the index of registered clients, the Client ID Metadata
 * Documents accepted lately).
 * - `hit` is atomic: the window starts at the bucket's first hit and lasts `windowSeconds`; the count includes this hit.
 * - `addClient` is atomic: expired entries are dropped, then the client is listed only while fewer than `max` are.
 * - `rememberDocument` is atomic the same way: expired entries are dropped, then the URL is recorded (or its expiry
 *   moved) only when it is recorded already or fewer than `max` are.
 * Entries expire on their own; nothing grows without bound.
 */
export interface OnboardingStore {
  hit(bucket: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }>;
  addClient(clientId: string, expiresAt: number, max: number): Promise<boolean>;
  /** Moves a listed client's expiry; a client that is not listed stays unlisted. */
  touchClient(clientId: string, expiresAt: number): Promise<void>;
  /**
   * Unexpired clients in `clientOrderKey` order (onboarding_order.ts: fixed while a client is listed, so pages read
   * one after another neither skip nor repeat one), only those after the position `after` (the clientOrderKey of the
   * previous page's last client) when given, at most `limit`. A malformed `after` is a TypeError. Reads from an index
   * kept in that order (in step with the expiry index: `addClient` and `removeClient` write both at once): what it
   * returns, plus the expired entries it passes, which it removes (so each is passed once).
   */
  listClients(limit: number, after?: string): Promise<RegisteredClientEntry[]>;
  /** Whether the client was listed. */
  removeClient(clientId: string): Promise<boolean>;
  /**
   * Records a document URL (a CIMD `client_id`) as accepted for `ttlSeconds` from now; a repeat moves the expiry.
   * False, and nothing recorded, when the URL is not recorded yet and `max` unexpired URLs are.
   */
  rememberDocument(url: string, ttlSeconds: number, max: number): Promise<boolean>;
  /** Whether `rememberDocument` recorded the URL and its time has not run out since. */
  knownDocument(url: string): Promise<boolean>;
}

/** A user who logged in through the upstream OpenID provider (issue 12 item 6): what findAccount and the policy read. */
export interface UpstreamAccount {
  /** Our account id: `x-<issuer hash>|<upstream sub>`. */
  id: string;
  issuer: string;
  sub: string;
  /** From the configured groups claim at the latest login. */
  groups: string[];
  /** Display claims kept from the ID token (`name`, `email`, `preferred_username`), for policy references. */
  claims: Record<string, string>;
}

/** The checks of one upstream authorization request, kept under the interaction uid until its callback. */
export interface UpstreamAuthorization {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** Who logged in upstream during one interaction, kept until the interaction resumes and our session uid is known. */
export interface UpstreamLogin {
  accountId: string;
  /** The upstream session (`sid` of its ID token), when it sent one. */
  upstreamSid?: string;
}

/**
 * Upstream login state shared by replicas. Every record expires on its own (`ttlSeconds`); `take*` and `claimLogoutToken`
 * are atomic (exactly one caller gets a pending record or claims a logout token id). Session links are indexed by the
 * upstream session and by the account, each entry expiring with our session (pruned on every link).
 */
export interface UpstreamLoginStore {
  putAuthorization(uid: string, value: UpstreamAuthorization, ttlSeconds: number): Promise<void>;
  takeAuthorization(uid: string): Promise<UpstreamAuthorization | undefined>;
  putLogin(uid: string, value: UpstreamLogin, ttlSeconds: number): Promise<void>;
  takeLogin(uid: string): Promise<UpstreamLogin | undefined>;
  putAccount(account: UpstreamAccount, ttlSeconds: number): Promise<void>;
  getAccount(id: string): Promise<UpstreamAccount | undefined>;
  /** Records that our session `sessionUid` came from this upstream session and account, until `expiresAt` (epoch s). */
  linkSession(link: { accountId: string; upstreamSid?: string; sessionUid: string }, expiresAt: number): Promise<void>;
  /** Our live session uids linked to an upstream session id or to an account. */
  sessionsOf(key: { upstreamSid: string } | { accountId: string }): Promise<string[]>;
  /** OpenID Back-Channel Logout §2.6: a logout token id is accepted once while it lives. */
  claimLogoutToken(key: string, ttlSeconds: number): Promise<boolean>;
}

/** Health of the backing store, for /readyz and the fail-closed rule. */
export interface StoreHealth {
  ping(): Promise<boolean>;
}

/** The set of stores one service instance uses. */
export interface Stores {
  kind: 'redis' | 'memory';
  adapterFor(model: string): OidcAdapter;
  /**
   * The uids of an account's unexpired provider sessions (oidc-provider's Session records, indexed when stored), so a
   * subject revocation ends every session of the user, also one that never exchanged a token. A session destroyed
   * since may still be listed: look each one up.
   */
  providerSessionsOf(accountId: string): Promise<string[]>;
  exchange: ExchangeStateStore;
  sessions: SessionRegistry;
  audit: AuditLog;
  revocations: RevocationFeed;
  onboarding: OnboardingStore;
  consents: ConsentStore;
  dpopReplay: DpopReplayStore;
  upstreamLogin: UpstreamLoginStore;
  health: StoreHealth;
  close(): Promise<void>;
}

export interface StoreLimits {
  /** Audit stream bounds. */
  auditMaxLength: number;
  auditMaxAgeSeconds: number;
  /** Hops kept per session record. */
  maxHopsPerSession: number;
}

// ---- Session registry, audit log and revocation feed (admin API, audit trail, tool-server revocation status) ----

/** One issued delegation token: a hop of the delegation tree. */
export interface SessionHop {
  /** Epoch seconds. */
  at: number;
  /** The client that obtained the token (the current actor). */
  clientId: string;
  /** Prior actors, most recent first (from the token's nested `act`). */
  priorActors: string[];
  toolServer: string;
  scopes: string[];
  jti: string;
  exp: number;
  /** The jti of the delegation token this one was exchanged from (multi-hop), if any. */
  parentJti?: string;
  /** RFC 9449: the thumbprint of the DPoP key the token is bound to (`cnf.jkt`), if it is bound. */
  jkt?: string;
}

export interface SessionSummary {
  sid: string;
  sub: string;
  /** `self` for the provider's own sessions, else the external issuer. */
  issuer: string;
  firstAt: number;
  lastAt: number;
  tokensIssued: number;
  clients: string[];
  toolServers: string[];
}

export interface SessionRecord extends SessionSummary {
  /** Delegation tokens still alive (not yet expired). */
  liveJtis: Array<{ jti: string; exp: number }>;
  /** The most recent hops, oldest first (bounded). */
  hops: SessionHop[];
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; absent on the last page. */
  next?: string;
}

/** One issued token to record: the session it belongs to, the hop, and how long to keep the session after it expires. */
export interface IssuedEntry {
  /** `sub` and `issuer` are taken from the session's first recorded token; later entries cannot change them. */
  session: { sid: string; sub: string; issuer: string };
  hop: SessionHop;
  retentionSeconds: number;
}

/**
 * A record per delegating session. Writes happen after the response (never on the exchange's check path); every key
 * expires on its own `retentionSeconds` after the session's last token expires, and the hop list is bounded.
 */
export interface SessionRegistry {
  /**
   * Records a batch of issued tokens, in order, in one round trip. Every entry is validated first: a malformed one
   * rejects the whole batch with a TypeError and nothing is written.
   */
  recordIssuedMany(entries: IssuedEntry[]): Promise<void>;
  /** `recordIssuedMany` with one entry. */
  recordIssued(session: { sid: string; sub: string; issuer: string }, hop: SessionHop, retentionSeconds: number): Promise<void>;
  get(sid: string): Promise<SessionRecord | undefined>;
  /** Most recently active first. */
  list(filter: { sub?: string; clientId?: string }, page: { cursor?: string; limit: number }): Promise<Page<SessionSummary>>;
  /** Every session id recorded for a subject (for "revoke user"). */
  sidsOf(sub: string): Promise<string[]>;
}

/** An audit event as stored: flat, JSON-safe, never a token or secret. */
export interface StoredAuditEvent {
  /** Epoch milliseconds. */
  time: number;
  /** `exchange`, `revocation` or `admin`. */
  type: string;
  decision: 'allow' | 'deny';
  sub?: string;
  sid?: string;
  clientId?: string;
  [key: string]: unknown;
}

/** The durable audit stream, bounded by length and by age. */
export interface AuditLog {
  /** Appends a batch in one round trip. */
  append(events: StoredAuditEvent[]): Promise<void>;
  /** Newest first; filters combine with AND; `since` is epoch milliseconds. */
  query(
    filter: { sid?: string; sub?: string; clientId?: string; decision?: 'allow' | 'deny'; type?: string; since?: number },
    page: { cursor?: string; limit: number },
  ): Promise<Page<StoredAuditEvent & { id: string }>>;
  length(): Promise<number>;
}

/** A revocation event as delivered to tool servers: the stream id is the cursor. */
export interface RevocationEvent {
  id: string;
  record: RevocationRecord;
}

/** What tool servers consume: a snapshot of live revocations, catch-up from a cursor, and live events. */
export interface RevocationFeed {
  /** Every unexpired revocation, and the cursor to resume the live feed from (taken before reading: no gap). */
  snapshot(): Promise<{ cursor: string; revocations: RevocationRecord[] }>;
  /** Events after `cursor`; `reset` when the cursor is older than what the stream retains (consumer must re-snapshot). */
  since(cursor: string): Promise<{ events: RevocationEvent[]; reset: boolean }>;
  /**
   * Live events from every instance sharing the store; one reader per process fans out to all listeners. Delivers
   * everything after the stream head it reads when first called: a command the subscriber sends on the same client
   * afterwards (a snapshot, a `since`) runs after that read, so the two leave no gap.
   * `onGap`: the reader found events it had not delivered trimmed from the stream (it could not read while more were
   * appended than the stream keeps). They are never delivered: whatever was built from this subscription lacks them
   * until it re-snapshots (a snapshot taken after this call has them). Called before the events that follow the gap,
   * which keep coming. Never called where a listener cannot miss an event (memory: called on every append).
   */
  subscribe(listener: (event: RevocationEvent) => void, onGap?: () => void): () => void;
  /**
   * Milliseconds since the live reader last read the shared event stream successfully (Infinity when nobody is
   * subscribed): a replica may vouch for a consumer's freshness only as far as this. 0 where there is no shared stream.
   */
  tailAgeMs(): number;
  /**
   * The id of the newest event in the shared stream (`0-0` when none), read now: a replica whose in-memory view has
   * applied every event up to it has seen every revocation acknowledged before this call (sessions/revocation_view.ts).
   */
  head(): Promise<string>;
}
