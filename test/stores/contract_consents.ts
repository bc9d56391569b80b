// Contract: remembered consents (issue 12 item 5): one record per (user, client, resource), scopes merged, every grant id
// kept while it may be alive (pruned once past its keepUntil, capped with an overflow mark), atomic under concurrent
// consents, listed with filters, removed once; the document clients holding one listed with their counts, a page at a
// time.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { MAX_CONSENT_GRANTS, type ConsentRecord, type Page } from '../../src/stores/types.js';
import { clientOrderKey } from '../../src/stores/onboarding_order.js';
import { withFresh, type ContractContext } from './contract.js';

export function consentContract(context: ContractContext): void {
  const consents = () => context.shared().stores.consents;

  describe('consents', () => {
    it('remember creates, then merges scopes (sorted union) and appends grant ids; find reads it back', async () => {
      const user = randomUUID();
      const first = await consents().remember({ accountId: user, clientId: 'https://c.example/a.json', resource: 'https://t/crm', scopes: ['b', 'a'], grantId: 'g1', at: 100 });
      assert.deepEqual(first, { accountId: user, clientId: 'https://c.example/a.json', resource: 'https://t/crm', scopes: ['a', 'b'], grantIds: ['g1'], grantsOverflowed: false, createdAt: 100, updatedAt: 100 });
      const second = await consents().remember({ accountId: user, clientId: 'https://c.example/a.json', resource: 'https://t/crm', scopes: ['c', 'a'], grantId: 'g2', at: 200 });
      assert.deepEqual(second, { ...first, scopes: ['a', 'b', 'c'], grantIds: ['g1', 'g2'], updatedAt: 200 });
      assert.deepEqual(await consents().find(user, 'https://c.example/a.json', 'https://t/crm'), second);
      assert.equal(await consents().find(user, 'https://c.example/a.json', 'https://t/other'), undefined);
      // Empty scope lists survive the round trip as arrays.
      const empty = await consents().remember({ accountId: user, clientId: 'x', resource: 'r', scopes: [], grantId: 'g', at: 1 });
      assert.deepEqual(empty.scopes, []);
      assert.deepEqual((await consents().find(user, 'x', 'r'))?.scopes, []);
    });

    it('keeps every grant id that may still be alive: 25 sessions\' grants, with or without keepUntil, all kept', async () => {
      const user = randomUUID();
      for (let i = 0; i < 25; i++) {
        await consents().remember({ accountId: user, clientId: 'c', resource: 'r', scopes: ['s'], grantId: `g${i}`, at: 1000 + i, ...(i % 2 ? { keepUntil: 5000 } : {}) });
      }
      const r = (await consents().find(user, 'c', 'r'))!;
      assert.deepEqual(r.grantIds, Array.from({ length: 25 }, (_, i) => `g${i}`));
      assert.equal(r.grantsOverflowed, false);
    });

    it('a write drops the grant ids past their keepUntil; one without keepUntil stays; a repeated one moves to the end with the later keepUntil', async () => {
      const user = randomUUID();
      const remember = (grantId: string, at: number, keepUntil?: number) =>
        consents().remember({ accountId: user, clientId: 'c', resource: 'r', scopes: ['s'], grantId, at, ...(keepUntil === undefined ? {} : { keepUntil }) });
      await remember('forever', 10);
      await remember('short', 10, 100);
      await remember('long', 10, 1000);
      await remember('moved', 10, 120);
      await remember('moved', 20, 50);
      assert.deepEqual((await consents().find(user, 'c', 'r'))!.grantIds, ['forever', 'short', 'long', 'moved']);
      // At 100 `short` may still be alive (its keepUntil is inclusive); at 101 it cannot, nor `moved` (kept until 120,
      // the later of 120 and 50) at 121.
      assert.deepEqual((await remember('a', 100, 2000)).grantIds, ['forever', 'short', 'long', 'moved', 'a']);
      assert.deepEqual((await remember('b', 101, 2000)).grantIds, ['forever', 'long', 'moved', 'a', 'b']);
      const r = await remember('c', 121, 2000);
      assert.deepEqual(r.grantIds, ['forever', 'long', 'a', 'b', 'c']);
      assert.equal(r.grantsOverflowed, false);
      assert.deepEqual(await consents().find(user, 'c', 'r'), r);
    });

    it(`beyond ${MAX_CONSENT_GRANTS} live grant ids the oldest is dropped and the record marked grantsOverflowed until it is removed`, async () => {
      const user = randomUUID();
      const remember = (grantId: string, at: number, keepUntil?: number) =>
        consents().remember({ accountId: user, clientId: 'c', resource: 'r', scopes: ['s'], grantId, at, ...(keepUntil === undefined ? {} : { keepUntil }) });
      for (let i = 0; i < MAX_CONSENT_GRANTS; i++) await remember(`g${i}`, 1, 100);
      const full = (await consents().find(user, 'c', 'r'))!;
      assert.deepEqual([full.grantIds.length, full.grantsOverflowed], [MAX_CONSENT_GRANTS, false]);
      const over = await remember('last', 2, 100);
      assert.deepEqual([over.grantIds.length, over.grantIds[0], over.grantIds.at(-1), over.grantsOverflowed], [MAX_CONSENT_GRANTS, 'g1', 'last', true]);
      // Every grant expired since: the ids go, the mark stays (the dropped one is still unnamed).
      const later = await remember('new', 200, 300);
      assert.deepEqual([later.grantIds, later.grantsOverflowed], [['new'], true]);
      assert.equal((await consents().remove(user, 'c', 'r'))?.grantsOverflowed, true);
      assert.equal((await remember('fresh', 300, 400)).grantsOverflowed, false);
    });

    it('is atomic: 20 concurrent consents with distinct scopes all land in one record', async () => {
      const user = randomUUID();
      await Promise.all(Array.from({ length: 20 }, (_, i) => consents().remember({ accountId: user, clientId: 'c', resource: 'r', scopes: [`s${String(i).padStart(2, '0')}`], grantId: `g${i}`, at: 1 })));
      const r = (await consents().find(user, 'c', 'r'))!;
      assert.equal(r.scopes.length, 20);
      assert.equal(r.grantIds.length, 20);
    });

    it('lists by user, by client, both, newest consent first, at most limit; remove returns the record once', async () => {
      const [u1, u2, client] = [randomUUID(), randomUUID(), `client-${randomUUID()}`];
      await consents().remember({ accountId: u1, clientId: client, resource: 'r1', scopes: ['a'], grantId: 'g1', at: 10 });
      await consents().remember({ accountId: u1, clientId: client, resource: 'r2', scopes: ['a'], grantId: 'g2', at: 30 });
      await consents().remember({ accountId: u2, clientId: client, resource: 'r1', scopes: ['a'], grantId: 'g3', at: 20 });
      const list = async (filter: { accountId?: string; clientId?: string }, limit: number) => (await consents().list(filter, { limit })).items;
      assert.deepEqual((await list({ clientId: client }, 50)).map((r) => [r.accountId, r.resource]), [[u1, 'r2'], [u2, 'r1'], [u1, 'r1']]);
      assert.deepEqual((await list({ accountId: u1 }, 50)).map((r) => r.resource), ['r2', 'r1']);
      assert.deepEqual((await list({ accountId: u2, clientId: client }, 50)).map((r) => r.grantIds), [['g3']]);
      assert.equal((await list({ clientId: client }, 2)).length, 2);
      const removed = await consents().remove(u1, client, 'r2');
      assert.deepEqual([removed?.grantIds, removed?.grantsOverflowed], [['g2'], false]);
      assert.equal(await consents().remove(u1, client, 'r2'), undefined);
      assert.equal(await consents().find(u1, client, 'r2'), undefined);
    });

    it('pages with cursors in a fixed order (newest consent first, ties fixed): a reader skips and repeats none, whatever changes between pages', async () => {
      const client = `client-${randomUUID()}`;
      const list = (page: { cursor?: string; limit: number }) => consents().list({ clientId: client }, page);
      // Nine consents created over four seconds: ties on createdAt are ordered too.
      for (let i = 0; i < 9; i++) await consents().remember({ accountId: `u${i}-${randomUUID()}`, clientId: client, resource: `https://t/${i}`, scopes: ['a'], grantId: `g${i}`, at: 100 + (i % 4) });
      const all = await list({ limit: 500 });
      assert.equal(all.items.length, 9);
      assert.equal('next' in all, false);
      assert.deepEqual(all.items.map((r) => r.createdAt), [103, 103, 102, 102, 101, 101, 100, 100, 100]);
      const keyOf = (r: { accountId: string; resource: string }) => `${r.accountId} ${r.resource}`;

      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page: Page<ConsentRecord> = await list({ limit: 2, ...(cursor ? { cursor } : {}) });
        pages.push(page.items.map(keyOf));
        cursor = page.next;
        if (cursor) assert.equal(page.items.length, 2);
      } while (cursor);
      assert.deepEqual(pages.flat(), all.items.map(keyOf));
      assert.equal(pages.length, 5);

      // Between two pages: a record further on is consented to again (updatedAt moves, its place does not), one further
      // on is removed, a new one is created (it sorts first: already passed).
      const first = await list({ limit: 3 });
      const [again, gone] = [all.items[4]!, all.items[6]!];
      await consents().remember({ accountId: again.accountId, clientId: client, resource: again.resource, scopes: ['b'], grantId: 'g-again', at: 999 });
      await consents().remove(gone.accountId, client, gone.resource);
      await consents().remember({ accountId: `new-${randomUUID()}`, clientId: client, resource: 'https://t/new', scopes: ['a'], grantId: 'g-new', at: 500 });
      const rest: string[] = [];
      for (let page = await list({ limit: 2, cursor: first.next! }); ; page = await list({ limit: 2, cursor: page.next })) {
        rest.push(...page.items.map(keyOf));
        if (!page.next) break;
      }
      assert.deepEqual(rest, all.items.slice(3).filter((r) => r !== gone).map(keyOf));

      // Another listing's cursor, or none at all, is refused as the caller's mistake (a TypeError).
      const sessionCursor = Buffer.from(JSON.stringify([1700000000, 'sid'])).toString('base64url');
      for (const bad of ['garbage', sessionCursor, Buffer.from('[100,"short"]').toString('base64url')]) {
        await assert.rejects(consents().list({}, { cursor: bad, limit: 2 }), TypeError, bad);
      }
    });

    it('listDocumentClients: the https clients holding a consent, each with its count, in clientOrderKey order from a position; a client leaves with its last consent', () =>
      withFresh(context, {}, async ({ stores }) => {
        const c = stores.consents;
        const remember = (accountId: string, clientId: string, resource = 'https://t/crm', grantId = randomUUID()) => c.remember({ accountId, clientId, resource, scopes: ['a'], grantId, at: 100 });
        const docs = Array.from({ length: 12 }, (_, i) => `https://docs-${i}.example/${randomUUID()}.json`);
        // Client i has (i % 3) + 1 users' consents.
        for (const [i, clientId] of docs.entries()) for (let u = 0; u <= i % 3; u++) await remember(`user-${u}`, clientId);
        await remember('user-0', docs[0]!); // the same record again: no new consent
        await remember('user-0', docs[1]!, 'https://t/billing'); // another resource: one more
        for (const other of ['dcr_abc', 'agent', 'http://docs.example/plain.json']) await remember('user-0', other); // no document clients
        const count = new Map(docs.map((id, i) => [id, (i % 3) + 1 + (i === 1 ? 1 : 0)]));
        const expected = [...docs].sort((x, y) => (clientOrderKey(x) < clientOrderKey(y) ? -1 : 1)).map((clientId) => ({ clientId, consents: count.get(clientId)! }));
        assert.deepEqual(await c.listDocumentClients(100), expected);

        const pages: Array<Array<{ clientId: string; consents: number }>> = [];
        let after: string | undefined;
        do {
          pages.push(await c.listDocumentClients(5, after));
          after = pages.at(-1)!.length === 5 ? clientOrderKey(pages.at(-1)!.at(-1)!.clientId) : undefined;
        } while (after);
        assert.deepEqual(pages.map((p) => p.length), [5, 5, 2]);
        assert.deepEqual(pages.flat(), expected);

        // Removing one consent lowers the count; removing the last one drops the client; a repeat changes nothing.
        const [fewer, gone] = [expected.find((e) => e.consents === 2)!, expected.find((e) => e.consents === 1)!];
        assert.ok(await c.remove('user-1', fewer.clientId, 'https://t/crm'));
        assert.ok(await c.remove('user-0', gone.clientId, 'https://t/crm'));
        assert.equal(await c.remove('user-0', gone.clientId, 'https://t/crm'), undefined);
        assert.deepEqual(
          await c.listDocumentClients(100),
          expected.filter((e) => e !== gone).map((e) => (e === fewer ? { ...e, consents: 1 } : e)),
        );
        // Consenting again after the last removal lists it again, counted from one.
        await remember('user-9', gone.clientId);
        assert.deepEqual((await c.listDocumentClients(100)).find((e) => e.clientId === gone.clientId), { clientId: gone.clientId, consents: 1 });
        await assert.rejects(c.listDocumentClients(3, 'not a position'), TypeError);
      }));
  });
}
