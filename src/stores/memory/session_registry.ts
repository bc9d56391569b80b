// The session registry in memory: one entry per session, expiring `retention` after its latest token expiry.
import { pageLimit } from '../audit_filter.js';
import { epochSeconds } from '../oidc_records.js';
import { compareSessionPositions, decodeSessionCursor, encodeSessionCursor } from '../session_cursor.js';
import { hopClients, sortedStrings, validateIssued } from '../session_records.js';
import type { IssuedEntry, Page, SessionHop, SessionRecord, SessionRegistry, SessionSummary, StoreLimits } from '../types.js';
import { ExpiringMap } from './expiring_map.js';

interface MemorySession extends Omit<SessionSummary, 'clients' | 'toolServers'> {
  clients: Set<string>;
  tools: Set<string>;
  /** jti → exp */
  jtis: Map<string, number>;
  /** Hop JSON, oldest first, so stored hops never alias a caller's objects. */
  hops: string[];
}

export class MemorySessionRegistry implements SessionRegistry {
  readonly #sessions: ExpiringMap<MemorySession>;
  readonly #maxHops: number;
  readonly #now: () => number;

  constructor(limits: Pick<StoreLimits, 'maxHopsPerSession'>, now: () => number) {
    this.#maxHops = limits.maxHopsPerSession;
    this.#now = now;
    this.#sessions = new ExpiringMap(now);
  }

  async recordIssued(session: { sid: string; sub: string; issuer: string }, hop: SessionHop, retentionSeconds: number): Promise<void> {
    await this.recordIssuedMany([{ session, hop, retentionSeconds }]);
  }

  async recordIssuedMany(entries: IssuedEntry[]): Promise<void> {
    for (const { session, hop, retentionSeconds } of entries) validateIssued(session, hop, retentionSeconds);
    for (const entry of entries) this.#record(entry);
  }

  /** As the Redis script: sid, sub and issuer come from the first token; a session expired on arrival is not kept. */
  #record({ session, hop, retentionSeconds }: IssuedEntry): void {
    const nowMs = this.#now();
    const now = epochSeconds(nowMs);
    const expiresAt = Math.max((hop.exp + retentionSeconds) * 1000, this.#sessions.expiresAt(session.sid) ?? 0);
    if (expiresAt <= nowMs) return;
    const stored = this.#sessions.get(session.sid) ?? {
      ...session,
      firstAt: hop.at,
      lastAt: hop.at,
      tokensIssued: 0,
      clients: new Set<string>(),
      tools: new Set<string>(),
      jtis: new Map<string, number>(),
      hops: [],
    };
    stored.firstAt = Math.min(stored.firstAt, hop.at);
    stored.lastAt = Math.max(stored.lastAt, hop.at);
    stored.tokensIssued += 1;
    for (const clientId of hopClients(hop)) stored.clients.add(clientId);
    stored.tools.add(hop.toolServer);
    stored.jtis.set(hop.jti, hop.exp);
    for (const [jti, exp] of stored.jtis) if (exp <= now) stored.jtis.delete(jti);
    stored.hops.push(JSON.stringify(hop));
    if (stored.hops.length > this.#maxHops) stored.hops.splice(0, stored.hops.length - this.#maxHops);
    this.#sessions.set(session.sid, stored, expiresAt);
  }

  async get(sid: string): Promise<SessionRecord | undefined> {
    const stored = this.#sessions.get(sid);
    if (!stored) return undefined;
    const now = epochSeconds(this.#now());
    // Ordered as a Redis sorted set: by exp, then jti in byte order.
    const liveJtis = [...stored.jtis]
      .filter(([, exp]) => exp > now)
      .sort(([jtiA, a], [jtiB, b]) => a - b || Buffer.compare(Buffer.from(jtiA), Buffer.from(jtiB)))
      .map(([jti, exp]) => ({ jti, exp }));
    return { ...toSummary(stored), liveJtis, hops: stored.hops.map((hop) => JSON.parse(hop) as SessionHop) };
  }

  async list(filter: { sub?: string; clientId?: string }, page: { cursor?: string; limit: number }): Promise<Page<SessionSummary>> {
    const limit = pageLimit(page.limit);
    const after = page.cursor === undefined ? undefined : decodeSessionCursor(page.cursor);
    const found = this.#ordered()
      .filter((s) => (filter.sub === undefined || s.sub === filter.sub) && (filter.clientId === undefined || s.clients.has(filter.clientId)))
      .filter((s) => !after || compareSessionPositions(s, after) > 0);
    const items = found.slice(0, limit).map(toSummary);
    const last = items.at(-1);
    return found.length > limit && last ? { items, next: encodeSessionCursor(last) } : { items };
  }

  async sidsOf(sub: string): Promise<string[]> {
    return this.#ordered()
      .filter((s) => s.sub === sub)
      .map((s) => s.sid);
  }

  sweep(): void {
    this.#sessions.sweep();
  }

  #ordered(): MemorySession[] {
    return [...this.#sessions.entries()].map(([, s]) => s).sort(compareSessionPositions);
  }
}

function toSummary(s: MemorySession): SessionSummary {
  return {
    sid: s.sid,
    sub: s.sub,
    issuer: s.issuer,
    firstAt: s.firstAt,
    lastAt: s.lastAt,
    tokensIssued: s.tokensIssued,
    clients: sortedStrings(s.clients),
    toolServers: sortedStrings(s.tools),
  };
}
