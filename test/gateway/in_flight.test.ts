// InFlightRequests: one claim per (session, id) at a time; released ids and emptied sessions are forgotten.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InFlightRequests } from '../../src/gateway/in_flight.js';

describe('InFlightRequests', () => {
  it('refuses an id in flight in the same session only, keeps 1 and "1" apart, and forgets what is released', () => {
    const inFlight = new InFlightRequests();
    const release = inFlight.claim('s1', 7)!;
    assert.equal(inFlight.claim('s1', 7), undefined);
    const other = [inFlight.claim('s2', 7), inFlight.claim('s1', '7'), inFlight.claim('s1', 8)];
    assert.ok(other.every((r) => typeof r === 'function'));
    release();
    release(); // twice: a no-op, never another request's claim
    const again = inFlight.claim('s1', 7)!;
    assert.equal(inFlight.claim('s1', 7), undefined);
    for (const r of [again, ...other]) r!();
    assert.equal(inFlight.size, 0);
  });
});
