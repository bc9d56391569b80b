// bench/profile_top.ts: which `--cpu-prof` file is the service's main thread (its signing thread writes one too).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isMainThreadProfile } from '../../bench/profile_top.js';

describe('isMainThreadProfile', () => {
  it('takes thread id 0 and leaves a worker thread\'s profile and other files out', () => {
    const names = [
      'CPU.20261201.025442.9814.0.001.cpuprofile',
      '/r/profiles/CPU.20261201.025442.9814.1.002.cpuprofile',
      '/r/profiles/CPU.20261201.025442.9814.0.003.cpuprofile',
      '/r/profiles/CPU.20261201.025442.9814.0.003.cpuprofile.json',
      '/r/profiles/Heap.20261201.025442.9814.0.001.heapprofile',
    ];
    assert.deepEqual(names.filter(isMainThreadProfile), [names[0], names[2]]);
  });
});
