// `npm run bench`: runs every scenario, prints the table, writes the same as JSON under bench/results/.
import { join } from 'node:path';
import { RESULTS_DIR, runBench } from './bench.js';
import { parseBenchArgs, USAGE } from './options.js';
import { formatReport, writeReport, type Report } from './report.js';

let options;
try {
  options = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (!options) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const began = new Date();
const file = options.out ?? join(RESULTS_DIR, `bench-${began.toISOString().replace(/[:.]/g, '-')}.json`);
let report: Report | undefined;
try {
  report = await runBench(options);
} finally {
  // Whatever happened, the results file is written: a crash records what was measured up to it.
  report ??= { meta: { date: began.toISOString(), completed: false }, figures: [], targets: [], notes: ['the bench crashed before it could report'], details: {} };
  writeReport(file, report);
  process.stdout.write(`\n${formatReport(report)}\n\nJSON: ${file}\n`);
}
// Exit 1 when a scenario did not complete (the file says which and why); failed samples alone are notes, not a crash.
if (report.meta.completed !== true) process.exitCode = 1;

