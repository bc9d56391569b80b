// The session registry on Redis: one script call per batch of issued tokens, MULTI reads, listings from sorted-set indexes.
import { pageLimit } from '../audit_filter.js';
import { epochSeconds } from '../oidc_records.js';
import { compareSessionPositions, decodeSessionCursor, encodeSessionCursor, type SessionPosition } from '../session_cursor.js';
import { hopClients, sortedStrings, validateIssued } from '../session_records.js';
import type { IssuedEntry, Page, SessionHop, SessionRecord, SessionRegistry, SessionSummary, StoreLimits } from '../types.js';
import { clusterKeys, redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';
import { INDEX_CLEANUP_MAX, INDEX_CLEANUP_PER_INSERT, RECORD_ISSUED_MAX_ENTRIES } from './session_scripts.js';

/** What one listing index needs after a batch (Redis Cluster path): see indexTouchClusterLua. */
interface IndexWork {
  members: Map<string, number>;
  added: number;
  expireAt: number;
  clean: boolean;
  retention: number;
}
/** Index entries read per round trip while paging. */
const LIST_BATCH = 200;

export class RedisSessionRegistry implements SessionRegistry {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #maxHops: number;
  readonly #cluster: boolean;

  constructor(redis: ScriptedRedis, prefix: string, limits: Pick<StoreLimits, 'maxHopsPerSession'>, cluster = false) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#maxHops = limits.maxHopsPerSession;
    this.#cluster = cluster;
  }

  async recordIssued(session: { sid: string; sub: string; issuer: string }, hop: SessionHop, retentionSeconds: number): Promise<void> {
    await this.recordIssuedMany([{ session, hop, retentionSeconds }]);
  }

  /** One script call per RECORD_ISSUED_MAX_ENTRIES entries; several calls go in one pipeline (one round trip). */
  async recordIssuedMany(entries: IssuedEntry[]): Promise<void> {
    for (const { session, hop, retentionSeconds } of entries) validateIssued(session, hop, retentionSeconds);
    if (entries.length === 0) return;
    if (this.#cluster) return this.#recordIssuedCluster(entries);
    const keys = redisKeys.session;
    const p = this.#prefix;
    const head = [this.#maxHops, keys.record(p, ''), keys.clients(p, ''), keys.tools(p, ''), keys.jtis(p, ''), keys.hops(p, ''), keys.recent(p), keys.bySub(p, ''), keys.byClient(p, '')];
    // A session's tokens next to each other (in issue order: the sort is stable), so a call writes each session once.
    const bySession = entries.length > 1 ? entries.toSorted((a, b) => (a.session.sid < b.session.sid ? -1 : a.session.sid > b.session.sid ? 1 : 0)) : entries;
    const calls: Array<Array<string | number>> = [];
    for (let start = 0; start < bySession.length; start += RECORD_ISSUED_MAX_ENTRIES) {
      const args: Array<string | number> = [...head];
      for (const { session, hop, retentionSeconds } of bySession.slice(start, start + RECORD_ISSUED_MAX_ENTRIES)) {
        const clients = hopClients(hop);
        args.push(session.sid, session.sub, session.issuer, hop.at, JSON.stringify(hop), hop.jti, hop.exp, retentionSeconds, hop.toolServer, clients.length, ...clients);
      }
      calls.push(args);
    }
    if (calls.length === 1) {
      await this.#redis.dtsRecordIssued(...(calls[0] as Array<string | number>));
      return;
    }
    const pipeline = this.#redis.pipeline() as unknown as { dtsRecordIssued(...args: Array<string | number>): unknown; exec(): Promise<Array<[Error | null, unknown]> | null> };
    for (const args of calls) pipeline.dtsRecordIssued(...args);
    const results = await pipeline.exec();
    if (!results) throw new Error('Redis pipeline was aborted');
    for (const [error] of results) if (error) throw error;
  }

  async get(sid: string): Promise<SessionRecord | undefined> {
    const keys = this.#keys;
    const p = this.#prefix;
    const results = await this.#redis
      .multi()
      .hgetall(keys.record(p, sid))
      .smembers(keys.clients(p, sid))
      .smembers(keys.tools(p, sid))
      .zrangebyscore(keys.jtis(p, sid), `(${epochSeconds()}`, '+inf', 'WITHSCORES')
      .lrange(keys.hops(p, sid), 0, -1)
      .exec();
    const [hash, clients, tools, jtis, hops] = values(results) as [Record<string, string>, string[], string[], string[], string[]];
    const summary = toSummary(hash, clients, tools);
    if (!summary) return undefined;
    const liveJtis: SessionRecord['liveJtis'] = [];
    for (let i = 0; i + 1 < jtis.length; i += 2) liveJtis.push({ jti: jtis[i] as string, exp: Number(jtis[i + 1]) });
    return { ...summary, liveJtis, hops: hops.map((hop) => JSON.parse(hop) as SessionHop) };
  }

  async list(filter: { sub?: string; clientId?: string }, page: { cursor?: string; limit: number }): Promise<Page<SessionSummary>> {
    const limit = pageLimit(page.limit);
    const after = page.cursor === undefined ? undefined : decodeSessionCursor(page.cursor);
    const keys = this.#keys;
    const p = this.#prefix;
    const index = filter.sub ? keys.bySub(p, filter.sub) : filter.clientId ? keys.byClient(p, filter.clientId) : keys.recent(p);
    const found: SessionSummary[] = [];
    for (let offset = 0; found.length <= limit; offset += LIST_BATCH) {
      const flat = await this.#redis.zrevrangebyscore(index, after ? after.lastAt : '+inf', '-inf', 'WITHSCORES', 'LIMIT', offset, LIST_BATCH);
      const positions: SessionPosition[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) positions.push({ sid: flat[i] as string, lastAt: Number(flat[i + 1]) });
      const wanted = after ? positions.filter((position) => compareSessionPositions(position, after) > 0) : positions;
      for (const summary of await this.#summaries(wanted.map((w) => w.sid))) {
        if (filter.clientId && !summary.clients.includes(filter.clientId)) continue;
        found.push(summary);
      }
      if (positions.length < LIST_BATCH) break;
    }
    const items = found.slice(0, limit);
    const last = items.at(-1);
    return found.length > limit && last ? { items, next: encodeSessionCursor(last) } : { items };
  }

  async sidsOf(sub: string): Promise<string[]> {
    const sids = await this.#redis.zrevrange(this.#keys.bySub(this.#prefix, sub), 0, -1);
    return (await this.#summaries(sids)).map((summary) => summary.sid);
  }

  get #keys() {
    return (this.#cluster ? clusterKeys : redisKeys).session;
  }

  /**
   * Redis Cluster: each session's entries in one script call on its slot (a session's calls in order, sessions in
   * parallel), which replies the listing-index work; then one script per index (its own slot); then the cleanup
   * candidates' records checked (EXISTS, in parallel) and the dead ones removed. Three to four round trips, all after
   * the response (the registry is never on the exchange's check path).
   */
  async #recordIssuedCluster(entries: IssuedEntry[]): Promise<void> {
    const keys = clusterKeys.session;
    const p = this.#prefix;
    const bySid = new Map<string, IssuedEntry[]>();
    for (const entry of entries) {
      const list = bySid.get(entry.session.sid);
      if (list) list.push(entry);
      else bySid.set(entry.session.sid, [entry]);
    }
    const indexes = new Map<string, IndexWork>();
    const indexKey = (kind: string, name: string) => (kind === 'recent' ? keys.recent(p) : kind === 'sub' ? keys.bySub(p, name) : keys.byClient(p, name));
    await Promise.all(
      [...bySid].map(async ([sid, list]) => {
        const sessionKeys = [keys.record(p, sid), keys.clients(p, sid), keys.tools(p, sid), keys.jtis(p, sid), keys.hops(p, sid)];
        for (let start = 0; start < list.length; start += RECORD_ISSUED_MAX_ENTRIES) {
          const args: Array<string | number> = [...sessionKeys, this.#maxHops];
          for (const { session, hop, retentionSeconds } of list.slice(start, start + RECORD_ISSUED_MAX_ENTRIES)) {
            const clients = hopClients(hop);
            args.push(session.sid, session.sub, session.issuer, hop.at, JSON.stringify(hop), hop.jti, hop.exp, retentionSeconds, hop.toolServer, clients.length, ...clients);
          }
          const touches = await this.#redis.dtsRecordSession(...args);
          for (let i = 0; i + 6 < touches.length; i += 7) {
            const [kind, name, member, joined, clean, retention, expiry] = touches.slice(i, i + 7) as [string, string, string, string, string, string, string];
            const key = indexKey(kind, name);
            let work = indexes.get(key);
            if (!work) indexes.set(key, (work = { members: new Map(), added: 0, expireAt: 0, clean: false, retention: Infinity }));
            if (member !== '') work.members.set(sid, Number(member));
            if (joined === '1') work.added++;
            if (clean === '1') {
              work.clean = true;
              work.retention = Math.min(work.retention, Number(retention));
            }
            work.expireAt = Math.max(work.expireAt, Number(expiry));
          }
        }
      }),
    );
    const now = epochSeconds();
    await Promise.all(
      [...indexes].map(async ([key, work]) => {
        const budget = work.clean ? Math.min(INDEX_CLEANUP_PER_INSERT * Math.max(work.added, 1), INDEX_CLEANUP_MAX) : 0;
        const pairs = [...work.members].flatMap(([sid, lastAt]) => [lastAt, sid]);
        const candidates = await this.#redis.dtsIndexTouch(key, work.expireAt, budget, work.clean ? now - work.retention : 0, ...pairs);
        if (candidates.length === 0) return;
        const alive = await Promise.all(candidates.map((sid) => this.#redis.exists(keys.record(p, sid))));
        const dead = candidates.filter((_, i) => alive[i] === 0);
        if (dead.length > 0) await this.#redis.zrem(key, ...dead);
      }),
    );
  }

  /** The summaries of the sessions that still exist, in the order given, in one MULTI (Redis Cluster: one per session, sent together). */
  async #summaries(sids: string[]): Promise<SessionSummary[]> {
    if (sids.length === 0) return [];
    const keys = this.#keys;
    const p = this.#prefix;
    const read = (multi: ReturnType<ScriptedRedis['multi']>, sid: string) => multi.hgetall(keys.record(p, sid)).smembers(keys.clients(p, sid)).smembers(keys.tools(p, sid));
    let replies: unknown[];
    if (this.#cluster) {
      replies = (await Promise.all(sids.map(async (sid) => values(await read(this.#redis.multi(), sid).exec())))).flat();
    } else {
      const multi = this.#redis.multi();
      for (const sid of sids) read(multi, sid);
      replies = values(await multi.exec());
    }
    const summaries: SessionSummary[] = [];
    for (let i = 0; i + 2 < replies.length; i += 3) {
      const summary = toSummary(replies[i] as Record<string, string>, replies[i + 1] as string[], replies[i + 2] as string[]);
      if (summary) summaries.push(summary);
    }
    return summaries;
  }
}

function toSummary(hash: Record<string, string>, clients: string[], tools: string[]): SessionSummary | undefined {
  if (!hash.sid || !hash.sub) return undefined;
  return {
    sid: hash.sid,
    sub: hash.sub,
    issuer: hash.issuer ?? '',
    firstAt: Number(hash.firstAt),
    lastAt: Number(hash.lastAt),
    tokensIssued: Number(hash.tokensIssued),
    clients: sortedStrings(clients),
    toolServers: sortedStrings(tools),
  };
}

/** MULTI replies without their error slots; any error fails the whole read. */
function values(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (!results) throw new Error('Redis MULTI was aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
