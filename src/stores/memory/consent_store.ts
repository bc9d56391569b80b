// Remembered consents in memory (single instance): one record per (user, client, resource), with the grant ids made
// under it that may still be alive, and the document clients holding one, in the listing's order with their counts.
import { MAX_CONSENT_GRANTS, type ConsentRecord, type ConsentStore, type DocumentClientEntry, type Page } from '../types.js';
import { checkClientPosition, clientOfEntry, consentPage, entriesAfter, isDocumentClientId, orderEntry } from '../onboarding_order.js';
import { SortedStrings } from './sorted_strings.js';

/** A grant made under a consent; `keepUntil` undefined: kept until the consent is removed. */
interface KeptGrant {
  id: string;
  keepUntil: number | undefined;
}

type Stored = Omit<ConsentRecord, 'grantIds'> & { grants: KeptGrant[] };

const keyOf = (accountId: string, clientId: string, resource: string) => JSON.stringify([accountId, clientId, resource]);
const view = ({ grants, ...r }: Stored): ConsentRecord => ({ ...r, scopes: [...r.scopes], grantIds: grants.map((g) => g.id) });

/** The later of two keep-until times, where undefined (kept until removed) is the latest. */
const later = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : Math.max(a, b));

export class MemoryConsentStore implements ConsentStore {
  readonly #records = new Map<string, Stored>();
  /** Document client id -> how many records it holds (at least one), and their orderEntries. */
  readonly #documentCounts = new Map<string, number>();
  readonly #documents = new SortedStrings();

  #count(clientId: string, by: 1 | -1): void {
    if (!isDocumentClientId(clientId)) return;
    const n = (this.#documentCounts.get(clientId) ?? 0) + by;
    if (n > 0) {
      this.#documentCounts.set(clientId, n);
      this.#documents.add(orderEntry(clientId));
    } else {
      this.#documentCounts.delete(clientId);
      this.#documents.delete(orderEntry(clientId));
    }
  }

  async remember(c: { accountId: string; clientId: string; resource: string; scopes: string[]; grantId: string; at: number; keepUntil?: number }): Promise<ConsentRecord> {
    const key = keyOf(c.accountId, c.clientId, c.resource);
    const current = this.#records.get(key);
    const previous = current?.grants.find((g) => g.id === c.grantId);
    // Grants that can no longer be alive are dropped; the one remembered now moves to the end.
    const grants = (current?.grants ?? []).filter((g) => g.id !== c.grantId && (g.keepUntil === undefined || g.keepUntil >= c.at));
    grants.push({ id: c.grantId, keepUntil: previous ? later(previous.keepUntil, c.keepUntil) : c.keepUntil });
    const dropped = Math.max(0, grants.length - MAX_CONSENT_GRANTS);
    const record: Stored = {
      accountId: c.accountId,
      clientId: c.clientId,
      resource: c.resource,
      scopes: [...new Set([...(current?.scopes ?? []), ...c.scopes])].sort(),
      grants: grants.slice(dropped),
      grantsOverflowed: (current?.grantsOverflowed ?? false) || dropped > 0,
      createdAt: current?.createdAt ?? c.at,
      updatedAt: c.at,
    };
    this.#records.set(key, record);
    if (!current) this.#count(c.clientId, 1);
    return view(record);
  }

  async find(accountId: string, clientId: string, resource: string): Promise<ConsentRecord | undefined> {
    const r = this.#records.get(keyOf(accountId, clientId, resource));
    return r && view(r);
  }

  async list(filter: { accountId?: string; clientId?: string }, page: { cursor?: string; limit: number }): Promise<Page<ConsentRecord>> {
    const pageOf = consentPage(page);
    const matching = [...this.#records.values()].filter(
      (r) => (filter.accountId === undefined || r.accountId === filter.accountId) && (filter.clientId === undefined || r.clientId === filter.clientId),
    );
    return pageOf(matching.map(view));
  }

  async listDocumentClients(limit: number, after?: string): Promise<DocumentClientEntry[]> {
    checkClientPosition(after);
    const page: DocumentClientEntry[] = [];
    for (const entry of this.#documents.above(after === undefined ? undefined : entriesAfter(after))) {
      if (page.length >= limit) break;
      const clientId = clientOfEntry(entry);
      page.push({ clientId, consents: this.#documentCounts.get(clientId)! });
    }
    return page;
  }

  async remove(accountId: string, clientId: string, resource: string): Promise<ConsentRecord | undefined> {
    const key = keyOf(accountId, clientId, resource);
    const r = this.#records.get(key);
    if (!r) return undefined;
    this.#records.delete(key);
    this.#count(r.clientId, -1);
    return view(r);
  }
}
