// `dts admin ...` end to end: the real launcher (bin/dts.js) in a child process against a running service.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { CRM, freePort, type TestService } from '../helpers/service.js';
import { adminToken, call, sidOf, startAdminService, waitForSession } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('dts admin (CLI)', () => {
  let svc: TestService;
  let sid: string;

  /** `dts <args>`, with `input` on standard input. Asynchronous on purpose: the service answers from this same process. */
  function run(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        ['bin/dts.js', ...args],
        { cwd: ROOT, env: { PATH: process.env.PATH ?? '', DTS_URL: svc.url, DTS_CLIENT_SECRET: svc.secrets['admin-cli']!, ...env }, timeout: 30_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(input);
    });
  }
  const dts = (args: string[], env: Record<string, string> = {}, input?: string) => run(['admin', ...args], env, input);

  function assertOneLineError(run: Run, pattern: RegExp) {
    assert.notEqual(run.code, 0);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, pattern);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  }

  before(async () => {
    svc = await startAdminService();
    const user = await loginUser(svc, { username: 'ivan' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM);
    sid = sidOf(crm.body.access_token as string);
    await waitForSession(svc, await adminToken(svc), sid);
  });
  after(() => svc.stop());

  it('sessions --json prints the API response; the default is a table', async () => {
    const json = await dts(['sessions', '--sub', 'user-ivan', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stderr, '');
    const body = JSON.parse(json.stdout) as { items: Array<{ sid: string; sub: string }> };
    assert.deepEqual(body.items.map((s) => [s.sid, s.sub]), [[sid, 'user-ivan']]);

    const human = await dts(['sessions', '--sub', 'user-ivan']);
    assert.equal(human.code, 0, human.stderr);
    const [header, row, ...rest] = human.stdout.trimEnd().split('\n');
    assert.match(header!, /^SID\s+SUB\s+ISSUER\s+LAST ACTIVE\s+TOKENS\s+CLIENTS\s+TOOL SERVERS$/);
    assert.ok(row!.startsWith(sid));
    assert.match(row!, /user-ivan\s+self\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+1\s+agent\s+http:\/\/tools\.test\/crm\/mcp$/);
    assert.deepEqual(rest, []);
  });

  it('sessions pages with --limit and prints how to continue', async () => {
    const user = await loginUser(svc, { username: 'ivan' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM);
    await waitForSession(svc, await adminToken(svc), sidOf(crm.body.access_token as string));
    const first = await dts(['sessions', '--sub', 'user-ivan', '--limit', '1', '--json']);
    const page = JSON.parse(first.stdout) as { items: unknown[]; next?: string };
    assert.equal(page.items.length, 1);
    assert.equal(typeof page.next, 'string');
    const human = await dts(['sessions', '--sub', 'user-ivan', '--limit', '1']);
    assert.match(human.stdout, new RegExp(`next page: --cursor ${page.next}\\n$`));
    const second = await dts(['sessions', '--sub', 'user-ivan', '--limit', '1', '--cursor', page.next!, '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((JSON.parse(second.stdout) as { items: unknown[]; next?: string }).next, undefined);
  });

  it('session <sid> shows the record and its delegation tree', async () => {
    const human = await dts(['session', sid]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^sid +${sid}$`, 'm'));
    assert.match(human.stdout, /^sub +user-ivan$/m);
    assert.match(human.stdout, /^delegation tree:\n└─ agent -> http:\/\/tools\.test\/crm\/mcp \[crm\.lookup_customer\] jti=/m);
    const json = await dts(['session', sid, '--json']);
    const api = await call(svc, 'GET', `/admin/sessions/${sid}`, { token: await adminToken(svc) });
    assert.deepEqual(JSON.parse(json.stdout), api.body);
  });

  it('revoke-session prints the result; a repeat says already revoked; --json matches the API', async () => {
    const first = await dts(['revoke-session', sid, '--reason', 'cli test', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const r = JSON.parse(first.stdout) as Record<string, unknown>;
    assert.deepEqual([r.kind, r.value, r.created, r.endedSessions, r.known], ['sid', sid, true, [sid], true]);
    const again = await dts(['revoke-session', sid, '--reason', 'cli test again']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^created +no \(already revoked\)$/m);
    assert.match(again.stdout, new RegExp(`^revoked at +${new Date((r.revokedAt as number) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')}$`, 'm'));
  });

  it('revoke-subject, revoke-token and revoke-client call their endpoints', async () => {
    const subject = await dts(['revoke-subject', 'cli-nobody', '--reason', 'x', '--json']);
    assert.equal(subject.code, 0, subject.stderr);
    assert.deepEqual(JSON.parse(subject.stdout).known, false);
    const tokenRun = await dts(['revoke-token', 'cli-jti-1', '--reason', 'x', '--json']);
    assert.equal(JSON.parse(tokenRun.stdout).kind, 'jti');
    const client = await dts(['revoke-client', 'billing-server', '--reason', 'x']);
    assert.equal(client.code, 0, client.stderr);
    assert.match(client.stdout, /^kind +client$/m);
  });

  it('audit lists events as a table or JSON, with filters', async () => {
    await svc.service.flushAudit();
    const json = await dts(['audit', '--type', 'revocation', '--sid', sid, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const items = (JSON.parse(json.stdout) as { items: Array<Record<string, unknown>> }).items;
    assert.deepEqual(items.map((e) => e.reason), ['cli test again', 'cli test']);
    const human = await dts(['audit', '--type', 'revocation', '--sid', sid, '--limit', '5']);
    assert.equal(human.code, 0, human.stderr);
    const lines = human.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME\s+TYPE\s+DECISION\s+CLIENT\s+SUB\s+SID\s+DETAIL$/);
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /revocation\s+allow\s+admin-cli\s+-\s+\S+\s+sid=\S+ "cli test again" \(already_revoked\)$/);
    const empty = await dts(['audit', '--sub', 'nobody-at-all']);
    assert.equal(empty.stdout, '(no events)\n');
  });

  it('connection options: flags before or after the command, secret from a file', async () => {
    const viaFlags = await dts(['--url', svc.url, 'sessions', '--limit', '1', '--json'], { DTS_URL: 'http://127.0.0.1:9' });
    assert.equal(viaFlags.code, 0, viaFlags.stderr);
    const after = await dts(['sessions', '--url', svc.url, '--limit', '1', '--json'], { DTS_URL: 'http://127.0.0.1:9' });
    assert.equal(after.code, 0, after.stderr);
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'dts-cli-')), 'secret');
    writeFileSync(file, `${svc.secrets['admin-cli']}\n`);
    const fromFile = await dts(['sessions', '--client-secret-file', file, '--json'], { DTS_CLIENT_SECRET: '' });
    assert.equal(fromFile.code, 0, fromFile.stderr);
  });

  it('the client secret never on the command line: --client-secret is refused; a file, - for stdin, or the environment', async () => {
    const secret = svc.secrets['admin-cli']!;
    for (const args of [['sessions', '--client-secret', secret], ['--client-secret', secret, 'sessions'], ['sessions', `--client-secret=${secret}`]]) {
      const refused = await dts(args, { DTS_CLIENT_SECRET: '' });
      assertOneLineError(refused, /^error: invalid_request - --client-secret would show the secret in the process list; use DTS_CLIENT_SECRET, DTS_CLIENT_SECRET_FILE or --client-secret-file <path> \(- for standard input\)$/);
    }
    const fromStdin = await dts(['sessions', '--client-secret-file', '-', '--json'], { DTS_CLIENT_SECRET: '' }, `${secret}\n`);
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assertOneLineError(await dts(['sessions', '--client-secret-file', '-'], { DTS_CLIENT_SECRET: '' }, ''), /^error: invalid_client - the client secret is empty \(standard input\)$/);
    // A secret pasted where the path goes is never echoed: the error names the setting.
    const pasted = await dts(['sessions'], { DTS_CLIENT_SECRET: '', DTS_CLIENT_SECRET_FILE: 'sk_live_pasted_by_mistake' });
    assertOneLineError(pasted, /^error: invalid_client - cannot read the client secret file \(DTS_CLIENT_SECRET_FILE\)$/);
    assert.doesNotMatch(pasted.stderr, /sk_live/);
    const flagged = await dts(['sessions', '--client-secret-file', 'sk_live_pasted_by_mistake']);
    assert.doesNotMatch(flagged.stderr, /sk_live/);
    const help = await dts(['sessions', '--help']);
    assert.doesNotMatch(help.stdout, /--client-secret </);
    assert.match(help.stdout, /--client-secret-file <path>/);
  });

  it('consents and clients tables never cut identifiers; a consent revocation reads in the audit table', async () => {
    const long = 'https://agents.example.com/.well-known/oauth-client/metadata/claude-desktop-enterprise-edition.json';
    const resource = 'http://tools.test/crm/mcp';
    await svc.service.stores.consents.remember({ accountId: 'user-judy', clientId: long, resource, scopes: ['crm.lookup_customer'], grantId: 'grant-cli-1', at: Math.floor(Date.now() / 1000) });
    const consents = await dts(['consents', '--sub', 'user-judy']);
    assert.equal(consents.code, 0, consents.stderr);
    assert.match(consents.stdout, new RegExp(`^user-judy  ${long.replaceAll('.', '\\.')}  ${resource.replaceAll('.', '\\.')}  crm\\.lookup_customer  \\S+  \\S+$`, 'm'));
    const clients = await dts(['clients']);
    assert.equal(clients.code, 0, clients.stderr);
    assert.ok(clients.stdout.split('\n').some((line) => line.startsWith(`${long}  cimd`)), clients.stdout);
    assert.doesNotMatch(consents.stdout + clients.stdout, /…/);

    const revoked = await dts(['revoke-consent', '--sub', 'user-judy', '--client-id', long, '--resource', resource, '--reason', 'user asked on ticket 4711']);
    assert.equal(revoked.code, 0, revoked.stderr);
    await svc.service.flushAudit();
    const audit = await dts(['audit', '--type', 'revocation', '--sub', 'user-judy']);
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, new RegExp(`revocation\\s+allow\\s+admin-cli\\s+user-judy\\s+-\\s+consent=${long.replaceAll('.', '\\.')} resource=${resource.replaceAll('.', '\\.')} "user asked on ticket 4711" \\(revoked\\)$`, 'm'));
  });

  it('help lists every command, gateway included; dts gateway --help is its usage, exit 0; --since says what it takes', async () => {
    const top = await run(['--help']);
    assert.equal(top.code, 0, top.stderr);
    for (const command of ['keys', 'gateway', 'admin']) assert.match(top.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    const viaHelp = await run(['help', 'gateway']);
    assert.equal(viaHelp.code, 0, viaHelp.stderr);
    assert.match(viaHelp.stdout, /^Usage: dts gateway \[options\]$/m);
    assert.match(viaHelp.stdout, /-c, --config <file>/);
    for (const flag of ['--help', '-h']) {
      const gateway = await run(['gateway', flag]);
      assert.deepEqual([gateway.code, gateway.stderr, gateway.stdout], [0, '', viaHelp.stdout], flag);
    }
    const audit = await dts(['audit', '--help']);
    assert.match(audit.stdout.replace(/\s+/g, ' '), /--since <time> only events at or after: epoch milliseconds, a date-time YYYY-MM-DDThh:mm:ss\[\.sss\] with Z or ±hh:mm, or a date YYYY-MM-DD \(its UTC midnight\)/);
  });

  it('failures: one line on stderr, non-zero exit, no stack trace', async () => {
    assertOneLineError(await dts(['sessions'], { DTS_CLIENT_SECRET: 'wrong' }), /^error: invalid_client - /);
    assertOneLineError(await dts(['sessions', '--limit', '0']), /^error: invalid_request - limit must be an integer from 1 to 500$/);
    assertOneLineError(await dts(['session', 'no-such-session']), /^error: not_found - session not found$/);
    assertOneLineError(await dts(['revoke-client', 'no-such-client', '--reason', 'x']), /^error: not_found - client not found$/);
    assertOneLineError(await dts(['revoke-session', 'abc', '--reason', '']), /^error: invalid_request - reason must be/);
    assertOneLineError(await dts(['revoke-session', 'abc']), /^error: required option '--reason <text>' not specified$/);
    assertOneLineError(await dts(['session']), /^error: missing required argument 'sid'$/);
    assertOneLineError(await dts(['frobnicate']), /^error: unknown command 'frobnicate'/);
    assertOneLineError(await dts(['sessions'], { DTS_URL: `http://127.0.0.1:${await freePort()}` }), /^error: connection_failed - could not reach http:\/\/127\.0\.0\.1:\d+$/);
    assertOneLineError(await dts(['sessions', '--client-secret-file', '/nonexistent/secret']), /^error: invalid_client - cannot read the client secret file \(--client-secret-file\)$/);
    // A client without the admin scope gets a token, then the API refuses it.
    assertOneLineError(await dts(['--client-id', 'agent', 'sessions'], { DTS_CLIENT_SECRET: svc.secrets.agent! }), /^error: \w+ - /);
  });
});
