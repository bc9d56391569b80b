// Scenario 3: the verify SDK against plain jose.jwtVerify with a local key, in this process, one call at a time.
// - first-seen: an SDK verifier with its cache disabled, so every call does the full check (precheck, signature with
//   the remote JWKS' cached key, claims, act), plus the feed revocation lookup;
// - repeated: one token over and over through a caching verifier (the LRU hit path), revocation feed on.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, compactVerify, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Verifier } from 'delegation-token-verify';
import { shippedSdk } from '../build.js';
import { CRM } from '../config.js';
import type { BenchContext } from '../context.js';
import { exchangeForCrm, mapLimit } from '../flows.js';
import { fmt } from '../report.js';
import { median } from '../stats.js';

/**
 * Calls `op` on the tokens in turn until `seconds` passed (checked every 64 calls); returns successful calls per second
 * and the calls that failed (counted and reported, never fatal: one bad sample must not end the bench).
 */
export async function opsPerSecond(tokens: readonly string[], seconds: number, op: (token: string) => Promise<unknown>): Promise<{ rate: number; errors: number }> {
  const started = performance.now();
  const until = started + seconds * 1000;
  let calls = 0;
  let errors = 0;
  let now = started;
  while (now < until) {
    for (let i = 0; i < 64; i++) {
      try {
        await op(tokens[(calls + i) % tokens.length]!);
      } catch {
        errors++;
      }
    }
    calls += 64;
    now = performance.now();
  }
  return { rate: (calls - errors) / ((now - started) / 1000), errors };
}

/**
 * Each of `runs` (tokens and an operation) in `slices` short alternating slices of `seconds / slices` each (the order
 * rotates with `slice` and `rep`): each run's mean rate per second over its slices, and the failures. Alternating short
 * slices keeps a 2-4 % difference from being lost in the drift of a shared machine between back-to-back runs.
 */
async function interleavedOps(runs: ReadonlyArray<{ tokens: readonly string[]; op: (token: string) => Promise<unknown> }>, seconds: number, slices: number, rep: number): Promise<{ rates: number[]; errors: number }> {
  const sums = runs.map(() => 0);
  let errors = 0;
  for (let slice = 0; slice < slices; slice++) {
    for (let k = 0; k < runs.length; k++) {
      const i = (k + rep + slice) % runs.length;
      const r = await opsPerSecond(runs[i]!.tokens, seconds / slices, runs[i]!.op);
      sums[i]! += r.rate;
      errors += r.errors;
    }
  }
  return { rates: sums.map((sum) => sum / slices), errors };
}

/** `op` over each token set, as interleavedOps. */
const interleavedRates = (sets: ReadonlyArray<readonly string[]>, seconds: number, slices: number, rep: number, op: (token: string) => Promise<unknown>) =>
  interleavedOps(sets.map((tokens) => ({ tokens, op })), seconds, slices, rep);

