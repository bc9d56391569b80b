// The exchange's view of Redis: subject state in one round trip, revocation markers, and idempotent revoke.
import { LRUCache } from 'lru-cache';
import { CUTOFF_KINDS, REVOCATION_EVENTS_MAX, normalizeRevocation, parseRevocation, revocationLookups, toRevocationHits, uniqueClientIds } from '../revocation.js';
import { epochSeconds, toPayload } from '../oidc_records.js';
import type { ExchangeStateStore, OpaqueSubjectState, OpaqueTokenState, ReplayClaim, RevocationHits, RevocationKind, RevocationQuery, RevocationRecord } from '../types.js';
import { claimReplayKey, replayKeyArgs } from './dpop_replay.js';
import { clusterKeys, redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/** Revocation writes wait for this many replicas to acknowledge (Redis WAIT) before they count as done. */
export interface RevocationDurability {
  /** 0: no WAIT (a failover may lose a revocation the primary acknowledged moments before it failed). */
  replicas: number;
  /** How long WAIT may take; fewer acknowledgements by then fail the revoke (StoreUnavailable: 503, retry). */
  timeoutMs: number;
}

export class RedisExchangeStateStore implements ExchangeStateStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;

  readonly #eventsMax: number;
  readonly #cluster: boolean;
  readonly #durability: RevocationDurability;
  /** Redis Cluster: the session id a token's session was last found under, by the token's SHA-256 digest. */
  readonly #sessionOf = new LRUCache<string, { sessionUid: string; sessionId: string }>({ max: 10_000 });

  constructor(redis: ScriptedRedis, prefix: string, eventsMax = REVOCATION_EVENTS_MAX, cluster = false, durability: RevocationDurability = { replicas: 0, timeoutMs: 0 }) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#eventsMax = eventsMax;
    this.#cluster = cluster;
    this.#durability = durability;
  }

  /**
   * Single Redis: one EVALSHA, the script follows the token to its session and markers server-side (see
   * revocation_scripts.ts). Redis Cluster: those keys live in different slots, so the client follows the chain, each
   * step's reads sent together (in flight at once, nodes in parallel): (1) the token and the extra clients'
   * markers, (2) its session uid index and its sid, sub and client markers, (3) the session record: three round trips
   * for a token bound to a session, two without one.
   */
  async readOpaqueSubject(tokenId: string, extraClientIds: string[]): Promise<OpaqueSubjectState> {
    if (this.#cluster) return this.#readOpaqueSubjectCluster(tokenId, extraClientIds);
    const reply = await this.#redis.dtsReadOpaqueSubject(
      redisKeys.record(this.#prefix, 'AccessToken', tokenId),
      redisKeys.uid(this.#prefix, ''),
      redisKeys.record(this.#prefix, 'Session', ''),
      redisKeys.revocationPrefix(this.#prefix),
      ...uniqueClientIds(extraClientIds),
    );
    const [tokenJson, tokenConsumed, sessionJson, sessionConsumed, ...markers] = reply;
    return {
      token: toPayload(tokenJson, tokenConsumed),
      session: toPayload(sessionJson, sessionConsumed),
      revocations: toRevocationHits(markers.map(parseRevocation)),
    };
  }

  /**
   * Single Redis: one EVALSHA (the token, its session, the revocation stream's head; no marker; the replay claim, when
   * given, in the same script). Redis Cluster: the token, the head (the feed slot), the replay claim and, for a token
   * seen before, its session record where it was found last time, all in one round trip; for a new token (or a session
   * that has moved) then (2) the session uid index, (3) the record.
   */
  async readOpaqueToken(tokenId: string, digest: string, replay?: ReplayClaim): Promise<OpaqueTokenState> {
    const p = this.#prefix;
    if (!this.#cluster) {
      const claim = replay && replayKeyArgs(p, replay);
      const tokenKey = redisKeys.record(p, 'AccessToken', tokenId);
      const [uidPrefix, sessionPrefix] = [redisKeys.uid(p, ''), redisKeys.record(p, 'Session', '')];
      const eventsKey = redisKeys.revocationEvents(p);
      const reply = await this.#redis.dtsReadOpaqueToken(
        ...(claim ? ([3, tokenKey, eventsKey, claim.redisKey, uidPrefix, sessionPrefix, claim.ttl] as const) : ([2, tokenKey, eventsKey, uidPrefix, sessionPrefix] as const)),
      );
      const [tokenJson, tokenConsumed, sessionJson, sessionConsumed, head, claimed] = reply as [string | null, string | null, string | null, string | null, string | null, number];
      return {
        token: toPayload(tokenJson ?? null, tokenConsumed ?? null),
        session: toPayload(sessionJson ?? null, sessionConsumed ?? null),
        revocationHead: head ?? '0-0',
        ...(claim ? { replayClaimed: claimed === 1 } : {}),
      };
    }
    // Where this token's session was found last time (keyed by the token's digest, never its value): its record is
    // then read in the same round trip as the token and the head. Only the location is remembered; the record itself
    // is read live and must still name the token's session uid, else the uid index is followed as below.
    const known = this.#sessionOf.get(digest);
    const [[tokenJson, tokenConsumed], last, guessed, replayReply] = await Promise.all([
      this.#redis.hmget(clusterKeys.record(p, 'AccessToken', tokenId), 'payload', 'consumed') as Promise<Array<string | null>>,
      this.#redis.xrevrange(clusterKeys.revocationEvents(p), '+', '-', 'COUNT', 1),
      known ? (this.#redis.hmget(clusterKeys.record(p, 'Session', known.sessionId), 'payload', 'consumed') as Promise<Array<string | null>>) : undefined,
      // RedisDpopReplayStore.claim's command, in flight with the reads.
      replay ? claimReplayKey(this.#redis, p, replay) : undefined,
    ]);
    const token = toPayload(tokenJson ?? null, tokenConsumed ?? null);
    const revocationHead = last[0]?.[0] ?? '0-0';
    const claimed = replayReply === undefined ? {} : { replayClaimed: replayReply };
    const sessionUid = nonEmpty(token?.sessionUid);
    if (!sessionUid) return { token, session: undefined, revocationHead, ...claimed };
    if (known && known.sessionUid === sessionUid && guessed?.[0]) {
      const session = toPayload(guessed[0], guessed[1] ?? null);
      if (session?.uid === sessionUid) return { token, session, revocationHead, ...claimed };
    }
    // oidc-provider gives a session a new id at login and deletes the old record, so a remembered id can go stale.
    const sessionId = await this.#redis.get(clusterKeys.uid(p, sessionUid));
    const [json, consumed] = sessionId ? await this.#redis.hmget(clusterKeys.record(p, 'Session', sessionId), 'payload', 'consumed') : [null, null];
    const session = sessionId ? toPayload(json ?? null, consumed ?? null) : undefined;
    if (sessionId && session) this.#sessionOf.set(digest, { sessionUid, sessionId });
    else this.#sessionOf.delete(digest);
    return { token, session, revocationHead, ...claimed };
  }

  /** One MGET of every marker the query names (Redis Cluster: one GET each, sent together: one round trip). */
  async readRevocations(query: RevocationQuery): Promise<RevocationHits> {
    const keys = revocationLookups(query).map(({ kind, value }) => this.#keys.revocation(this.#prefix, kind, value));
    if (keys.length === 0) return { clients: [] };
    const markers = this.#cluster ? await Promise.all(keys.map((key) => this.#redis.get(key))) : await this.#redis.mget(keys);
    return toRevocationHits(markers.map(parseRevocation));
  }

  /** One script: marker, snapshot index and (whenever the stored record changes) the stream event, atomically (see revocation_scripts.ts). */
  async revoke(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const incoming = normalizeRevocation(record);
    if (this.#cluster) return this.#revokeCluster(incoming);
    const [stored, created] = await this.#redis.dtsRevoke(
      redisKeys.revocation(this.#prefix, incoming.kind, incoming.value),
      redisKeys.revocationEvents(this.#prefix),
      redisKeys.revocationIndex(this.#prefix),
      JSON.stringify(incoming),
      incoming.revokedAt,
      incoming.expiresAt,
      this.#eventsMax,
      `${incoming.kind}:${incoming.value}`,
      epochSeconds(),
      CUTOFF_KINDS.has(incoming.kind) ? '1' : '0',
    );
    await this.#waitForReplicas(redisKeys.revocation(this.#prefix, incoming.kind, incoming.value));
    return { record: normalizeRevocation(JSON.parse(stored) as RevocationRecord), created: created === 1 };
  }

  get #keys() {
    return this.#cluster ? clusterKeys : redisKeys;
  }

  async #readOpaqueSubjectCluster(tokenId: string, extraClientIds: string[]): Promise<OpaqueSubjectState> {
    const p = this.#prefix;
    const extras = uniqueClientIds(extraClientIds);
    const marker = (kind: RevocationKind, value: string) => this.#redis.get(clusterKeys.revocation(p, kind, value));
    const [[tokenJson, tokenConsumed], ...extraMarkers] = await Promise.all([
      this.#redis.hmget(clusterKeys.record(p, 'AccessToken', tokenId), 'payload', 'consumed') as Promise<Array<string | null>>,
      ...extras.map((id) => marker('client', id)),
    ]);
    const token = toPayload(tokenJson, tokenConsumed);
    const sessionUid = nonEmpty(token?.sessionUid);
    const accountId = nonEmpty(token?.accountId);
    const clientId = nonEmpty(token?.clientId);
    // The session record is read as soon as its uid index answers, alongside the markers.
    const session = sessionUid
      ? this.#redis.get(clusterKeys.uid(p, sessionUid)).then(async (sessionId) => {
          if (sessionId === null) return undefined;
          const [json, consumed] = await this.#redis.hmget(clusterKeys.record(p, 'Session', sessionId), 'payload', 'consumed');
          return toPayload(json ?? null, consumed ?? null);
        })
      : Promise.resolve(undefined);
    const [sidMarker, subMarker, clientMarker, sessionPayload] = await Promise.all([
      sessionUid ? marker('sid', sessionUid) : null,
      accountId ? marker('sub', accountId) : null,
      clientId && !extras.includes(clientId) ? marker('client', clientId) : null,
      session,
    ]);
    // The single-node script's order: sid, sub, then the token's client first, then the other extra clients.
    const extraByClient = new Map(extras.map((id, i) => [id, (extraMarkers as Array<string | null>)[i] ?? null]));
    const tokenClientMarker = clientId && extraByClient.has(clientId) ? (extraByClient.get(clientId) ?? null) : clientMarker;
    if (clientId) extraByClient.delete(clientId);
    const markers = [sidMarker, subMarker, tokenClientMarker, ...extraByClient.values()];
    return { token, session: sessionPayload, revocations: toRevocationHits(markers.map(parseRevocation)) };
  }

  /**
   * Redis Cluster: the feed's copy (feed slot, decides publication) first, then the marker the exchange reads (its own
   * slot). Both merge with the same monotone rule (revocation_scripts.ts), so concurrent or retried revokes converge.
   * A failure after the first step rejects (503): the marker may be missing until the caller retries, which then
   * returns `created: false` (the feed already published it).
   */
  async #revokeCluster(incoming: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const p = this.#prefix;
    const cutoff = CUTOFF_KINDS.has(incoming.kind) ? '1' : '0';
    const json = JSON.stringify(incoming);
    const [stored, created] = await this.#redis.dtsRevokeFeed(
      clusterKeys.revocationRecords(p),
      clusterKeys.revocationEvents(p),
      clusterKeys.revocationIndex(p),
      json,
      incoming.revokedAt,
      incoming.expiresAt,
      this.#eventsMax,
      `${incoming.kind}:${incoming.value}`,
      epochSeconds(),
      cutoff,
    );
    const markerKey = clusterKeys.revocation(p, incoming.kind, incoming.value);
    await this.#redis.dtsRevokeMarker(markerKey, json, incoming.revokedAt, incoming.expiresAt, cutoff);
    await Promise.all([this.#waitForReplicas(clusterKeys.revocationEvents(p)), this.#waitForReplicas(markerKey)]);
    return { record: normalizeRevocation(JSON.parse(stored) as RevocationRecord), created: created === 1 };
  }

  /**
   * WAIT on the connection that wrote `key` (a pipeline goes to the key's node; EXISTS routes it there): every write that
   * connection sent before has reached `replicas` replicas, or the revoke fails (StoreUnavailable: 503). The marker is
   * then in force on the primary already; a retry is idempotent.
   */
  async #waitForReplicas(key: string): Promise<void> {
    const { replicas, timeoutMs } = this.#durability;
    if (replicas <= 0) return;
    const results = await this.#redis.pipeline().exists(key).wait(replicas, timeoutMs).exec();
    const [[error, acknowledged] = [null, 0]] = (results ?? []).slice(1);
    if (error) throw error;
    if (Number(acknowledged) < replicas) {
      throw new Error(`revocation acknowledged by ${Number(acknowledged)} of ${replicas} replicas within ${timeoutMs} ms`);
    }
  }
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
