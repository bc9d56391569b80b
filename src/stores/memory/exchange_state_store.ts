// The exchange's view of the memory stores, answering exactly as the Redis store does.
import { mergeRevocation, normalizeRevocation, revocationLookups, toRevocationHits, uniqueClientIds } from '../revocation.js';
import { toPayload } from '../oidc_records.js';
import type {
  AdapterPayload,
  DpopReplayStore,
  ExchangeStateStore,
  OpaqueSubjectState,
  OpaqueTokenState,
  ReplayClaim,
  RevocationHits,
  RevocationKind,
  RevocationQuery,
  RevocationRecord,
} from '../types.js';
import { recordKey, type MemoryState } from './state.js';

export class MemoryExchangeStateStore implements ExchangeStateStore {
  readonly #state: MemoryState;
  readonly #replay: DpopReplayStore;

  constructor(state: MemoryState, replay: DpopReplayStore) {
    this.#state = state;
    this.#replay = replay;
  }

  async readOpaqueSubject(tokenId: string, extraClientIds: string[]): Promise<OpaqueSubjectState> {
    const token = this.#payload(recordKey('AccessToken', tokenId));
    const sessionUid = nonEmptyString(token?.sessionUid);
    const accountId = nonEmptyString(token?.accountId);
    const sessionId = sessionUid === undefined ? undefined : this.#state.uids.get(sessionUid);
    const session = sessionId === undefined ? undefined : this.#payload(recordKey('Session', sessionId));
    const markers = [
      sessionUid === undefined ? undefined : this.#marker('sid', sessionUid),
      accountId === undefined ? undefined : this.#marker('sub', accountId),
      ...uniqueClientIds([nonEmptyString(token?.clientId), ...extraClientIds]).map((id) => this.#marker('client', id)),
    ];
    return { token, session, revocations: toRevocationHits(markers) };
  }

  async readOpaqueToken(tokenId: string, _digest: string, replay?: ReplayClaim): Promise<OpaqueTokenState> {
    const token = this.#payload(recordKey('AccessToken', tokenId));
    const sessionUid = nonEmptyString(token?.sessionUid);
    const sessionId = sessionUid === undefined ? undefined : this.#state.uids.get(sessionUid);
    const session = sessionId === undefined ? undefined : this.#payload(recordKey('Session', sessionId));
    const revocationHead = this.#state.revocationEvents.lastId();
    if (!replay) return { token, session, revocationHead };
    return { token, session, revocationHead, replayClaimed: await this.#replay.claim(replay.key, replay.ttlSeconds) };
  }

  async readRevocations(query: RevocationQuery): Promise<RevocationHits> {
    return toRevocationHits(revocationLookups(query).map(({ kind, value }) => this.#marker(kind, value)));
  }

  async revoke(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const incoming = normalizeRevocation(record);
    const key = `${incoming.kind}:${incoming.value}`;
    const existing = this.#state.markers.get(key);
    if (!existing) {
      this.#store(key, incoming);
      this.#state.revocationEvents.append(incoming);
      return { record: { ...incoming }, created: true };
    }
    const { record: merged, write, created } = mergeRevocation(existing, incoming);
    if (write) {
      this.#store(key, merged);
      this.#state.revocationEvents.append(merged);
    }
    return { record: { ...merged }, created };
  }

  #store(key: string, record: RevocationRecord): void {
    this.#state.markers.set(key, record, record.expiresAt * 1000);
  }

  #marker(kind: RevocationKind, value: string): RevocationRecord | undefined {
    const record = this.#state.markers.get(`${kind}:${value}`);
    return record && { ...record };
  }

  #payload(key: string): AdapterPayload | undefined {
    const record = this.#state.records.get(key);
    return record && toPayload(record.json, record.consumed);
  }
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
