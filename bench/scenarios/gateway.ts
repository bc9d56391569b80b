// Scenario 9: what the MCP enforcement gateway adds, same run, a trivial tool. (a) At a fixed 200 calls/s on one
// keep-alive connection, each call timed with performance.now: through the gateway vs directly to the upstream, in
// turn; added latency = gateway − direct at p50 and p99 (targets 1 ms and 3 ms). (b) At `--connections` connections,
// throughput through the enforcing gateway vs the same process' gateway with `enforcement: false` (plain proxying),
// interleaved (target >= 0.8 x), with the gateway process' CPU per call for each. The upstream (the plain MCP server)
// runs in the bench process, the gateways in a forked one (bench/gateway_process.ts), the service in its own.
import { fork } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrivateKey, sign as rawSign } from 'node:crypto';
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import { CompactSign, exportJWK, generateKeyPair } from 'jose';
import { startPlainMcpServer } from '../../tools/plain_mcp_server.js';
import { benchBuild } from '../build.js';
import type { BenchContext } from '../context.js';
import { CRM } from '../config.js';
import { exchangeForCrm } from '../flows.js';
import { formatProfile, summarizeProfile } from '../profile_top.js';
import { fmt } from '../report.js';
import { addedWorkCeiling } from '../ceiling.js';
import { busyBetween, costPerOp, cpuPerOp, machineCpuTicks, median, percentile } from '../stats.js';
import type { GatewayProcessStart } from '../gateway_process.js';

const RATE = 200;
const ADDED_P50_MS = 1;
const ADDED_P99_MS = 3;
const THROUGHPUT_RATIO = 0.8;
/** The trivial tool: a scope of the bench's CRM token, so the gateway allows it after the full decision. */
const TOOL = 'crm.lookup_customer';
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: TOOL, arguments: { customerId: 'cus_1' } } });

interface GatewayChild {
  enforcing: string;
  plain: string;
  /** CPU (every thread) and main-thread event-loop active time of the gateway process so far, in milliseconds. */
  usage(): Promise<{ cpuMs: number; mainMs: number }>;
  stop(): Promise<void>;
}

