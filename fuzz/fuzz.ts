// The fuzz run: starts the world, sends `requests` cases (bounded in flight and in time), revokes sessions, subjects and
// a client through the admin API part-way, optionally takes Redis away for a slice, and judges every response.
import { decodeJwt } from 'jose';
import type { Case, HolderPath } from './cases.js';
import { materialize } from './cases.js';
import { judge, type Finding, type FindingKind } from './oracle.js';
import { recipeAt } from './recipes.js';
import { IDP_SIDS, IDP_SUBS, startWorld, type World } from './world.js';

export interface FuzzOptions {
  requests: number;
  seed: number;
  concurrency: number;
  maxSeconds: number;
  outage: boolean;
  /** Send only these case indexes (replay). */
  only?: number[];
  /** Progress lines on stderr. */
  progress?: boolean;
}

export interface FuzzResult {
  seed: number;
  requestsPlanned: number;
  requestsSent: number;
  durationSeconds: number;
  requestsPerSecond: number;
  stoppedByTimeGuard: boolean;
  histogram: Record<string, number>;
  byKind: Record<string, Record<string, number>>;
  serverErrors: number;
  serviceUnavailableDuringOutage: number;
  wronglyIssued: number;
  findingCounts: Partial<Record<FindingKind, number>>;
  /** The first findings of each kind (at most 50 each), compact and replayable by index. */
  findings: Finding[];
  transportErrors: number;
  validRefused: number;
  /** The first refusals of cases the oracle found valid: not failures (the service may be stricter), but worth a look. */
  validRefusedSamples: { index: number; status: number; body: string }[];
  issued: number;
  /** Issued tokens by the length of their act chain (RFC 8693 §4.1; exchange.maxActDepth caps it). */
  issuedByActDepth: Record<string, number>;
  /**
   * Exchanges of a subject issued to another client, which the chain names as prior actor: our user token presented by
   * an agent whose subjectClients names its client, an IdP JWT naming an IdP client mapped to the presenter, and hops of
   * tokens obtained so. `issued` are 200s (each checked to nest exactly that prior actor); the refusals are the cases
   * that had to be refused for a client's revocation (that client's, the presenter's) or the act cap, and nothing else.
   */
  holderPath: Record<HolderPath, HolderCounts>;
  scheduled: { at: number; action: string; status: number | string }[];
  outage?: { fromIndex: number; toIndex: number };
  rssBeforeMiB: number;
  rssAfterMiB: number;
  heapAfterMiB: number;
  note: string;
}

export interface HolderCounts {
  cases: number;
  issued: number;
  refusedClientRevoked: number;
  refusedActTooDeep: number;
}

const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;
const nowSec = () => Math.floor(Date.now() / 1000);

interface Scheduled {
  at: number;
  action: string;
  run: (w: World) => Promise<number | string>;
}

/** Revocations made part-way, each recorded in the world only after the admin API said 200. */
function schedule(world: World, total: number): Scheduled[] {
  const revoke = (kind: string, value: string, record: () => void) => async () => {
    const status = await world.adminRevoke(kind, value);
    if (status === 200) record();
    return status;
  };
  const cut = () => ({ at: nowSec() });
  const at = (f: number) => Math.max(1, Math.floor(total * f));
  const u0 = world.users[0]!;
  const d0 = world.delegations[0]!;
  const idpSid = `${world.idpSidPrefix}.${IDP_SIDS[1]}`;
  // The external user's account (token_types/context.ts accountIdFor): what the delegation token's `sub` is.
  const idpUser = `${world.idpSidPrefix}|${IDP_SUBS[2]}`;
  return [
    { at: at(0.15), action: `revoke session ${u0.sid} (alice via agent)`, run: revoke('sessions', u0.sid, () => world.revokedSids.add(u0.sid)) },
    { at: at(0.25), action: `revoke external session ${idpSid}`, run: revoke('sessions', idpSid, () => world.revokedSids.add(idpSid)) },
    { at: at(0.35), action: `revoke delegation token jti of pool[0]`, run: async (w) => { const jti = d0.jti; return revoke('tokens', jti, () => w.revokedJtis.add(jti))(); } },
    { at: at(0.45), action: `revoke subject ${idpUser}`, run: revoke('subjects', idpUser, () => world.revokedSubs.set(idpUser, cut())) },
    { at: at(0.55), action: 'revoke client agent2', run: revoke('clients', 'agent2', () => world.revokedClients.set('agent2', cut())) },
    // Issue 8 item 1: a second revocation of the same subject moves the cutoff.
    { at: at(0.7), action: `revoke subject ${idpUser} again`, run: revoke('subjects', idpUser, () => world.revokedSubs.set(idpUser, cut())) },
  ];
}

