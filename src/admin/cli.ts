// `dts admin ...`: the operator's command line over the admin API (bin/dts.js registers tsx, then calls main()).
// Exit code 0 on success, 1 on any failure with one line on stderr: `error: <error> - <description>`.
import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { AdminApiError, AdminClient, type RevokeKind, type RevokeResult } from './client.js';
import { cut, keyValues, list, table, text, time, tree } from './format.js';
import type { DelegationNode } from './tree.js';
import { VERSION } from '../version.js';

export const DEFAULTS = { url: 'http://localhost:3000', clientId: 'admin-cli', secretFile: 'keys/secrets/admin-cli' } as const;

interface ConnectionFlags {
  url?: string;
  clientId?: string;
  /** Refused when given: a secret on the command line is visible to every user of the host (ps, /proc). */
  clientSecret?: string;
  clientSecretFile?: string;
  json?: boolean;
}

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** All of standard input (for `--client-secret-file -`); process.stdin when absent. */
  stdin?: () => Promise<string>;
}

async function readProcessStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

/** What `since` accepts (admin/schemas.ts), for the help. */
const SINCE_HELP = 'only events at or after: epoch milliseconds, a date-time YYYY-MM-DDThh:mm:ss[.sss] with Z or ±hh:mm, or a date YYYY-MM-DD (its UTC midnight)';

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

const SECRET_SOURCES = 'DTS_CLIENT_SECRET, DTS_CLIENT_SECRET_FILE or --client-secret-file <path> (- for standard input)';

/**
 * Secret from, in order: --client-secret-file, DTS_CLIENT_SECRET, DTS_CLIENT_SECRET_FILE, keys/secrets/admin-cli; `-`
 * as the file is standard input. A failure names the setting, never its value: a secret pasted where the path goes
 * would otherwise be printed.
 */
async function resolveSecret(flags: ConnectionFlags, io: CliIo): Promise<string> {
  if (flags.clientSecret !== undefined) throw new AdminApiError('invalid_request', `--client-secret would show the secret in the process list; use ${SECRET_SOURCES}`);
  const { env } = io;
  if (!flags.clientSecretFile && env.DTS_CLIENT_SECRET) return env.DTS_CLIENT_SECRET;
  const [file, setting] = flags.clientSecretFile
    ? [flags.clientSecretFile, '--client-secret-file']
    : env.DTS_CLIENT_SECRET_FILE
      ? [env.DTS_CLIENT_SECRET_FILE, 'DTS_CLIENT_SECRET_FILE']
      : existsSync(DEFAULTS.secretFile)
        ? [DEFAULTS.secretFile, `the default file ${DEFAULTS.secretFile}`]
        : [undefined, undefined];
  if (file === undefined) throw new AdminApiError('invalid_client', `no client secret: set ${SECRET_SOURCES}`);
  let secret: string;
  try {
    secret = (file === '-' ? await (io.stdin ?? readProcessStdin)() : readFileSync(file, 'utf8')).trim();
  } catch {
    throw new AdminApiError('invalid_client', `cannot read the client secret file (${file === '-' ? 'standard input' : setting})`);
  }
  if (!secret) throw new AdminApiError('invalid_client', `the client secret is empty (${file === '-' ? 'standard input' : setting})`);
  return secret;
}

/** Connection options: on `admin` (before the command) and, except --client-id, on each command too (after it). */
function connectionOptions(cmd: Command, withClientId: boolean): Command {
  cmd
    .option('--url <url>', `service URL (env DTS_URL, default ${DEFAULTS.url})`)
    // Kept only to refuse it with a pointer to the safe forms (resolveSecret), rather than "unknown option".
    .addOption(new Option('--client-secret <secret>').hideHelp())
    .option('--client-secret-file <path>', `file holding the client secret, - for standard input (env DTS_CLIENT_SECRET or DTS_CLIENT_SECRET_FILE; default ${DEFAULTS.secretFile} if present)`)
    .option('--json', 'print the raw JSON response');
  if (withClientId) cmd.option('--client-id <id>', `admin client id (env DTS_CLIENT_ID, default ${DEFAULTS.clientId})`);
  return cmd;
}

function revokeLines(r: RevokeResult): string {
  const entries: Array<[string, string]> = [
    ['kind', r.kind],
    ['value', r.value],
    ['created', r.created ? 'yes' : 'no (already revoked)'],
    ['revoked at', time(r.revokedAt)],
    ['kept until', time(r.expiresAt)],
    ['ended sessions', list(r.endedSessions)],
  ];
  if (r.known !== undefined) entries.push(['known', r.known ? 'yes' : 'no (no record here; revoked anyway)']);
  return keyValues(entries);
}

