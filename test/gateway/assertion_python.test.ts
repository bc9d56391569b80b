// The Python verification snippet of docs/gateway.md, run as written (URLs moved to this run's ports) with PyJWT and
// cryptography against a Delegation-Assertion the gateway minted for a real call. Skipped where Python lacks them
// (Debian: apt-get install python3-jwt python3-cryptography).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { call, post, startStack, type Stack } from './fixture.js';

function pythonWithJwt(): string | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(python, ['-c', 'import jwt, cryptography'], { stdio: 'ignore' });
      return python;
    } catch {
      // next
    }
  }
  return undefined;
}

const python = pythonWithJwt();
const doc = readFileSync(new URL('../../docs/gateway.md', import.meta.url), 'utf8');
const snippet = /```python\n([\s\S]*?)```/.exec(doc)?.[1];

function run(script: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(python!, [script, ...args], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

describe('docs/gateway.md: the Python snippet verifies a real Delegation-Assertion', { skip: python ? false : 'python3 with PyJWT and cryptography is not installed' }, () => {
  let stack: Stack;
  let script: string;
  before(async () => {
    stack = await startStack();
    assert.ok(snippet, 'docs/gateway.md has a python block');
    const code = snippet!.replaceAll('http://localhost:4100', stack.gatewayUrl).replaceAll('http://127.0.0.1:4200/mcp', stack.upstream.url);
    script = join(stack.keysDir, 'verify_assertion.py');
    writeFileSync(script, `${code}\nimport json, sys\nprint(json.dumps(verify_assertion(sys.argv[1])))\n`);
  });
  after(async () => {
    rmSync(script, { force: true });
    await stack.stop();
  });

  it('accepts the assertion upstream received, with its claims; refuses it tampered, or as an access token', async () => {
    const token = await stack.token();
    assert.equal((await post(stack, token, call(1, 'lookup_customer', { customerId: 'cus_1001' }))).status, 200);
    const assertion = stack.upstream.received.at(-1)!.headers['delegation-assertion'] as string;
    const ok = await run(script, [assertion]);
    assert.equal(ok.code, 0, ok.err);
    const claims = JSON.parse(ok.out) as Record<string, unknown>;
    assert.deepEqual(claims, decodeJwt(assertion));
    assert.equal(claims.sub, 'user-bob');
    assert.equal(claims.tool, 'lookup_customer');

    // A flipped signature byte, and the delegation token itself (typ at+jwt, another iss and aud): refused.
    const [h, p, s] = assertion.split('.');
    const tampered = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
    for (const bad of [tampered, token]) {
      const refused = await run(script, [bad]);
      assert.notEqual(refused.code, 0, bad.slice(0, 20));
      assert.match(refused.err, /jwt\.exceptions\.\w+Error|InvalidTokenError|wrong typ/);
    }
  });
});
