// The audit writer: events are appended off the request path, every tick or at most every `minIntervalMs` (the
// gateway's window), and a flush writes what waits at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTick, setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { createDecisionEvents, type DecisionEvent } from '../../src/audit/events.js';
import { attachAuditWriter } from '../../src/audit/writer.js';
import type { AuditLog, StoredAuditEvent } from '../../src/stores/types.js';

function recordingLog(): { log: AuditLog; appends: StoredAuditEvent[][] } {
  const appends: StoredAuditEvent[][] = [];
  return {
    appends,
    log: {
      append: async (events) => {
        appends.push([...events]);
      },
      query: async () => ({ items: [] }),
      length: async () => appends.flat().length,
    },
  };
}

const event = (i: number): DecisionEvent =>
  ({ type: 'exchange', time: Date.now(), decision: 'allow', reasons: [], clientId: `agent-${i}`, act: { sub: `agent-${i}` }, durationMs: 1 }) as DecisionEvent;

describe('audit writer', () => {
  it('with an interval: the first event goes on the next tick, the rest of the interval in one append; flush writes at once', async () => {
    const events = createDecisionEvents(() => assert.fail('no listener throws here'));
    const { log, appends } = recordingLog();
    const writer = attachAuditWriter(events, { log, logger: pino({ level: 'silent' }), onDropped: () => assert.fail('nothing dropped'), minIntervalMs: 200 });
    events.emit(event(1));
    await nextTick();
    await nextTick();
    assert.deepEqual(appends.map((a) => a.map((e) => e.clientId)), [['agent-1']]);
    for (let i = 2; i <= 4; i++) events.emit(event(i));
    await sleep(50);
    // Still inside the interval: nothing more written.
    assert.equal(appends.length, 1);
    await sleep(300);
    assert.deepEqual(appends.map((a) => a.map((e) => e.clientId)), [['agent-1'], ['agent-2', 'agent-3', 'agent-4']]);
    // A shutdown does not wait for the interval.
    events.emit(event(5));
    events.emit(event(6));
    await writer.flush();
    assert.deepEqual(appends.flat().map((e) => e.clientId), ['agent-1', 'agent-2', 'agent-3', 'agent-4', 'agent-5', 'agent-6']);
  });

  it('without an interval: every tick that emitted gets its own append', async () => {
    const events = createDecisionEvents(() => assert.fail('no listener throws here'));
    const { log, appends } = recordingLog();
    attachAuditWriter(events, { log, logger: pino({ level: 'silent' }), onDropped: () => assert.fail('nothing dropped') });
    for (let i = 1; i <= 3; i++) {
      events.emit(event(i));
      await nextTick();
      await nextTick();
    }
    assert.deepEqual(appends.map((a) => a.map((e) => e.clientId)), [['agent-1'], ['agent-2'], ['agent-3']]);
  });
});
