// The Redis key layout, in one place. Every key starts with the configured prefix; nothing here is Cluster-aware
// (see scripts.ts for why this store runs on a single Redis or Sentinel only).
import type { RevocationKind } from '../types.js';

/**
 * - `${prefix}oidc:${model}:${id}`  hash {payload: JSON, consumed?: epoch seconds}, expiring with the record
 * - `${prefix}oidc:grant:${grantId}` set of record keys issued under that grant, expiring with its longest member
 * - `${prefix}oidc:uid:${uid}`       Session id for a session uid
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
 * - `${prefix}onb:clients`          zset of DCR-registered client ids by expiry (epoch seconds)
 * - `${prefix}dpop:${key}`           a DPoP proof seen (RFC 9449 §11.1), expiring with the proof's acceptance window
 */
export const redisKeys = {
  record: (prefix: string, model: string, id: string) => `${prefix}oidc:${model}:${id}`,
  grant: (prefix: string, grantId: string) => `${prefix}oidc:grant:${grantId}`,
  uid: (prefix: string, uid: string) => `${prefix}oidc:uid:${uid}`,
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
};
