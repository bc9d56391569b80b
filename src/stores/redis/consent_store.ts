// Remembered consents on Redis: one hash, a field per (user, client, resource) holding the record as JSON, its grants
// with them; `remember` merges in one Lua script, so concurrent consents on two replicas both count, and drops the
// grants that can no longer be alive in the same step. Beside it the index of document clients holding a consent (a
// zset in the listing's order and a hash of counts), written by the same scripts, so on a Redis Cluster the three keys
// share a hash tag (keys.ts).
import type { Redis } from 'ioredis';
import { LEGACY_CONSENT_GRANTS, MAX_CONSENT_GRANTS, type ConsentRecord, type ConsentStore, type DocumentClientEntry, type Page } from '../types.js';
import { checkClientPosition, clientOfEntry, consentPage, entriesAfter, isDocumentClientId, orderEntry } from '../onboarding_order.js';
import { clusterKeys, redisKeys } from './keys.js';

/**
 * KEYS[1] the consent hash, KEYS[2] the document-client zset, KEYS[3] their counts; ARGV field, accountId, clientId,
 * resource, scopes (JSON array), grantId, at, maxGrants, keepUntil (-1: until the consent is removed), legacyGrants,
 * the client's orderEntry ('' when it is no document client: not indexed). The record's `grants` are `[grantId,
 * keepUntil]` pairs, oldest first; a record from before them has `grantIds` (the newest 20), read as kept until
 * removed, and a full one as overflowed (it may have dropped a live grant). A new record counts for its client.
 */
export const rememberConsentLua = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local rec
if cur then rec = cjson.decode(cur) else rec = { accountId = ARGV[2], clientId = ARGV[3], resource = ARGV[4], createdAt = tonumber(ARGV[7]) } end
local seen, scopes = {}, {}
local function add(s) if not seen[s] then seen[s] = true; table.insert(scopes, s) end end
if type(rec.scopes) == 'table' then for _, s in ipairs(rec.scopes) do add(s) end end
for _, s in ipairs(cjson.decode(ARGV[5])) do add(s) end
table.sort(scopes)
local at, max, keep = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local function later(a, b) if a < 0 or b < 0 then return -1 end return math.max(a, b) end
local overflowed = rec.grantsOverflowed == true
local grants = {}
if type(rec.grants) == 'table' then
  for _, g in ipairs(rec.grants) do
    local until_ = tonumber(g[2]) or -1
    if g[1] == ARGV[6] then keep = later(until_, keep)
    elseif until_ < 0 or until_ >= at then table.insert(grants, { g[1], until_ }) end
  end
elseif type(rec.grantIds) == 'table' then
  if #rec.grantIds >= tonumber(ARGV[10]) then overflowed = true end
  for _, id in ipairs(rec.grantIds) do
    if id == ARGV[6] then keep = -1 else table.insert(grants, { id, -1 }) end
  end
end
table.insert(grants, { ARGV[6], keep })
while #grants > max do table.remove(grants, 1); overflowed = true end
rec.scopes = scopes
rec.grants = grants
rec.grantIds = nil
rec.grantsOverflowed = overflowed
rec.updatedAt = at
local out = cjson.encode(rec)
redis.call('HSET', KEYS[1], ARGV[1], out)
if not cur and ARGV[11] ~= '' then
  redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
  redis.call('ZADD', KEYS[2], 0, ARGV[11])
end
return out
`;

/**
 * KEYS as rememberConsentLua; ARGV field, clientId, the client's orderEntry ('' when not indexed). Removes the record
 * and returns it (nil when there was none), and uncounts it: the client leaves the index with its last record.
 */
export const removeConsentLua = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
if ARGV[3] ~= '' and redis.call('HINCRBY', KEYS[3], ARGV[2], -1) <= 0 then
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[3])
end
return cur
`;

/**
 * KEYS[1] the document-client zset, KEYS[2] their counts; ARGV min (a ZRANGEBYLEX bound), limit. Flat [entry, count,
 * ...]; an entry's client id starts at its 45th byte (after the 43-character clientOrderKey and `:`).
 */
export const listDocumentClientsLua = `
local out = {}
for _, entry in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))) do
  out[#out + 1] = entry
  out[#out + 1] = redis.call('HGET', KEYS[2], string.sub(entry, 45)) or '0'
end
return out
`;

const scripts = {
  dtsRememberConsent: { lua: rememberConsentLua, numberOfKeys: 3 },
  dtsRemoveConsent: { lua: removeConsentLua, numberOfKeys: 3 },
  dtsListDocumentClients: { lua: listDocumentClientsLua, numberOfKeys: 2 },
};

interface ConsentRedis extends Redis {
  dtsRememberConsent(key: string, documentsKey: string, countsKey: string, field: string, accountId: string, clientId: string, resource: string, scopes: string, grantId: string, at: number, max: number, keepUntil: number, legacy: number, entry: string): Promise<string>;
  dtsRemoveConsent(key: string, documentsKey: string, countsKey: string, field: string, clientId: string, entry: string): Promise<string | null>;
  dtsListDocumentClients(documentsKey: string, countsKey: string, min: string, limit: number): Promise<string[]>;
}

