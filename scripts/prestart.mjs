#!/usr/bin/env node
// `npm start` runs the compiled service (dist/). Before it: check the Node.js version, then build when the TypeScript
// compiler is installed (a development checkout, so a changed source is never run stale). A production install
// (`npm ci --omit=dev`) has no compiler and runs the dist/ it was built with.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

await import('./check_node.mjs');

const require = createRequire(import.meta.url);
// `typescript/package.json` is exported by every TypeScript release; `typescript/bin/tsc` is not (7.x exports no bin path).
let compiler;
try {
  compiler = require.resolve('typescript/package.json');
} catch {
  compiler = undefined;
}
if (compiler) {
  const built = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
} else if (!existsSync(new URL('../dist/src/main.js', import.meta.url))) {
  process.stderr.write('dist/ is missing and the TypeScript compiler is not installed: run `npm ci && npm run build` first\n');
  process.exit(1);
}