type Row = Record<string, unknown>;

const sessionsTable = (items: Row[]) =>
  table<Row>(
    [
      { header: 'SID', value: (r) => text(r.sid) },
      { header: 'SUB', value: (r) => text(r.sub) },
      { header: 'ISSUER', value: (r) => text(r.issuer) },
      { header: 'LAST ACTIVE', value: (r) => time(r.lastAt) },
      { header: 'TOKENS', value: (r) => text(r.tokensIssued) },
      { header: 'CLIENTS', value: (r) => list(r.clients) },
      { header: 'TOOL SERVERS', value: (r) => list(r.toolServers) },
    ],
    items,
  );

const consentsTable = (items: Row[]) =>
  table<Row>(
    [
      { header: 'SUB', value: (r) => text(r.sub) },
      { header: 'CLIENT', value: (r) => text(r.client_id) },
      { header: 'RESOURCE', value: (r) => text(r.resource) },
      { header: 'SCOPES', value: (r) => list(r.scopes), max: 60 },
      { header: 'CREATED', value: (r) => time(r.createdAt) },
      { header: 'UPDATED', value: (r) => time(r.updatedAt) },
    ],
    items,
  );

const clientsTable = (items: Row[]) =>
  table<Row>(
    [
      { header: 'CLIENT', value: (r) => text(r.client_id) },
      { header: 'KIND', value: (r) => text(r.kind) },
      { header: 'NAME / HOST', value: (r) => text(r.client_name ?? r.host), max: 40 },
      { header: 'EXPIRES / CONSENTS', value: (r) => (r.kind === 'dcr' ? time(r.expiresAt) : text(r.consents)) },
    ],
    items,
  );

/** Free text in the detail column is cut to this; the identifiers around it never are. */
const DETAIL_TEXT_MAX = 80;

/** What each event type has to say beyond the common columns. */
function auditDetail(e: Row): string {
  const reasons = list(e.reasons);
  switch (e.type) {
    case 'admin':
      return `${text(e.method)} ${text(e.path)} -> ${text(e.status)} (${reasons})`;
    case 'revocation':
      return `${text(e.kind)}=${text(e.value)}${e.resource ? ` resource=${String(e.resource)}` : ''}${e.reason ? ` "${cut(String(e.reason), DETAIL_TEXT_MAX)}"` : ''} (${reasons})`;
    case 'gateway':
      return `${text(e.toolServer)} ${text(e.method ?? e.httpMethod)}${e.tool ? ` ${String(e.tool)}` : ''} -> ${text(e.status)} (${reasons})`;
    default:
      return `${e.error ? `${String(e.error)} ` : ''}${text(e.toolServer)} ${cut(list(e.grantedScopes ?? e.requestedScopes), DETAIL_TEXT_MAX)} (${reasons})`;
  }
}

const auditTable = (items: Row[]) =>
  table<Row>(
    [
      { header: 'TIME', value: (r) => time(r.time, 'ms') },
      { header: 'TYPE', value: (r) => text(r.type) },
      { header: 'DECISION', value: (r) => text(r.decision) },
      { header: 'CLIENT', value: (r) => text(r.clientId) },
      { header: 'SUB', value: (r) => text(r.sub) },
      { header: 'SID', value: (r) => text(r.sid) },
      { header: 'DETAIL', value: auditDetail },
    ],
    items,
  );

// The API's delegation tree, as the CLI draws it.
type Node = DelegationNode;

function sessionLines(s: Row): string {
  const live = Array.isArray(s.liveJtis) ? s.liveJtis.length : 0;
  const head = keyValues([
    ['sid', text(s.sid)],
    ['sub', text(s.sub)],
    ['issuer', text(s.issuer)],
    ['first token', time(s.firstAt)],
    ['last token', time(s.lastAt)],
    ['tokens issued', text(s.tokensIssued)],
    ['live tokens', String(live)],
    ['clients', list(s.clients)],
    ['tool servers', list(s.toolServers)],
  ]);
  const roots = (Array.isArray(s.tree) ? s.tree : []) as Node[];
  if (!roots.length) return `${head}\ndelegation tree: (empty)`;
  const label = (n: Node) =>
    `${n.clientId} -> ${n.toolServer} [${n.scopes.join(' ')}] jti=${n.jti} at=${time(n.at)} exp=${time(n.exp)}${n.parentJti ? ` (from ${n.parentJti}, no longer recorded)` : ''}`;
  return `${head}\ndelegation tree:\n${tree(roots, label)}`;
}

