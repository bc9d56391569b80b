// Contract: onboarding state (rate buckets, the index of registered clients paged in a fixed order, the document URLs
// accepted lately).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { clientOrderKey } from '../../src/stores/onboarding_order.js';
import { withFresh, type ContractContext } from './contract.js';

export function onboardingContract(context: ContractContext): void {
  const onboarding = () => context.shared().stores.onboarding;

  describe('onboarding', () => {
    it('hit counts per bucket within its window', async () => {
      const [a, b] = [`t:${randomUUID()}`, `t:${randomUUID()}`];
      const counts = [];
      for (let i = 0; i < 3; i++) counts.push(await onboarding().hit(a, 60));
      assert.deepEqual(counts.map((c) => c.count), [1, 2, 3]);
      for (const c of counts) assert.ok(c.resetSeconds >= 1 && c.resetSeconds <= 60, String(c.resetSeconds));
      assert.equal((await onboarding().hit(b, 60)).count, 1);
    });

    it('listClients pages in a fixed order from a position: a reader skips and repeats none, whatever changes between pages', () =>
      withFresh(context, {}, async ({ stores }) => {
        const o = stores.onboarding;
        const now = Math.floor(Date.now() / 1000);
        const ids = Array.from({ length: 8 }, (_, i) => `dcr_${i}_${randomUUID()}`);
        for (const [i, id] of ids.entries()) assert.equal(await o.addClient(id, now + 600 + i, 100), true);
        assert.equal(await o.addClient('dcr_expired', now - 1, 100), true);
        const expected = [...ids].sort((x, y) => (clientOrderKey(x) < clientOrderKey(y) ? -1 : 1));
        assert.deepEqual((await o.listClients(100)).map((c) => c.clientId), expected);
        assert.deepEqual((await o.listClients(100)).find((c) => c.clientId === ids[2])?.expiresAt, now + 602);

        // Between two pages: a client further on is used again (its expiry moves, its place does not), one further on
        // is deleted, a new one registers.
        const first = await o.listClients(3);
        assert.deepEqual(first.map((c) => c.clientId), expected.slice(0, 3));
        await o.touchClient(expected[5]!, now + 90_000);
        assert.equal(await o.removeClient(expected[4]!), true);
        const added = `dcr_new_${randomUUID()}`;
        await o.addClient(added, now + 600, 100);
        const rest: string[] = [];
        let after = clientOrderKey(first.at(-1)!.clientId);
        for (;;) {
          const page = await o.listClients(3, after);
          rest.push(...page.map((c) => c.clientId));
          if (page.length < 3) break;
          after = clientOrderKey(page.at(-1)!.clientId);
        }
        assert.deepEqual(rest.filter((id) => id !== added), expected.slice(3).filter((id) => id !== expected[4]));
        assert.equal(new Set([...first.map((c) => c.clientId), ...rest]).size, first.length + rest.length);
        await assert.rejects(o.listClients(3, 'not a position'), TypeError);
      }));

    it('listClients pages 40 clients registered in no particular order: clientOrderKey order from any position, each once, none missed, the expired skipped', () =>
      withFresh(context, {}, async ({ stores }) => {
        const o = stores.onboarding;
        const now = Math.floor(Date.now() / 1000);
        const byKey = (x: string, y: string) => (clientOrderKey(x) < clientOrderKey(y) ? -1 : 1);
        const ids = Array.from({ length: 40 }, (_, i) => `dcr_${String(i).padStart(2, '0')}_${randomUUID()}`);
        for (const [i, id] of ids.entries()) assert.equal(await o.addClient(id, now + 600 + i, 1000), true);
        // Every fifth expires where nothing prunes it first: its expiry moved into the past, as a late touch could.
        const expired = new Set(ids.filter((_, i) => i % 5 === 2));
        for (const id of expired) await o.touchClient(id, now - 1);
        const live = ids.filter((id) => !expired.has(id));
        const expected = [...live].sort(byKey);
        assert.notDeepEqual(live, expected, 'registered in an order that is not the listing order');

        for (const limit of [1, 3, 7, 32, 100]) {
          const pages: string[][] = [];
          let after: string | undefined;
          for (;;) {
            const page = await o.listClients(limit, after);
            assert.ok(page.length <= limit, `limit ${limit}: a page of ${page.length}`);
            for (const c of page) assert.equal(c.expiresAt, now + 600 + ids.indexOf(c.clientId));
            pages.push(page.map((c) => c.clientId));
            if (page.length < limit) break;
            after = clientOrderKey(page.at(-1)!.clientId);
          }
          assert.deepEqual(pages.flat(), expected, `limit ${limit}`);
          for (const page of pages.slice(0, -1)) assert.equal(page.length, limit, `limit ${limit}: only the last page is short`);
        }
        // From the position of a client that is gone (or never was), the page starts at the next one after it.
        assert.equal(await o.removeClient(expected[10]!), true);
        assert.deepEqual((await o.listClients(2, clientOrderKey(expected[10]!))).map((c) => c.clientId), expected.slice(11, 13));
        const between = ids.map((id) => `${id}-unregistered`).find((id) => byKey(id, expected[0]!) > 0 && byKey(id, expected.at(-1)!) < 0)!;
        const next = expected.find((id) => byKey(id, between) > 0 && id !== expected[10]);
        assert.deepEqual((await o.listClients(1, clientOrderKey(between))).map((c) => c.clientId), [next]);
        assert.deepEqual(await o.listClients(5, clientOrderKey(expected.at(-1)!)), []);
      }));

    it('rememberDocument makes a URL known (exactly that URL, however long, braces and all); knownDocument reads it', async () => {
      const url = `https://docs.example/${randomUUID()}.json`;
      assert.equal(await onboarding().knownDocument(url), false);
      assert.equal(await onboarding().rememberDocument(url, 60, 10_000), true);
      assert.equal(await onboarding().knownDocument(url), true);
      assert.equal(await onboarding().knownDocument(`${url}?x`), false);
      assert.equal(await onboarding().rememberDocument(url, 120, 10_000), true);
      assert.equal(await onboarding().knownDocument(url), true);
      const long = `https://docs.example/{tag}/${randomUUID()}/${'a'.repeat(3000)}`;
      assert.equal(await onboarding().rememberDocument(long, 60, 10_000), true);
      assert.equal(await onboarding().knownDocument(long), true);
    });

    it('rememberDocument records at most `max` URLs: one more is refused and stays unknown; a recorded one is still renewed', () =>
      withFresh(context, {}, async ({ stores }) => {
        const o = stores.onboarding;
        const urls = Array.from({ length: 4 }, () => `https://docs.example/${randomUUID()}.json`);
        assert.deepEqual([await o.rememberDocument(urls[0]!, 60, 3), await o.rememberDocument(urls[1]!, 60, 3), await o.rememberDocument(urls[2]!, 60, 3)], [true, true, true]);
        assert.equal(await o.rememberDocument(urls[3]!, 60, 3), false);
        assert.equal(await o.knownDocument(urls[3]!), false);
        assert.equal(await o.rememberDocument(urls[1]!, 120, 3), true);
        assert.deepEqual(await Promise.all(urls.map((u) => o.knownDocument(u))), [true, true, true, false]);
        // Concurrent writers never exceed the cap together.
        const racing = Array.from({ length: 20 }, () => `https://docs.example/${randomUUID()}.json`);
        const results = await Promise.all(racing.map((u) => o.rememberDocument(u, 60, 10)));
        assert.equal(results.filter(Boolean).length, 7);
        assert.equal((await Promise.all(racing.map((u) => o.knownDocument(u)))).filter(Boolean).length, 7);
      }));
  });
}
