// Remembered consents in memory (single instance): one record per (user, client, resource).
import { MAX_CONSENT_GRANTS, type ConsentRecord, type ConsentStore, type Page } from '../types.js';
import { consentPage } from '../onboarding_order.js';

const keyOf = (accountId: string, clientId: string, resource: string) => JSON.stringify([accountId, clientId, resource]);
const copy = (r: ConsentRecord): ConsentRecord => ({ ...r, scopes: [...r.scopes], grantIds: [...r.grantIds] });

export class MemoryConsentStore implements ConsentStore {
  readonly #records = new Map<string, ConsentRecord>();

  async remember(c: { accountId: string; clientId: string; resource: string; scopes: string[]; grantId: string; at: number }): Promise<ConsentRecord> {
    const key = keyOf(c.accountId, c.clientId, c.resource);
    const current = this.#records.get(key);
    const grantIds = [...(current?.grantIds ?? []).filter((g) => g !== c.grantId), c.grantId].slice(-MAX_CONSENT_GRANTS);
    const record: ConsentRecord = {
      accountId: c.accountId,
      clientId: c.clientId,
      resource: c.resource,
      scopes: [...new Set([...(current?.scopes ?? []), ...c.scopes])].sort(),
      grantIds,
      createdAt: current?.createdAt ?? c.at,
      updatedAt: c.at,
    };
    this.#records.set(key, record);
    return copy(record);
  }

  async find(accountId: string, clientId: string, resource: string): Promise<ConsentRecord | undefined> {
    const r = this.#records.get(keyOf(accountId, clientId, resource));
    return r && copy(r);
  }

  async list(filter: { accountId?: string; clientId?: string }, page: { cursor?: string; limit: number }): Promise<Page<ConsentRecord>> {
    const pageOf = consentPage(page);
    const matching = [...this.#records.values()].filter(
      (r) => (filter.accountId === undefined || r.accountId === filter.accountId) && (filter.clientId === undefined || r.clientId === filter.clientId),
    );
    const { items, next } = pageOf(matching);
    return { items: items.map(copy), ...(next ? { next } : {}) };
  }

  async remove(accountId: string, clientId: string, resource: string): Promise<ConsentRecord | undefined> {
    const key = keyOf(accountId, clientId, resource);
    const r = this.#records.get(key);
    this.#records.delete(key);
    return r;
  }
}
