// Profiles one request kind per service process (baseline client_credentials, floor: the baseline plus the exchange's
// user-token read (scenario 1), exchange, dpop: the exchange with a
// fresh ES256 DPoP proof per request, details: the billing exchange with `authorization_details`, hop, cluster: the
// exchange on a throw-away local three-master Redis Cluster (scripts/redis_cluster.sh), so their CPU
// profiles can be compared frame by frame. CLI:
//   node --import tsx bench/profile_kinds.ts [requests=20000] [kinds=baseline,exchange]
// Prints CPU per request and the top frames of each; the .cpuprofile files stay in bench/results/profiles/kinds/.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import { clientCredentialsForm, detailsExchangeForm, exchangeForCrm, exchangeForm, formBody, hopForm, loginUser, mapLimit, tokenEndpointProofs } from './flows.js';
import { SUBJECT_READ_HEADER } from './ipc.js';
import { runLoad, type LoadOptions } from './load.js';
import { benchCluster, type BenchCluster } from './redis_cluster.js';
import { formatProfile, isMainThreadProfile, summarizeProfile } from './profile_top.js';
import { startBenchService } from './service_process.js';

const DIR = fileURLToPath(new URL('./results/profiles/kinds/', import.meta.url));
const requests = Number(process.argv[2] ?? 20_000);
const kinds = (process.argv[3] ?? 'baseline,exchange').split(',');
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

for (const kind of kinds) {
  const dir = join(DIR, kind);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const cluster: BenchCluster | undefined = kind === 'cluster' ? benchCluster(undefined) : undefined;
  const svc = await startBenchService({ redisUrl, cpuProfileDir: dir, ...(cluster ? { redisClusterNodes: cluster.nodes } : {}) });
  try {
    const users = await mapLimit(Array.from({ length: 20 }), 4, () => loginUser(svc));
    let authorization: string;
    let bodies: string[];
    // The header each request of the warm-up and of the run carries in turn: users' tokens (floor) or DPoP proofs.
    let warmHeader: LoadOptions['rotatedHeader'];
    let runHeader: LoadOptions['rotatedHeader'];
    if (kind === 'baseline') [authorization, bodies] = [svc.basic('admin-cli'), [formBody(clientCredentialsForm)]];
    else if (kind === 'floor') {
      [authorization, bodies] = [svc.basic('admin-cli'), [formBody(clientCredentialsForm)]];
      warmHeader = runHeader = { name: SUBJECT_READ_HEADER, values: users };
    }
    else if (kind === 'exchange' || kind === 'dpop' || kind === 'cluster') [authorization, bodies] = [svc.basic('agent'), users.map((t) => formBody(exchangeForm(t)))];
    else if (kind === 'details') [authorization, bodies] = [svc.basic('agent'), users.map((t) => formBody(detailsExchangeForm(t)))];
    else {
      const crm = await mapLimit(users, 5, (t) => exchangeForCrm(svc, t));
      [authorization, bodies] = [svc.basic('crm-server'), crm.map((t) => formBody(hopForm(t)))];
    }
    if (kind === 'dpop') {
      // One agent key, a fresh single-use proof for every request of the warm-up and the run (valid for 60 s).
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      const jwk = await exportJWK(publicKey);
      const proofs = await tokenEndpointProofs(svc, { privateKey, jwk }, requests + 10_000);
      [warmHeader, runHeader] = [{ name: 'dpop', values: proofs.slice(requests) }, { name: 'dpop', values: proofs.slice(0, requests) }];
    }
    const warm = await runLoad({ url: svc.url, authorization, bodies, connections: 10, duration: 2, rotatedHeader: warmHeader });
    const before = await svc.cpuMs();
    const r = await runLoad({ url: svc.url, authorization, bodies, connections: 10, amount: requests, rotatedHeader: runHeader });
    const cpu = (await svc.cpuMs()) - before;
    // The profile covers start-up, the logins and the warm-up too: the total divides its time per request.
    const total = warm.ok + warm.non2xx + r.ok + r.non2xx;
    process.stdout.write(`${kind}: ${Math.round(r.rps)} req/s, p99 ${r.p99Ms} ms, non2xx ${r.non2xx}, CPU/req ${(cpu / (r.ok + r.non2xx)).toFixed(3)} ms, ${total} requests profiled\n`);
  } finally {
    await svc.stop();
    cluster?.stop();
  }
  const file = readdirSync(dir).find(isMainThreadProfile);
  if (file) process.stdout.write(`${join(dir, file)}\n${formatProfile(summarizeProfile(join(dir, file), 40), 25)}\n\n`);
}
