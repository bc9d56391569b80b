// The store's Lua scripts, registered with ioredis' defineCommand: ioredis sends EVAL once per connection, then
// EVALSHA, and resends the body itself when the server answers NOSCRIPT.
//
// Single Redis only: dtsRevokeGrant, dtsReadOpaqueSubject, dtsReadOpaqueToken, dtsRevocationSnapshotPage and dtsRecordIssued compute key names
// from data they read or from prefixes, touching keys they do not declare; that is what makes each one round trip on
// one server. On a Redis Cluster the stores use the cluster scripts below instead, each declaring all its keys, all in
// one slot (keys.ts); the cross-slot steps run from the client.
// Redis 7.0 or newer is required (EXPIRE NX/GT, SET EXAT, XINFO STREAM's entries-added, EXPIRETIME, ZADD GT).
import type { Redis } from 'ioredis';
import { consumeLua, indexAccountSessionLua, indexGrantLua, revokeGrantLua } from './oidc_scripts.js';
import { readOpaqueSubjectLua, readOpaqueTokenLua, revocationSnapshotLua, revokeFeedLua, revokeLua, revokeMarkerLua } from './revocation_scripts.js';
import { indexTouchClusterLua, recordIssuedLua, recordSessionClusterLua } from './session_scripts.js';
import { addClientLua, listClientsLua, rememberDocumentLua } from './onboarding_store.js';
import { auditAppendLua } from './audit_log.js';

/** A page of the revocation feed snapshot as dtsRevocationSnapshotPage replies it. */
export type SnapshotPage = [cursor: string, read: number, lastScore: string, lastMember: string, ...records: Array<string | null>];

/** The client with this store's scripts defined on it. */
export interface ScriptedRedis extends Redis {
  /** [1] consumed by this call, [-1, grantId?] by another, [0] no such record (oidc_scripts.ts consumeLua). */
  dtsConsume(recordKey: string, consumedAt: number, stamp: string): Promise<[result: 1 | 0 | -1, grantId?: string]>;
  dtsRevokeGrant(grantKey: string): Promise<number>;
  dtsIndexGrant(grantKey: string, member: string, expiresAtMs: number | ''): Promise<number>;
  dtsIndexAccountSession(indexKey: string, uid: string, expiresAtMs: number | '', nowMs: number): Promise<number>;
  dtsReadOpaqueSubject(tokenKey: string, ...args: string[]): Promise<Array<string | null>>;
  /** 2 keys (token, events) then 2 args (uid and Session prefixes); or 3 keys (+ a DPoP replay key) and 3 args (+ its ttl). */
  dtsReadOpaqueToken(...numKeysKeysArgs: [2, string, string, string, string] | [3, string, string, string, string, string, number]): Promise<Array<string | number | null>>;
  dtsRevoke(markerKey: string, eventsKey: string, indexKey: string, ...args: Array<string | number>): Promise<[string, number]>;
  /** One snapshot page (revocation_scripts.ts); the first (`afterScore` '') reads the cursor too. */
  dtsRevocationSnapshotPage(indexKey: string, eventsKey: string, revocationPrefix: string, now: number, limit: number, afterScore: string, afterMember: string): Promise<SnapshotPage>;
  dtsRecordIssued(...args: Array<string | number>): Promise<number>;
  // Redis Cluster: every key declared.
  dtsRevokeFeed(recordsKey: string, eventsKey: string, indexKey: string, ...args: Array<string | number>): Promise<[string, number]>;
  dtsRevokeMarker(markerKey: string, ...args: Array<string | number>): Promise<string>;
  dtsRevocationSnapshotPageCluster(indexKey: string, eventsKey: string, recordsKey: string, unused: '', now: number, limit: number, afterScore: string, afterMember: string): Promise<SnapshotPage>;
  dtsRecordSession(...keysThenArgs: Array<string | number>): Promise<string[]>;
  dtsIndexTouch(indexKey: string, ...args: Array<string | number>): Promise<string[]>;
  dtsAddRegisteredClient(indexKey: string, orderKey: string, now: number, member: string, expiresAt: number, max: number): Promise<number>;
  /** Flat [member, expiresAt, ...]. */
  dtsListRegisteredClients(indexKey: string, orderKey: string, now: number, limit: number, min: string): Promise<string[]>;
  dtsRememberDocument(indexKey: string, nowMs: number, member: string, expiresAtMs: number, max: number): Promise<number>;
  dtsAuditAppend(streamKey: string, maxLength: number, minId: string, ...eventsJson: string[]): Promise<number>;
}

const scripts: Record<string, { lua: string; numberOfKeys?: number }> = {
  dtsConsume: { lua: consumeLua, numberOfKeys: 1 },
  dtsRevokeGrant: { lua: revokeGrantLua, numberOfKeys: 1 },
  dtsIndexGrant: { lua: indexGrantLua, numberOfKeys: 1 },
  dtsIndexAccountSession: { lua: indexAccountSessionLua, numberOfKeys: 1 },
  dtsReadOpaqueSubject: { lua: readOpaqueSubjectLua, numberOfKeys: 1 },
  // The key count is the call's first argument: 3 when a DPoP proof's replay key is claimed in the same script.
  dtsReadOpaqueToken: { lua: readOpaqueTokenLua },
  dtsRevoke: { lua: revokeLua, numberOfKeys: 3 },
  dtsRevocationSnapshotPage: { lua: revocationSnapshotLua, numberOfKeys: 2 },
  // One call covers many sessions: the script builds their key names from the prefixes it is given.
  dtsRecordIssued: { lua: recordIssuedLua, numberOfKeys: 0 },
  dtsRevokeFeed: { lua: revokeFeedLua, numberOfKeys: 3 },
  dtsRevokeMarker: { lua: revokeMarkerLua, numberOfKeys: 1 },
  // The same script with the records hash declared (KEYS[3]) instead of a marker key prefix.
  dtsRevocationSnapshotPageCluster: { lua: revocationSnapshotLua, numberOfKeys: 3 },
  dtsRecordSession: { lua: recordSessionClusterLua, numberOfKeys: 5 },
  dtsIndexTouch: { lua: indexTouchClusterLua, numberOfKeys: 1 },
  dtsAddRegisteredClient: { lua: addClientLua, numberOfKeys: 2 },
  dtsListRegisteredClients: { lua: listClientsLua, numberOfKeys: 2 },
  dtsRememberDocument: { lua: rememberDocumentLua, numberOfKeys: 1 },
  dtsAuditAppend: { lua: auditAppendLua, numberOfKeys: 1 },
};

/** Defines the scripts once per client (several stores may share one connection). */
export function withScripts(redis: Redis): ScriptedRedis {
  for (const [name, definition] of Object.entries(scripts)) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') redis.defineCommand(name, definition);
  }
  return redis as ScriptedRedis;
}
