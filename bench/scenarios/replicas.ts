// Scenario 7: revocation propagation across replicas. A second service process shares the first one's store, keys and
// issuer; a feed-mode verifier is attached to the second; sessions are revoked through the first one's admin API; the
// figure is the time from the revoke call returning to that verifier refusing a token of the session.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { VerifyError } from 'delegation-token-verify';
import { replicaFeedVerifier } from '../../tools/replica_verifier.js';
import { CRM } from '../config.js';
import type { BenchContext } from '../context.js';
import { adminRevokeSession, adminToken, exchangeForCrm, loginUser, mapLimit } from '../flows.js';
import { fmt } from '../report.js';
import { percentile } from '../stats.js';
import { startBenchService } from '../service_process.js';

const P99_LIMIT_MS = 100;
const GIVE_UP_MS = 5_000;
/** The issue asks for a p99 over at least this many samples (--revocations, default 100; the smoke test uses fewer). */
const MIN_SAMPLES = 50;

export async function replicasScenario(ctx: BenchContext): Promise<void> {
  const { svc, options, report } = ctx;
  const n = options.revocations;
  if (n < MIN_SAMPLES) report.note(`scenario 7: ${n} samples, fewer than the ${MIN_SAMPLES} its p99 target asks for`);
  const replica = await startBenchService({ redisUrl: options.redisUrl, replicaOf: svc });
  // The verifier checks `iss` against the shared issuer (the first process) but talks only to the replica.
  const verifier = replicaFeedVerifier({ issuer: svc.url, replicaUrl: replica.url, audience: CRM, clientId: 'crm-server', clientSecret: svc.secrets['crm-server'] });
  try {
    await verifier.ready();
    const sessions = await mapLimit(Array.from({ length: n }), 4, async () => {
      const token = await exchangeForCrm(svc, await loginUser(svc));
      return { token, sid: decodeJwt(token).sid as string };
    });
    let errors = 0;
    for (const s of sessions) await verifier.verify(s.token).catch(() => errors++);
    const bearer = await adminToken(svc);
    const latencies: number[] = [];
    for (const s of sessions) {
      if (!(await adminRevokeSession(svc, bearer, s.sid).catch(() => false))) {
        errors++;
        continue;
      }
      const returned = performance.now();
      let refused = Number.POSITIVE_INFINITY;
      while (performance.now() - returned < GIVE_UP_MS) {
        try {
          await verifier.verify(s.token);
        } catch (err) {
          if (err instanceof VerifyError && err.code === 'ERR_REVOKED') {
            refused = performance.now();
            break;
          }
          errors++;
        }
        await yieldToLoop();
      }
      latencies.push(refused - returned);
    }
    const missed = latencies.filter((l) => !Number.isFinite(l)).length;
    ctx.failed('scenario 7 revoke or verify', errors + missed);
    const measured = latencies.map((l) => (Number.isFinite(l) ? l : GIVE_UP_MS));
    report.figure('7', 'revoke on replica A returned -> feed verifier on replica B refuses (per sample)', 'ms', measured, errors + missed);
    const p99 = percentile(measured, 99);
    report.target('7', `cross-replica propagation p99 <= ${P99_LIMIT_MS} ms (${measured.length} samples)`, `p99 ${fmt(p99)} ms, p50 ${fmt(percentile(measured, 50))} ms`, p99 / P99_LIMIT_MS, '<=', 1);
    ctx.log(`  ${measured.length} cross-replica revocations: p50 ${fmt(percentile(measured, 50))} ms, p99 ${fmt(p99)} ms`);
  } finally {
    verifier.close();
    await replica.stop();
  }
}
