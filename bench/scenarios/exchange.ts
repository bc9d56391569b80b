// Scenarios 1 and 2: token exchange throughput and latency against the provider's own client_credentials grant, and
// the second hop (crm-server re-exchanging its CRM token for billing) against the first.
import { createPublicKey, randomBytes, verify as rawVerify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { compactVerify, exportJWK, generateKeyPair } from 'jose';
import type { createDpopNonces as CreateDpopNonces } from '../../src/dpop/nonces.js';
import type { createDpopProofChecker as CreateDpopProofChecker } from '../../src/dpop/proof.js';
import { shippedSrc } from '../build.js';
import type { BenchContext } from '../context.js';
import { clientCredentialsForm, detailsExchangeForm, exchangeForCrm, exchangeForm, formBody, hopForm, mapLimit, postForm, REFUND_DETAILS, tokenEndpointProofs } from '../flows.js';
import { SUBJECT_READ_HEADER } from '../ipc.js';
import { runLoad, type LoadOptions, type LoadResult } from '../load.js';
import { fmt } from '../report.js';
import { addedWorkCeiling } from '../ceiling.js';
import { busyBetween, costPerOp, cpuPerOp, machineCpuTicks, median } from '../stats.js';

// `floor`: the baseline's client_credentials request, plus the exchange's one store read of a user's opaque token (the
// same readOpaqueToken call on the same Redis connection, made by a bench-only middleware in bench/server.ts before
// oidc-provider answers). The exchange cannot do less than that (README: every exchange reads the token, its session
// and the revocation fence in one round trip), so floor / baseline bounds what exchange / baseline can reach.
type Kind = 'baseline' | 'floor' | 'exchange' | 'hop';
const KINDS: Kind[] = ['baseline', 'floor', 'exchange', 'hop'];

const P99_LIMIT_MS = 10;

/** One load run and what it cost the service and the machine (bench/ceiling.ts uses the last three). */
export interface MeasuredRun extends LoadResult {
  /** CPU time of the service process per answered request: less sensitive to a noisy machine than req/s. */
  serviceCpuMsPerReq: number;
  /** Time the service's main thread was active per answered request, and the fraction of the run it was active. */
  mainThreadMsPerReq: number;
  mainThreadBusy: number;
  /** Fraction of every core of the machine busy during the run (/proc/stat; NaN where there is none). */
  machineBusy: number;
}

export interface KindResult extends MeasuredRun {
  /** CPU time of the whole Redis server per answered request (includes any other client of that Redis). */
  redisCpuMsPerReq: number;
}

/** `runLoad` against the bench service, with the service's CPU and main-thread time and the machine's load around it. */
async function runMeasured(ctx: BenchContext, load: LoadOptions): Promise<MeasuredRun> {
  const { svc } = ctx;
  const [cpuBefore, mainBefore, ticks] = [await svc.cpuMs(), await svc.mainThreadMs(), machineCpuTicks()];
  const result = await runLoad(load);
  const machineBusy = busyBetween(ticks, machineCpuTicks());
  const [cpu, main] = [(await svc.cpuMs()) - cpuBefore, (await svc.mainThreadMs()) - mainBefore];
  const answered = Math.max(1, result.ok + result.non2xx);
  return { ...result, serviceCpuMsPerReq: cpu / answered, mainThreadMsPerReq: main / answered, mainThreadBusy: main / (result.seconds * 1000), machineBusy };
}

/** Redis' used_cpu_user + used_cpu_sys, in milliseconds. */
export async function redisCpuMs(ctx: BenchContext): Promise<number> {
  const info = await ctx.redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

/** Load of one kind; hop tokens are minted just before the run, so their 5 minutes never run out mid-bench. */
async function runKind(ctx: BenchContext, kind: Kind, load: { duration?: number; amount?: number }): Promise<KindResult> {
  const { svc, options, userTokens } = ctx;
  let authorization: string;
  let bodies: string[];
  let rotatedHeader: LoadOptions['rotatedHeader'];
  if (kind === 'baseline' || kind === 'floor') {
    authorization = svc.basic('admin-cli');
    bodies = [formBody(clientCredentialsForm)];
    if (kind === 'floor') rotatedHeader = { name: SUBJECT_READ_HEADER, values: userTokens };
  } else if (kind === 'exchange') {
    authorization = svc.basic('agent');
    bodies = userTokens.map((t) => formBody(exchangeForm(t)));
  } else {
    authorization = svc.basic('crm-server');
    const crmTokens = await mapLimit(userTokens, 5, (t) => exchangeForCrm(svc, t));
    bodies = crmTokens.map((t) => formBody(hopForm(t)));
  }
  await svc.redisCounts(true); // the window starts here: the hop's token minting above is not counted
  const redisBefore = await redisCpuMs(ctx);
  const result = await runMeasured(ctx, { url: svc.url, authorization, bodies, connections: options.connections, rotatedHeader, ...load });
  const redisCpu = (await redisCpuMs(ctx)) - redisBefore;
  ctx.failed(kind, result.non2xx + result.errors + result.timeouts);
  return { ...result, redisCpuMsPerReq: redisCpu / Math.max(1, result.ok + result.non2xx) };
}

/** Sustained exchange load (scenario 5 reuses it). */
export function runExchanges(ctx: BenchContext, load: { duration?: number; amount?: number }): Promise<KindResult> {
  return runKind(ctx, 'exchange', load);
}

export async function warmUp(ctx: BenchContext): Promise<void> {
  for (const kind of KINDS) {
    const r = await runKind(ctx, kind, { duration: ctx.options.warmup });
    ctx.log(`  warm-up ${kind}: ${fmt(r.rps)} req/s`);
  }
}

export async function exchangeScenarios(ctx: BenchContext): Promise<void> {
  const { svc, options, report } = ctx;
  const runs: Record<Kind, KindResult[]> = { baseline: [], floor: [], exchange: [], hop: [] };
  const roundTrips: Record<Kind, number[]> = { baseline: [], floor: [], exchange: [], hop: [] };
  const commands: Record<Kind, Array<Record<string, number>>> = { baseline: [], floor: [], exchange: [], hop: [] };
  for (let rep = 0; rep < options.reps; rep++) {
    // The order rotates each repetition, so no kind always runs first (or last) on a warming or tiring machine.
    const order = KINDS.map((_, i) => KINDS[(i + rep) % KINDS.length]!);
    for (const kind of order) {
      const r = await runKind(ctx, kind, { duration: options.duration });
      const counts = await svc.redisCounts(true);
      const sent = r.ok + r.non2xx;
      runs[kind].push(r);
      roundTrips[kind].push(sent ? counts.roundTrips / sent : Number.NaN);
      commands[kind].push(Object.fromEntries(Object.entries(counts.commands).map(([name, n]) => [name, Math.round((n / Math.max(1, sent)) * 100) / 100])));
      ctx.log(`  rep ${rep + 1}/${options.reps} ${kind}: ${fmt(r.rps)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, CPU/req service ${fmt(r.serviceCpuMsPerReq)} ms, Redis ${fmt(r.redisCpuMsPerReq)} ms, ${fmt(roundTrips[kind].at(-1)!)} Redis round trips/req`);
    }
  }

  const label: Record<Kind, [scenario: string, name: string]> = {
    baseline: ['1', 'baseline client_credentials JWT'],
    floor: ['1', "floor: client_credentials + the exchange's user-token read"],
    exchange: ['1', 'exchange opaque -> JWT'],
    hop: ['2', 'multi-hop CRM JWT -> billing'],
  };
  for (const kind of KINDS) {
    const [scenario, name] = label[kind];
    const failed = runs[kind].reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
    report.figure(scenario, `${name}: throughput`, 'req/s', runs[kind].map((r) => r.rps), failed);
    report.figure(scenario, `${name}: latency p50`, 'ms', runs[kind].map((r) => r.p50Ms));
    report.figure(scenario, `${name}: latency p99`, 'ms', runs[kind].map((r) => r.p99Ms));
    report.figure(scenario, `${name}: service CPU/req`, 'ms', runs[kind].map((r) => r.serviceCpuMsPerReq));
    report.figure(scenario, `${name}: Redis server CPU/req`, 'ms', runs[kind].map((r) => r.redisCpuMsPerReq));
    report.figure(scenario, `${name}: service main thread active/req`, 'ms', runs[kind].map((r) => r.mainThreadMsPerReq));
    report.figure(scenario, `${name}: service main thread busy`, '%', runs[kind].map((r) => r.mainThreadBusy * 100));
    report.figure(scenario, `${name}: Redis round trips/req`, 'count', roundTrips[kind]);
  }
  report.details.redisCommandsPerRequest = commands;
  for (const kind of KINDS) {
    const last = commands[kind].at(-1) ?? {};
    const mix = Object.entries(last).map(([name, n]) => `${name} ${n}`).join(', ');
    report.note(`Redis commands per ${kind} request (last rep, service process): ${mix || 'none'}`);
  }
  report.note('latency percentiles come from autocannon, in whole milliseconds');
  report.details.loadRuns = runs;

  const exchangeRatio = runs.exchange.map((r, i) => r.rps / runs.baseline[i]!.rps);
  const hopRatio = runs.hop.map((r, i) => r.rps / runs.exchange[i]!.rps);
  const floorRatio = runs.floor.map((r, i) => r.rps / runs.baseline[i]!.rps);
  report.figure('1', 'exchange / baseline throughput (per rep)', 'ratio', exchangeRatio);
  report.figure('1', 'ceiling of exchange / baseline: floor / baseline (per rep)', 'ratio', floorRatio);
  // The service runs every request's JavaScript on one thread: when that thread is busy all the run, this is the ratio.
  report.figure('1', 'main thread active per request, baseline / exchange (per rep)', 'ratio', runs.exchange.map((r, i) => runs.baseline[i]!.mainThreadMsPerReq / r.mainThreadMsPerReq));
  report.figure('1', 'exchange / floor throughput (per rep)', 'ratio', runs.exchange.map((r, i) => r.rps / runs.floor[i]!.rps));
  report.note(`scenario 1: floor / baseline = ${fmt(median(floorRatio))}: the baseline request plus only the exchange's one store read of the user token (no exchange work at all) already runs at that fraction of the baseline here, so exchange / baseline cannot exceed it`);
  report.figure('2', 'multi-hop / exchange throughput (per rep)', 'ratio', hopRatio);

  const rps = (k: Kind) => median(runs[k].map((r) => r.rps));
  report.target('1', 'exchange req/s >= 0.9 x client_credentials', `${fmt(rps('exchange'))} vs ${fmt(rps('baseline'))} req/s`, median(exchangeRatio), '>=', 0.9);
  const p99 = median(runs.exchange.map((r) => r.p99Ms));
  report.target('1', `exchange p99 <= ${P99_LIMIT_MS} ms at ${options.connections} conns`, `${fmt(p99)} ms`, p99 / P99_LIMIT_MS, '<=', 1);
  report.target('2', 'multi-hop req/s >= 0.9 x exchange', `${fmt(rps('hop'))} vs ${fmt(rps('exchange'))} req/s`, median(hopRatio), '>=', 0.9);
}

/** The figures and the target of an interleaved "exchange with X / without" comparison (scenario 1). */
function reportComparison(
  ctx: BenchContext,
  what: string,
  detail: string,
  runs: { plain: number[]; variant: number[]; plainCpu: number[]; variantCpu: number[]; failed: number },
  target: number,
): void {
  const { report } = ctx;
  const { plain, variant, plainCpu, variantCpu, failed } = runs;
  ctx.failed(`exchange with ${what}`, failed);
  report.figure('1', `exchange without ${what} (interleaved with ${what})`, 'req/s', plain);
  report.figure('1', `exchange with ${what} ${detail}`, 'req/s', variant, failed);
  const ratio = variant.map((v, i) => v / plain[i]!);
  report.figure('1', `exchange with ${what} / without (per rep)`, 'ratio', ratio);
  report.figure('1', `service CPU per exchange without ${what}`, 'ms', plainCpu);
  report.figure('1', `service CPU per exchange with ${what}`, 'ms', variantCpu);
  ctx.log(`  service CPU per request: ${fmt(median(plainCpu))} ms without ${what}, ${fmt(median(variantCpu))} ms with`);
  report.target('1', `exchange with ${what} >= ${target} x without`, `${fmt(median(variant))} vs ${fmt(median(plain))} req/s`, median(ratio), '>=', target);
}

/**
 * Issue 13: the exchange with a DPoP proof (ES256, one agent key, a fresh single-use proof per request, made before
 * the run) against the same exchange without, interleaved, same run. The proof check is a signature, a thumbprint and
 * one Redis SET NX EX for its jti.
 */
export async function dpopExchangeScenario(ctx: BenchContext): Promise<void> {
  const { svc, options, userTokens } = ctx;
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const bodies = userTokens.map((t) => formBody(exchangeForm(t)));
  const authorization = svc.basic('agent');
  // Enough single-use proofs for the run at well above the measured rate (they are valid for the 60 s window).
  const proofsFor = (n: number) => tokenEndpointProofs(svc, { privateKey, jwk }, n);
  const plain: number[] = [];
  const bound: number[] = [];
  // Service CPU per answered request: steadier than req/s on a shared machine.
  const plainCpu: number[] = [];
  const boundCpu: number[] = [];
  // What bounds the rate (bench/ceiling.ts): the service's main-thread time per request and how busy the machine was.
  const plainMain: number[] = [];
  const boundMain: number[] = [];
  const plainBusy: number[] = [];
  const measured = async (load: LoadOptions, cpu: number[], main: number[], busy?: number[]) => {
    const r = await runMeasured(ctx, load);
    busy?.push(r.machineBusy);
    main.push(r.mainThreadMsPerReq);
    cpu.push(r.serviceCpuMsPerReq);
    return r;
  };
  let failed = 0;
  let needed = Math.ceil(options.duration * 3000);
  for (let rep = 0; rep < options.reps; rep++) {
    const runs = [
      async () => {
        const r = await measured({ url: svc.url, authorization, bodies, connections: options.connections, duration: options.duration }, plainCpu, plainMain, plainBusy);
        plain.push(r.rps);
        failed += r.non2xx + r.errors + r.timeouts;
      },
      async () => {
        // Never fewer than 1.5 x what the plain exchange answered in a run as long: a proof reused is refused (400), so
        // a pool sized for a slower machine would count failures instead of exchanges.
        if (plain.length) needed = Math.max(needed, Math.ceil(Math.max(...plain) * options.duration * 1.5));
        const proofs = await proofsFor(needed);
        const r = await measured({ url: svc.url, authorization, bodies, connections: options.connections, duration: options.duration, rotatedHeader: { name: 'dpop', values: proofs } }, boundCpu, boundMain);
        bound.push(r.rps);
        failed += r.non2xx + r.errors + r.timeouts;
        if (r.ok + r.non2xx > needed) ctx.log(`  DPoP exchange ran out of proofs (${needed}); raising the pool`);
        needed = Math.max(needed, Math.ceil((r.ok + r.non2xx) * 1.5));
      },
    ];
    for (let i = 0; i < runs.length; i++) await runs[(i + rep) % runs.length]!();
    ctx.log(`  rep ${rep + 1}/${options.reps}: exchange ${fmt(plain.at(-1)!)} req/s, exchange with DPoP ${fmt(bound.at(-1)!)} req/s`);
  }
  reportComparison(ctx, 'DPoP', 'proof (ES256)', { plain, variant: bound, plainCpu, variantCpu: boundCpu, failed }, 0.8);

  // What the proof check alone leaves of the target: the service's own checker (src/dpop/proof.ts: RFC 9449 §4.3's
  // checks, the thumbprint, and one signature verification with jose, this project's rule for every JOSE operation, on
  // the key it caches, on a signing thread as the service does), timed in this process with its replay write made free
  // (an in-memory set instead of Redis), one proof at a time (so no batching helps it).
  const samples = await proofsFor(2200);
  const seen = new Set<string>();
  // The checker as the service runs it: compiled (bench/build.ts).
  const { createDpopProofChecker } = await shippedSrc<{ createDpopProofChecker: typeof CreateDpopProofChecker }>('dpop/proof.js');
  const { createDpopNonces } = await shippedSrc<{ createDpopNonces: typeof CreateDpopNonces }>('dpop/nonces.js');
  const { createJwsThread } = await shippedSrc<typeof import('../../src/keys/jws_thread.js')>('keys/jws_thread.js');
  const jws = createJwsThread();
  const checker = createDpopProofChecker({
    verify: jws.verify,
    htu: `${svc.url}/token`, algorithms: ['ES256'], windowSeconds: 60, requireNonce: false,
    nonces: createDpopNonces(randomBytes(32), () => Math.floor(Date.now() / 1000)),
    replay: {
      claim: async (key: string) => {
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      },
    },
    now: () => Math.floor(Date.now() / 1000),
  });
  let next = 0;
  const check = await costPerOp(2000, () => checker.check({ values: [samples[next++]!], method: 'POST', setNonce: () => undefined })).finally(() => jws.close());
  // The same 2,200 proofs, each verified once as the checker saw them (a fresh string every call, as in the service).
  let again = 0;
  const verify = await costPerOp(2000, () => compactVerify(samples[again++]!, publicKey, { algorithms: ['ES256'] }));
  // The same signatures verified by node:crypto directly (synchronous, no WebCrypto job): a reference for what jose's
  // WebCrypto path adds, not something the service may use (every JOSE operation goes through jose).
  const rawKey = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const split = samples.map((s) => {
    const dot = s.lastIndexOf('.');
    return { input: Buffer.from(s.slice(0, dot)), signature: Buffer.from(s.slice(dot + 1), 'base64url') };
  });
  let raw = 0;
  const rawUs = await cpuPerOp(2000, () => {
    const { input, signature } = split[raw++]!;
    if (!rawVerify('sha256', input, { key: rawKey, dsaEncoding: 'ieee-p1363' }, signature)) throw new Error('a DPoP proof did not verify');
  });
  const report = ctx.report;
  report.figure('1', 'service main thread active per exchange without DPoP', 'µs', plainMain.map((m) => m * 1000));
  report.figure('1', 'service main thread active per exchange with DPoP', 'µs', boundMain.map((m) => m * 1000));
  if (plainBusy.every(Number.isFinite)) report.figure('1', 'machine CPU busy during the exchange without DPoP (/proc/stat, all cores)', '%', plainBusy.map((b) => b * 100));
  report.figure('1', 'one DPoP proof check as the service runs it, replay write excluded: CPU/op (bench process)', 'µs', [check.cpuUs]);
  report.figure('1', '  the same: main thread active/op (bench process)', 'µs', [check.mainUs]);
  report.figure('1', '  one jose compactVerify ES256 on a cached key on the calling thread (reference): CPU/op; main thread/op (bench process)', 'µs', [verify.cpuUs, verify.mainUs]);
  report.figure('1', 'one raw ECDSA P-256 verification, node:crypto (reference): CPU/op (bench process)', 'µs', [rawUs]);
  const without = { rps: median(plain), mainUsPerReq: median(plainMain) * 1000, machineBusy: median(plainBusy), cores: availableParallelism() };
  const ceiling = addedWorkCeiling(without, { mainUs: check.mainUs, cpuUs: check.cpuUs });
  report.figure('1', 'ceiling of with DPoP / without, with only the proof check added', 'ratio', [ceiling.ratio]);
  report.note(
    `scenario 1: without DPoP the service's main thread was active ${fmt(without.mainUsPerReq)} µs per exchange (${fmt(without.mainUsPerReq * without.rps / 1e4)} % of the run) and the machine ${fmt(without.machineBusy * 100)} % busy; one proof check costs ${fmt(check.mainUs)} µs of main thread and ${fmt(check.cpuUs)} µs of CPU (its signature checked on a signing thread; jose's verification on the calling thread would cost ${fmt(verify.mainUs)} and ${fmt(verify.cpuUs)} µs; raw node:crypto ${fmt(rawUs)} µs of CPU, synchronous), so with DPoP / without cannot exceed ${fmt(ceiling.ratio)} here (main-thread bound ${fmt(ceiling.mainThread)}, machine bound ${fmt(ceiling.machine)}; bench/ceiling.ts) before the replay write, the larger request and the bound token's cnf are counted; measured with DPoP: ${fmt(median(boundMain) * 1000)} µs of main thread per exchange`,
  );
}

/**
 * Issue 10: the exchange with `authorization_details` (the agent's billing token, a request narrowing the policy's
 * refund limit of 5000 to 3000: parse, subsumption check, claim and response member) against scenario 1's exchange
 * without, interleaved, same run. Every 2xx answer is checked: with details it must carry `authorization_details`.
 */
export async function detailsExchangeScenario(ctx: BenchContext): Promise<void> {
  const { svc, options, userTokens } = ctx;
  const authorization = svc.basic('agent');
  const plainBodies = userTokens.map((t) => formBody(exchangeForm(t)));
  const detailsBodies = userTokens.map((t) => formBody(detailsExchangeForm(t)));
  // One checked answer before timing: the granted details are the request's own (the narrower 3000).
  const first = await postForm(svc, 'agent', detailsExchangeForm(userTokens[0]!));
  if (JSON.stringify(first.authorization_details) !== REFUND_DETAILS) {
    throw new Error(`the exchange with authorization_details answered ${JSON.stringify(first.authorization_details)}`);
  }
  const plain: number[] = [];
  const detailed: number[] = [];
  const plainCpu: number[] = [];
  const detailedCpu: number[] = [];
  let failed = 0;
  // Both runs read every body (the same load-generator cost): without details an access token, with them the member.
  const measured = async (bodies: string[], expectInBody: string, rps: number[], cpu: number[]) => {
    const r = await runMeasured(ctx, { url: svc.url, authorization, bodies, connections: options.connections, duration: options.duration, expectInBody });
    cpu.push(r.serviceCpuMsPerReq);
    rps.push(r.rps);
    failed += r.non2xx + r.errors + r.timeouts + r.mismatched;
  };
  for (let rep = 0; rep < options.reps; rep++) {
    const runs = [
      () => measured(plainBodies, '"access_token"', plain, plainCpu),
      () => measured(detailsBodies, '"authorization_details":[{"type":"mcp_tool"', detailed, detailedCpu),
    ];
    for (let i = 0; i < runs.length; i++) await runs[(i + rep) % runs.length]!();
    ctx.log(`  rep ${rep + 1}/${options.reps}: exchange ${fmt(plain.at(-1)!)} req/s, exchange with authorization_details ${fmt(detailed.at(-1)!)} req/s`);
  }
  reportComparison(ctx, 'authorization_details', '(narrowing 1 mcp_tool)', { plain, variant: detailed, plainCpu, variantCpu: detailedCpu, failed }, 0.9);
}
