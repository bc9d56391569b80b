// README's newcomer path: `npm run walkthrough` against the real service on the default config (in a temp working
// directory, so keys and secrets land there), `--print-token` for the curl exchange, and one clear line when the
// service is down.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../tools/local.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = import.meta.resolve('tsx');
const SECRET = 'walkthrough-test-agent-secret';

function run(args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=source', `--import=${TSX}`, ...args], { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run walkthrough', () => {
  it('with the service down: exit 1 and one line naming the cause, no stack trace', async () => {
    const port = await freePort();
    const r = await run(['examples/walkthrough.ts'], { ISSUER: `http://localhost:${port}`, DEMO_AGENT_SECRET: SECRET });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `walkthrough: cannot reach the service at http://localhost:${port} (ECONNREFUSED); start it first with npm start\n`);
  });

  describe('against the service on the default config', () => {
    let dir: string;
    let service: ChildProcess;
    let issuer: string;
    const env = () => ({ ISSUER: issuer, DEMO_AGENT_SECRET: SECRET });

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'dts-walkthrough-'));
      const port = await freePort();
      issuer = `http://localhost:${port}`;
      service = spawn(process.execPath, ['--conditions=source', `--import=${TSX}`, join(ROOT, 'src/main.ts')], {
        cwd: dir,
        stdio: 'ignore',
        env: { ...process.env, REDIS_URL: '', NODE_ENV: 'development', CONFIG_FILE: join(ROOT, 'config/default.yaml'), PORT: String(port), ISSUER: issuer, LOG_LEVEL: 'silent', DEMO_AGENT_SECRET: SECRET },
      });
      for (let i = 0; i < 100; i++) {
        const ok = await fetch(`${issuer}/readyz`).then((r) => r.ok, () => false);
        if (ok) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('service did not become ready');
    });
    after(() => {
      service.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('--print-token prints only the user access token, and it exchanges by hand as README shows', async () => {
      const r = await run(['examples/walkthrough.ts', '--print-token'], env());
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^[A-Za-z0-9_-]{43}\n$/);
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`demo-agent:${SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: r.stdout.trim(),
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          resource: 'http://localhost:4001/mcp',
          scope: 'crm.lookup_customer',
        }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.scope, 'crm.lookup_customer');
      assert.equal(body.token_type, 'Bearer');
      // The claims README shows: `ancestors` (the digests of bob's grant, then of his token, root first) and `groups`
      // (finance, named by the policy) too.
      const claims = JSON.parse(Buffer.from(String(body.access_token).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(claims).sort(), ['act', 'ancestors', 'aud', 'auth_time', 'client_id', 'exp', 'groups', 'iat', 'iss', 'jti', 'scope', 'sid', 'sub']);
      assert.deepEqual([claims.sub, claims.act, claims.groups], ['user-bob', { sub: 'demo-agent' }, ['finance']]);
      assert.match(JSON.stringify(claims.ancestors), /^\["[\w-]{43}","[\w-]{43}"\]$/);
      assert.equal((claims.ancestors as string[])[1], createHash('sha256').update(r.stdout.trim()).digest('base64url'));
    });

    it('the whole walkthrough runs to the verified token', async () => {
      const r = await run(['examples/walkthrough.ts'], env());
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /verified: sub=user-bob act=\{"sub":"demo-agent"\} scope="crm\.lookup_customer"/);
    });
  });
});
