// `dts keys generate|rotate|list` (alias `npm run keys -- …`): manage the signing key file from the command line.
//
// The service reads the key file at start only. After `rotate`, restart every instance (a rolling restart is
// safe: each one already publishes the key that now signs) and do not rotate again until all have restarted:
// `rotate` refuses while the next key is younger than --max-token-lifetime, unless --force.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { KeyStoreError } from './errors.js';
import { SIGNING_ALGS, type SigningAlg } from './jwk_shape.js';
import { generateKeyFile, listKeys, rotateKeyFile, type KeyInfo } from './key_store.js';
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS } from './rotation.js';

const DEFAULT_FILE = 'keys/jwks.json';

interface CommonOptions {
  file: string;
  json?: boolean;
}

function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

function table(keys: readonly KeyInfo[]): string {
  const rows = [
    ['KID', 'ALG', 'STATUS', 'CREATED', 'RETIRE AFTER'],
    ...keys.map((key) => [
      key.kid,
      key.alg,
      key.expired ? 'retired (expired)' : key.status,
      isoSeconds(key.created),
      key.retireAfter === null ? '-' : isoSeconds(key.retireAfter),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

function withCommonOptions(command: Command): Command {
  return command
    .option('--file <path>', 'private JWKS file', DEFAULT_FILE)
    .option('--json', 'print JSON instead of a table');
}

function algOption(description: string): Option {
  return new Option('--alg <alg>', description).choices(SIGNING_ALGS);
}

function buildProgram(): Command {
  const program = new Command('dts keys').description('manage the signing key file (private JWKS)');

  withCommonOptions(program.command('generate').description('create a key file with a current and a next key'))
    .addOption(algOption('signing algorithm').default('ES256'))
    .option('--force', 'replace an existing key file (tokens signed by its keys stop verifying)')
    .action(async (options: CommonOptions & { alg: SigningAlg; force?: boolean }) => {
      const keys = await generateKeyFile({ file: options.file, alg: options.alg, force: options.force === true });
      print(options.json ? JSON.stringify({ file: options.file, keys }, null, 2) : `wrote ${options.file}\n${table(keys)}`);
    });

  withCommonOptions(program.command('rotate').description('promote next to current, retire current, add a new next'))
    .addOption(algOption('alg of the new next key (default: alg of the key being promoted)'))
    .option(
      '--max-token-lifetime <seconds>',
      'longest lifetime of a token signed by the outgoing key',
      positiveInteger,
      DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
    )
    .option('--force', 'rotate even if the next key is younger than --max-token-lifetime (every instance has restarted since)')
    .action(async (options: CommonOptions & { alg?: SigningAlg; maxTokenLifetime: number; force?: boolean }) => {
      const summary = await rotateKeyFile({
        file: options.file,
        maxTokenLifetimeSeconds: options.maxTokenLifetime,
        force: options.force === true,
        onWarning: warn,
        ...(options.alg === undefined ? {} : { alg: options.alg }),
      });
      if (options.json) {
        print(JSON.stringify({ file: options.file, ...summary }, null, 2));
        return;
      }
      const retireAfter = isoSeconds(summary.retired.retireAfter ?? 0);
      print(
        [
          `rotated ${options.file}: ${summary.promoted.kid} is now current; ${summary.retired.kid} is retired until ${retireAfter}`,
          ...summary.dropped.map((key) => `dropped expired key ${key.kid}`),
          table(summary.keys),
          'Restart every instance now (rolling is safe); do not rotate again until all have restarted.',
        ].join('\n'),
      );
    });

  withCommonOptions(program.command('list').description('show the keys in the file')).action(
    async (options: CommonOptions) => {
      const keys = await listKeys({ file: options.file, onWarning: warn });
      print(options.json ? JSON.stringify({ file: options.file, keys }, null, 2) : table(keys));
    },
  );

  return program;
}

/** `dts keys …`: runs the key command; resolves to the exit code, one line on stderr on failure, never a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().exitOverride().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its own message (or the help, with exit code 0).
    if (err instanceof CommanderError) return err.exitCode;
    // One line, no stack: KeyStoreError messages name the file and the problem, never key material.
    const message = err instanceof KeyStoreError ? `${err.message} [${err.code}]` : String((err as Error)?.message ?? err);
    process.stderr.write(`error: ${message}\n`);
    return 1;
  }
}
