// The Redis key layout, in one place. Every key starts with the configured prefix. Two layouts: `redisKeys` on a single
// Redis (unchanged, so an upgrade finds every stored record and revocation marker), `clusterKeys` on a Redis Cluster,
// where the keys one script or MULTI touches together share a hash tag chosen per record, grant or session.
import { createHash } from 'node:crypto';
import type { RevocationKind } from '../types.js';

/**
 * - `${prefix}oidc:${model}:${id}`  hash {payload: JSON, consumed?: epoch seconds, consumedBy?: the stamp of the consume
 *   call that set it (oidc_scripts.ts consumeLua), sessionUid?: an AccessToken's session uid (the exchange's read script
 *   follows it)}, expiring with the record
 * - `${prefix}oidc:grant:${grantId}` set of record keys issued under that grant, expiring with its longest member
 * - `${prefix}oidc:uid:${uid}`       Session id for a session uid
 * - `${prefix}oidc:account:${accountId}` zset of the account's Session uids by expiry (epoch ms; `inf`: never), so a
 *   subject revocation finds every provider session of the user, not only those the session registry recorded
 * - `${prefix}oidc:userCode:${code}` DeviceCode id for a user code
 * - `${prefix}rev:${kind}:${value}`  JSON RevocationRecord, expiring at its `expiresAt`
 * - `${prefix}rev:index`             zset `${kind}:${value}` by expiresAt, for the feed snapshot (pruned on revoke)
 * - `${prefix}rev:events`            stream of newly created revocation markers (field `record`), capped near 10 000
 * - `${prefix}sess:rec:${sid}`       session registry hash {sid, sub, issuer, firstAt, lastAt, tokensIssued, expiresAt}
 *   (`expiresAt`: epoch seconds every key of the session expires at; see session_scripts.ts)
 * - `${prefix}sess:clients:${sid}`, `sess:tools:${sid}` sets; `sess:jtis:${sid}` zset jti by exp; `sess:hops:${sid}`
 *   list of hop JSON (bounded); all expiring `retention` after the session's latest token expiry
 * - `${prefix}sess:recent`, `sess:by-sub:${sub}`, `sess:by-client:${clientId}` zsets sid by lastAt (listing indexes)
 * - `${prefix}audit`                 stream of audit events (field `event`), trimmed by length and age on append
 * - `${prefix}onb:rate:${bucket}`   onboarding rate counter (string), expiring with its window
 * - `${prefix}onb:clients`          zset of DCR-registered clients by expiry (epoch seconds); member
 *   `${clientOrderKey}:${clientId}` (onboarding_order.ts), so a script that prunes it names the members of the next key
 * - `${prefix}onb:clients:order`    zset of the same members, all scored 0: the listing's order (ZRANGEBYLEX), written
 *   with the expiry index in one script or MULTI (onboarding_store.ts)
 * - `${prefix}onb:consents`         hash `[accountId, clientId, resource]` (JSON) -> consent record JSON with its
 *   `grants` (`[grantId, keepUntil]` pairs, -1: until removed), persistent (consent_store.ts: a consent and its grant
 *   ids are one field, written by one script)
 * - `${prefix}onb:consents:documents` zset `${clientOrderKey}:${clientId}` scored 0 of the document clients (`https://`
 *   ids) holding a consent, and `${prefix}onb:consents:counts` hash clientId -> how many: the listing's index, written
 *   with the consent hash in one script
 * - `${prefix}onb:documents`        zset of Client ID Metadata Document URLs accepted lately (member: base64url SHA-256
 *   of the URL) by expiry (epoch ms), capped (onboarding/cimd.ts); the key expires with its latest member
 * - `${prefix}dpop:${key}`           a DPoP proof seen (RFC 9449 §11.1), expiring with the proof's acceptance window
 */
export const redisKeys = {
  record: (prefix: string, model: string, id: string) => `${prefix}oidc:${model}:${id}`,
  grant: (prefix: string, grantId: string) => `${prefix}oidc:grant:${grantId}`,
  uid: (prefix: string, uid: string) => `${prefix}oidc:uid:${uid}`,
  accountSessions: (prefix: string, accountId: string) => `${prefix}oidc:account:${accountId}`,
  userCode: (prefix: string, userCode: string) => `${prefix}oidc:userCode:${userCode}`,
  /** What the read-opaque-subject script prepends to `${kind}:${value}`. */
  revocationPrefix: (prefix: string) => `${prefix}rev:`,
  revocation: (prefix: string, kind: RevocationKind, value: string) => `${prefix}rev:${kind}:${value}`,
  revocationIndex: (prefix: string) => `${prefix}rev:index`,
  revocationEvents: (prefix: string) => `${prefix}rev:events`,
  session: {
    record: (prefix: string, sid: string) => `${prefix}sess:rec:${sid}`,
    clients: (prefix: string, sid: string) => `${prefix}sess:clients:${sid}`,
    tools: (prefix: string, sid: string) => `${prefix}sess:tools:${sid}`,
    jtis: (prefix: string, sid: string) => `${prefix}sess:jtis:${sid}`,
    hops: (prefix: string, sid: string) => `${prefix}sess:hops:${sid}`,
    recent: (prefix: string) => `${prefix}sess:recent`,
    bySub: (prefix: string, sub: string) => `${prefix}sess:by-sub:${sub}`,
    byClient: (prefix: string, clientId: string) => `${prefix}sess:by-client:${clientId}`,
  },
  audit: (prefix: string) => `${prefix}audit`,
  dpopProof: (prefix: string, key: string) => `${prefix}dpop:${key}`,
  onboarding: {
    clients: (prefix: string) => `${prefix}onb:clients`,
    clientOrder: (prefix: string) => `${prefix}onb:clients:order`,
    consents: (prefix: string) => `${prefix}onb:consents`,
    consentDocuments: (prefix: string) => `${prefix}onb:consents:documents`,
    consentCounts: (prefix: string) => `${prefix}onb:consents:counts`,
  },
};

