// test:serial (scripts/run_tests.mjs): it rebuilds packages/verify/dist, which other test files import
// The verify SDK as a consumer gets it: build, pack, install the tarball into an empty project, then import, require,
// type-check (node16, nodenext, bundler) and verify a real token on Node 22 and, when present, the machine's Node 20.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/.bin/tsc');
const NODE20 = '/usr/bin/node';

let work: string;
let project: string;
let packed: { filename: string; files: { path: string }[] };
let installMode: string;

async function npm(args: string[], cwd: string) {
  return run('npm', args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 16 << 20 });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'dtv-pack-'));
  project = join(work, 'consumer');
  await npm(['run', 'build', '-w', 'delegation-token-verify'], ROOT);
  // Scripts are skipped here because the build just ran, and their output would corrupt the --json answer.
  const { stdout } = await npm(['pack', '-w', 'delegation-token-verify', '--pack-destination', work, '--json', '--ignore-scripts'], ROOT);
  [packed] = JSON.parse(stdout) as [typeof packed];

  await run('mkdir', [project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const tarball = join(work, packed.filename);
  const install = (mode: string) => npm(['install', mode, '--no-audit', '--no-fund', tarball], project);
  try {
    await install('--offline');
    installMode = '--offline';
  } catch {
    // The local cache may hold jose's tarball but not the full packument npm asks for when installing a tarball.
    await install('--prefer-offline');
    installMode = '--prefer-offline';
  }
  for (const [name, body] of Object.entries(CONSUMER_FILES)) writeFileSync(join(project, name), body);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds only dist, README.md, LICENSE and package.json, with both builds and their types', () => {
    const paths = packed.files.map((f) => f.path).sort();
    const stray = paths.filter((p) => !(p.startsWith('dist/') || ['README.md', 'LICENSE', 'package.json'].includes(p)));
    assert.deepEqual(stray, []);
    for (const p of [
      'README.md', 'LICENSE', 'package.json',
      'dist/esm/index.js', 'dist/esm/index.d.ts',
      'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json',
    ]) assert.ok(paths.includes(p), `${p} missing from the tarball`);
    assert.ok(!paths.some((p) => p.endsWith('.map') || p.endsWith('.ts') && !p.endsWith('.d.ts')), 'no sources or maps');
  });

  it('declares jose as its only dependency, Node >= 20.19, no side effects, and import/require exports', () => {
    const pkg = JSON.parse(readFileSync(join(project, 'node_modules/delegation-token-verify/package.json'), 'utf8'));
    assert.equal(pkg.name, 'delegation-token-verify');
    // The packed version is the workspace's, and every version has its CHANGELOG entry (error codes are the API).
    const source = JSON.parse(readFileSync(new URL('../../packages/verify/package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(pkg.version, source.version);
    assert.match(readFileSync(new URL('../../packages/verify/CHANGELOG.md', import.meta.url), 'utf8'), new RegExp(`^## ${source.version.replace(/\./g, '\\.')}( |$)`, 'm'));
    assert.equal(pkg.license, 'Apache-2.0');
    assert.deepEqual(Object.keys(pkg.dependencies), ['jose']);
    assert.equal(pkg.peerDependencies, undefined);
    assert.equal(pkg.optionalDependencies, undefined);
    assert.deepEqual(pkg.engines, { node: '>=20.19' });
    assert.equal(pkg.sideEffects, false);
    assert.deepEqual(Object.keys(pkg.exports['.']), ['source', 'import', 'require']);
    assert.deepEqual(pkg.exports['.'].import, { types: './dist/esm/index.d.ts', default: './dist/esm/index.js' });
    assert.deepEqual(pkg.exports['.'].require, { types: './dist/cjs/index.d.ts', default: './dist/cjs/index.js' });
    const cjsMarker = readFileSync(join(project, 'node_modules/delegation-token-verify/dist/cjs/package.json'), 'utf8');
    assert.deepEqual(JSON.parse(cjsMarker), { type: 'commonjs' });
  });
});

describe('installing the tarball into an empty project', () => {
  it('adds exactly two packages: the SDK and jose', async (t) => {
    t.diagnostic(`installed with npm install ${installMode}`);
    const { stdout } = await npm(['ls', '--all', '--parseable'], project);
    const installed = stdout.trim().split('\n').filter((line) => line !== project).map((line) => line.slice(project.length + 1));
    assert.deepEqual(installed.sort(), ['node_modules/delegation-token-verify', 'node_modules/jose']);
    const entries = readdirSync(join(project, 'node_modules')).filter((name) => !name.startsWith('.'));
    assert.deepEqual(entries.sort(), ['delegation-token-verify', 'jose']);
  });

  it('imports (ESM) and verifies a real token on this Node', async () => {
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: project });
    assert.deepEqual(JSON.parse(stdout), expected(process.version, 'esm'));
  });

  it('requires (CommonJS) and verifies a real token on this Node', async () => {
    const { stdout } = await run(process.execPath, ['check.cjs'], { cwd: project });
    assert.deepEqual(JSON.parse(stdout), expected(process.version, 'cjs'));
  });

  it('imports and requires on the machine\'s Node 20 (>= 20.19, require(esm) of jose)', async (t) => {
    if (!existsSync(NODE20)) return t.skip(`${NODE20} is absent`);
    const { stdout: version } = await run(NODE20, ['--version']);
    const [major, minor] = version.trim().slice(1).split('.').map(Number) as [number, number];
    if (major !== 20) return t.skip(`${NODE20} is ${version.trim()}, not Node 20`);
    assert.ok(minor >= 19, `${NODE20} is ${version.trim()}; the SDK needs >= 20.19`);
    const esm = await run(NODE20, ['check.mjs'], { cwd: project });
    assert.deepEqual(JSON.parse(esm.stdout), expected(version.trim(), 'esm'));
    const cjs = await run(NODE20, ['check.cjs'], { cwd: project });
    assert.deepEqual(JSON.parse(cjs.stdout), expected(version.trim(), 'cjs'));
    assert.equal(cjs.stderr, '', 'no warning from require(esm) on Node 20');
  });

  for (const resolution of ['node16', 'nodenext', 'bundler'] as const) {
    it(`type-checks import (.mts) and require (.cts) with moduleResolution ${resolution}`, async () => {
      const module = resolution === 'bundler' ? 'preserve' : resolution;
      const config = `tsconfig.${resolution}.json`;
      writeFileSync(join(project, config), JSON.stringify({
        compilerOptions: {
          module, moduleResolution: resolution, target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false,
          // A Node consumer's globals (URL, Response in the fetch option's type); nothing is installed for them.
          types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: ['types_esm.mts', 'types_cjs.cts'],
      }));
      const { stdout } = await run(TSC, ['-p', config, '--listFiles'], { cwd: project }).catch((err) => {
        assert.fail(`tsc (${resolution}) failed:\n${err.stdout}${err.stderr}`);
      });
      // Each entry point's own declarations: ESM types for import, CommonJS types for require.
      const sdkFiles = stdout.split('\n').filter((f) => /delegation-token-verify\/dist\/(esm|cjs)\/index\.d\.ts$/.test(f));
      assert.deepEqual(sdkFiles.map((f) => f.slice(f.indexOf('dist/'))).sort(), ['dist/cjs/index.d.ts', 'dist/esm/index.d.ts']);
    });
  }
});

