// bench/ceiling.ts: the bound one added operation per request leaves of a throughput ratio (scenarios 1 and 9).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addedWorkCeiling } from '../../bench/ceiling.js';

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

describe('bench addedWorkCeiling', () => {
  it('a service whose main thread is busy all the run is capped by the added main-thread time', () => {
    // 5,000 req/s at 200 µs of main thread each: the thread is busy all the time; the machine has room (70 %).
    const c = addedWorkCeiling({ rps: 5000, mainUsPerReq: 200, machineBusy: 0.7, cores: 2 }, { mainUs: 40, cpuUs: 120 });
    close(c.mainThread, 1e6 / 240 / 5000);
    close(c.machine, 2e6 / (280 + 120) / 5000);
    close(c.ratio, c.mainThread);
  });
  it('a saturated machine caps by the added CPU, even when the main thread has room', () => {
    const c = addedWorkCeiling({ rps: 5000, mainUsPerReq: 100, machineBusy: 1, cores: 2 }, { mainUs: 10, cpuUs: 200 });
    close(c.machine, 2e6 / 600 / 5000);
    close(c.ratio, c.machine);
    assert.ok(c.mainThread > 1);
  });
  it('leaves out a bound whose inputs were not measured, instead of guessing one', () => {
    const c = addedWorkCeiling({ rps: 5000, mainUsPerReq: 200, machineBusy: Number.NaN, cores: 2 }, { mainUs: 40, cpuUs: 120 });
    assert.equal(c.machine, Number.POSITIVE_INFINITY);
    close(c.ratio, c.mainThread);
    assert.equal(addedWorkCeiling({ rps: 5000, mainUsPerReq: Number.NaN, machineBusy: Number.NaN, cores: 2 }, { mainUs: 40, cpuUs: 120 }).ratio, Number.POSITIVE_INFINITY);
  });
  it('adds nothing: a fully busy main thread stays at 1', () => {
    close(addedWorkCeiling({ rps: 5000, mainUsPerReq: 200, machineBusy: 0.5, cores: 2 }, { mainUs: 0, cpuUs: 0 }).ratio, 1);
  });
});
