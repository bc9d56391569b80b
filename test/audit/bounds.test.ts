// Audit events store bounded fields: a refused request with oversized input adds a few KiB at most, and says it was cut.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exchange } from '../helpers/http.js';
import { CRM, startService, type TestService } from '../helpers/service.js';
import { redisKeys } from '../../src/stores/redis/keys.js';
import { boundEvent, MAX_ARRAY_CHARS, MAX_ARRAY_ENTRIES, MAX_DEPTH, MAX_STRING_LENGTH, TRUNCATION_MARK } from '../../src/audit/bounds.js';

const UNSUPPORTED = { error: 'invalid_request', error_description: 'unsupported subject_token_type' };

describe('audit events: bounded fields over HTTP', () => {
  let svc: TestService;
  before(async () => {
    svc = await startService();
  });
  after(() => svc.stop());

  async function storedEvent(requestId: string): Promise<{ raw: string; event: Record<string, unknown> }> {
    await svc.service.flushAudit();
    const entries = await svc.redis.xrange(redisKeys.audit(svc.prefix), '-', '+');
    const raw = entries.map(([, fields]) => fields[1]!).find((e) => (JSON.parse(e) as { requestId?: string }).requestId === requestId);
    assert.ok(raw, `no audit event for ${requestId}`);
    return { raw, event: JSON.parse(raw) as Record<string, unknown> };
  }

  // oidc-provider reads at most 56 KiB of form body, so the two oversized fields are sent in two requests (and together).
  const cases = [
    { reqId: 'bound-scopes', scopes: 10_000, typeLength: 30 * 1024 },
    { reqId: 'bound-type', scopes: 1, typeLength: 50 * 1024 },
  ];
  for (const c of cases) {
    it(`a refused exchange with ${c.scopes} scopes and a ${c.typeLength / 1024} KiB subject_token_type stores a few KiB, marked truncated`, async () => {
      const type = `urn:${'t'.repeat(c.typeLength - 4)}`;
      const scope = Array.from({ length: c.scopes }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ');
      const res = await fetch(`${svc.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: svc.basic('agent'), 'x-request-id': c.reqId },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: 'x', subject_token_type: type, resource: CRM, scope }),
      });
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), UNSUPPORTED);

      const { raw, event } = await storedEvent(c.reqId);
      assert.ok(Buffer.byteLength(raw) < 4096, `stored event is ${Buffer.byteLength(raw)} bytes`);
      assert.equal(event.decision, 'deny');
      assert.equal(event.error, 'invalid_request');
      assert.deepEqual(event.reasons, ['unsupported_subject_token_type']);
      assert.equal(event.subjectTokenType, `${type.slice(0, MAX_STRING_LENGTH)}${TRUNCATION_MARK}`);
      const keptScopes = Math.min(c.scopes, MAX_ARRAY_ENTRIES);
      assert.deepEqual(event.requestedScopes, scope.split(' ').slice(0, keptScopes));
      assert.deepEqual(event.truncated, {
        subjectTokenType: c.typeLength - MAX_STRING_LENGTH,
        ...(c.scopes > keptScopes ? { requestedScopes: c.scopes - keptScopes } : {}),
      });
    });
  }

  it('an ordinary event is stored whole, without `truncated`', async () => {
    const res = await exchange(svc, 'agent', { subject_token: 'x', subject_token_type: 'urn:example:unknown', resource: CRM, scope: 'crm.lookup_customer' });
    assert.equal(res.status, 400);
    await svc.service.flushAudit();
    const [newest] = await svc.redis.xrevrange(redisKeys.audit(svc.prefix), '+', '-', 'COUNT', 1);
    const event = JSON.parse(newest![1][1]!) as Record<string, unknown>;
    assert.equal(event.subjectTokenType, 'urn:example:unknown');
    assert.deepEqual(event.requestedScopes, ['crm.lookup_customer']);
    assert.equal('truncated' in event, false);
  });
});

describe('boundEvent', () => {
  it('keeps identifiers whole up to 512 code points, cuts other strings at 256 without splitting a surrogate pair', () => {
    const sub = '😀'.repeat(512);
    const iss = `${'a'.repeat(255)}😀tail`;
    const out = boundEvent({ type: 'exchange', sub, act: { sub: 'agent', iss } });
    assert.equal(out.sub, sub);
    assert.equal((out.act as { iss: string }).iss, `${'a'.repeat(255)}😀${TRUNCATION_MARK}`);
    assert.deepEqual(out.truncated, { 'act.iss': 4 });
    const long = boundEvent({ sub: `${sub}x` });
    assert.equal(long.sub, `${sub}${TRUNCATION_MARK}`);
    assert.deepEqual(long.truncated, { sub: 1 });
  });

  it('arrays: at most 32 entries and 2048 characters; entries cut on their own', () => {
    const out = boundEvent({ requestedScopes: Array.from({ length: 40 }, () => 'x'.repeat(300)) });
    const kept = out.requestedScopes as string[];
    // Each entry is cut to 256 + the mark; entries stop before the array passes MAX_ARRAY_CHARS.
    assert.equal(kept.length, Math.floor(MAX_ARRAY_CHARS / (MAX_STRING_LENGTH + 1)));
    assert.ok(kept.every((s) => s === `${'x'.repeat(MAX_STRING_LENGTH)}${TRUNCATION_MARK}`));
    assert.deepEqual(out.truncated, { 'requestedScopes[]': (kept.length + 1) * 44, requestedScopes: 40 - kept.length });
    assert.equal((boundEvent({ reasons: Array(100).fill('r') }).reasons as string[]).length, MAX_ARRAY_ENTRIES);
  });

  it('nesting deeper than the cap is dropped and counted', () => {
    let act: Record<string, unknown> = { sub: 'leaf' };
    for (let i = 0; i < 30; i++) act = { sub: `a${i}`, act };
    const out = boundEvent({ act });
    let depth = 0;
    for (let a = out.act as { act?: unknown } | undefined; a; a = a.act as { act?: unknown } | undefined) depth += 1;
    assert.equal(depth, MAX_DEPTH - 1);
    assert.deepEqual(Object.values(out.truncated!), [1]);
  });

  it('returns an equal event when nothing exceeds the caps', () => {
    const e = { type: 'exchange', time: 1, decision: 'allow', reasons: ['ok'], clientId: 'agent', act: { sub: 'agent', act: { sub: 'crm' } }, durationMs: 1.5 };
    assert.deepEqual(boundEvent(e), e);
  });

  it('stores an event exactly at every cap as it is (no copy), and cuts one just past any cap', () => {
    let act: Record<string, unknown> = { sub: 'leaf' };
    for (let i = 0; i < MAX_DEPTH - 2; i++) act = { sub: `a${i}`, act };
    const atCaps = {
      sub: 'u'.repeat(512),
      toolServer: 's'.repeat(MAX_STRING_LENGTH),
      requestedScopes: Array.from({ length: MAX_ARRAY_ENTRIES }, () => 'x'.repeat(MAX_ARRAY_CHARS / MAX_ARRAY_ENTRIES)),
      act,
      missing: undefined,
    };
    assert.equal(boundEvent(atCaps), atCaps);
    const past = [
      { ...atCaps, sub: 'u'.repeat(513) },
      { ...atCaps, toolServer: 's'.repeat(MAX_STRING_LENGTH + 1) },
      { ...atCaps, requestedScopes: [...atCaps.requestedScopes, 'x'] },
      { ...atCaps, requestedScopes: [...atCaps.requestedScopes.slice(1), 'x'.repeat(MAX_ARRAY_CHARS / MAX_ARRAY_ENTRIES + 1)] },
      { ...atCaps, act: { sub: 'deeper', act } },
      { ...atCaps, extra: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, i])) , ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`f${i}`, i])) },
    ];
    for (const e of past) {
      const out = boundEvent(e);
      assert.notEqual(out, e);
      assert.ok(out.truncated && Object.keys(out.truncated).length > 0, JSON.stringify(Object.keys(e)));
    }
  });
});
