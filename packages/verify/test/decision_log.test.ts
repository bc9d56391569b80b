// The decision record's canonical JSON, its keyed digest and the JSON-lines sink, for arguments of any depth.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { argumentsDigester, canonicalJson, jsonLinesDecisionSink, type DecisionEvent } from '../src/decision_log.js';

/** The recursive canonicalJson of 0.3.4 and before: the reference the walk must match wherever it did not overflow. */
function recursiveCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : recursiveCanonicalJson(item))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const members: string[] = [];
  for (const name of Object.keys(record).sort()) {
    if (record[name] !== undefined) members.push(`${JSON.stringify(name)}:${recursiveCanonicalJson(record[name])}`);
  }
  return `{${members.join(',')}}`;
}

/** What a function returns, or the class of what it throws (a BigInt throws TypeError in both). */
function outcome(f: (value: unknown) => string, value: unknown): string {
  try {
    return `ok ${f(value)}`;
  } catch (err) {
    return `throws ${(err as Error).constructor.name}`;
  }
}

/** `depth` arrays or objects around `inner`, the value and its canonical text built without any walk. */
function nested(depth: number, kind: 'array' | 'object' | 'mixed'): { value: unknown; text: string } {
  let value: unknown = 'leaf';
  const opening: string[] = [];
  const closing: string[] = [];
  for (let i = 0; i < depth; i++) {
    const array = kind === 'array' || (kind === 'mixed' && i % 2 === 0);
    if (array) {
      // A member after the deep one: the walk must come back up and carry on.
      value = kind === 'array' ? [value] : [value, i];
      opening.push('[');
      closing.push(kind === 'array' ? ']' : `,${i}]`);
    } else {
      // Names out of order, and an undefined member (dropped) between them.
      value = { z: i, skip: undefined, a: value };
      opening.push('{"a":');
      closing.push(`,"z":${i}}`);
    }
  }
  return { value, text: `${opening.reverse().join('')}"leaf"${closing.join('')}` };
}

describe('canonicalJson', () => {
  it('writes exactly what the recursive version wrote, for any value it could write (fast-check)', () => {
    const anything = fc.anything({
      maxDepth: 6,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      withUnicodeString: true,
    });
    fc.assert(
      fc.property(anything, (value) => {
        assert.equal(outcome(canonicalJson, value), outcome(recursiveCanonicalJson, value));
      }),
      { numRuns: 5000 },
    );
  });

  it('is JSON of the same value for every JSON value, with member names sorted (fast-check)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const text = canonicalJson(value);
        assert.equal(text, recursiveCanonicalJson(value));
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 3000 },
    );
  });

  it('known texts: sorting by UTF-16 code units, undefined and functions, holes, escapes', () => {
    assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'], B: {} }), '{"B":{},"a":[true,null,"x"],"b":1}');
    assert.equal(canonicalJson({ '\u{1F600}': 1, '\uFFFF': 2, é: 3 }), '{"é":3,"\u{1F600}":1,"\uFFFF":2}');
    assert.equal(canonicalJson({ a: undefined, f: () => 1, n: -0 }), '{"f":null,"n":0}');
    assert.equal(canonicalJson([undefined, () => 1]), '[null,null]');
    assert.equal(canonicalJson(undefined), 'null');
    // A hole (JSON.parse makes none) is left empty between its commas, exactly as before.
    assert.equal(canonicalJson([, 1, ,]), '[,1,]');
    assert.equal(canonicalJson({ 'a"\n': '\u2028' }), '{"a\\"\\n":"\u2028"}');
    assert.equal(canonicalJson([]), '[]');
    assert.equal(canonicalJson({}), '{}');
  });

  it('writes arrays, objects and both nested 6,000 and 200,000 deep (the recursive version overflowed at about 2,500)', () => {
    for (const depth of [6000, 200_000]) {
      for (const kind of ['array', 'object', 'mixed'] as const) {
        const { value, text } = nested(depth, kind);
        assert.equal(canonicalJson(value), text, `${kind} ${depth}`);
      }
    }
    assert.throws(() => recursiveCanonicalJson(nested(6000, 'array').value), RangeError);
    // As JSON.parse builds it from the text of a deep body.
    const deep = `{"b":${'['.repeat(100_000)}1${']'.repeat(100_000)},"a":"x"}`;
    assert.equal(canonicalJson(JSON.parse(deep)), `{"a":"x","b":${'['.repeat(100_000)}1${']'.repeat(100_000)}}`);
  });

  it('a value inside itself is a TypeError, at any depth; one shared twice is written twice', () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    assert.throws(() => canonicalJson(cycle), TypeError);
    // The innermost of 5,000 arrays holds the outermost.
    const root: unknown[] = [];
    let innermost = root;
    for (let i = 0; i < 5000; i++) innermost.push((innermost = []));
    innermost.push(root);
    assert.throws(() => canonicalJson(root), TypeError);
    const shared = { x: [1] };
    assert.equal(canonicalJson([shared, { y: shared }]), '[{"x":[1]},{"y":{"x":[1]}}]');
  });
});

describe('argumentsDigester', () => {
  const KEY = 'k'.repeat(32);
  const hmac = (text: string) => createHmac('sha256', KEY).update(text).digest('base64url');

  it('digests the canonical text of arguments nested 6,000 deep', () => {
    const digest = argumentsDigester(KEY);
    const { value, text } = nested(6000, 'mixed');
    assert.equal(digest({ amount: 1, note: value }), hmac(`{"amount":1,"note":${text}}`));
    // Equal values, other member order: equal digests.
    assert.equal(digest({ note: value, amount: 1 }), digest({ amount: 1, note: value }));
  });
});

describe('jsonLinesDecisionSink', () => {
  const event: DecisionEvent = {
    time: '2026-12-01T00:00:00.000Z',
    sub: 'user-1',
    sid: 'sess-1',
    actors: [{ sub: 'agent-a' }],
    client_id: 'agent-a',
    jti: 'jti-1',
    tool: 'billing.issue_refund',
    decision: 'deny',
    reasons: ['insufficient_scope'],
    arguments_hmac: 'h',
  };

  it('writes an event as JSON.stringify does', () => {
    const lines: string[] = [];
    const sink = jsonLinesDecisionSink({ info: (line: string) => lines.push(line) });
    sink(event);
    sink({ ...event, arguments: { b: 1, a: 2 } });
    assert.deepEqual(lines, [JSON.stringify(event), JSON.stringify({ ...event, arguments: { b: 1, a: 2 } })]);
  });

  it('still logs the decision when the raw arguments (logArguments) are nested deeper than JSON.stringify goes', () => {
    const lines: string[] = [];
    const sink = jsonLinesDecisionSink({ info: (line: string) => lines.push(line) });
    const { value, text } = nested(6000, 'array');
    assert.throws(() => JSON.stringify(value), RangeError);
    sink({ ...event, arguments: { note: value, amount: 1 } });
    assert.deepEqual(lines, [`${JSON.stringify(event).slice(0, -1)},"arguments":{"amount":1,"note":${text}}}`]);
    const parsed = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(parsed.tool, 'billing.issue_refund');
    assert.equal(parsed.decision, 'deny');
  });
});