/** The length of the act chain of the token in a 200 body ('?' when there is none to read). */
function actDepth(body: string): string {
  try {
    let depth = 0;
    for (let a = decodeJwt((JSON.parse(body) as { access_token: string }).access_token).act as { act?: unknown } | undefined; a && typeof a === 'object'; a = a.act as typeof a) depth += 1;
    return String(depth);
  } catch {
    return '?';
  }
}

async function send(c: Case): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(c.request.url, {
      method: c.request.method,
      headers: c.request.headers,
      ...(c.request.body !== undefined ? { body: c.request.body } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(20_000),
    });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const world = await startWorld({ outage: options.outage });
  const total = options.only ? options.only.length : options.requests;
  const histogram: Record<string, number> = {};
  const byKind: Record<string, Record<string, number>> = {};
  const findings: Finding[] = [];
  const findingCounts: Partial<Record<FindingKind, number>> = {};
  let sent = 0;
  let transportErrors = 0;
  let validRefused = 0;
  const validRefusedSamples: FuzzResult['validRefusedSamples'] = [];
  let issued = 0;
  const issuedByActDepth: Record<string, number> = {};
  const holderPath = Object.fromEntries((['user_token', 'external_jwt', 'delegation'] as const).map((p) => [p, { cases: 0, issued: 0, refusedClientRevoked: 0, refusedActTooDeep: 0 }])) as Record<HolderPath, HolderCounts>;
  let outage503 = 0;
  let next = 0;
  const events = options.only ? [] : schedule(world, total);
  const done: FuzzResult['scheduled'] = [];
  let pending: Promise<void> | undefined;
  // Outage window: requests sent from the stop until a few seconds after the restart may answer 503.
  const outagePlan = options.outage && world.redisOutage && !options.only ? { from: Math.floor(total * 0.8), to: Math.floor(total * 0.9) } : undefined;
  let outageState: 'before' | 'down' | 'recovering' | 'after' = 'before';
  let recoveredAt = 0;
  const outageActive = () => outageState === 'down' || (outageState === 'recovering' && Date.now() - recoveredAt < 5000);

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const started = Date.now();
  const deadline = started + options.maxSeconds * 1000;
  let stoppedByTime = false;
  let lastProgress = started;
  // The pool's tokens were issued too: one whose act chain is not the rules' is a finding (index -1: the setup).
  for (const detail of world.setupActMismatches) {
    findingCounts.bad_token_claims = (findingCounts.bad_token_claims ?? 0) + 1;
    if (findings.filter((x) => x.kind === 'bad_token_claims').length < 50) findings.push({ kind: 'bad_token_claims', index: -1, status: 200, detail: `world setup: ${detail}` });
  }

  async function maintenance(i: number) {
    while (events.length && events[0]!.at <= i) {
      const ev = events.shift()!;
      const status = await ev.run(world).catch((err: unknown) => String(err));
      done.push({ at: i, action: ev.action, status });
    }
    if (outagePlan && outageState === 'before' && i >= outagePlan.from) {
      outageState = 'down';
      await world.redisOutage!.stop();
      done.push({ at: i, action: 'redis stopped (injected outage)', status: 'ok' });
    } else if (outagePlan && outageState === 'down' && i >= outagePlan.to) {
      await world.redisOutage!.start();
      recoveredAt = Date.now();
      outageState = 'recovering';
      done.push({ at: i, action: 'redis restarted', status: 'ok' });
    }
  }

  async function worker() {
    for (;;) {
      if (Date.now() > deadline) {
        stoppedByTime = true;
        return;
      }
      const slot = next++;
      if (slot >= total) return;
      const index = options.only ? options.only[slot]! : slot;
      // Scheduled actions run alone: every case materialized after them sees the world they left.
      while (pending) await pending;
      if ((events.length && events[0]!.at <= slot) || (outagePlan && ((outageState === 'before' && slot >= outagePlan.from) || (outageState === 'down' && slot >= outagePlan.to)))) {
        pending = maintenance(slot).finally(() => {
          pending = undefined;
        });
        await pending;
      }
      const recipe = recipeAt(options.seed, index);
      const c = materialize(world, index, recipe);
      const duringOutage = outageActive();
      const revoking = c.expect.kind === 'revoke' ? c.expect.user : undefined;
      if (revoking) revoking.pending += 1;
      const res = await send(c);
      sent += 1;
      if (revoking) revoking.pending -= 1;
      if (!res) {
        if (revoking) revoking.uncertain = true;
        transportErrors += 1;
        histogram.transport_error = (histogram.transport_error ?? 0) + 1;
        continue;
      }
      histogram[res.status] = (histogram[res.status] ?? 0) + 1;
      (byKind[recipe.kind] ??= {})[res.status] = (byKind[recipe.kind]![res.status] ?? 0) + 1;
      const outage = duringOutage || outageActive();
      if (outage && res.status === 503) outage503 += 1;
      if (c.expect.kind === 'exchange') {
        const holder = c.expect.token?.holder ? holderPath[c.expect.token.holder] : undefined;
        if (holder) {
          holder.cases += 1;
          // Refusals these rules alone decided: nothing else was wrong with the case.
          const revoked = c.expect.mustNot.filter((w) => w.startsWith('client_revoked:'));
          const deep = c.expect.mustNot.includes('act_too_deep');
          const onlyThese = revoked.length + (deep ? 1 : 0) === c.expect.mustNot.length;
          if (res.status === 200) holder.issued += 1;
          else if (onlyThese && revoked.length) holder.refusedClientRevoked += 1;
          else if (onlyThese && deep) holder.refusedActTooDeep += 1;
        }
        if (res.status === 200) {
          issued += 1;
          const depth = actDepth(res.body);
          issuedByActDepth[depth] = (issuedByActDepth[depth] ?? 0) + 1;
        } else if (!c.expect.mustNot.length && !outage) {
          validRefused += 1;
          if (validRefusedSamples.length < 20) validRefusedSamples.push({ index, status: res.status, body: res.body.slice(0, 200) });
        }
      }
      if (c.expect.kind === 'revoke' && res.status === 200 && c.expect.authOk && c.expect.user) {
        if (c.expect.owner) c.expect.user.revoked = true;
        else c.expect.user.uncertain = true;
      }
      for (const f of await judge(c, res, { outage, keys: world.serviceJwks })) {
        findingCounts[f.kind] = (findingCounts[f.kind] ?? 0) + 1;
        if (findings.filter((x) => x.kind === f.kind).length < 50) findings.push(f);
      }
      if (options.progress && Date.now() - lastProgress > 10_000) {
        lastProgress = Date.now();
        process.stderr.write(`fuzz: ${sent}/${total} sent, ${Math.round(sent / ((Date.now() - started) / 1000))} req/s\n`);
      }
    }
  }

  let mem: NodeJS.MemoryUsage;
  let durationSeconds: number;
  try {
    await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
    if ((outageState as string) === 'down') await world.redisOutage!.start();
  } finally {
    durationSeconds = (Date.now() - started) / 1000;
    global.gc?.();
    mem = process.memoryUsage();
    await world.close();
  }
  const serverErrors = Object.entries(histogram).filter(([s]) => Number(s) >= 500).reduce((n, [, v]) => n + v, 0) - outage503;
  return {
    seed: options.seed,
    requestsPlanned: total,
    requestsSent: sent,
    durationSeconds: Math.round(durationSeconds * 10) / 10,
    requestsPerSecond: Math.round(sent / durationSeconds),
    stoppedByTimeGuard: stoppedByTime,
    histogram,
    byKind,
    serverErrors,
    serviceUnavailableDuringOutage: outage503,
    wronglyIssued: (findingCounts.wrongly_issued ?? 0) + (findingCounts.bad_token_claims ?? 0),
    findingCounts,
    findings: findings.sort((a, b) => a.index - b.index),
    transportErrors,
    validRefused,
    validRefusedSamples,
    issued,
    issuedByActDepth,
    holderPath,
    scheduled: done,
    ...(outagePlan ? { outage: { fromIndex: outagePlan.from, toIndex: outagePlan.to } } : {}),
    rssBeforeMiB: mib(rssBefore),
    rssAfterMiB: mib(mem.rss),
    heapAfterMiB: mib(mem.heapUsed),
    note: 'service and fuzzer share one process: RSS covers both',
  };
}