/** One local ES256 signing key, its public JWKS served from this process: the issuer URL, and how to stop serving. */
async function localIssuer(kid: string): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey; issuer: string; close(): Promise<void> }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const jwks = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  return {
    privateKey,
    publicKey,
    issuer: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`,
    async close() {
      jwks.closeAllConnections();
      await new Promise((resolve) => jwks.close(resolve));
    },
  };
}

/** Runs `op` once per token, counting failures instead of throwing (warm-up and priming). */
async function eachCounting(tokens: readonly string[], op: (token: string) => Promise<unknown>): Promise<number> {
  let errors = 0;
  for (const t of tokens) await op(t).catch(() => errors++);
  return errors;
}

/** A feed-mode verifier of the shipped SDK (bench/build.ts) on the bench service. */
export async function feedVerifier(ctx: BenchContext, cache: boolean): Promise<Verifier> {
  const { createVerifier } = await shippedSdk();
  return createVerifier({
    issuer: ctx.svc.url,
    audience: CRM,
    revocation: { mode: 'feed', clientId: 'crm-server', clientSecret: ctx.svc.secrets['crm-server'] },
    ...(cache ? {} : { cache: false as const }),
  });
}

export async function verifyScenario(ctx: BenchContext): Promise<void> {
  const { svc, options, report, userTokens } = ctx;
  const tokens = await mapLimit(Array.from({ length: options.verifyTokens }), options.connections, (_, i) => exchangeForCrm(svc, userTokens[i % userTokens.length]!));
  const jwks = (await (await fetch(`${svc.url}/jwks`)).json()) as { keys: JWK[] };
  const jwk = jwks.keys[0]!;
  const localKey = await importJWK(jwk, jwk.alg);
  const joseOptions = { issuer: svc.url, audience: CRM, algorithms: [jwk.alg!], typ: 'at+jwt' };

  const fresh = await feedVerifier(ctx, false);
  const cached = await feedVerifier(ctx, true);
  try {
    await Promise.all([fresh.ready(), cached.ready()]);
    // Fetch the JWKS and compile everything once before timing.
    const warm = tokens.slice(0, 50);
    const warmErrors =
      (await eachCounting(warm, (t) => fresh.verify(t))) + (await eachCounting(warm, (t) => cached.verify(t))) + (await eachCounting(warm, (t) => jwtVerify(t, localKey, joseOptions)));
    ctx.failed('scenario 3 warm-up', warmErrors);
    const jose: number[] = [];
    const sdk: number[] = [];
    const hit: number[] = [];
    const errors = { firstSeen: 0, hit: 0 };
    for (let rep = 0; rep < options.reps; rep++) {
      // First-seen SDK and jose in ten alternating slices each (their ratio is a target); then the cache-hit loop.
      const r = await interleavedOps(
        [
          { tokens, op: (t) => jwtVerify(t, localKey, joseOptions) },
          { tokens, op: (t) => fresh.verify(t) },
        ],
        options.verifySeconds,
        10,
        rep,
      );
      jose.push(r.rates[0]!);
      sdk.push(r.rates[1]!);
      // Failures are not told apart by side here: both figures of the first-seen comparison carry them.
      errors.firstSeen += r.errors;
      ctx.failed('scenario 3 first-seen', r.errors);
      const repeated = await opsPerSecond(tokens.slice(0, 1), options.verifySeconds, (t) => cached.verify(t));
      hit.push(repeated.rate);
      errors.hit += repeated.errors;
      ctx.failed('scenario 3 hit', repeated.errors);
      ctx.log(`  rep ${rep + 1}/${options.reps}: jose ${fmt(jose.at(-1)!)}/s, SDK first-seen ${fmt(sdk.at(-1)!)}/s, SDK repeated ${fmt(hit.at(-1)!)}/s`);
    }
    report.figure('3', 'plain jose.jwtVerify, local key', 'ops/s', jose, errors.firstSeen);
    report.figure('3', 'SDK verify, first-seen (cache off, feed on)', 'ops/s', sdk, errors.firstSeen);
    report.figure('3', 'SDK verify, repeated token (cache, feed on)', 'ops/s', hit, errors.hit);
    const sdkRatio = sdk.map((v, i) => v / jose[i]!);
    const hitRatio = hit.map((v, i) => v / jose[i]!);
    report.figure('3', 'SDK first-seen / jose (per rep)', 'ratio', sdkRatio);
    report.figure('3', 'SDK repeated / jose (per rep)', 'ratio', hitRatio);
    report.target('3', 'SDK first-seen >= 0.9 x jose', `${fmt(median(sdk))} vs ${fmt(median(jose))} ops/s`, median(sdkRatio), '>=', 0.9);
    await revocationModeCosts(ctx, tokens);
    await authorizationDetailsCosts(ctx);
    await dpopCosts(ctx);
    report.target('3', 'SDK repeated token >= 10 x jose', `${fmt(median(hit))} vs ${fmt(median(jose))} ops/s`, median(hitRatio), '>=', 10);
  } finally {
    fresh.close();
    cached.close();
  }
}

/**
 * What each revocation mode costs a tool server per call, on a token it has seen before (the common case: an agent
 * calls several tools with one token): microseconds per verify, with the SDK's verification cache on.
 */
async function revocationModeCosts(ctx: BenchContext, tokens: readonly string[]): Promise<void> {
  const { createVerifier, decide } = await shippedSdk();
  const { svc, options, report } = ctx;
  const credentials = { clientId: 'crm-server', clientSecret: svc.secrets['crm-server'] };
  const modes = [
    ['none', createVerifier({ issuer: svc.url, audience: CRM, revocation: { mode: 'none' } })],
    ['feed', createVerifier({ issuer: svc.url, audience: CRM, revocation: { mode: 'feed', ...credentials } })],
    ['introspect, 5 s cache', createVerifier({ issuer: svc.url, audience: CRM, revocation: { mode: 'introspect', ...credentials, cacheSeconds: 5 } })],
    ['introspect, no cache', createVerifier({ issuer: svc.url, audience: CRM, revocation: { mode: 'introspect', ...credentials, cacheSeconds: 0 } })],
  ] as const;
  try {
    await Promise.all(modes.map(([, v]) => v.ready()));
    const few = tokens.slice(0, 20);
    const primingErrors = new Map<string, number>();
    for (const [name, v] of modes) primingErrors.set(name, await eachCounting(few, (t) => v.verify(t)));
    for (const [name, v] of modes) {
      const samples: number[] = [];
      let errors = primingErrors.get(name)!;
      for (let rep = 0; rep < options.reps; rep++) {
        const r = await opsPerSecond(few, Math.min(1, options.verifySeconds), (t) => v.verify(t));
        samples.push(1e6 / r.rate);
        errors += r.errors;
      }
      ctx.failed(`scenario 3 revocation ${name}`, errors);
      report.figure('3', `SDK cost per call, seen token, revocation ${name}`, 'µs', samples, errors);
      ctx.log(`  revocation ${name}: ${fmt(median(samples))} µs per call${errors ? `, ${errors} failed calls` : ''}`);
    }
  } finally {
    for (const [, v] of modes) v.close();
  }
}

const BILLING = 'https://billing.example/mcp';
const REFUND = 'billing.issue_refund';
// A 5-argument limit, as the issuer grants it: every keyword family once (numbers, enum, const, string, nested array).
const FIVE_ARGUMENTS = {
  amount: { minimum: 1, maximum: 5000 },
  currency: { enum: ['EUR', 'USD', 'GBP'] },
  customer_id: { const: 'cus_1001' },
  memo: { maxLength: 140 },
  lines: { maxItems: 10, items: { properties: { sku: { maxLength: 16 }, qty: { minimum: 1, maximum: 10 } }, required: ['sku', 'qty'] } },
};
const DETAILS = [
  { type: 'mcp_tool', locations: [BILLING], actions: [REFUND], arguments: FIVE_ARGUMENTS },
  // A downstream hop's entry: carried, skipped by this verifier.
  { type: 'mcp_tool', locations: ['https://ledger.example/mcp'], actions: ['ledger.post'], arguments: { amount: { maximum: 5000 } } },
];

/**
 * Issue 10: what argument limits cost a tool server. (a) `decide` for a call under a 5-argument constraint, µs per
 * call in a tight loop (target <= 5 µs); (b) first-seen verification (cache off, revocation none) of tokens carrying
 * `authorization_details` against the same SDK on tokens without, interleaved in one run (target >= 0.95 x). Both
 * token sets are signed by one local ES256 key served as a JWKS from this process, so the only difference is the claim.
 */
async function authorizationDetailsCosts(ctx: BenchContext): Promise<void> {
  const { createVerifier, decide } = await shippedSdk();
  const { options, report } = ctx;
  const { privateKey, publicKey, issuer, close: closeJwks } = await localIssuer('bench');
  const mintMany = (details: boolean) =>
    Promise.all(
      Array.from({ length: options.verifyTokens }, (_, i) =>
        new SignJWT({
          client_id: 'billing-agent', sid: 'sess-bench', scope: `${REFUND} billing.refund_lookup`, act: { sub: 'billing-agent' },
          ...(details ? { authorization_details: DETAILS } : {}),
        })
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench' })
          .setIssuer(issuer).setSubject(`user-${i}`).setAudience(BILLING).setIssuedAt().setExpirationTime('10m').setJti(`jti-${details}-${i}`)
          .sign(privateKey),
      ),
    );
  const [plainTokens, detailTokens] = [await mintMany(false), await mintMany(true)];
  const verifier = createVerifier({ issuer, audience: BILLING, cache: false });
  try {
    const warmErrors = (await eachCounting(plainTokens.slice(0, 50), (t) => verifier.verify(t))) + (await eachCounting(detailTokens.slice(0, 50), (t) => verifier.verify(t)));
    ctx.failed('scenario 3 details warm-up', warmErrors);

    // (a) the decision, on a verified token, for a call inside the limits (the common path: every keyword evaluated).
    const token = await verifier.verify(detailTokens[0]!);
    const args = { amount: 3000, currency: 'EUR', customer_id: 'cus_1001', memo: 'damaged in transit', lines: [{ sku: 'A-1', qty: 2 }, { sku: 'B-2', qty: 1 }], note: 'free' };
    const decisionUs: number[] = [];
    let refused = 0;
    for (let rep = 0; rep < options.reps; rep++) {
      const calls = 200_000;
      const started = performance.now();
      for (let i = 0; i < calls; i++) if (!decide(token, REFUND, args).allow) refused++;
      decisionUs.push(((performance.now() - started) * 1000) / calls);
    }
    ctx.failed('scenario 3 decision (refused calls)', refused);
    report.figure('3', 'decide(), call under a 5-argument constraint', 'µs', decisionUs, refused);
    report.target('3', 'decision with a 5-argument constraint <= 5 µs', `${fmt(median(decisionUs))} µs per call`, median(decisionUs), '<=', 5);

    // (b) first-seen verification with and without details, alternating which runs first.
    // (c) the bound jose sets: its compactVerify alone (the signature check every first-seen verification makes) on the
    // same two token sets with the same key. A token with details is longer (1,217 against 503 characters here), and
    // jose's work grows with it (base64url decoding, the signing input, SHA-256), so the SDK's cost on it grows by at
    // least as much.
    const joseOptions = { algorithms: ['ES256'] };
    const plain: number[] = [];
    const withDetails: number[] = [];
    const josePlain: number[] = [];
    const joseDetails: number[] = [];
    let errors = 0;
    for (let rep = 0; rep < options.reps; rep++) {
      // Ten short slices of each, alternating, summed per kind: a 2-4 % difference is not lost in the drift of a shared
      // machine between two back-to-back 2 s runs.
      const r = await interleavedRates([plainTokens, detailTokens], options.verifySeconds, 10, rep, (t) => verifier.verify(t));
      plain.push(r.rates[0]!);
      withDetails.push(r.rates[1]!);
      const j = await interleavedRates([plainTokens, detailTokens], options.verifySeconds, 10, rep, (t) => compactVerify(t, publicKey, joseOptions));
      josePlain.push(j.rates[0]!);
      joseDetails.push(j.rates[1]!);
      errors += r.errors + j.errors;
      ctx.log(`  rep ${rep + 1}/${options.reps}: first-seen without details ${fmt(plain.at(-1)!)}/s, with details ${fmt(withDetails.at(-1)!)}/s; jose compactVerify alone ${fmt(josePlain.at(-1)!)}/s, ${fmt(joseDetails.at(-1)!)}/s; decide ${fmt(decisionUs[rep]!)} µs`);
    }
    ctx.failed('scenario 3 details verification', errors);
    report.figure('3', 'SDK verify first-seen, token without authorization_details (local JWKS)', 'ops/s', plain);
    report.figure('3', 'SDK verify first-seen, token with authorization_details (local JWKS)', 'ops/s', withDetails);
    const ratio = withDetails.map((v, i) => v / plain[i]!);
    report.figure('3', 'SDK first-seen with details / without (per rep)', 'ratio', ratio);
    const joseRatio = joseDetails.map((v, i) => v / josePlain[i]!);
    report.figure('3', 'jose compactVerify alone, token with details / without (per rep)', 'ratio', joseRatio);
    // What jose alone spends more on the longer token (µs per call), and the ratio the SDK would reach if that were
    // the only difference: its own cost on the token without details, plus jose's extra, and nothing else of ours.
    const joseExtraUs = joseDetails.map((v, i) => 1e6 / v - 1e6 / josePlain[i]!);
    const sdkExtraUs = withDetails.map((v, i) => 1e6 / v - 1e6 / plain[i]!);
    const ceiling = plain.map((v, i) => (1e6 / v) / (1e6 / v + Math.max(0, joseExtraUs[i]!)));
    report.figure('3', 'jose compactVerify: µs per call on a token with details beyond one without', 'µs', joseExtraUs);
    report.figure('3', 'SDK first-seen: µs per call on a token with details beyond one without', 'µs', sdkExtraUs);
    report.figure('3', 'ceiling of SDK with details / without, with only jose extra cost added', 'ratio', ceiling);
    report.note(`scenario 3: jose's compactVerify alone (same key, same tokens, interleaved) spends ${fmt(median(joseExtraUs))} µs more per call on the token with authorization_details (${fmt(median(joseDetails))} vs ${fmt(median(josePlain))} ops/s); the SDK calls it on every first-seen token, so even with nothing of its own added its with / without ratio could reach only ${fmt(median(ceiling))} here (measured: ${fmt(median(ratio))}, ${fmt(median(sdkExtraUs))} µs more per call)`);
    report.target('3', 'SDK first-seen with details >= 0.95 x without', `${fmt(median(withDetails))} vs ${fmt(median(plain))} ops/s`, median(ratio), '>=', 0.95);
  } finally {
    verifier.close();
    await closeJwks();
  }
}

