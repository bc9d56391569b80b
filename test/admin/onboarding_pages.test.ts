// Paging the onboarding listings: GET /admin/consents and GET /admin/clients follow `next` as `cursor` like the other
// listings, in an order that neither skips nor repeats a record, and neither kind of client hides the other.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CRM, type TestService } from '../helpers/service.js';
import { main } from '../../src/admin/cli.js';
import { adminToken, call, startAdminService } from './helpers.js';

type Item = Record<string, unknown>;

describe('admin API: consents and onboarded clients page with cursors', () => {
  let svc: TestService;
  let token: string;
  const get = (path: string) => call(svc, 'GET', path, { token });
  const now = () => Math.floor(Date.now() / 1000);

  /** Follows `next` until it is absent; asserts every page but the last is full and the last has no `next`. */
  async function allPages(path: string, limit: number, from?: string): Promise<{ items: Item[]; pages: Item[][] }> {
    const pages: Item[][] = [];
    let cursor: string | undefined = from;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(res.status, 200, res.text);
      const page = res.body.items as Item[];
      cursor = res.body.next as string | undefined;
      if (cursor !== undefined) assert.equal(page.length, limit);
      else assert.equal('next' in res.body, false);
      pages.push(page);
      assert.ok(pages.length < 100, 'paging does not end');
    } while (cursor !== undefined);
    return { items: pages.flat(), pages };
  }

  before(async () => {
    svc = await startAdminService();
    token = await adminToken(svc);
  });
  after(() => svc.stop());

  it('/admin/consents: newest first, page after page to the last, none skipped or repeated, also when records change between pages', async () => {
    const client = `https://pages.example/${randomUUID()}.json`;
    const users = Array.from({ length: 7 }, (_, i) => `user-page-${i}-${randomUUID()}`);
    // Created over three seconds: ties on the creation time are ordered too.
    for (const [i, sub] of users.entries()) {
      await svc.service.stores.consents.remember({ accountId: sub, clientId: client, resource: CRM, scopes: ['crm.lookup_customer'], grantId: `grant-${i}`, at: 1000 + (i % 3) });
    }
    const path = `/admin/consents?client_id=${encodeURIComponent(client)}`;
    const whole = await allPages(path, 500);
    assert.equal(whole.pages.length, 1);
    assert.deepEqual(whole.items.map((c) => c.createdAt), [1002, 1002, 1001, 1001, 1000, 1000, 1000]);
    assert.deepEqual(new Set(whole.items.map((c) => c.sub)), new Set(users));
    const paged = await allPages(path, 3);
    assert.deepEqual(paged.pages.map((p) => p.length), [3, 3, 1]);
    assert.deepEqual(paged.items, whole.items);

    // Between two pages: a user on a later page consents again (its `updatedAt` moves, its place does not), another
    // one's consent is revoked, a new user consents (newest: before the cursor, so not on the pages that follow).
    const first = await get(`${path}&limit=2`);
    const [again, revoked] = [whole.items[3]!, whole.items[5]!];
    await svc.service.stores.consents.remember({ accountId: String(again.sub), clientId: client, resource: CRM, scopes: ['crm.export_customers'], grantId: 'grant-again', at: now() });
    await svc.service.stores.consents.remove(String(revoked.sub), client, CRM);
    await svc.service.stores.consents.remember({ accountId: `user-late-${randomUUID()}`, clientId: client, resource: CRM, scopes: ['crm.lookup_customer'], grantId: 'grant-late', at: now() });
    const rest = await allPages(path, 2, String(first.body.next));
    assert.deepEqual(
      rest.items.map((c) => c.sub),
      whole.items.slice(2).filter((c) => c !== revoked).map((c) => c.sub),
    );
  });

  it('/admin/clients: DCR and CIMD clients take turns on every page; paging reaches every client once, also when clients come and go', async () => {
    // More DCR registrations than a page holds: before, `limit` showed them alone and hid every CIMD client.
    const dcr = Array.from({ length: 6 }, () => `dcr_${randomUUID().replaceAll('-', '')}`);
    for (const id of dcr) assert.equal(await svc.service.stores.onboarding.addClient(id, now() + 3600, 10_000), true);
    const cimd = Array.from({ length: 4 }, (_, i) => `https://client-${i}.pages.example/${randomUUID()}.json`);
    for (const [i, id] of cimd.entries()) {
      await svc.service.stores.consents.remember({ accountId: `user-client-${i}`, clientId: id, resource: CRM, scopes: ['crm.lookup_customer'], grantId: `g-client-${i}`, at: now() });
    }
    const isMine = (c: Item) => dcr.includes(String(c.client_id)) || cimd.includes(String(c.client_id));

    const page = await get('/admin/clients?limit=6');
    assert.equal(page.status, 200, page.text);
    const kinds = (page.body.items as Item[]).filter(isMine).map((c) => c.kind);
    assert.ok(kinds.includes('dcr') && kinds.includes('cimd'), `one page of 6 shows both kinds: ${kinds.join(', ')}`);
    assert.equal(typeof page.body.next, 'string');

    const whole = await allPages('/admin/clients', 500);
    const paged = await allPages('/admin/clients', 3);
    assert.deepEqual(paged.items, whole.items);
    const mine = paged.items.filter(isMine);
    assert.deepEqual(mine.map((c) => c.client_id).sort(), [...dcr, ...cimd].sort());
    // Taking turns, DCR first, until one kind runs out.
    const count = (kind: string) => whole.items.filter((c) => c.kind === kind).length;
    const both = Math.min(count('dcr'), count('cimd'));
    assert.deepEqual(
      whole.items.map((c) => c.kind),
      [...Array.from({ length: both }, () => ['dcr', 'cimd']).flat(), ...Array(count('dcr') - both).fill('dcr'), ...Array(count('cimd') - both).fill('cimd')],
    );
    for (const c of whole.items.filter((c) => c.kind === 'cimd')) assert.deepEqual(Object.keys(c).sort(), ['client_id', 'consents', 'host', 'kind']);

    // Between two pages: a DCR client not yet listed is deleted, a CIMD client appears; the rest are listed once.
    const first = await get('/admin/clients?limit=2');
    const seen = (first.body.items as Item[]).map((c) => c.client_id);
    const gone = whole.items.find((c) => c.kind === 'dcr' && !seen.includes(c.client_id))!;
    assert.equal(await svc.service.stores.onboarding.removeClient(String(gone.client_id)), true);
    const late = `https://late.pages.example/${randomUUID()}.json`;
    await svc.service.stores.consents.remember({ accountId: 'user-late', clientId: late, resource: CRM, scopes: ['crm.lookup_customer'], grantId: 'g-late', at: now() });
    const rest = await allPages('/admin/clients', 2, String(first.body.next));
    const restIds = rest.items.map((c) => c.client_id).filter((id) => id !== late);
    assert.deepEqual(restIds.sort(), whole.items.map((c) => c.client_id).filter((id) => !seen.includes(id) && id !== gone.client_id).sort());
    assert.equal(new Set(restIds).size, restIds.length);
  });

  it('/admin/clients: a page reads from the stores in proportion to its size, not to the number of registrations and consents', async () => {
    // DCR is open to anyone: however many clients registered and consents were given, a cheap request stays cheap.
    // (What each store call reads from Redis or memory: test/stores/onboarding_page_cost.test.ts.)
    const many = 300;
    const { consents, onboarding } = svc.service.stores;
    for (let i = 0; i < many; i++) {
      assert.equal(await onboarding.addClient(`dcr_cost_${i}_${randomUUID()}`, now() + 3600, 100_000), true);
      await consents.remember({ accountId: `user-cost-${i}`, clientId: `https://cost-${i}.example/${randomUUID()}.json`, resource: CRM, scopes: ['crm.lookup_customer'], grantId: `g-cost-${i}`, at: now() });
      await consents.remember({ accountId: `user-cost-${i}`, clientId: 'agent', resource: CRM, scopes: ['crm.lookup_customer'], grantId: `h-cost-${i}`, at: now() });
    }
    // Every record any call on the two stores returns while one page is served (the admin API holds these objects).
    const size = (result: unknown): number =>
      Array.isArray(result) ? result.length : result && typeof result === 'object' && Array.isArray((result as { items?: unknown }).items) ? (result as { items: unknown[] }).items.length : 1;
    const pageReads = async (path: string) => {
      let read = 0;
      const restore: Array<() => void> = [];
      for (const store of [consents, onboarding] as unknown as Array<Record<string, unknown>>) {
        for (const name of Object.keys(store)) {
          const method = store[name];
          if (typeof method !== 'function') continue;
          store[name] = async (...args: unknown[]) => {
            const result = await (method as (...a: unknown[]) => Promise<unknown>).apply(store, args);
            read += size(result);
            return result;
          };
          restore.push(() => (store[name] = method));
        }
      }
      try {
        const res = await get(path);
        assert.equal(res.status, 200, res.text);
        assert.deepEqual((res.body.items as Item[]).map((c) => c.kind), ['dcr', 'cimd']);
        return { read, next: String(res.body.next) };
      } finally {
        for (const undo of restore) undo();
      }
    };
    const first = await pageReads('/admin/clients?limit=2');
    assert.ok(first.read > 0 && first.read <= 6, `the first page read ${first.read} records`);
    const second = await pageReads(`/admin/clients?limit=2&cursor=${encodeURIComponent(first.next)}`);
    assert.ok(second.read > 0 && second.read <= 6, `the second page read ${second.read} records`);
  });

  it('an undecodable cursor is 400 invalid_request "cursor is invalid" on both (another listing\'s cursor included); limit has the same bounds', async () => {
    const sessionCursor = Buffer.from(JSON.stringify([1700000000, 'sid'])).toString('base64url');
    const consentCursor = String((await get('/admin/consents?limit=1')).body.next);
    const clientsCursor = String((await get('/admin/clients?limit=1')).body.next);
    const cases: Array<[string, string]> = [
      ['consents', 'garbage'],
      ['consents', sessionCursor],
      ['consents', clientsCursor],
      ['consents', 'a'.repeat(300)],
      ['consents', '%E2%9C%93'],
      ['clients', 'garbage'],
      ['clients', sessionCursor],
      ['clients', consentCursor],
      ['clients', Buffer.from(JSON.stringify(['', '', 0])).toString('base64url')],
      ['clients', Buffer.from(JSON.stringify(['', 'x'.repeat(43), 2])).toString('base64url')],
      ['clients', 'a'.repeat(300)],
    ];
    for (const [listing, cursor] of cases) {
      const res = await get(`/admin/${listing}?cursor=${cursor}`);
      assert.deepEqual([res.status, res.body], [400, { error: 'invalid_request', error_description: 'cursor is invalid' }], `${listing} cursor=${cursor.slice(0, 20)}`);
    }
    for (const listing of ['consents', 'clients']) {
      for (const limit of ['0', '501', 'abc']) {
        assert.deepEqual((await get(`/admin/${listing}?limit=${limit}`)).body, { error: 'invalid_request', error_description: 'limit must be an integer from 1 to 500' }, `${listing} limit=${limit}`);
      }
    }
  });

  it('dts admin consents and clients take --cursor and print the next-page footer', async () => {
    const client = `https://cli-pages.example/${randomUUID()}.json`;
    for (const i of [1, 2]) await svc.service.stores.consents.remember({ accountId: `user-cli-page-${i}`, clientId: client, resource: CRM, scopes: ['crm.lookup_customer'], grantId: `g-cli-${i}`, at: 2000 + i });
    const out: string[] = [];
    const dts = async (...args: string[]) => {
      const code = await main(['admin', ...args, '--url', svc.url], { out: (s) => out.push(s), err: (s) => out.push(s), env: { DTS_CLIENT_SECRET: svc.secrets['admin-cli']! } });
      assert.equal(code, 0, out.at(-1));
      return out.pop()!;
    };
    const first = JSON.parse(await dts('consents', '--client-id', client, '--limit', '1', '--json')) as { items: Item[]; next?: string };
    assert.deepEqual(first.items.map((c) => c.sub), ['user-cli-page-2']);
    assert.equal(typeof first.next, 'string');
    const table = await dts('consents', '--client-id', client, '--limit', '1');
    assert.match(table, /^SUB +CLIENT +RESOURCE +SCOPES +CREATED +UPDATED$/m);
    assert.ok(table.endsWith(`\nnext page: --cursor ${first.next}\n`), table);
    const second = await dts('consents', '--client-id', client, '--limit', '1', '--cursor', first.next!);
    assert.match(second, /^user-cli-page-1 /m);
    assert.doesNotMatch(second, /next page/);

    const clients = JSON.parse(await dts('clients', '--limit', '1', '--json')) as { items: Item[]; next?: string };
    assert.equal(clients.items.length, 1);
    const humanClients = await dts('clients', '--limit', '1');
    assert.ok(humanClients.endsWith(`\nnext page: --cursor ${clients.next}\n`), humanClients);
    const next = JSON.parse(await dts('clients', '--limit', '1', '--cursor', clients.next!, '--json')) as { items: Item[] };
    assert.notDeepEqual(next.items[0]?.client_id, clients.items[0]?.client_id);
  });
});