const pageFooter = (next: string | undefined) => (next ? `\nnext page: --cursor ${next}` : '');

/** Builds the program; `io` is injectable for tests. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('dts').description('delegation token service tools').version(VERSION, '-V, --version').enablePositionalOptions().exitOverride();
  program.configureOutput({ writeOut: io.out, writeErr: io.err });
  // Listed for help only: src/cli.ts hands `dts keys …` to the key tool and `dts gateway …` to the gateway before this
  // program parses anything (`dts gateway --help` comes back here, as `dts help gateway`).
  program.addCommand(new Command('keys').description('manage the signing key file: generate, rotate, list (see dts keys --help)'));
  program.addCommand(
    new Command('gateway')
      .description('run the MCP enforcement gateway in front of tool servers (see docs/gateway.md)')
      .option('-c, --config <file>', 'gateway configuration file (env GATEWAY_CONFIG)'),
  );

  const admin = connectionOptions(new Command('admin'), true)
    .description('call the admin API (connection options may also follow the command, except --client-id)')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  program.addCommand(admin);

  const client = async (cmd: Command) => {
    const g = admin.opts<ConnectionFlags>();
    const l = cmd.opts<ConnectionFlags>();
    const flags: ConnectionFlags = {
      url: l.url ?? g.url ?? io.env.DTS_URL ?? DEFAULTS.url,
      clientId: g.clientId ?? io.env.DTS_CLIENT_ID ?? DEFAULTS.clientId,
      ...((l.clientSecret ?? g.clientSecret) !== undefined ? { clientSecret: l.clientSecret ?? g.clientSecret } : {}),
      ...(l.clientSecretFile ?? g.clientSecretFile ? { clientSecretFile: l.clientSecretFile ?? g.clientSecretFile } : {}),
      json: Boolean(l.json ?? g.json),
    };
    return { api: new AdminClient({ url: flags.url!, clientId: flags.clientId!, clientSecret: await resolveSecret(flags, io) }), json: flags.json === true };
  };
  const print = (json: boolean, body: unknown, human: () => string) => io.out(`${json ? JSON.stringify(body, null, 2) : human()}\n`);

  const revokeCommand = (name: string, arg: string, kind: RevokeKind, what: string) =>
    connectionOptions(new Command(name), false)
      .description(`revoke ${what}`)
      .argument(`<${arg}>`)
      .requiredOption('--reason <text>', 'why (1 to 500 characters; kept in the audit trail)')
      .action(async (value: string, opts: { reason: string }, cmd: Command) => {
        const { api, json } = await client(cmd);
        const r = await api.revoke(kind, value, opts.reason);
        print(json, r, () => revokeLines(r));
      });

  admin.addCommand(revokeCommand('revoke-session', 'sid', 'sid', 'a session: every delegation token carrying this sid, and the user session'));
  admin.addCommand(revokeCommand('revoke-subject', 'sub', 'sub', "a user: every token issued for this subject so far, and the user's sessions"));
  admin.addCommand(revokeCommand('revoke-client', 'client_id', 'client', 'an agent or tool server client: every delegation token it obtained or acted in so far'));
  admin.addCommand(revokeCommand('revoke-token', 'jti', 'jti', 'one delegation token by its jti'));

  const pageOptions = (cmd: Command) => cmd.option('--limit <n>', 'page size, 1 to 500 (default 50)').option('--cursor <cursor>', 'continue from a previous page');

  admin.addCommand(
    pageOptions(connectionOptions(new Command('sessions'), false).description('list delegating sessions, most recently active first'))
      .option('--sub <sub>', 'only this subject')
      .option('--client-id <id>', 'only sessions this client took part in')
      .action(async (opts: { sub?: string; clientId?: string; limit?: string; cursor?: string }, cmd: Command) => {
        const { api, json } = await client(cmd);
        const page = await api.sessions({ sub: opts.sub, client_id: opts.clientId, limit: opts.limit, cursor: opts.cursor });
        print(json, page, () => (page.items.length ? sessionsTable(page.items) : '(no sessions)') + pageFooter(page.next));
      }),
  );

  admin.addCommand(
    connectionOptions(new Command('session'), false)
      .description('show one session and its delegation tree')
      .argument('<sid>')
      .action(async (sid: string, _opts: unknown, cmd: Command) => {
        const { api, json } = await client(cmd);
        const s = await api.session(sid);
        print(json, s, () => sessionLines(s));
      }),
  );

  admin.addCommand(
    pageOptions(connectionOptions(new Command('audit'), false).description('read the audit trail, newest first'))
      .option('--sid <sid>', 'only this session')
      .option('--sub <sub>', 'only this subject')
      .option('--client-id <id>', 'only this client')
      .option('--decision <decision>', 'allow or deny')
      .option('--type <type>', 'exchange, revocation, admin or gateway')
      .option('--since <time>', SINCE_HELP)
      .action(async (opts: Record<string, string | undefined>, cmd: Command) => {
        const { api, json } = await client(cmd);
        const page = await api.audit({
          sid: opts.sid,
          sub: opts.sub,
          client_id: opts.clientId,
          decision: opts.decision,
          type: opts.type,
          since: opts.since,
          limit: opts.limit,
          cursor: opts.cursor,
        });
        print(json, page, () => (page.items.length ? auditTable(page.items) : '(no events)') + pageFooter(page.next));
      }),
  );
  admin.addCommand(
    pageOptions(connectionOptions(new Command('consents'), false).description('list consents users gave to onboarded (CIMD, DCR) clients, newest first'))
      .option('--sub <sub>', 'only this user')
      .option('--client-id <id>', 'only this client')
      .action(async (opts: { sub?: string; clientId?: string; limit?: string; cursor?: string }, cmd: Command) => {
        const { api, json } = await client(cmd);
        const page = await api.consents({ sub: opts.sub, client_id: opts.clientId, limit: opts.limit, cursor: opts.cursor });
        print(json, page, () => (page.items.length ? consentsTable(page.items) : '(no consents)') + pageFooter(page.next));
      }),
  );

  admin.addCommand(
    connectionOptions(new Command('revoke-consent'), false)
      .description("revoke a user's consent to a client for a tool server: its grants end, with every token derived from them")
      .requiredOption('--sub <sub>', 'the user')
      .requiredOption('--client-id <id>', 'the client')
      .requiredOption('--resource <uri>', 'the tool server (resource indicator)')
      .requiredOption('--reason <text>', 'why (1 to 500 characters; kept in the audit trail)')
      .action(async (opts: { sub: string; clientId: string; resource: string; reason: string }, cmd: Command) => {
        const { api, json } = await client(cmd);
        const r = await api.revokeConsent({ sub: opts.sub, client_id: opts.clientId, resource: opts.resource, reason: opts.reason });
        print(json, r, () => keyValues([['sub', text(r.sub)], ['client', text(r.client_id)], ['resource', text(r.resource)], ['scopes', list(r.scopes)], ['ended grants', text(r.endedGrants)]]));
      }),
  );

  admin.addCommand(
    pageOptions(connectionOptions(new Command('clients'), false).description('list onboarded clients: registered by DCR and CIMD clients holding a consent, taking turns'))
      .action(async (opts: { limit?: string; cursor?: string }, cmd: Command) => {
        const { api, json } = await client(cmd);
        const page = await api.onboardedClients({ limit: opts.limit, cursor: opts.cursor });
        print(json, page, () => (page.items.length ? clientsTable(page.items) : '(no onboarded clients)') + pageFooter(page.next));
      }),
  );

  admin.addCommand(
    connectionOptions(new Command('delete-client'), false)
      .description('delete an onboarded client: revoke its tokens and consents, remove its registration')
      .argument('<client_id>')
      .requiredOption('--reason <text>', 'why (1 to 500 characters; kept in the audit trail)')
      .action(async (clientId: string, opts: { reason: string }, cmd: Command) => {
        const { api, json } = await client(cmd);
        const r = await api.deleteClient(clientId, opts.reason);
        print(json, r, () => keyValues([['client', text(r.client_id)], ['kind', text(r.kind)], ['registration deleted', r.deleted ? 'yes' : 'no'], ['revoked consents', text(r.revokedConsents)], ['revoked at', time(r.revokedAt)]]));
      }),
  );
  for (const cmd of admin.commands) cmd.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  return program;
}

/** Runs the CLI; resolves to the exit code. Never throws, never prints a stack trace. */
export async function main(argv: string[], io: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env }): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its own one-line message (or the help, with exit code 0).
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof AdminApiError) io.err(`error: ${oneLine(err.error)} - ${oneLine(err.description)}\n`);
    else io.err(`error: internal_error - ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    return 1;
  }
}
