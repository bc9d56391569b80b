// Remembered consents on Redis: one hash (one slot on a cluster), a field per (user, client, resource) holding the
// record as JSON, its grants with them; `remember` merges in one Lua script, so concurrent consents on two replicas both
// count, and drops the grants that can no longer be alive in the same step.
import type { Redis } from 'ioredis';
import { LEGACY_CONSENT_GRANTS, MAX_CONSENT_GRANTS, type ConsentRecord, type ConsentStore, type Page } from '../types.js';
import { consentPage } from '../onboarding_order.js';

/**
 * KEYS[1] the consent hash; ARGV field, accountId, clientId, resource, scopes (JSON array), grantId, at, maxGrants,
 * keepUntil (-1: until the consent is removed), legacyGrants. The record's `grants` are `[grantId, keepUntil]` pairs,
 * oldest first; a record from before them has `grantIds` (the newest 20), read as kept until removed, and a full one as
 * overflowed (it may have dropped a live grant).
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
return out
`;

interface ConsentRedis extends Redis {
  dtsRememberConsent(key: string, field: string, accountId: string, clientId: string, resource: string, scopes: string, grantId: string, at: number, max: number, keepUntil: number, legacy: number): Promise<string>;
}

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

  constructor(redis: Redis, prefix: string) {
    if (typeof (redis as unknown as Partial<ConsentRedis>).dtsRememberConsent !== 'function') redis.defineCommand('dtsRememberConsent', { lua: rememberConsentLua, numberOfKeys: 1 });
    this.#redis = redis as unknown as ConsentRedis;
    this.#key = `${prefix}onb:consents`;
  }

  async remember(c: { accountId: string; clientId: string; resource: string; scopes: string[]; grantId: string; at: number; keepUntil?: number }): Promise<ConsentRecord> {
    const keepUntil = c.keepUntil === undefined ? -1 : Math.max(0, c.keepUntil);
    const out = await this.#redis.dtsRememberConsent(this.#key, fieldOf(c.accountId, c.clientId, c.resource), c.accountId, c.clientId, c.resource, JSON.stringify(c.scopes), c.grantId, c.at, MAX_CONSENT_GRANTS, keepUntil, LEGACY_CONSENT_GRANTS);
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

  async remove(accountId: string, clientId: string, resource: string): Promise<ConsentRecord | undefined> {
    const field = fieldOf(accountId, clientId, resource);
    // MULTI: read and delete as one step, so two concurrent removals cannot both return the record.
    const results = await this.#redis.multi().hget(this.#key, field).hdel(this.#key, field).exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('MULTI aborted');
    const json = results[0]![1] as string | null;
    return json ? decode(json) : undefined;
  }
}
