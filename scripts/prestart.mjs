#!/usr/bin/env node
// `npm start` runs the compiled service (dist/). Before it: check the Node.js version, then build when the TypeScript
// compiler is installed (a development checkout, so a changed source is never run stale). A production install
// (`npm ci --omit=dev`) has no compiler and runs the dist/ it was built with.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

await import('./check_node.mjs');

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  tsc = undefined;
}
if (tsc) {
  const built = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
} else if (!existsSync(new URL('../dist/src/main.js', import.meta.url))) {
  process.stderr.write('dist/ is missing and the TypeScript compiler is not installed: run `npm ci && npm run build` first\n');
  process.exit(1);
}
