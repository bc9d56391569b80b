// What one added operation leaves of a throughput ratio (scenario 1 with DPoP: one proof check per exchange; scenario
// 9: one assertion signature per call), from what the run without it measured. Two resources can cap a Node.js
// service's throughput on a small machine: its main thread (every request's JavaScript runs there, so the rate is at
// most 1 / main-thread time per request) and the machine's cores (every process, every thread). Adding work to each
// request can only lower both caps, so the variant's rate is at most the lower of the two caps recomputed with the
// added work, and the ratio at most that divided by the measured rate without it. Each cap uses only what was
// measured: a cap whose inputs are unknown is left out, never guessed (a guess could make the bound too low).

export interface RunWithout {
  /** Requests per second without the added operation. */
  rps: number;
  /** Main-thread (event loop) active time per request without it, µs. */
  mainUsPerReq: number;
  /** Fraction of all cores busy during that run (/proc/stat), NaN when unknown. */
  machineBusy: number;
  cores: number;
}

export interface AddedWork {
  /** Main-thread time of one added operation, µs (measured alone: a lower bound of what it costs under load). */
  mainUs: number;
  /** CPU of one added operation on every thread, µs. */
  cpuUs: number;
}

export interface Ceiling {
  /** The lower of the two bounds; Infinity when neither could be computed. */
  ratio: number;
  mainThread: number;
  machine: number;
}

export function addedWorkCeiling(without: RunWithout, added: AddedWork): Ceiling {
  const mainThread = Number.isFinite(without.mainUsPerReq) && without.mainUsPerReq > 0 ? 1e6 / (without.mainUsPerReq + added.mainUs) / without.rps : Number.POSITIVE_INFINITY;
  const machineUsPerReq = (without.machineBusy * without.cores * 1e6) / without.rps;
  const machine = Number.isFinite(machineUsPerReq) && machineUsPerReq > 0 ? (without.cores * 1e6) / (machineUsPerReq + added.cpuUs) / without.rps : Number.POSITIVE_INFINITY;
  return { ratio: Math.min(mainThread, machine), mainThread, machine };
}
