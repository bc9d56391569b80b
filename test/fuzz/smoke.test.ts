// Keeps `npm run fuzz` from rotting: a short seeded run against a real service on real Redis, judged by the same oracle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from '../../fuzz/fuzz.js';

test('fuzz smoke: 300 seeded requests, no wrongly issued token, no 5xx', async () => {
  const r = await runFuzz({ requests: 300, seed: 20260801, concurrency: 8, maxSeconds: 50, outage: false });
  assert.equal(r.requestsSent, 300);
  assert.equal(r.transportErrors, 0);
  // The run exercised both sides: some tokens were issued and most requests were refused.
  assert.ok(r.issued > 0, 'no token was issued: the generator no longer reaches the issuing path');
  // RFC 8693 §4.1: some of them nest the client a user's token was issued to (subjectClients, an IdP clients mapping).
  assert.ok(Object.values(r.holderPath).some((h) => h.issued > 0), `no token took the holder path: ${JSON.stringify(r.holderPath)}`);
  assert.ok((r.histogram['400'] ?? 0) > 100);
  assert.ok(r.scheduled.length >= 6 && r.scheduled.every((s) => s.status === 200), JSON.stringify(r.scheduled));
  assert.deepEqual(r.findings.filter((f) => f.kind === 'wrongly_issued' || f.kind === 'bad_token_claims' || f.kind === 'server_error'), []);
  assert.equal(r.wronglyIssued, 0);
  assert.equal(r.serverErrors, 0);
});
