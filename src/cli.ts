// `dts`: the operator's command line. `dts admin …` calls the admin API, `dts --version` prints the version.
// Never throws, never prints a stack trace; resolves to the exit code.
import { main as adminMain, type CliIo } from './admin/cli.js';
import { VERSION } from './version.js';

const defaultIo: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env };

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    io.out(`dts ${VERSION}\n`);
    return 0;
  }
  return adminMain(argv, io);
}
