// Upstream login state in memory (one instance only, like every memory store).
import type { UpstreamAccount, UpstreamAuthorization, UpstreamLogin, UpstreamLoginStore } from '../types.js';
import { ExpiringMap } from './expiring_map.js';

export class MemoryUpstreamLoginStore implements UpstreamLoginStore {
  readonly #now: () => number;
  readonly #records: ExpiringMap<unknown>;
  /** index key -> (session uid -> expiry, epoch ms) */
  readonly #links: ExpiringMap<Map<string, number>>;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#records = new ExpiringMap(now);
    this.#links = new ExpiringMap(now);
  }

  async putAuthorization(uid: string, value: UpstreamAuthorization, ttlSeconds: number): Promise<void> {
    this.#put(`auth:${uid}`, value, ttlSeconds);
  }

  async takeAuthorization(uid: string): Promise<UpstreamAuthorization | undefined> {
    return this.#take(`auth:${uid}`);
  }

  async putLogin(uid: string, value: UpstreamLogin, ttlSeconds: number): Promise<void> {
    this.#put(`login:${uid}`, value, ttlSeconds);
  }

  async takeLogin(uid: string): Promise<UpstreamLogin | undefined> {
    return this.#take(`login:${uid}`);
  }

  async putAccount(account: UpstreamAccount, ttlSeconds: number): Promise<void> {
    this.#put(`acct:${account.id}`, structuredClone(account), ttlSeconds);
  }

  async getAccount(id: string): Promise<UpstreamAccount | undefined> {
    const found = this.#records.get(`acct:${id}`) as UpstreamAccount | undefined;
    return found && structuredClone(found);
  }

  async linkSession(link: { accountId: string; upstreamSid?: string; sessionUid: string }, expiresAt: number): Promise<void> {
    const at = expiresAt * 1000;
    for (const key of [`acct:${link.accountId}`, ...(link.upstreamSid ? [`sid:${link.upstreamSid}`] : [])]) {
      const members = this.#links.get(key) ?? new Map<string, number>();
      for (const [uid, exp] of members) if (exp <= this.#now()) members.delete(uid);
      members.set(link.sessionUid, Math.max(at, members.get(link.sessionUid) ?? 0));
      this.#links.set(key, members, Math.max(at, this.#links.expiresAt(key) ?? 0));
    }
  }

  async sessionsOf(key: { upstreamSid: string } | { accountId: string }): Promise<string[]> {
    const members = this.#links.get('upstreamSid' in key ? `sid:${key.upstreamSid}` : `acct:${key.accountId}`);
    const now = this.#now();
    return [...(members ?? [])].filter(([, exp]) => exp > now).map(([uid]) => uid);
  }

  async claimLogoutToken(key: string, ttlSeconds: number): Promise<boolean> {
    if (this.#records.get(`jti:${key}`)) return false;
    this.#put(`jti:${key}`, true, ttlSeconds);
    return true;
  }

  sweep(): void {
    this.#records.sweep();
    this.#links.sweep();
  }

  #put(key: string, value: unknown, ttlSeconds: number): void {
    this.#records.set(key, value, this.#now() + Math.max(1, Math.ceil(ttlSeconds)) * 1000);
  }

  #take<T>(key: string): T | undefined {
    const found = this.#records.get(key) as T | undefined;
    this.#records.delete(key);
    return found;
  }
}
