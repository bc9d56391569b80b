// Plain-text rendering for the CLI: aligned tables, key/value lines, the delegation tree. No dependencies.

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Longer cells are cut with `…` (identifiers are never cut: leave unset). */
  max?: number;
}

/** `s` cut to `max` code points, ending with `…` when cut: for free text (a reason, a scope list), never for an identifier. */
export const cut = (s: string, max?: number) => (max !== undefined && [...s].length > max ? `${[...s].slice(0, max - 1).join('')}…` : s);
/** Control characters (from stored input) would break the layout or the terminal: shown as `?`. */
const clean = (s: string) => s.replace(/\p{Cc}/gu, '?');
const width = (s: string) => [...s].length;

/** Columns separated by two spaces, padded to the widest cell; the last column is not padded. */
export function table<T>(columns: Column<T>[], rows: T[]): string {
  const cells = rows.map((r) => columns.map((c) => cut(clean(c.value(r)), c.max)));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((row) => width(row[i]!))));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v + ' '.repeat(widths[i]! - width(v))))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** `key  value` lines, keys padded to the longest. */
export function keyValues(entries: Array<[string, string]>): string {
  const w = Math.max(...entries.map(([k]) => width(k)));
  return entries.map(([k, v]) => `${k}${' '.repeat(w - width(k))}  ${clean(v)}`).join('\n');
}

/** Epoch seconds (or milliseconds with `ms`) as ISO 8601 UTC without fractions; `-` when absent. */
export function time(value: unknown, unit: 's' | 'ms' = 's'): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-';
  const d = new Date(unit === 's' ? value * 1000 : value);
  return Number.isNaN(d.getTime()) ? '-' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const list = (v: unknown): string => (Array.isArray(v) && v.length ? v.map(String).join(', ') : '-');
export const text = (v: unknown): string => (v === undefined || v === null || v === '' ? '-' : String(v));

export interface TreeNode {
  children: TreeNode[];
}

/** Renders a forest with box-drawing branches; `label` gives one line per node. */
export function tree<T extends TreeNode>(roots: T[], label: (node: T) => string): string {
  const out: string[] = [];
  const walk = (nodes: T[], prefix: string) => {
    nodes.forEach((n, i) => {
      const last = i === nodes.length - 1;
      out.push(`${prefix}${last ? '└─ ' : '├─ '}${clean(label(n))}`);
      walk(n.children as T[], `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(roots, '');
  return out.join('\n');
}