async function startGatewayChild(start: GatewayProcessStart, secret: string, profileDir: string | undefined): Promise<GatewayChild> {
  const child = fork(benchBuild().gateway, [], {
    execArgv: [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    env: { ...process.env, BENCH_GATEWAY: JSON.stringify(start), BENCH_GATEWAY_SECRET: secret },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ports = await new Promise<{ enforcing: number; plain: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the gateway process exited during start-up (code ${code})`)));
    child.on('message', (m: { type: string; ports?: { enforcing: number; plain: number }; error?: string }) => {
      if (m.type === 'ready') resolve(m.ports!);
      else if (m.type === 'failed') reject(new Error(`the gateway process failed to start: ${m.error}`));
    });
  });
  const path = new URL(start.resource).pathname;
  return {
    enforcing: `http://127.0.0.1:${ports.enforcing}${path}`,
    plain: `http://127.0.0.1:${ports.plain}${path}`,
    usage: () =>
      new Promise((resolve) => {
        const onMessage = (m: { type: string; micros?: number; mainMs?: number }) => {
          if (m.type !== 'cpu') return;
          child.off('message', onMessage);
          resolve({ cpuMs: m.micros! / 1000, mainMs: m.mainMs! });
        };
        child.on('message', onMessage);
        child.send({ type: 'cpu' });
      }),
    async stop() {
      if (child.exitCode === null) child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One POST on `agent`'s single connection; resolves with its latency in ms (status must be 200). */
function timedCall(url: URL, agent: Agent, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(BODY) },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(BODY);
  });
}

/** Calls at a fixed rate (a call starts every 1/RATE s, or at once when the previous one ran late) for `seconds`. */
async function fixedRate(url: string, token: string, seconds: number): Promise<{ latencies: number[]; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(url);
  const latencies: number[] = [];
  let errors = 0;
  const interval = 1000 / RATE;
  const began = performance.now();
  try {
    for (let i = 0; i < seconds * RATE; i++) {
      const due = began + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        latencies.push(await timedCall(target, agent, token));
      } catch {
        errors++;
      }
    }
  } finally {
    agent.destroy();
  }
  return { latencies, errors };
}

async function throughput(url: string, token: string, connections: number, seconds: number) {
  const result = await autocannon({
    url,
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
    body: BODY,
  });
  const secs = result.duration > 0 ? result.duration : seconds;
  return { rps: result['2xx'] / secs, ok: result['2xx'], failed: result.non2xx + result.errors + result.timeouts };
}

export async function gatewayScenario(ctx: BenchContext): Promise<void> {
  const { svc, options, report } = ctx;
  const upstream = await startPlainMcpServer({ tools: [{ name: TOOL, description: 'Trivial (bench).', inputSchema: { type: 'object' }, run: () => ({ ok: true }) }] });
  let child: GatewayChild | undefined;
  // --cpu-prof: the gateway process is profiled too (its own folder), and its top frames printed after the run.
  const profileDir = options.cpuProf ? fileURLToPath(new URL('../results/profiles/gateway/', import.meta.url)) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const began = Date.now();
  try {
    // The route's resource is the bench's CRM tool server, whose client (crm-server) reads the revocation feed.
    child = await startGatewayChild(
      { issuer: svc.url, redisUrl: options.redisUrl, keyPrefix: svc.keyPrefix, clientId: 'crm-server', resource: CRM, upstream: upstream.url },
      svc.secrets['crm-server'],
      profileDir,
    );
    const token = await exchangeForCrm(svc, ctx.userTokens[0]!);
    // Warm both paths (JIT, keep-alive sockets, the verifier's token cache).
    await fixedRate(child.enforcing, token, Math.min(1, options.warmup));
    await fixedRate(upstream.url, token, Math.min(1, options.warmup));

    const added = { p50: [] as number[], p99: [] as number[] };
    const lat = { direct50: [] as number[], direct99: [] as number[], gw50: [] as number[], gw99: [] as number[] };
    const tp = { enforcing: [] as number[], plain: [] as number[], cpuEnforcing: [] as number[], cpuPlain: [] as number[], mainEnforcing: [] as number[], mainPlain: [] as number[], busyPlain: [] as number[] };
    let failed = 0;
    for (let rep = 0; rep < options.reps; rep++) {
      // (a) the same run: direct, then through the gateway, at the same fixed rate on one connection each.
      const direct = await fixedRate(upstream.url, token, options.duration);
      const through = await fixedRate(child.enforcing, token, options.duration);
      failed += direct.errors + through.errors;
      const d50 = percentile(direct.latencies, 50);
      const d99 = percentile(direct.latencies, 99);
      const g50 = percentile(through.latencies, 50);
      const g99 = percentile(through.latencies, 99);
      lat.direct50.push(d50);
      lat.direct99.push(d99);
      lat.gw50.push(g50);
      lat.gw99.push(g99);
      added.p50.push(g50 - d50);
      added.p99.push(g99 - d99);
      ctx.log(`  ${RATE} calls/s, 1 connection: direct p50 ${fmt(d50)} ms p99 ${fmt(d99)} ms; gateway p50 ${fmt(g50)} ms p99 ${fmt(g99)} ms`);
      // (b) interleaved, alternating which goes first.
      const order: Array<'enforcing' | 'plain'> = rep % 2 === 0 ? ['enforcing', 'plain'] : ['plain', 'enforcing'];
      for (const which of order) {
        const [before, ticks] = [await child.usage(), machineCpuTicks()];
        const r = await throughput(child[which], token, options.connections, options.duration);
        const busy = busyBetween(ticks, machineCpuTicks());
        const after = await child.usage();
        const cpu = after.cpuMs - before.cpuMs;
        failed += r.failed;
        tp[which].push(r.rps);
        (which === 'enforcing' ? tp.cpuEnforcing : tp.cpuPlain).push(cpu / Math.max(1, r.ok));
        (which === 'enforcing' ? tp.mainEnforcing : tp.mainPlain).push((after.mainMs - before.mainMs) / Math.max(1, r.ok));
        if (which === 'plain') tp.busyPlain.push(busy);
        ctx.log(`  ${options.connections} connections, ${which === 'enforcing' ? 'full gateway' : 'enforcement off'}: ${fmt(r.rps)} calls/s, gateway CPU ${fmt(cpu / Math.max(1, r.ok))} ms/call`);
      }
    }
    ctx.failed('gateway scenario calls', failed);
    report.figure('9', `direct to upstream at ${RATE}/s: latency p50`, 'ms', lat.direct50, failed);
    report.figure('9', `direct to upstream at ${RATE}/s: latency p99`, 'ms', lat.direct99);
    report.figure('9', `through the gateway at ${RATE}/s: latency p50`, 'ms', lat.gw50);
    report.figure('9', `through the gateway at ${RATE}/s: latency p99`, 'ms', lat.gw99);
    report.figure('9', `full gateway, ${options.connections} connections: throughput`, 'calls/s', tp.enforcing);
    report.figure('9', `enforcement off, ${options.connections} connections: throughput`, 'calls/s', tp.plain);
    report.figure('9', 'full gateway: gateway process CPU/call', 'ms', tp.cpuEnforcing);
    report.figure('9', 'enforcement off: gateway process CPU/call', 'ms', tp.cpuPlain);
    const a50 = median(added.p50);
    const a99 = median(added.p99);
    report.details.gateway = { rate: RATE, addedLatencyMs: added, latencyMs: lat, throughput: tp };
    report.target('9', `added latency p50 <= ${ADDED_P50_MS} ms (${RATE} calls/s, 1 connection)`, `${fmt(median(lat.gw50))} - ${fmt(median(lat.direct50))} = ${fmt(a50)} ms`, a50, '<=', ADDED_P50_MS);
    report.target('9', `added latency p99 <= ${ADDED_P99_MS} ms (${RATE} calls/s, 1 connection)`, `${fmt(median(lat.gw99))} - ${fmt(median(lat.direct99))} = ${fmt(a99)} ms`, a99, '<=', ADDED_P99_MS);
    // What one signature alone would leave of the target: the assertion is signed per call (fresh jti, the call's tool),
    // with jose (this project's rule for every JOSE operation), ES256 by default.
    const signing = await signatureCpu();
    report.figure('9', 'full gateway: gateway main thread active/call', 'µs', tp.mainEnforcing.map((m) => m * 1000));
    report.figure('9', 'enforcement off: gateway main thread active/call', 'µs', tp.mainPlain.map((m) => m * 1000));
    if (tp.busyPlain.every(Number.isFinite)) report.figure('9', 'machine CPU busy during enforcement off (/proc/stat, all cores)', '%', tp.busyPlain.map((b) => b * 100));
    report.figure('9', 'one ES256 assertion signature, jose CompactSign: CPU/op; main thread/op (bench process)', 'µs', [signing.jose.cpuUs, signing.jose.mainUs]);
    report.figure('9', 'one raw ECDSA P-256 signature, node:crypto (reference): CPU/op (bench process)', 'µs', [signing.raw]);
    const off = { rps: median(tp.plain), mainUsPerReq: median(tp.mainPlain) * 1000, machineBusy: median(tp.busyPlain), cores: availableParallelism() };
    const ceiling = addedWorkCeiling(off, signing.jose);
    report.figure('9', 'ceiling of full / off with only the jose signature added', 'ratio', [ceiling.ratio]);
    report.note(`scenario 9: with enforcement off the gateway's main thread was active ${fmt(off.mainUsPerReq)} µs per call (${fmt(off.mainUsPerReq * off.rps / 1e4)} % of the run; ${fmt(median(tp.cpuPlain) * 1000)} µs of process CPU) and the machine ${fmt(off.machineBusy * 100)} % busy; one jose ES256 signature costs ${fmt(signing.jose.mainUs)} µs of main thread and ${fmt(signing.jose.cpuUs)} µs of CPU here (raw node:crypto ${fmt(signing.raw)} µs of CPU, synchronous), so full / off cannot exceed ${fmt(ceiling.ratio)} (main-thread bound ${fmt(ceiling.mainThread)}, machine bound ${fmt(ceiling.machine)}; bench/ceiling.ts) before verification, decision and audit are counted; full gateway: ${fmt(median(tp.mainEnforcing) * 1000)} µs of main thread per call`);
    const ratio = median(tp.enforcing) / median(tp.plain);
    report.target('9', `full gateway / enforcement off >= ${THROUGHPUT_RATIO} (${options.connections} connections)`, `${fmt(median(tp.enforcing))} vs ${fmt(median(tp.plain))} calls/s`, ratio, '>=', THROUGHPUT_RATIO);
  } finally {
    await child?.stop();
    await upstream.stop();
  }
  if (profileDir) {
    const file = readdirSync(profileDir)
      .map((f) => join(profileDir, f))
      .filter((f) => f.endsWith('.cpuprofile') && statSync(f).mtimeMs >= began)
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    if (file) {
      const summary = summarizeProfile(file);
      report.details.gatewayCpuProfile = { file, ...summary };
      ctx.log(`gateway process ${formatProfile(summary)}`);
    }
  }
}

/** Per signature, 2,000 in a row after 200 of warm-up: jose on a CryptoKey (CPU of every thread and main-thread time), and raw node:crypto (CPU). */
async function signatureCpu(): Promise<{ jose: { cpuUs: number; mainUs: number }; raw: number }> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const payload = new TextEncoder().encode(JSON.stringify({ iss: 'https://gw.example', aud: 'http://upstream.example/mcp', iat: 1, exp: 61, jti: 'x'.repeat(22), sub: 'alice', sid: 's'.repeat(21), client_id: 'agent', act: { sub: 'agent' }, scope: 'crm.lookup_customer', tool: 'crm.lookup_customer', delegation_jti: 'y'.repeat(22) }));
  const header = { alg: 'ES256', typ: 'delegation-assertion+jwt', kid: 'bench' };
  const rawKey = createPrivateKey({ key: (await exportJWK(privateKey)) as import('node:crypto').JsonWebKey, format: 'jwk' });
  return {
    jose: await costPerOp(2000, () => new CompactSign(payload).setProtectedHeader(header).sign(privateKey)),
    raw: await cpuPerOp(2000, () => rawSign('sha256', payload, { key: rawKey, dsaEncoding: 'ieee-p1363' })),
  };
}
