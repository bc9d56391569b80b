// Upstream login state on Redis (issue 12 item 6): pending records by interaction uid (SET EX, GETDEL), accounts, the
// session links indexed by upstream session and by account (zsets by expiry), and logout token ids (SET NX EX).
// Every command touches one key, so the same layout serves a Redis Cluster.
import type { UpstreamAccount, UpstreamAuthorization, UpstreamLogin, UpstreamLoginStore } from '../types.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * - `${prefix}upl:auth:${uid}`    JSON UpstreamAuthorization, until the callback (interaction lifetime)
 * - `${prefix}upl:login:${uid}`   JSON UpstreamLogin, until the interaction resumes
 * - `${prefix}upl:acct:${id}`     JSON UpstreamAccount, expiring with the longest session it could hold
 * - `${prefix}upl:by-sid:${sid}`, `upl:by-acct:${id}` zsets of our session uids by expiry (epoch s), the key expiring
 *   with its latest member
 * - `${prefix}upl:jti:${key}`     a logout token seen, expiring when the token could no longer be accepted
 */
export const upstreamKeys = {
  authorization: (prefix: string, uid: string) => `${prefix}upl:auth:${uid}`,
  login: (prefix: string, uid: string) => `${prefix}upl:login:${uid}`,
  account: (prefix: string, id: string) => `${prefix}upl:acct:${id}`,
  bySid: (prefix: string, sid: string) => `${prefix}upl:by-sid:${sid}`,
  byAccount: (prefix: string, id: string) => `${prefix}upl:by-acct:${id}`,
  logoutToken: (prefix: string, key: string) => `${prefix}upl:jti:${key}`,
};

const ttl = (seconds: number) => Math.max(1, Math.ceil(seconds));

export class RedisUpstreamLoginStore implements UpstreamLoginStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;

  constructor(redis: ScriptedRedis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async putAuthorization(uid: string, value: UpstreamAuthorization, ttlSeconds: number): Promise<void> {
    await this.#redis.set(upstreamKeys.authorization(this.#prefix, uid), JSON.stringify(value), 'EX', ttl(ttlSeconds));
  }

  async takeAuthorization(uid: string): Promise<UpstreamAuthorization | undefined> {
    return this.#take(upstreamKeys.authorization(this.#prefix, uid));
  }

  async putLogin(uid: string, value: UpstreamLogin, ttlSeconds: number): Promise<void> {
    await this.#redis.set(upstreamKeys.login(this.#prefix, uid), JSON.stringify(value), 'EX', ttl(ttlSeconds));
  }

  async takeLogin(uid: string): Promise<UpstreamLogin | undefined> {
    return this.#take(upstreamKeys.login(this.#prefix, uid));
  }

  async putAccount(account: UpstreamAccount, ttlSeconds: number): Promise<void> {
    await this.#redis.set(upstreamKeys.account(this.#prefix, account.id), JSON.stringify(account), 'EX', ttl(ttlSeconds));
  }

  async getAccount(id: string): Promise<UpstreamAccount | undefined> {
    const raw = await this.#redis.get(upstreamKeys.account(this.#prefix, id));
    return raw ? (JSON.parse(raw) as UpstreamAccount) : undefined;
  }

  async linkSession(link: { accountId: string; upstreamSid?: string; sessionUid: string }, expiresAt: number): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const keys = [upstreamKeys.byAccount(this.#prefix, link.accountId), ...(link.upstreamSid ? [upstreamKeys.bySid(this.#prefix, link.upstreamSid)] : [])];
    // One MULTI per key (a Cluster may put them in different slots): prune, add, keep the key while its latest member lives.
    await Promise.all(
      keys.map(async (key) => {
        const results = await this.#redis
          .multi()
          .zremrangebyscore(key, '-inf', now)
          // GT: a new member is added, an existing one only moves later.
          .zadd(key, 'GT', expiresAt, link.sessionUid)
          // NX for a new key (GT treats "no expiry" as infinite), GT for an existing one: never shortened.
          .expireat(key, expiresAt, 'NX')
          .expireat(key, expiresAt, 'GT')
          .exec();
        const failed = results?.find(([err]) => err);
        if (!results || failed) throw failed?.[0] ?? new Error('MULTI aborted');
      }),
    );
  }

  async sessionsOf(key: { upstreamSid: string } | { accountId: string }): Promise<string[]> {
    const redisKey = 'upstreamSid' in key ? upstreamKeys.bySid(this.#prefix, key.upstreamSid) : upstreamKeys.byAccount(this.#prefix, key.accountId);
    return this.#redis.zrangebyscore(redisKey, `(${Math.floor(Date.now() / 1000)}`, '+inf');
  }

  async claimLogoutToken(key: string, ttlSeconds: number): Promise<boolean> {
    return (await this.#redis.set(upstreamKeys.logoutToken(this.#prefix, key), '1', 'EX', ttl(ttlSeconds), 'NX')) === 'OK';
  }

  async #take<T>(key: string): Promise<T | undefined> {
    const raw = await this.#redis.getdel(key);
    return raw ? (JSON.parse(raw) as T) : undefined;
  }
}
