// The CLI's plain-text rendering.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyValues, table, time, tree } from '../../src/admin/format.js';

describe('admin CLI formatting', () => {
  it('aligns table columns to the widest cell, cuts only capped columns, neutralizes control characters', () => {
    const out = table(
      [
        { header: 'ID', value: (r: { id: string; note: string }) => r.id },
        { header: 'NOTE', value: (r) => r.note, max: 5 },
      ],
      [
        { id: 'a-long-identifier', note: 'short' },
        { id: 'b', note: 'much longer\ttext' },
      ],
    );
    assert.equal(out, ['ID                 NOTE', 'a-long-identifier  short', 'b                  much…'].join('\n'));
    assert.equal(table([{ header: 'X', value: (r: string) => r }], ['a\u001b[31mb']), 'X\na?[31mb');
  });

  it('key/value lines, times, trees', () => {
    assert.equal(keyValues([['a', '1'], ['long key', '2']]), 'a         1\nlong key  2');
    assert.equal(time(0), '1970-01-01T00:00:00Z');
    assert.equal(time(1500, 'ms'), '1970-01-01T00:00:01Z');
    assert.equal(time(undefined), '-');
    const t = tree([{ n: 'a', children: [{ n: 'b', children: [] }, { n: 'c', children: [{ n: 'd', children: [] }] }] }, { n: 'e', children: [] }], (x: { n: string }) => x.n);
    assert.equal(t, ['├─ a', '│  ├─ b', '│  └─ c', '│     └─ d', '└─ e'].join('\n'));
  });
});