// The error codes are the API (issue 9): the package's README and CHANGELOG must name each one and each export.
describe('the package documents its public API', () => {
  const sdkFile = (path: string) => readFileSync(join(ROOT, 'packages/verify', path), 'utf8');
  const codes = [...(/export type VerifyErrorCode =([^;]+);/.exec(sdkFile('src/errors.ts'))?.[1] ?? '').matchAll(/'(ERR_[A-Z_]+)'/g)]
    .map((m) => m[1]!);
  const exported = [...sdkFile('src/index.ts').matchAll(/export (?:type )?\{([^}]+)\}/g)]
    .flatMap((m) => m[1]!.split(',').map((name) => name.trim()).filter(Boolean));

  it('README has a row for every VerifyErrorCode with its status, oauthError and message', async () => {
    assert.ok(codes.length >= 18, `parsed ${codes.length} codes`);
    const { VerifyError } = await import('delegation-token-verify');
    const readme = sdkFile('README.md');
    for (const code of codes) {
      const err = new VerifyError(code as never);
      const row = `| \`${code}\` | ${err.status} | \`${err.oauthError}\` | ${err.message} |`;
      assert.ok(readme.includes(row), `README.md lacks the row ${row}`);
    }
  });

  it('CHANGELOG names every export and every error code', () => {
    const changelog = sdkFile('CHANGELOG.md');
    assert.ok(exported.length >= 30, `parsed ${exported.length} exports`);
    for (const name of [...exported, ...codes]) {
      assert.match(changelog, new RegExp(`\`${name}[\`(]`), `CHANGELOG.md lacks ${name}`);
    }
  });
});

