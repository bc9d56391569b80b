// oidc-provider's own warnings (console.warn, one plain line) reach the service's log as JSON lines: the real process,
// registration enabled, one Dynamic Client Registration (whose gate parses the body before oidc-provider, which warns
// about it once).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../../tools/local.js';
import { startService, stopService, waitReady, workDir, writeConfig } from './spawn_service.js';

describe("oidc-provider's console lines (real process)", () => {
  it('become JSON lines of the service log (component oidc-provider, level warn); nothing plain reaches stderr', async (t) => {
    const dir = workDir(t);
    const port = await freePort();
    const child = startService(dir, { CONFIG_FILE: writeConfig(dir, { port, onboarding: { registration: { enabled: true } } }), LOG_LEVEL: 'warn', REDIS_URL: '', REDIS_CLUSTER_NODES: '' });
    t.after(() => stopService(child));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const url = `http://127.0.0.1:${port}`;
    await waitReady(child, `${url}/healthz`);

    const reg = await fetch(`${url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'x', redirect_uris: ['http://127.0.0.1:5000/cb'] }) });
    assert.equal(reg.status, 201);
    const deadline = Date.now() + 5000;
    while (!stdout.includes('"component":"oidc-provider"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

    const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const fromProvider = lines.filter((l) => l.component === 'oidc-provider');
    assert.deepEqual(
      fromProvider.map((l) => [l.level, l.msg]),
      [[40, 'already parsed request body detected, having upstream middleware parser is not recommended, resolving to use req.body or request.body instead']],
    );
    assert.ok(!stderr.includes('oidc-provider'), `stderr: ${stderr}`);
  });
});