/**
 * `{value}`: the hash tag that puts every key built from `value` in one Cluster slot (Redis hashes only what is between
 * the first `{` and the next `}`). A value holding a brace would cut its own tag short, so it is tagged by its digest
 * instead and kept after the tag, which keeps the key unique: `{digest}value`.
 */
export function hashTag(value: string): string {
  if (!/[{}]/.test(value) && value !== '') return `{${value}}`;
  return `{${createHash('sha256').update(value).digest('base64url').slice(0, 22)}}${value}`;
}

/**
 * The Redis Cluster layout: the single-node names with a hash tag on the value that groups keys.
 * - a record `oidc:${model}:{id}`, a grant set `oidc:grant:{grantId}`, `oidc:uid:{uid}`, `oidc:userCode:{code}`: each in
 *   its own slot (an upsert writes the record in one MULTI, then its grant set and indexes: see oidc_adapter.ts).
 * - a marker `rev:${kind}:{value}` in its own slot; `rev:sid:{uid}` shares the slot of `oidc:uid:{uid}`.
 * - the feed `rev:{feed}:events`, `rev:{feed}:index` and `rev:{feed}:records` (hash `kind:value` -> record JSON, the
 *   copy the snapshot reads) in ONE slot by design: a revocation writes that copy, its index entry and its stream event
 *   in one script, which the paged snapshot relies on (revocation_feed.ts), and these writes are revocations (rare,
 *   admin-driven), not exchanges. The markers the exchange reads stay spread.
 * - a session's keys `sess:{sid}:rec|clients|tools|jtis|hops` in the session's slot; `sess:by-sub:{sub}`,
 *   `sess:by-client:{clientId}` each in their own; `sess:recent` and `audit` are single keys (one slot each, written after
 *   the response in batches, never on the exchange's check path).
 * - the registered-client indexes `onb:{clients}` and `onb:{clients}:order` in one slot (pruned and listed together by
 *   one script); the consent hash `onb:{consents}` and its document-client index `onb:{consents}:documents|counts` in
 *   another (a consent and its index entry are written by one script). Admin and onboarding writes, not exchanges.
 */
export const clusterKeys: typeof redisKeys & { revocationRecords: (prefix: string) => string } = {
  // Keys only ever used alone (one command, one key) need no tag: the single-node names serve.
  ...redisKeys,
  record: (prefix, model, id) => `${prefix}oidc:${model}:${hashTag(id)}`,
  grant: (prefix, grantId) => `${prefix}oidc:grant:${hashTag(grantId)}`,
  uid: (prefix, uid) => `${prefix}oidc:uid:${hashTag(uid)}`,
  accountSessions: (prefix, accountId) => `${prefix}oidc:account:${hashTag(accountId)}`,
  userCode: (prefix, userCode) => `${prefix}oidc:userCode:${hashTag(userCode)}`,
  revocationPrefix: () => {
    throw new Error('no revocation key prefix on a Redis Cluster: scripts declare every key');
  },
  revocation: (prefix, kind, value) => `${prefix}rev:${kind}:${hashTag(value)}`,
  revocationIndex: (prefix) => `${prefix}rev:{feed}:index`,
  dpopProof: (prefix, key) => `${prefix}dpop:${hashTag(key)}`,
  revocationEvents: (prefix) => `${prefix}rev:{feed}:events`,
  revocationRecords: (prefix) => `${prefix}rev:{feed}:records`,
  session: {
    record: (prefix, sid) => `${prefix}sess:${hashTag(sid)}:rec`,
    clients: (prefix, sid) => `${prefix}sess:${hashTag(sid)}:clients`,
    tools: (prefix, sid) => `${prefix}sess:${hashTag(sid)}:tools`,
    jtis: (prefix, sid) => `${prefix}sess:${hashTag(sid)}:jtis`,
    hops: (prefix, sid) => `${prefix}sess:${hashTag(sid)}:hops`,
    recent: (prefix) => `${prefix}sess:recent`,
    bySub: (prefix, sub) => `${prefix}sess:by-sub:${hashTag(sub)}`,
    byClient: (prefix, clientId) => `${prefix}sess:by-client:${hashTag(clientId)}`,
  },
  audit: (prefix) => `${prefix}audit`,
  onboarding: {
    clients: (prefix) => `${prefix}onb:{clients}`,
    clientOrder: (prefix) => `${prefix}onb:{clients}:order`,
    consents: (prefix) => `${prefix}onb:{consents}`,
    consentDocuments: (prefix) => `${prefix}onb:{consents}:documents`,
    consentCounts: (prefix) => `${prefix}onb:{consents}:counts`,
  },
};

export type RedisKeyLayout = typeof redisKeys;
