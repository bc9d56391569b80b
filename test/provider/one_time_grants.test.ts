// The adapter oidc-provider is given (provider/index.ts failClosed): a refused consume is a reuse (400, the grant ended),
// a store outage is 503, and a token saved under a grant ended meanwhile does not survive. Memory stores; the HTTP
// races are in test/grants/authorization_code/concurrent_use.test.ts.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, it } from 'node:test';
import { errors, type AdapterConstructor } from 'oidc-provider';
import { pino } from 'pino';
import { beforeDestroy, failClosed } from '../../src/provider/index.js';
import { GrantEndRetry, type GrantEnds } from '../../src/provider/grant_end_retry.js';
import { adapterClass } from '../../src/stores/adapter_class.js';
import { createMemoryStores } from '../../src/stores/memory/index.js';
import type { AdapterPayload, Stores } from '../../src/stores/types.js';

interface Adapter {
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

describe('failClosed: one-time grants', () => {
  let stores: Stores;
  /** Store calls in order, as `method model id`. */
  let calls: string[];
  /** The request the adapter believes it serves (oidc-provider's `Provider.ctx` in the service). */
  let request: object | undefined;
  let Adapter: new (model: string) => Adapter;
  /** What the adapter told of the grant ends it ran, as `failed id` / `ended id`; `retry`, when set, is told instead. */
  let told: string[];
  let retry: GrantEnds | undefined;
  const grantEnds: GrantEnds = {
    started: (grantId) => retry?.started(grantId) ?? 0,
    failed: (grantId, err) => (told.push(`failed ${grantId}`), retry?.failed(grantId, err)),
    ended: (grantId, startedAt) => (told.push(`ended ${grantId}`), retry?.ended(grantId, startedAt)),
  };
  const id = () => randomUUID();

  /** The memory stores, each call logged, a destroy hook (as service.ts's) logged too, and `overrides` per model. */
  function build(overrides: Record<string, Partial<Record<keyof Adapter, (...a: string[]) => Promise<never>>>> = {}) {
    const Logged = class {
      readonly #inner: Adapter;
      readonly #model: string;
      constructor(model: string) {
        this.#model = model;
        this.#inner = new (adapterClass(stores) as unknown as new (m: string) => Adapter)(model);
      }
      #call<T>(method: keyof Adapter, arg: string, run: () => Promise<T>): Promise<T> {
        calls.push(`${method} ${this.#model} ${arg}`);
        const override = overrides[this.#model]?.[method];
        return override ? override(arg) : run();
      }
      upsert(i: string, p: AdapterPayload, e?: number) { return this.#call('upsert', i, () => this.#inner.upsert(i, p, e)); }
      find(i: string) { return this.#call('find', i, () => this.#inner.find(i)); }
      findByUid(uid: string) { return this.#inner.find(uid); }
      findByUserCode(code: string) { return this.#inner.find(code); }
      consume(i: string) { return this.#call('consume', i, () => this.#inner.consume(i)); }
      destroy(i: string) { return this.#call('destroy', i, () => this.#inner.destroy(i)); }
      revokeByGrantId(g: string) { return this.#call('revokeByGrantId', g, () => this.#inner.revokeByGrantId(g)); }
    };
    const hooked = beforeDestroy(Logged as unknown as AdapterConstructor, async (model, i) => {
      calls.push(`hook ${model} ${i}`);
    });
    Adapter = failClosed(hooked, { currentRequest: () => request, grantEnds }) as unknown as new (model: string) => Adapter;
  }

  /** A grant with a code, an access token and a refresh token; and another grant's token. */
  async function grantWithTokens() {
    const [grantId, code, at, rt, other] = [id(), id(), id(), id(), id()];
    await stores.adapterFor('Grant').upsert(grantId, { jti: grantId, kind: 'Grant' }, 60);
    await stores.adapterFor('AuthorizationCode').upsert(code, { jti: code, kind: 'AuthorizationCode', grantId }, 60);
    await stores.adapterFor('AccessToken').upsert(at, { jti: at, kind: 'AccessToken', grantId }, 60);
    await stores.adapterFor('RefreshToken').upsert(rt, { jti: rt, kind: 'RefreshToken', grantId }, 60);
    await stores.adapterFor('AccessToken').upsert(other, { jti: other, kind: 'AccessToken', grantId: id() }, 60);
    return { grantId, code, at, rt, other };
  }

  beforeEach(() => {
    stores = createMemoryStores();
    calls = [];
    told = [];
    retry = undefined;
    request = undefined;
    build();
  });

  const invalidGrant = (err: unknown) => {
    assert.ok(err instanceof errors.InvalidGrant, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.error_description, 'grant request is invalid');
    return true;
  };

  it('a second consume of a code is invalid_grant, and ends its grant: the Grant (its destroy hook runs), then its tokens', async () => {
    const { grantId, code, at, rt, other } = await grantWithTokens();
    await new Adapter('AuthorizationCode').consume(code);
    calls = [];
    await assert.rejects(new Adapter('AuthorizationCode').consume(code), invalidGrant);
    assert.equal(await stores.adapterFor('Grant').find(grantId), undefined);
    for (const [model, jti] of [['AuthorizationCode', code], ['AccessToken', at], ['RefreshToken', rt]] as const) {
      assert.equal(await stores.adapterFor(model).find(jti), undefined, model);
    }
    assert.ok(await stores.adapterFor('AccessToken').find(other), "another grant's token survives");
    // The Grant ends first (its hook publishes the delegation tokens' root digest), then every token of it, in one
    // store call (a store's revokeByGrantId takes every model's records).
    assert.deepEqual(calls, [`consume AuthorizationCode ${code}`, `hook Grant ${grantId}`, `destroy Grant ${grantId}`, `revokeByGrantId AccessToken ${grantId}`]);
  });

  it('a second consume of a refresh token is invalid_grant and ends its grant', async () => {
    const { grantId, rt, at } = await grantWithTokens();
    await new Adapter('RefreshToken').consume(rt);
    await assert.rejects(new Adapter('RefreshToken').consume(rt), invalidGrant);
    assert.equal(await stores.adapterFor('Grant').find(grantId), undefined);
    assert.equal(await stores.adapterFor('AccessToken').find(at), undefined);
  });

  it('a consume of a record already gone is invalid_grant; there is no grant left to end', async () => {
    await assert.rejects(new Adapter('AuthorizationCode').consume(id()), invalidGrant);
    assert.ok(!calls.some((c) => c.startsWith('destroy') || c.startsWith('revokeByGrantId')), calls.join('\n'));
  });

  it('a second consume of a pushed authorization request is invalid_request_uri, as oidc-provider answers a reuse', async () => {
    const par = id();
    await stores.adapterFor('PushedAuthorizationRequest').upsert(par, { jti: par, kind: 'PushedAuthorizationRequest' }, 60);
    await new Adapter('PushedAuthorizationRequest').consume(par);
    await assert.rejects(new Adapter('PushedAuthorizationRequest').consume(par), (err: unknown) => {
      assert.ok(err instanceof errors.InvalidRequestUri, String(err));
      assert.equal(err.error_description, 'request_uri is invalid, expired, or was already used');
      return true;
    });
  });

  it('a store outage in consume stays 503 temporarily_unavailable (fail closed), never invalid_grant', async () => {
    build({ AuthorizationCode: { consume: async () => Promise.reject(new Error('connect ECONNREFUSED')) } });
    const { code } = await grantWithTokens();
    await assert.rejects(new Adapter('AuthorizationCode').consume(code), { status: 503, error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' });
  });

  it('a store outage while ending the grant of a refused consume is 503: the grant is not left alive behind a 400', async () => {
    build({ Grant: { destroy: async () => Promise.reject(new Error('connect ECONNREFUSED')) } });
    const { code } = await grantWithTokens();
    await new Adapter('AuthorizationCode').consume(code);
    await assert.rejects(new Adapter('AuthorizationCode').consume(code), { status: 503, error: 'temporarily_unavailable' });
  });

  it('destroying a Grant revokes its tokens after it', async () => {
    const { grantId, at, rt } = await grantWithTokens();
    await new Adapter('Grant').destroy(grantId);
    assert.equal(calls[1], `destroy Grant ${grantId}`);
    assert.equal(await stores.adapterFor('AccessToken').find(at), undefined);
    assert.equal(await stores.adapterFor('RefreshToken').find(rt), undefined);
  });

  it("oidc-provider's revoke (every token model's revokeByGrantId, then the Grant's destroy, at once): one revocation, after the grant", async () => {
    const { grantId, code, at, rt } = await grantWithTokens();
    request = {};
    // As lib/helpers/revoke.js runs them: one synchronous expression.
    await Promise.all(['AccessToken', 'RefreshToken', 'AuthorizationCode'].map((model) => new Adapter(model).revokeByGrantId(grantId)).concat(new Adapter('Grant').destroy(grantId)));
    assert.deepEqual(calls, [`hook Grant ${grantId}`, `destroy Grant ${grantId}`, `revokeByGrantId AccessToken ${grantId}`]);
    for (const [model, jti] of [['AuthorizationCode', code], ['AccessToken', at], ['RefreshToken', rt]] as const) assert.equal(await stores.adapterFor(model).find(jti), undefined, model);
  });

  it('a revocation of a grant that no destroy ends (RFC 7009 access token revocation) revokes; another request does not join an end', async () => {
    const { grantId, at, rt } = await grantWithTokens();
    request = {};
    await new Adapter('AccessToken').revokeByGrantId(grantId);
    assert.deepEqual(calls, [`revokeByGrantId AccessToken ${grantId}`]);
    assert.equal(await stores.adapterFor('AccessToken').find(at), undefined);
    assert.equal(await stores.adapterFor('RefreshToken').find(rt), undefined);

    const other = await grantWithTokens();
    calls = [];
    request = {};
    const ending = new Adapter('Grant').destroy(other.grantId);
    request = {};
    await Promise.all([ending, new Adapter('RefreshToken').revokeByGrantId(other.grantId)]);
    assert.equal(calls.filter((c) => c.startsWith('revokeByGrantId')).length, 2, calls.join('\n'));
  });

  it("the winner of a race saving a token after the loser ended the grant: the token is deleted and the winner refused", async () => {
    const { grantId, code } = await grantWithTokens();
    request = {};
    await new Adapter('AuthorizationCode').consume(code);
    // The loser, another request: its consume is refused and ends the grant.
    const winner = request;
    request = {};
    await assert.rejects(new Adapter('AuthorizationCode').consume(code), invalidGrant);
    request = winner;
    const late = id();
    await assert.rejects(new Adapter('AccessToken').upsert(late, { jti: late, kind: 'AccessToken', grantId }, 60), invalidGrant);
    assert.equal(await stores.adapterFor('AccessToken').find(late), undefined);
  });

  it('the winner saving its tokens while the grant lives keeps them; requests that consumed nothing are not checked', async () => {
    const { grantId, code } = await grantWithTokens();
    request = {};
    await new Adapter('AuthorizationCode').consume(code);
    const token = id();
    await new Adapter('AccessToken').upsert(token, { jti: token, kind: 'AccessToken', grantId }, 60);
    assert.ok(await stores.adapterFor('AccessToken').find(token));
    assert.ok(calls.includes(`find Grant ${grantId}`));

    request = {};
    calls = [];
    const unchecked = id();
    await new Adapter('AccessToken').upsert(unchecked, { jti: unchecked, kind: 'AccessToken', grantId: id() }, 60);
    assert.deepEqual(calls, [`upsert AccessToken ${unchecked}`]);
  });
  describe('a grant end that fails for the store is handed on to be retried (grant_end_retry.ts)', () => {
    const refused = () => Promise.reject(new Error('connect ECONNREFUSED')) as Promise<never>;

    it('the end of a refused consume: 503, and the grant handed on once; a successful end says so', async () => {
      build({ Grant: { destroy: refused } });
      const { grantId, code } = await grantWithTokens();
      await new Adapter('AuthorizationCode').consume(code);
      await assert.rejects(new Adapter('AuthorizationCode').consume(code), { status: 503, error: 'temporarily_unavailable' });
      assert.deepEqual(told, [`failed ${grantId}`]);

      build();
      told = [];
      await assert.rejects(new Adapter('AuthorizationCode').consume(code), invalidGrant);
      assert.deepEqual(told, [`ended ${grantId}`]);
    });

    it("oidc-provider's reuse path (every token model's revokeByGrantId with the Grant's destroy): all 503, handed on once", async () => {
      build({ Grant: { destroy: refused } });
      const { grantId } = await grantWithTokens();
      request = {};
      const all = ['AccessToken', 'RefreshToken', 'AuthorizationCode'].map((model) => new Adapter(model).revokeByGrantId(grantId)).concat(new Adapter('Grant').destroy(grantId));
      const settled = await Promise.allSettled(all);
      for (const s of settled) assert.equal(s.status === 'rejected' && (s.reason as { status?: number }).status, 503);
      assert.deepEqual(told, [`failed ${grantId}`]);
    });

    it("the tokens' revocation failing after the grant is gone: handed on too", async () => {
      build({ AccessToken: { revokeByGrantId: refused } });
      const { grantId } = await grantWithTokens();
      await assert.rejects(new Adapter('Grant').destroy(grantId), { status: 503 });
      assert.deepEqual(told, [`failed ${grantId}`]);
    });

    it("the winner's save after the grant ended, its revocation failing: handed on, so a retry deletes the token just saved", async () => {
      build({ AccessToken: { revokeByGrantId: refused } });
      const { grantId, code } = await grantWithTokens();
      request = {};
      await new Adapter('AuthorizationCode').consume(code);
      // The loser's end went through meanwhile (as far as the Grant).
      await stores.adapterFor('Grant').destroy(grantId);
      const late = id();
      await assert.rejects(new Adapter('AccessToken').upsert(late, { jti: late, kind: 'AccessToken', grantId }, 60), { status: 503 });
      assert.deepEqual(told, [`failed ${grantId}`]);
    });

    it('an answer (invalid_grant) is not an outage: nothing handed on', async () => {
      build({ Grant: { destroy: () => Promise.reject(new errors.InvalidGrant('nope')) as Promise<never> } });
      const { grantId } = await grantWithTokens();
      await assert.rejects(new Adapter('Grant').destroy(grantId), invalidGrant);
      assert.deepEqual(told, []);
    });

    it('retried through the same adapter once the store answers: the Grant (its hook again), then every token of it', async () => {
      let down = true;
      build({ Grant: { destroy: (grantId: string) => (down ? refused() : (stores.adapterFor('Grant').destroy(grantId) as Promise<never>)) } });
      retry = new GrantEndRetry({ end: (grantId) => new Adapter('Grant').destroy(grantId), logger: pino({ level: 'silent' }), baseDelayMs: 2, maxDelayMs: 10 });
      const { grantId, code, at, rt } = await grantWithTokens();
      await new Adapter('AuthorizationCode').consume(code);
      await assert.rejects(new Adapter('AuthorizationCode').consume(code), { status: 503 });
      await sleep(30);
      assert.ok(await stores.adapterFor('Grant').find(grantId), 'the grant lives while the store is down');
      down = false;
      calls = [];
      for (let i = 0; i < 100 && (retry as GrantEndRetry).pending > 0; i++) await sleep(5);
      assert.equal((retry as GrantEndRetry).pending, 0);
      assert.equal(await stores.adapterFor('Grant').find(grantId), undefined);
      for (const [model, jti] of [['AuthorizationCode', code], ['AccessToken', at], ['RefreshToken', rt]] as const) assert.equal(await stores.adapterFor(model).find(jti), undefined, model);
      assert.deepEqual(calls, [`hook Grant ${grantId}`, `destroy Grant ${grantId}`, `revokeByGrantId AccessToken ${grantId}`]);
      (retry as GrantEndRetry).stop();
    });

    it("the winner's save failing while a retry of the same grant runs: that retry's success does not clear it, the token just saved is deleted next round", async () => {
      let down = true;
      /** The retry's revocation, held after it ran until the test lets it report. */
      let held: (() => void) | undefined;
      let revocations = 0;
      const store = (grantId: string) => stores.adapterFor('AccessToken').revokeByGrantId(grantId) as Promise<never>;
      build({
        Grant: { destroy: (grantId: string) => (down ? refused() : (stores.adapterFor('Grant').destroy(grantId) as Promise<never>)) },
        AccessToken: {
          revokeByGrantId: async (grantId: string) => {
            revocations++;
            if (revocations === 1) {
              await store(grantId);
              return new Promise<never>((resolve) => (held = () => resolve(undefined as never)));
            }
            // The winner's revocation of the token it saved: the store fails it.
            if (revocations === 2) return refused();
            return store(grantId);
          },
        },
      });
      retry = new GrantEndRetry({ end: (grantId) => new Adapter('Grant').destroy(grantId), logger: pino({ level: 'silent' }), baseDelayMs: 2, maxDelayMs: 10 });
      const { grantId, code } = await grantWithTokens();
      const winner = {};
      request = winner;
      await new Adapter('AuthorizationCode').consume(code);
      request = {};
      await assert.rejects(new Adapter('AuthorizationCode').consume(code), { status: 503 });
      request = undefined;
      down = false;
      for (let i = 0; i < 100 && !held; i++) await sleep(5);
      assert.ok(held, "the retry's end ran as far as its revocation");

      // The winner saves a token after that revocation; the grant gone, it revokes the grant's tokens, and that fails.
      request = winner;
      const late = id();
      await assert.rejects(new Adapter('AccessToken').upsert(late, { jti: late, kind: 'AccessToken', grantId }, 60), { status: 503 });
      request = undefined;
      assert.ok(await stores.adapterFor('AccessToken').find(late), 'saved, its revocation failed');

      held!();
      for (let i = 0; i < 100 && (retry as GrantEndRetry).pending > 0; i++) await sleep(5);
      assert.equal((retry as GrantEndRetry).pending, 0);
      assert.equal(revocations, 3, 'the grant ended once more after the in-flight retry went through');
      assert.equal(await stores.adapterFor('AccessToken').find(late), undefined, 'the token saved during the retry is deleted');
      (retry as GrantEndRetry).stop();
    });
  });
});
