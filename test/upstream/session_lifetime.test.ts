// A login session lives a fixed time from its login, with its upstream session link and account record: using it does
// not slide it past them; and a session whose account record is gone logs in again instead of failing.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Browser } from '../helpers/browser.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream_idp.js';
import { upstreamKeys } from '../../src/stores/redis/upstream_login.js';
import { upstreamSessionKey } from '../../src/upstream/account.js';
import { accountKey, accountOf, authorize, sessionsOf, startWithUpstream, type Svc } from './flow.js';
import { REDIRECT } from '../helpers/service.js';

const SESSION_TTL = 300;

describe('upstream login session lifetime', () => {
  let idp: UpstreamIdp;
  let svc: Svc;
  before(async () => {
    idp = await startUpstreamIdp();
    svc = await startWithUpstream(idp, { userTokens: { sessionTtlSeconds: SESSION_TTL } });
  });
  after(async () => {
    await svc?.stop();
    await idp?.stop();
  });

  it('a second /auth later does not move the session expiry: session, upstream link and account end together', async () => {
    const browser = new Browser(svc);
    idp.user = { sub: 'nina', sid: 'up-nina', groups: [] };
    const before = Math.floor(Date.now() / 1000);
    assert.ok((await authorize(svc, browser)).accessToken);
    const [first] = await sessionsOf(svc, accountOf(idp, 'nina'));
    assert.ok(first);
    assert.ok(first.exp >= before + SESSION_TTL && first.exp <= Math.floor(Date.now() / 1000) + SESSION_TTL, String(first.exp));
    // Into the next second, so that a sliding expiry would show.
    await sleep(1100);
    assert.ok((await authorize(svc, browser)).accessToken);
    assert.deepEqual(await sessionsOf(svc, accountOf(idp, 'nina')), [first]);
    // The link back-channel logout reads expires with the session, and the account record no earlier.
    const link = upstreamKeys.bySid(svc.prefix, upstreamSessionKey(idp.issuer, 'up-nina'));
    assert.deepEqual(await svc.redis.zrange(link, '0', '-1', 'WITHSCORES'), [first.uid, String(first.exp)]);
    const accountExpiresAt = Math.floor(Date.now() / 1000) + (await svc.redis.ttl(accountKey(svc, accountOf(idp, 'nina'))));
    assert.ok(accountExpiresAt >= first.exp, `${accountExpiresAt} < ${first.exp}`);
  });

  it('a login whose session cannot be linked to its upstream session: 503, no session cookie, the session ended', async () => {
    const browser = new Browser(svc);
    idp.user = { sub: 'quinn', sid: 'up-quinn', groups: [] };
    // The link key held by a value of another type: Redis refuses the link write (WRONGTYPE) after the session is saved.
    const link = upstreamKeys.bySid(svc.prefix, upstreamSessionKey(idp.issuer, 'up-quinn'));
    await svc.redis.set(link, 'not a sorted set');

    await assert.rejects(authorize(svc, browser), /flow stopped: 503 http:\/\/[^ ]+\/auth\/[\w-]+ \{"error":"temporarily_unavailable"/);
    // Without the link a back-channel logout could not reach the session: it must not live, nor reach the browser.
    assert.deepEqual(await sessionsOf(svc, accountOf(idp, 'quinn')), []);
    assert.ok(!browser.cookieNames().some((name) => name.startsWith('_session')), browser.cookieNames().join());

    await svc.redis.del(link);
    const again = await authorize(svc, browser);
    assert.ok(again.accessToken, JSON.stringify(again));
    const [session] = await sessionsOf(svc, accountOf(idp, 'quinn'));
    assert.deepEqual(await svc.redis.zrange(link, '0', '-1'), [session!.uid]);
  });

  it('a session whose upstream account record is gone asks for login again (login page, not server_error)', async () => {
    const browser = new Browser(svc);
    idp.user = { sub: 'omar', sid: 'up-omar', groups: [] };
    assert.ok((await authorize(svc, browser)).accessToken);
    const [session] = await sessionsOf(svc, accountOf(idp, 'omar'));
    assert.equal(await svc.redis.del(accountKey(svc, accountOf(idp, 'omar'))), 1);

    const auth = await browser.fetch(`/auth?${new URLSearchParams({ client_id: 'agent', response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`);
    assert.equal(auth.status, 303);
    const interaction = auth.headers.get('location')!;
    assert.match(interaction, /^\/interaction\/[\w-]+$/);
    const page = await browser.fetch(interaction);
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), `${interaction}/upstream/start`);

    // Logging in again restores the account; the session keeps its expiry.
    const again = await authorize(svc, browser);
    assert.ok(again.accessToken, JSON.stringify(again));
    assert.equal(await svc.redis.exists(accountKey(svc, accountOf(idp, 'omar'))), 1);
    assert.deepEqual(await sessionsOf(svc, accountOf(idp, 'omar')), [session]);
  });

  it('with prompt=none, a session whose account record is gone gets login_required', async () => {
    const browser = new Browser(svc);
    idp.user = { sub: 'pia', sid: 'up-pia', groups: [] };
    assert.ok((await authorize(svc, browser)).accessToken);
    await svc.redis.del(accountKey(svc, accountOf(idp, 'pia')));
    const end = await authorize(svc, browser, { prompt: 'none' });
    assert.equal(end.error?.get('error'), 'login_required');
    assert.equal(end.error?.get('error_description'), 'End-User authentication is required');
    assert.equal(end.error?.get('state'), 'client-state');
  });
});