/**
 * Issue 13: what DPoP costs a tool server, one local ES256 key for the tokens (served as a JWKS from this process) and
 * one ES256 agent key for the proofs (a fresh single-use proof per call, signed before the timing). Interleaved, same
 * run: (a) first-seen bound token + proof vs the SDK's own first-seen Bearer (cache off; target >= 0.4 x); (b) one
 * bound token, cached, with a fresh proof per call vs plain jose.jwtVerify of one token (target >= 0.6 x); and the
 * proof checks' cost beyond the signature, in µs.
 */
async function dpopCosts(ctx: BenchContext): Promise<void> {
  const { createVerifier, decide } = await shippedSdk();
  const { options, report } = ctx;
  const { privateKey, publicKey, issuer, close: closeJwks } = await localIssuer('bench-dpop');
  const agent = await generateKeyPair('ES256');
  const agentJwk = await exportJWK(agent.publicKey);
  const jkt = await calculateJwkThumbprint(agentJwk);
  const mintMany = (bound: boolean, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) =>
      new SignJWT({ client_id: 'agent', sid: 'sess-bench', scope: 'crm.lookup_customer', act: { sub: 'agent' }, ...(bound ? { cnf: { jkt } } : {}) })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench-dpop' })
        .setIssuer(issuer).setSubject(`user-${i}`).setAudience(CRM).setIssuedAt().setExpirationTime('10m').setJti(`jti-${bound}-${i}`)
        .sign(privateKey)));
  const proofFor = (token: string) =>
    new SignJWT({ htm: 'POST', htu: CRM, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url'), ath: createHash('sha256').update(token).digest('base64url') })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: agentJwk }).sign(agent.privateKey);
  /** Pairs of (token, fresh proof) for one timed loop; the loop stops early if it runs out (never reuses a proof). */
  const pairs = async (tokens: readonly string[], n: number) => Promise.all(Array.from({ length: n }, async (_, i) => {
    const token = tokens[i % tokens.length]!;
    return { token, proof: await proofFor(token) };
  }));
  const timed = async (items: ReadonlyArray<{ token: string; proof: string }>, op: (p: { token: string; proof: string }) => Promise<unknown>) => {
    const started = performance.now();
    const until = started + options.verifySeconds * 1000;
    let calls = 0;
    let errors = 0;
    while (calls < items.length && performance.now() < until) {
      try {
        await op(items[calls]!);
      } catch {
        errors++;
      }
      calls++;
    }
    return { rate: (calls - errors) / ((performance.now() - started) / 1000), errors, exhausted: calls === items.length };
  };
  const dpop = (p: { token: string; proof: string }) => ({ dpop: { proof: p.proof, method: 'POST', url: CRM } });
  const bearerTokens = await mintMany(false, options.verifyTokens);
  const boundTokens = await mintMany(true, options.verifyTokens);
  const first = createVerifier({ issuer, audience: CRM, cache: false });
  const cached = createVerifier({ issuer, audience: CRM });
  const localKey = publicKey;
  const joseOptions = { issuer, audience: CRM, algorithms: ['ES256'], typ: 'at+jwt' };
  try {
    const warm = await pairs(boundTokens.slice(0, 50), 50);
    let errors = (await eachCounting(bearerTokens.slice(0, 50), (t) => first.verify(t)));
    for (const p of warm) await first.verify(p.token, dpop(p)).catch(() => errors++);
    ctx.failed('scenario 3 DPoP warm-up', errors);
    errors = 0;
    const bearer: number[] = [];
    const firstSeen: number[] = [];
    const jose: number[] = [];
    const repeated: number[] = [];
    let pool = Math.ceil(options.verifySeconds * 8000);
    for (let rep = 0; rep < options.reps; rep++) {
      const one = boundTokens[rep % boundTokens.length]!;
      await cached.verify(one, dpop({ token: one, proof: await proofFor(one) })).catch(() => errors++);
      const runs = [
        async () => {
          const r = await opsPerSecond(bearerTokens, options.verifySeconds, (t) => first.verify(t));
          bearer.push(r.rate);
          errors += r.errors;
        },
        async () => {
          const r = await timed(await pairs(boundTokens, pool), (p) => first.verify(p.token, dpop(p)));
          firstSeen.push(r.rate);
          errors += r.errors;
          if (r.exhausted) pool *= 2;
        },
        async () => {
          const r = await opsPerSecond([bearerTokens[0]!], options.verifySeconds, (t) => jwtVerify(t, localKey, joseOptions));
          jose.push(r.rate);
          errors += r.errors;
        },
        async () => {
          const r = await timed(await pairs([one], pool), (p) => cached.verify(p.token, dpop(p)));
          repeated.push(r.rate);
          errors += r.errors;
          if (r.exhausted) pool *= 2;
        },
      ];
      for (let i = 0; i < runs.length; i++) await runs[(i + rep) % runs.length]!();
      ctx.log(`  rep ${rep + 1}/${options.reps}: SDK first-seen Bearer ${fmt(bearer.at(-1)!)}/s, DPoP token + proof ${fmt(firstSeen.at(-1)!)}/s; jose one token ${fmt(jose.at(-1)!)}/s, SDK repeated DPoP token + fresh proof ${fmt(repeated.at(-1)!)}/s`);
    }
    ctx.failed('scenario 3 DPoP', errors);
    report.figure('3', 'SDK first-seen Bearer (local JWKS, cache off)', 'ops/s', bearer);
    report.figure('3', 'SDK first-seen DPoP token + fresh proof (cache off)', 'ops/s', firstSeen, errors);
    report.figure('3', 'plain jose.jwtVerify, one token (local key)', 'ops/s', jose);
    report.figure('3', 'SDK repeated DPoP token + fresh proof (cache on)', 'ops/s', repeated);
    const firstRatio = firstSeen.map((v, i) => v / bearer[i]!);
    const repeatedRatio = repeated.map((v, i) => v / jose[i]!);
    report.figure('3', 'SDK first-seen DPoP / first-seen Bearer (per rep)', 'ratio', firstRatio);
    report.figure('3', 'SDK repeated DPoP + proof / jose one token (per rep)', 'ratio', repeatedRatio);
    // Per call: the proof check alone (repeated DPoP minus nothing: the token is a cache hit), and beyond one signature.
    const proofUs = repeated.map((v) => 1e6 / v);
    const beyondSignatureUs = repeated.map((v, i) => 1e6 / v - 1e6 / jose[i]!);
    report.figure('3', 'DPoP: cost per call of a cached token + proof checks', 'µs', proofUs);
    report.figure('3', 'DPoP: proof checks beyond one jose.jwtVerify', 'µs', beyondSignatureUs);
    ctx.log(`  DPoP proof checks: ${fmt(median(proofUs))} µs per call with a cached token, ${fmt(median(beyondSignatureUs))} µs beyond one jose.jwtVerify`);
    report.target('3', 'SDK first-seen DPoP token + proof >= 0.4 x first-seen Bearer', `${fmt(median(firstSeen))} vs ${fmt(median(bearer))} ops/s`, median(firstRatio), '>=', 0.4);
    report.target('3', 'SDK repeated DPoP token + fresh proof >= 0.6 x jose.jwtVerify', `${fmt(median(repeated))} vs ${fmt(median(jose))} ops/s`, median(repeatedRatio), '>=', 0.6);
  } finally {
    first.close();
    cached.close();
    await closeJwks();
  }
}
