// The exchange's view of Redis: subject state in one round trip, revocation markers, and idempotent revoke.
import { CUTOFF_KINDS, REVOCATION_EVENTS_MAX, normalizeRevocation, parseRevocation, revocationLookups, toRevocationHits, uniqueClientIds } from '../revocation.js';
import { epochSeconds, toPayload } from '../oidc_records.js';
import type { ExchangeStateStore, OpaqueSubjectState, RevocationHits, RevocationQuery, RevocationRecord } from '../types.js';
import { redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

export class RedisExchangeStateStore implements ExchangeStateStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;

  readonly #eventsMax: number;

  constructor(redis: ScriptedRedis, prefix: string, eventsMax = REVOCATION_EVENTS_MAX) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#eventsMax = eventsMax;
  }

  /** One EVALSHA: the script follows the token to its session and markers server-side (see revocation_scripts.ts). */
  async readOpaqueSubject(tokenId: string, extraClientIds: string[]): Promise<OpaqueSubjectState> {
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

  /** One MGET of every marker the query names. */
  async readRevocations(query: RevocationQuery): Promise<RevocationHits> {
    const keys = revocationLookups(query).map(({ kind, value }) => redisKeys.revocation(this.#prefix, kind, value));
    if (keys.length === 0) return { clients: [] };
    return toRevocationHits((await this.#redis.mget(keys)).map(parseRevocation));
  }

  /** One script: marker, snapshot index and (only when a revocation is new or a cutoff moved) the stream event, atomically (see revocation_scripts.ts). */
  async revoke(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const incoming = normalizeRevocation(record);
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
    return { record: normalizeRevocation(JSON.parse(stored) as RevocationRecord), created: created === 1 };
  }
}
