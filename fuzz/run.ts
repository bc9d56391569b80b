// npm run fuzz [-- --requests N --seed S --concurrency C --max-seconds T --outage --replay I,J]: prints the summary and
// writes fuzz/results/<timestamp>.json. Exit 1 when a token was wrongly issued or a 5xx (other than 503 in an outage) came.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runFuzz, type FuzzResult } from './fuzz.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    'max-seconds': { type: 'string', default: '900' },
    outage: { type: 'boolean', default: false },
    replay: { type: 'string' },
  },
});

const int = (name: string, v: string | undefined, min: number, max: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}`);
    process.exit(2);
  }
  return n;
};

const seed = values.seed === undefined ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : int('seed', values.seed, -(2 ** 31), 2 ** 31 - 1);
const only = values.replay?.split(',').map((x) => int('replay', x, 0, 2 ** 31 - 1));
const options = {
  requests: int('requests', values.requests, 1, 10_000_000),
  seed,
  concurrency: int('concurrency', values.concurrency, 1, 256),
  maxSeconds: int('max-seconds', values['max-seconds'], 1, 86_400),
  outage: values.outage!,
  progress: true,
  ...(only ? { only } : {}),
};
console.log(`fuzz: seed ${seed}, ${only ? `replaying ${only.join(',')}` : `${options.requests} requests`}, concurrency ${options.concurrency}, max ${options.maxSeconds} s${options.outage ? ', with a Redis outage' : ''}`);

const result = await runFuzz(options);
print(result);
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = `${dir}${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`results: ${file}`);
process.exit(result.wronglyIssued === 0 && result.serverErrors === 0 ? 0 : 1);

function print(r: FuzzResult) {
  const line = (k: string, v: unknown) => console.log(`${k.padEnd(28)}${v}`);
  line('seed', r.seed);
  line('requests sent', `${r.requestsSent} of ${r.requestsPlanned}${r.stoppedByTimeGuard ? ' (stopped by --max-seconds)' : ''}`);
  line('duration', `${r.durationSeconds} s (${r.requestsPerSecond} req/s)`);
  line('status codes', Object.entries(r.histogram).map(([s, n]) => `${s}:${n}`).join(' '));
  for (const [kind, h] of Object.entries(r.byKind)) line(`  ${kind}`, Object.entries(h).map(([s, n]) => `${s}:${n}`).join(' '));
  line('5xx (target 0)', r.serverErrors);
  if (r.outage) line('503 during the outage', `${r.serviceUnavailableDuringOutage} (cases ${r.outage.fromIndex}-${r.outage.toIndex} + 5 s)`);
  line('wrongly issued (target 0)', r.wronglyIssued);
  line('tokens issued', `${r.issued} (valid cases refused: ${r.validRefused})`);
  line('  by act depth', Object.entries(r.issuedByActDepth).map(([d, n]) => `${d}:${n}`).join(' '));
  for (const [path, h] of Object.entries(r.holderPath)) {
    line(`  holder nested: ${path === 'user_token' ? 'user token' : path === 'external_jwt' ? 'IdP JWT' : 'hop'}`, `${h.issued} issued of ${h.cases} cases (refused: ${h.refusedClientRevoked} client revoked, ${h.refusedActTooDeep} act too deep)`);
  }
  line('other findings', Object.entries(r.findingCounts).filter(([k]) => k !== 'wrongly_issued' && k !== 'bad_token_claims' && k !== 'server_error').map(([k, n]) => `${k}:${n}`).join(' ') || 'none');
  line('transport errors', r.transportErrors);
  line('RSS before/after', `${r.rssBeforeMiB} MiB / ${r.rssAfterMiB} MiB (${r.note})`);
  for (const s of r.scheduled) line(`  @${s.at}`, `${s.action}: ${s.status}`);
  for (const f of r.findings) console.log(`  #${f.index} ${f.kind} ${f.status}: ${f.detail}${f.index < 0 ? '' : `   (replay: npm run fuzz -- --seed ${r.seed} --replay ${f.index})`}`);
}
