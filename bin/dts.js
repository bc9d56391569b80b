#!/usr/bin/env node
// The `dts` command (`dts admin …`, `dts keys …`, `dts gateway …`, `dts --version`). In a development checkout (tsx installed) it runs
// the TypeScript sources, so a change is never run stale; an installed package or the container image runs dist/.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let entry = new URL('../dist/src/cli.js', import.meta.url);
try {
  require.resolve('tsx/esm/api');
  const { register } = await import('tsx/esm/api');
  register();
  entry = new URL('../src/cli.ts', import.meta.url);
} catch {
  // No tsx: a production install, run the compiled CLI.
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