function expected(node: string, format: 'esm' | 'cjs') {
  return {
    node,
    format,
    exports: [
      'ANY_ARGUMENTS', 'IDENTIFIER_PATTERN', 'MAX_ACT_DEPTH', 'MAX_IDENTIFIER_LENGTH', 'MCP_TOOL_TYPE', 'MemoryDpopReplayStore', 'REQUIRED_CLAIMS', 'VerifyError',
      'argumentConstraintsError', 'argumentsSubsume', 'checkArguments', 'checkValue', 'createVerifier',
      'decide', 'decodeJsonSegment', 'dpopKeyProblem', 'expressBearerAuth', 'expressTokenAuth', 'expressToolAuthorization', 'filterTools', 'fromJoseError', 'isIdentifier', 'jsonLinesDecisionSink', 'koaBearerAuth',
      'koaTokenAuth', 'koaToolAuthorization', 'mcpAuth', 'mcpTokenVerifier', 'narrowest', 'narrowestArguments', 'normalizeHtu', 'parseActChain', 'parseAncestors', 'parseAuthorizationDetails',
      'parseAuthorizationDetailsJson', 'parseDelegationClaims', 'parseMcpToolDetails', 'protectedResourceMetadata',
      'resourceMetadataPath', 'resourceMetadataUrl', 'revokableActors', 'subsumes', 'toolAllowed',
    ],
    sub: 'user-1',
    actors: [{ sub: 'agent-a' }],
    malformed: { code: 'ERR_TOKEN_MALFORMED', status: 401, oauthError: 'invalid_token', message: 'malformed access token', instance: true },
    scope: { code: 'ERR_INSUFFICIENT_SCOPE', status: 403, oauthError: 'insufficient_scope', message: 'insufficient scope', instance: true },
  };
}

// One script body for both module formats: serves a JWKS, signs a token with jose, verifies it with the SDK.
const CHECK_BODY = `
const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ keys: [jwk] }));
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const issuer = 'http://127.0.0.1:' + server.address().port;
const audience = 'https://tools.example/mcp';
const token = await new SignJWT({ client_id: 'agent-a', sid: 'sess-1', scope: 'crm.lookup_customer', act: { sub: 'agent-a' } })
  .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
  .setIssuer(issuer).setSubject('user-1').setAudience(audience).setIssuedAt().setExpirationTime('5m').setJti('j-1')
  .sign(privateKey);
const verifier = sdk.createVerifier({ issuer, audience });
const refusal = async (promise) => {
  try { await promise; return 'accepted'; } catch (err) {
    return { code: err.code, status: err.status, oauthError: err.oauthError, message: err.message, instance: err instanceof sdk.VerifyError };
  }
};
const verified = await verifier.verify(token, { requiredScopes: ['crm.lookup_customer'] });
const result = {
  node: process.version,
  format: FORMAT,
  exports: Object.keys(sdk).filter((k) => k !== 'default' && k !== 'module.exports').sort(),
  sub: verified.sub,
  actors: verified.actors,
  malformed: await refusal(verifier.verify('not-a-token')),
  scope: await refusal(verifier.verify(token, { requiredScopes: ['crm.export_customers'] })),
};
verifier.close();
server.close();
process.stdout.write(JSON.stringify(result));
`;

const TYPES_BODY = `
const verifier = sdk.createVerifier({ issuer: 'https://sts.example', audience: 'https://tools.example/mcp' });
export async function subjectOrCode(token: string): Promise<sdk.VerifiedToken['sub'] | sdk.VerifyErrorCode> {
  try {
    return (await verifier.verify(token, { requiredScopes: ['crm.lookup_customer'] })).sub;
  } catch (err) {
    if (err instanceof sdk.VerifyError) return err.code;
    throw err;
  }
}
export const status: 401 | 403 | 503 = new sdk.VerifyError('ERR_EXPIRED').status;
// If the types resolved to any, this directive would be unused and tsc would fail.
// @ts-expect-error not one of the public error codes
export const unknownCode: sdk.VerifyErrorCode = 'ERR_NOPE';
`;

const CONSUMER_FILES: Record<string, string> = {
  'check.mjs': `import * as sdk from 'delegation-token-verify';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createServer } from 'node:http';
const FORMAT = 'esm';
${CHECK_BODY}`,
  'check.cjs': `const sdk = require('delegation-token-verify');
const { SignJWT, exportJWK, generateKeyPair } = require('jose');
const { createServer } = require('node:http');
const FORMAT = 'cjs';
(async () => {
${CHECK_BODY}
})().catch((err) => { console.error(err); process.exit(1); });`,
  'types_esm.mts': `import * as sdk from 'delegation-token-verify';\n${TYPES_BODY}`,
  'types_cjs.cts': `import sdk = require('delegation-token-verify');\n${TYPES_BODY}`,
};
