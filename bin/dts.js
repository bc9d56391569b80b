#!/usr/bin/env node
// The `dts` command: registers tsx so the TypeScript sources run as they are, then hands over to the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../src/admin/cli.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
