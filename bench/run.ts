// `npm run bench`: runs every scenario, prints the table, writes the same as JSON under bench/results/.
import { join } from 'node:path';
import { RESULTS_DIR, runBench } from './bench.js';
import { parseBenchArgs, USAGE } from './options.js';
import { formatReport, writeReport } from './report.js';

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

const report = await runBench(options);
const file = options.out ?? join(RESULTS_DIR, `bench-${(report.meta.date as string).replace(/[:.]/g, '-')}.json`);
writeReport(file, report);
process.stdout.write(`\n${formatReport(report)}\n\nJSON: ${file}\n`);

