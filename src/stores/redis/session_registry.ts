// The session registry on Redis: one script call per batch of issued tokens, MULTI reads, listings from sorted-set indexes.
import { pageLimit } from '../audit_filter.js';
import { epochSeconds } from '../oidc_records.js';
import { compareSessionPositions, decodeSessionCursor, encodeSessionCursor, type SessionPosition } from '../session_cursor.js';
import { hopClients, sortedStrings, validateIssued } from '../session_records.js';
import type { IssuedEntry, Page, SessionHop, SessionRecord, SessionRegistry, SessionSummary, StoreLimits } from '../types.js';
import { redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';
import { RECORD_ISSUED_MAX_ENTRIES } from './session_scripts.js';

const keys = redisKeys.session;
/** Index entries read per round trip while paging. */
const LIST_BATCH = 200;

export class RedisSessionRegistry implements SessionRegistry {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #maxHops: number;

  constructor(redis: ScriptedRedis, prefix: string, limits: Pick<StoreLimits, 'maxHopsPerSession'>) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#maxHops = limits.maxHopsPerSession;
  }

  async recordIssued(session: { sid: string; sub: string; issuer: string }, hop: SessionHop, retentionSeconds: number): Promise<void> {
    await this.recordIssuedMany([{ session, hop, retentionSeconds }]);
  }

  /** One script call per RECORD_ISSUED_MAX_ENTRIES entries; several calls go in one pipeline (one round trip). */
  async recordIssuedMany(entries: IssuedEntry[]): Promise<void> {
    for (const { session, hop, retentionSeconds } of entries) validateIssued(session, hop, retentionSeconds);
    if (entries.length === 0) return;
    const p = this.#prefix;
    const head = [this.#maxHops, keys.record(p, ''), keys.clients(p, ''), keys.tools(p, ''), keys.jtis(p, ''), keys.hops(p, ''), keys.recent(p), keys.bySub(p, ''), keys.byClient(p, '')];
    const calls: Array<Array<string | number>> = [];
    for (let start = 0; start < entries.length; start += RECORD_ISSUED_MAX_ENTRIES) {
      const args: Array<string | number> = [...head];
      for (const { session, hop, retentionSeconds } of entries.slice(start, start + RECORD_ISSUED_MAX_ENTRIES)) {
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
    const sids = await this.#redis.zrevrange(keys.bySub(this.#prefix, sub), 0, -1);
    return (await this.#summaries(sids)).map((summary) => summary.sid);
  }

  /** The summaries of the sessions that still exist, in the order given, in one MULTI. */
  async #summaries(sids: string[]): Promise<SessionSummary[]> {
    if (sids.length === 0) return [];
    const p = this.#prefix;
    const multi = this.#redis.multi();
    for (const sid of sids) multi.hgetall(keys.record(p, sid)).smembers(keys.clients(p, sid)).smembers(keys.tools(p, sid));
    const replies = values(await multi.exec());
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