/** The client's entry in the document-client index, '' for a client that is not indexed. */
const indexEntry = (clientId: string) => (isDocumentClientId(clientId) ? orderEntry(clientId) : '');

const fieldOf = (accountId: string, clientId: string, resource: string) => JSON.stringify([accountId, clientId, resource]);

/** cjson writes an empty array as `{}`: every list member is read back as an array. */
function decode(json: string): ConsentRecord {
  const { grants, grantIds, grantsOverflowed, ...r } = JSON.parse(json) as Omit<ConsentRecord, 'grantIds' | 'grantsOverflowed'> & { grants?: unknown; grantIds?: unknown; grantsOverflowed?: unknown };
  const scopes = Array.isArray(r.scopes) ? r.scopes : [];
  if (grants !== undefined) {
    const ids = Array.isArray(grants) ? grants.map((g) => (g as [string, number])[0]) : [];
    return { ...r, scopes, grantIds: ids, grantsOverflowed: grantsOverflowed === true };
  }
  // Written before grant ids were kept until they expire: the newest LEGACY_CONSENT_GRANTS only.
  const legacy = Array.isArray(grantIds) ? (grantIds as string[]) : [];
  return { ...r, scopes, grantIds: legacy, grantsOverflowed: legacy.length >= LEGACY_CONSENT_GRANTS };
}

export class RedisConsentStore implements ConsentStore {
  readonly #redis: ConsentRedis;
  readonly #key: string;
  readonly #documents: string;
  readonly #counts: string;

  constructor(redis: Redis, prefix: string, cluster = false) {
    for (const [name, definition] of Object.entries(scripts)) {
      if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') redis.defineCommand(name, definition);
    }
    this.#redis = redis as unknown as ConsentRedis;
    const keys = (cluster ? clusterKeys : redisKeys).onboarding;
    this.#key = keys.consents(prefix);
    this.#documents = keys.consentDocuments(prefix);
    this.#counts = keys.consentCounts(prefix);
  }

  async remember(c: { accountId: string; clientId: string; resource: string; scopes: string[]; grantId: string; at: number; keepUntil?: number }): Promise<ConsentRecord> {
    const keepUntil = c.keepUntil === undefined ? -1 : Math.max(0, c.keepUntil);
    const field = fieldOf(c.accountId, c.clientId, c.resource);
    const out = await this.#redis.dtsRememberConsent(this.#key, this.#documents, this.#counts, field, c.accountId, c.clientId, c.resource, JSON.stringify(c.scopes), c.grantId, c.at, MAX_CONSENT_GRANTS, keepUntil, LEGACY_CONSENT_GRANTS, indexEntry(c.clientId));
    return decode(out);
  }

  async find(accountId: string, clientId: string, resource: string): Promise<ConsentRecord | undefined> {
    const json = await this.#redis.hget(this.#key, fieldOf(accountId, clientId, resource));
    return json ? decode(json) : undefined;
  }

  /**
   * Admin reads: a full HSCAN of the one hash, filtered and ordered here (consents are few per user and client). HSCAN's
   * own cursor is no listing order (it may repeat fields and follows the hash's layout), so pages come from the order
   * on the records themselves (onboarding_order.ts).
   */
  async list(filter: { accountId?: string; clientId?: string }, page: { cursor?: string; limit: number }): Promise<Page<ConsentRecord>> {
    const pageOf = consentPage(page);
    const out = new Map<string, ConsentRecord>();
    let cursor = '0';
    do {
      const [next, flat] = await this.#redis.hscan(this.#key, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 1; i < flat.length; i += 2) {
        const r = decode(flat[i]!);
        if ((filter.accountId === undefined || r.accountId === filter.accountId) && (filter.clientId === undefined || r.clientId === filter.clientId)) out.set(flat[i - 1]!, r);
      }
    } while (cursor !== '0');
    return pageOf([...out.values()]);
  }

  async listDocumentClients(limit: number, after?: string): Promise<DocumentClientEntry[]> {
    checkClientPosition(after);
    const flat = await this.#redis.dtsListDocumentClients(this.#documents, this.#counts, after === undefined ? '-' : `(${entriesAfter(after)}`, limit);
    const entries: DocumentClientEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ clientId: clientOfEntry(flat[i]!), consents: Number(flat[i + 1]) });
    return entries;
  }

  async remove(accountId: string, clientId: string, resource: string): Promise<ConsentRecord | undefined> {
    // One script: read, delete and uncount as one step, so two concurrent removals cannot both return the record.
    const json = await this.#redis.dtsRemoveConsent(this.#key, this.#documents, this.#counts, fieldOf(accountId, clientId, resource), clientId, indexEntry(clientId));
    return json ? decode(json) : undefined;
  }
}
