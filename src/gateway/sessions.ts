// MCP sessions bound to their owner: an `Mcp-Session-Id` opened by one (sub, sid, client_id) is refused to any other.
// Redis (shared by replicas; SET EX, GETEX refreshes the TTL on use) or memory (one replica).
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

export interface SessionOwner {
  sub: string;
  sid: string;
  clientId: string;
}

export interface SessionBindings {
  /** Records the owner of a session upstream just opened (overwrites: an upstream never reuses an id). */
  bind(route: string, sessionId: string, owner: SessionOwner): Promise<void>;
  /** The owner, refreshing its TTL, or undefined when unknown or expired. */
  owner(route: string, sessionId: string): Promise<SessionOwner | undefined>;
  unbind(route: string, sessionId: string): Promise<void>;
}

export function sameOwner(a: SessionOwner, b: SessionOwner): boolean {
  return a.sub === b.sub && a.sid === b.sid && a.clientId === b.clientId;
}

/** Session ids are chosen upstream: hashed, so any id gives a bounded key. */
function bindingId(route: string, sessionId: string): string {
  return createHash('sha256').update(route).update('\n').update(sessionId).digest('base64url');
}

export function redisSessionBindings(redis: Redis, prefix: string, ttlSeconds: number): SessionBindings {
  const key = (route: string, sessionId: string) => `${prefix}gw:session:${bindingId(route, sessionId)}`;
  return {
    async bind(route, sessionId, owner) {
      await redis.set(key(route, sessionId), JSON.stringify(owner), 'EX', ttlSeconds);
    },
    async owner(route, sessionId) {
      const value = await redis.getex(key(route, sessionId), 'EX', ttlSeconds);
      return value ? (JSON.parse(value) as SessionOwner) : undefined;
    },
    async unbind(route, sessionId) {
      await redis.del(key(route, sessionId));
    },
  };
}

export function memorySessionBindings(ttlSeconds: number, now: () => number = Date.now): SessionBindings {
  const map = new Map<string, { owner: SessionOwner; until: number }>();
  return {
    async bind(route, sessionId, owner) {
      const id = bindingId(route, sessionId);
      // Re-inserting keeps the map in expiry order, so the sweep below stops at the first live entry.
      map.delete(id);
      map.set(id, { owner, until: now() + ttlSeconds * 1000 });
      for (const [k, v] of map) {
        if (v.until > now()) break;
        map.delete(k);
      }
    },
    async owner(route, sessionId) {
      const id = bindingId(route, sessionId);
      const entry = map.get(id);
      if (!entry || entry.until <= now()) return undefined;
      map.delete(id);
      map.set(id, { owner: entry.owner, until: now() + ttlSeconds * 1000 });
      return entry.owner;
    },
    async unbind(route, sessionId) {
      map.delete(bindingId(route, sessionId));
    },
  };
}

/**
 * Redis bindings with this replica's memory in front: a binding is written once and never changes owner, so an owner
 * read from Redis in the last `refreshSeconds` is answered from memory, and Redis (GETEX, which also slides its TTL)
 * is read again only after that. What memory can miss is an unbind or an expiry on another replica within that window:
 * then the owner's own requests still pass here and upstream answers for the session it ended; another caller is
 * still refused. A binding unknown here is always read from Redis (an unknown or refused id is never remembered).
 */
export function cachedSessionBindings(inner: SessionBindings, refreshSeconds: number, now: () => number = Date.now, max = 10_000): SessionBindings {
  const seen = new LRUCache<string, { owner: SessionOwner; readAt: number }>({ max });
  return {
    async bind(route, sessionId, owner) {
      await inner.bind(route, sessionId, owner);
      seen.set(bindingId(route, sessionId), { owner, readAt: now() });
    },
    async owner(route, sessionId) {
      const id = bindingId(route, sessionId);
      const known = seen.get(id);
      if (known && now() - known.readAt < refreshSeconds * 1000) return known.owner;
      const owner = await inner.owner(route, sessionId);
      if (owner) seen.set(id, { owner, readAt: now() });
      else seen.delete(id);
      return owner;
    },
    async unbind(route, sessionId) {
      seen.delete(bindingId(route, sessionId));
      await inner.unbind(route, sessionId);
    },
  };
}

