// Reading the session registry (paging, filters, the delegation tree) and the audit trail through the admin API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { BILLING, CRM, type TestService } from '../helpers/service.js';
import { adminToken, call, jtiOf, sidOf, startAdminService, waitForSession } from './helpers.js';

type Item = Record<string, unknown>;

describe('admin API: sessions and audit', () => {
  let svc: TestService;
  let token: string;
  const get = (path: string) => call(svc, 'GET', path, { token });

  /** Follows `next` until it is absent; asserts every page but the last is full. */
  async function allPages(path: string, limit: number): Promise<{ items: Item[]; pages: number }> {
    const items: Item[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const page = res.body.items as Item[];
      cursor = res.body.next as string | undefined;
      if (cursor !== undefined) assert.equal(page.length, limit);
      else assert.equal('next' in res.body, false);
      items.push(...page);
      pages++;
      assert.ok(pages < 100, 'paging does not end');
    } while (cursor !== undefined);
    return { items, pages };
  }

  before(async () => {
    svc = await startAdminService();
    token = await adminToken(svc);
  });
  after(() => svc.stop());

  it('pages through sessions with no duplicates and filters by sub and client_id', async () => {
    const sub = `page-user-${randomUUID()}`;
    const now = Math.floor(Date.now() / 1000);
    const sids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const sid = `page-${randomUUID()}`;
      sids.push(sid);
      await svc.service.stores.sessions.recordIssued(
        { sid, sub, issuer: 'self' },
        { at: now - 100 + i, clientId: i % 2 ? 'agent2' : 'agent', priorActors: [], toolServer: CRM, scopes: ['crm.lookup_customer'], jti: `jti-${randomUUID()}`, exp: now + 300 },
        3600,
      );
    }
    const { items, pages } = await allPages(`/admin/sessions?sub=${sub}`, 3);
    assert.equal(pages, 3);
    assert.deepEqual(items.map((s) => s.sid), [...sids].reverse(), 'most recently active first, each once');
    assert.deepEqual(Object.keys(items[0]!).sort(), ['clients', 'firstAt', 'issuer', 'lastAt', 'sid', 'sub', 'tokensIssued', 'toolServers']);

    const agent2 = await allPages(`/admin/sessions?sub=${sub}&client_id=agent2`, 2);
    assert.deepEqual(agent2.items.map((s) => s.sid), [sids[5], sids[3], sids[1]]);
    const byClient = await allPages('/admin/sessions?client_id=agent2', 2);
    for (const sid of [sids[1], sids[3], sids[5]]) assert.ok(byClient.items.some((s) => s.sid === sid));
    assert.ok(byClient.items.every((s) => (s.clients as string[]).includes('agent2')));
    assert.equal(new Set(byClient.items.map((s) => s.sid)).size, byClient.items.length);

    const none = await get(`/admin/sessions?sub=${sub}-nobody`);
    assert.deepEqual(none.body, { items: [] });
    // Empty values mean "not given".
    const defaults = await get('/admin/sessions?sub=&client_id=&limit=&cursor=');
    assert.equal(defaults.status, 200);
  });

  it('shows one session with its delegation tree (multi-hop nests under its parent)', async () => {
    const user = await loginUser(svc, { username: 'bob' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    const other = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    const crmToken = crm.body.access_token as string;
    const hop = await exchangeFor(svc, 'crm-server', crmToken, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(hop.status, 200, JSON.stringify(hop.body));
    const sid = sidOf(crmToken);
    const session = await waitForSession(svc, token, sid, 3);

    assert.equal(session.sid, sid);
    assert.equal(session.sub, 'user-bob');
    assert.equal(session.issuer, 'self');
    assert.deepEqual(session.clients, ['agent', 'crm-server']);
    assert.deepEqual(session.toolServers, [BILLING, CRM].sort());
    assert.equal((session.liveJtis as unknown[]).length, 3);
    assert.equal((session.hops as unknown[]).length, 3);
    const tree = session.tree as Item[];
    assert.equal(tree.length, 2);
    const [first, second] = tree as [Item, Item];
    assert.equal(first.jti, jtiOf(crmToken));
    assert.equal(first.clientId, 'agent');
    assert.equal(first.toolServer, CRM);
    assert.deepEqual(first.scopes, ['crm.lookup_customer', 'billing.refund_lookup']);
    assert.deepEqual(
      first.children,
      [{ jti: jtiOf(hop.body.access_token as string), clientId: 'crm-server', toolServer: BILLING, scopes: ['billing.refund_lookup'], at: (first.children as Item[])[0]!.at, exp: (first.children as Item[])[0]!.exp, children: [] }],
    );
    assert.equal(second.jti, jtiOf(other.body.access_token as string));
    assert.deepEqual(second.children, []);
  });

  it('404 for a session the registry does not know', async () => {
    const res = await get('/admin/sessions/no-such-session');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: 'not_found', error_description: 'session not found' });
  });

  it('audit: an allowed and a denied exchange are recorded with their reasons', async () => {
    const user = await loginUser(svc, { username: 'heidi', clientId: 'agent2' });
    const allowed = await exchangeFor(svc, 'agent2', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(allowed.status, 200);
    const denied = await exchangeFor(svc, 'agent2', user.accessToken, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(denied.status, 400);
    await svc.service.flushAudit();

    const res = await get('/admin/audit?type=exchange&sub=user-heidi');
    assert.equal(res.status, 200);
    const [deny, allow] = res.body.items as Item[];
    assert.equal(res.body.items && (res.body.items as Item[]).length, 2);
    assert.equal(deny!.decision, 'deny');
    assert.equal(deny!.error, 'invalid_target');
    assert.deepEqual(deny!.reasons, ['agent_not_allowed_for_tool_server']);
    assert.equal(deny!.toolServer, BILLING);
    assert.equal(allow!.decision, 'allow');
    assert.deepEqual(allow!.reasons, ['requested_scopes_granted']);
    assert.equal(allow!.clientId, 'agent2');
    assert.equal(allow!.jti, jtiOf(allowed.body.access_token as string));
    assert.equal(typeof allow!.id, 'string');
    // No token material in the trail.
    assert.equal(JSON.stringify(res.body).includes(user.accessToken), false);
    assert.equal(JSON.stringify(res.body).includes(allowed.body.access_token as string), false);

    const onlyDenied = await get('/admin/audit?type=exchange&sub=user-heidi&decision=deny');
    assert.deepEqual((onlyDenied.body.items as Item[]).map((e) => e.id), [deny!.id]);
    const bySid = await get(`/admin/audit?sid=${encodeURIComponent(allow!.sid as string)}&client_id=agent2`);
    assert.ok((bySid.body.items as Item[]).some((e) => e.id === allow!.id));
  });

  it('audit: pages newest first without duplicates; since filters by time (ISO or epoch ms)', async () => {
    const start = Date.now();
    for (let i = 0; i < 7; i++) await get(`/admin/sessions?limit=1&sub=audit-page-${i}`);
    await svc.service.flushAudit();
    const { items } = await allPages(`/admin/audit?type=admin&since=${start}`, 3);
    // The 7 calls, plus the paging calls made before each page was read (they are newer, so they come first).
    const ids = items.map((e) => e.id as string);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(items.length >= 7);
    const times = items.map((e) => e.time as number);
    assert.deepEqual([...times].sort((a, b) => b - a), times);
    assert.ok(items.every((e) => e.type === 'admin' && (e.time as number) >= start));

    const iso = await get(`/admin/audit?type=admin&limit=500&since=${encodeURIComponent(new Date(start).toISOString())}`);
    assert.ok((iso.body.items as Item[]).length >= 7);
    const future = await get(`/admin/audit?since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`);
    assert.deepEqual(future.body, { items: [] });
  });
});
