// npm test's runner: every test file under node:test, two files at a time, except the files marked `// test:serial`
// (a timing assertion or a whole bench run, which a second file on the same two cores would make late, and the files
// that rebuild packages/verify/dist, which others import), which run afterwards one at a time. The SDK's dist is built
// first: `bin/dts.js`, the gateway processes and the container checks import it, and a clean clone has none. Both
// phases always run; the exit code is the first phase's failure, else the second's.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOTS = ['test', 'packages/verify/test'];
const MARKER = /^\/\/ test:serial\b/m;

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = ROOTS.flatMap(testFiles).sort();
const serial = files.filter((file) => MARKER.test(readFileSync(file, 'utf8')));
const parallel = files.filter((file) => !serial.includes(file));

function run(list, concurrency) {
  if (list.length === 0) return 0;
  const args = ['--conditions=source', '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=60000', ...process.argv.slice(2), ...list];
  const { status, signal } = spawnSync(process.execPath, args, { stdio: 'inherit' });
  return status ?? (signal ? 1 : 0);
}

const build = spawnSync('npm', ['run', '--silent', 'build', '-w', 'delegation-token-verify'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.error('run_tests: building packages/verify/dist failed');
  process.exit(1);
}
console.log(`run_tests: ${parallel.length} files two at a time, then ${serial.length} marked test:serial one at a time`);
const first = run(parallel, 2);
const second = run(serial, 1);
process.exit(first || second);
