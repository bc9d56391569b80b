// Summarizes a V8 .cpuprofile: top functions by self and inclusive time, time by package, callers of a frame. CLI:
//   node --import tsx bench/profile_top.ts <file.cpuprofile> [top] [callers-of-pattern]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FrameTime {
  frame: string;
  selfMs: number;
  selfPct: number;
  totalMs: number;
  totalPct: number;
}

export interface ProfileSummary {
  totalMs: number;
  top: FrameTime[];
  byPackage: Array<{ package: string; selfMs: number; selfPct: number }>;
}

/**
 * A main-thread profile of `--cpu-prof` (named `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`, thread id 0):
 * the service's signing thread writes a profile of its own next to it.
 */
export const isMainThreadProfile = (file: string): boolean => /(^|\/)CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(file);

/** `node_modules/oidc-provider/lib/x.js` -> `oidc-provider`; our files by top folder; Node internals as `node:`. */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node: (internals)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  // The bench's compiled build (bench/build.ts) counts as the sources it was built from.
  const src = url.replace('/bench/results/build/', '/').match(/\/(src|bench|examples|packages\/verify)\/([^/]+)/);
  return src ? `${src[1]}/${src[2]}` : url.replace(/^file:\/\//, '');
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url.replace(/^file:\/\//, '').replace('/bench/results/build/', '/').replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
}

export function summarizeProfile(file: string, topN = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const pkg = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    totalUs += dt;
    const name = frameName(node);
    self.set(name, (self.get(name) ?? 0) + dt);
    const p = packageOf(node.callFrame.url, node.callFrame.functionName);
    pkg.set(p, (pkg.get(p) ?? 0) + dt);
    // Inclusive: each frame once per sample, however deep the recursion.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = frameName(byId.get(cur)!);
      if (seen.has(f)) continue;
      seen.add(f);
      total.set(f, (total.get(f) ?? 0) + dt);
    }
  });
  const pct = (us: number) => Math.round((us / Math.max(1, totalUs)) * 1000) / 10;
  const ms = (us: number) => Math.round(us / 100) / 10;
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([frame, us]) => ({ frame, selfMs: ms(us), selfPct: pct(us), totalMs: ms(total.get(frame) ?? 0), totalPct: pct(total.get(frame) ?? 0) }));
  const byPackage = [...pkg.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ package: name, selfMs: ms(us), selfPct: pct(us) }));
  return { totalMs: ms(totalUs), top, byPackage };
}

/**
 * Where the time of frames matching `pattern` comes from: self time of those frames, attributed to the nearest
 * caller outside them that is not Node internals or a library (our code or oidc-provider/ioredis/jose, by name).
 */
export function callersOf(file: string, pattern: string, depth = 6): Array<{ stack: string; ms: number }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node || !frameName(node).includes(pattern)) return;
    const chain: string[] = [];
    for (let cur = parent.get(id); cur !== undefined && chain.length < depth; cur = parent.get(cur)) {
      const f = byId.get(cur)!;
      if (!f.callFrame.url.startsWith('node:') && f.callFrame.url !== '') chain.push(frameName(f));
    }
    const key = chain.join(' <- ') || '(no JS caller)';
    stacks.set(key, (stacks.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return [...stacks.entries()].sort((a, b) => b[1] - a[1]).map(([stack, us]) => ({ stack, ms: Math.round(us / 100) / 10 }));
}

export function formatProfile(summary: ProfileSummary, topPackages = 15): string {
  const lines = [`CPU profile: ${summary.totalMs} ms sampled`, '  self%  total%  function'];
  for (const f of summary.top) lines.push(`  ${f.selfPct.toFixed(1).padStart(5)}  ${f.totalPct.toFixed(1).padStart(6)}  ${f.frame}`);
  lines.push('  self% by package');
  for (const p of summary.byPackage.slice(0, topPackages)) lines.push(`  ${p.selfPct.toFixed(1).padStart(5)}  ${p.package}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top, callers] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/profile_top.ts <file.cpuprofile> [top] [callers-of-pattern]\n');
    process.exit(2);
  }
  if (callers) {
    for (const c of callersOf(file, callers).slice(0, Number(top) || 25)) process.stdout.write(`${String(c.ms).padStart(8)} ms  ${c.stack}\n`);
  } else {
    process.stdout.write(`${formatProfile(summarizeProfile(file, top ? Number(top) : 25))}\n`);
  }
}
