// What the bench measured: figures (one sample per repetition), targets (PASS/FAIL), notes; printed and saved as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { max, median, min } from './stats.js';

export interface Figure {
  scenario: string;
  name: string;
  unit: string;
  /** One value per repetition (or per sample, for latency distributions). */
  samples: number[];
  /** Operations that failed while these samples were taken (counted, not measured): non-zero makes the figure suspect. */
  errors: number;
}

export interface Target {
  scenario: string;
  name: string;
  /** The figure compared, e.g. "2 480 req/s vs 2 600 req/s". */
  measured: string;
  /** What is compared with `need`: a ratio to a baseline, or measured / limit. */
  ratio: number;
  need: { op: '>=' | '<='; value: number };
  pass: boolean;
}

export interface Report {
  meta: Record<string, unknown>;
  figures: Figure[];
  targets: Target[];
  notes: string[];
  details: Record<string, unknown>;
}

export class ReportBuilder {
  readonly figures: Figure[] = [];
  readonly targets: Target[] = [];
  readonly notes: string[] = [];
  readonly details: Record<string, unknown> = {};

  figure(scenario: string, name: string, unit: string, samples: number[], errors = 0): number[] {
    this.figures.push({ scenario, name, unit, samples, errors });
    return samples;
  }

  target(scenario: string, name: string, measured: string, ratio: number, op: '>=' | '<=', value: number): void {
    const pass = Number.isFinite(ratio) && (op === '>=' ? ratio >= value : ratio <= value);
    this.targets.push({ scenario, name, measured, ratio, need: { op, value }, pass });
  }

  note(text: string): void {
    this.notes.push(text);
  }

  build(meta: Record<string, unknown>): Report {
    return { meta, figures: this.figures, targets: this.targets, notes: this.notes, details: this.details };
  }
}

export function fmt(value: number, unit = ''): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  const digits = abs >= 1000 || unit === 'B' ? 0 : abs >= 100 ? 1 : abs >= 10 ? 2 : 3;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatReport(report: Report): string {
  const out: string[] = [];
  out.push(Object.entries(report.meta).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n'));
  out.push('');
  out.push(
    table(
      ['scenario', 'figure', 'unit', 'n', 'median', 'min', 'max', 'errors'],
      report.figures.map((f) => [f.scenario, f.name, f.unit, String(f.samples.length), fmt(median(f.samples), f.unit), fmt(min(f.samples), f.unit), fmt(max(f.samples), f.unit), String(f.errors)]),
      new Set([3, 4, 5, 6, 7]),
    ),
  );
  out.push('');
  out.push(
    table(
      ['scenario', 'target', 'measured (medians)', 'ratio', 'need', 'result'],
      report.targets.map((t) => [t.scenario, t.name, t.measured, fmt(t.ratio), `${t.need.op} ${t.need.value}`, t.pass ? 'PASS' : 'FAIL']),
      new Set([3]),
    ),
  );
  if (report.notes.length) {
    out.push('');
    out.push(...report.notes.map((n) => `note: ${n}`));
  }
  return out.join('\n');
}

export function writeReport(file: string, report: Report): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}
