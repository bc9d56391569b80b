// The session recorder (src/sessions/recorder.ts) over the registry's batch API: one batch per tick, a bounded queue,
// a malformed hop refused alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTick } from 'node:timers/promises';
import { pino } from 'pino';
import { createDecisionEvents, type ExchangeDecisionEvent } from '../../src/audit/events.js';
import { attachSessionRecorder } from '../../src/sessions/recorder.js';
import { MemorySessionRegistry } from '../../src/stores/memory/session_registry.js';
import type { IssuedEntry, SessionRegistry } from '../../src/stores/types.js';

const logger = pino({ level: 'silent' });
const nowSec = () => Math.floor(Date.now() / 1000);

function allowed(i: number, overrides: Partial<ExchangeDecisionEvent> = {}): ExchangeDecisionEvent {
  return {
    type: 'exchange',
    time: Date.now(),
    decision: 'allow',
    reasons: [],
    clientId: 'agent',
    sub: 'alice',
    sid: `sid-${i % 3}`,
    act: { sub: 'agent' },
    toolServer: 'https://tools.example/crm',
    grantedScopes: ['crm.read'],
    jti: `jti-${i}`,
    exp: nowSec() + 300,
    durationMs: 1,
    ...overrides,
  };
}

function setUp(o: { maxPending?: number; maxBatch?: number; fail?: boolean } = {}) {
  const registry = new MemorySessionRegistry({ maxHopsPerSession: 10 }, Date.now);
  const batches: IssuedEntry[][] = [];
  const sessions: SessionRegistry = {
    async recordIssuedMany(entries) {
      batches.push(entries);
      if (o.fail) throw new Error('store down');
      return registry.recordIssuedMany(entries);
    },
    recordIssued: () => Promise.reject(new Error('the recorder writes batches')),
    get: (sid) => registry.get(sid),
    list: (filter, page) => registry.list(filter, page),
    sidsOf: (sub) => registry.sidsOf(sub),
  };
  const events = createDecisionEvents((err) => {
    throw err;
  });
  let errors = 0;
  const recorder = attachSessionRecorder(events, {
    sessions,
    issuerOf: () => 'self',
    retentionSeconds: 600,
    logger,
    onError: () => errors++,
    ...(o.maxPending === undefined ? {} : { maxPending: o.maxPending }),
    ...(o.maxBatch === undefined ? {} : { maxBatch: o.maxBatch }),
  });
  return { registry, batches, events, recorder, errors: () => errors };
}

describe('session recorder', () => {
  it('writes the allowed exchanges of one tick as one batch, in order, after the tick', async () => {
    const { registry, batches, events, recorder, errors } = setUp();
    for (let i = 0; i < 7; i++) events.emit(allowed(i));
    events.emit(allowed(7, { decision: 'deny' }));
    events.emit(allowed(8, { sid: undefined }));
    assert.equal(batches.length, 0, 'nothing is written on the emitting tick');
    await nextTick();
    await recorder.flush();
    assert.deepEqual(
      batches.map((b) => b.map((e) => e.hop.jti)),
      [['jti-0', 'jti-1', 'jti-2', 'jti-3', 'jti-4', 'jti-5', 'jti-6']],
    );
    assert.deepEqual(batches[0]?.[1], {
      session: { sid: 'sid-1', sub: 'alice', issuer: 'self' },
      hop: { at: batches[0]?.[1]?.hop.at, clientId: 'agent', priorActors: [], toolServer: 'https://tools.example/crm', scopes: ['crm.read'], jti: 'jti-1', exp: batches[0]?.[1]?.hop.exp },
      retentionSeconds: 600,
    });
    assert.deepEqual((await registry.get('sid-0'))?.hops.map((h) => h.jti), ['jti-0', 'jti-3', 'jti-6']);
    assert.equal(errors(), 0);

    events.emit(allowed(9));
    await nextTick();
    await recorder.flush();
    assert.equal(batches.length, 2);
  });

  it('splits a long queue into batches of maxBatch', async () => {
    const { batches, events, recorder } = setUp({ maxBatch: 4 });
    for (let i = 0; i < 10; i++) events.emit(allowed(i));
    await nextTick();
    await recorder.flush();
    assert.deepEqual(
      batches.map((b) => b.length),
      [4, 4, 2],
    );
  });

  it('drops and counts hops past maxPending, counts a failed batch, and refuses a malformed hop alone', async () => {
    const full = setUp({ maxPending: 5 });
    for (let i = 0; i < 8; i++) full.events.emit(allowed(i));
    await nextTick();
    await full.recorder.flush();
    assert.deepEqual(full.batches.map((b) => b.length), [5]);
    assert.equal(full.errors(), 3);

    const failing = setUp({ fail: true });
    for (let i = 0; i < 4; i++) failing.events.emit(allowed(i));
    await nextTick();
    await failing.recorder.flush();
    assert.equal(failing.errors(), 4);

    const malformed = setUp();
    malformed.events.emit(allowed(0));
    malformed.events.emit(allowed(1, { exp: 1.5 }));
    malformed.events.emit(allowed(2));
    await nextTick();
    await malformed.recorder.flush();
    assert.deepEqual(malformed.batches.map((b) => b.map((e) => e.hop.jti)), [['jti-0', 'jti-2']]);
    assert.equal(malformed.errors(), 1);
    assert.equal((await malformed.registry.get('sid-2'))?.tokensIssued, 1);
  });
});
