// `dts`: the operator's command line. `dts admin …` calls the admin API, `dts keys …` manages the signing key file,
// `dts gateway --config <file>` runs the MCP enforcement gateway, `dts --help` (or `dts help <command>`) lists them all,
// `dts --version` prints the version. Never throws, never prints a stack trace; resolves to the exit code.
import { main as adminMain, type CliIo } from './admin/cli.js';

const defaultIo: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env };

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  if (argv[0] === 'keys') {
    // Loaded on demand: the key tools need none of the admin client.
    const { main: keysMain } = await import('./keys/cli.js');
    return keysMain(argv.slice(1));
  }
  if (argv[0] === 'gateway') {
    // Its help is the program's (where `dts --help` lists it): `dts gateway --help` is `dts help gateway`.
    if (argv.slice(1).some((a) => a === '--help' || a === '-h')) return adminMain(['help', 'gateway'], io);
    // The MCP enforcement gateway: its own process, composition root and configuration (src/gateway/).
    const { main: gatewayMain } = await import('./gateway/main.js');
    return gatewayMain(argv.slice(1), io.env);
  }
  return adminMain(argv, io);
}
