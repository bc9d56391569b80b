// Satisfiability of the constraint subset: every constraint no value meets is found (unit cases, an exhaustive grid of
// numeric constraints), and a witness is always a value the evaluator admits, found whenever one exists (fast-check).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkArguments, checkValue, type ArgumentConstraints, type Constraint } from 'delegation-token-verify';
import { argumentsWitness, closestArguments, witness } from '../src/witness.js';

/** The least double above x, computed independently of the module under test. */
function nextDouble(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + (x >= 0 ? 1n : -1n));
  return x === 0 ? Number.MIN_VALUE : view.getFloat64(0);
}

describe('witness: constraints no value meets', () => {
  // Some of these never pass the parser (an empty enum, a type its keywords contradict), but `decide` takes any
  // DecisionToken, so they are decided all the same.
  const unsatisfiable: Array<[string, Constraint]> = [
    ['minimum above maximum', { minimum: 10, maximum: 5 }],
    ['exclusive bounds that meet', { exclusiveMinimum: 5, exclusiveMaximum: 5 }],
    ['minimum at an exclusive maximum', { minimum: 5, exclusiveMaximum: 5 }],
    ['exclusive minimum at the maximum', { exclusiveMinimum: 5, maximum: 5 }],
    ['exclusive minimum above an exclusive maximum', { exclusiveMinimum: 6, exclusiveMaximum: 5 }],
    ['no double strictly between adjacent doubles', { exclusiveMinimum: 1, exclusiveMaximum: nextDouble(1) }],
    ['no double strictly between 0 and the least positive double', { exclusiveMinimum: 0, exclusiveMaximum: Number.MIN_VALUE }],
    ['an integer strictly between fractions of one unit', { type: 'integer', minimum: 0.1, maximum: 0.9 }],
    ['an integer strictly between adjacent integers', { type: 'integer', exclusiveMinimum: 1, exclusiveMaximum: 2 }],
    ['an integer above the largest double', { type: 'integer', exclusiveMinimum: Number.MAX_VALUE }],
    ['an empty enum', { enum: [] }],
    ['an empty enum with a type', { type: 'string', enum: [] }],
    ['an enum entirely outside the bounds', { enum: [1, 2], minimum: 3 }],
    ['an enum of strings with a numeric bound', { enum: ['1', '2'], maximum: 5 }],
    ['an enum entirely longer than maxLength', { enum: ['abcd', '😀😀😀😀'], maxLength: 3 }],
    ['an enum none of whose values has the type', { type: 'integer', enum: [1.5, '2', null] }],
    ['const longer than maxLength', { const: 'a', maxLength: 0 }],
    ['const of two code points, maxLength 1', { const: '😀😀', maxLength: 1 }],
    ['const outside its enum', { const: 'a', enum: ['b'] }],
    ['const not of its type', { const: 1.5, type: 'integer' }],
    ['const at an exclusive maximum', { const: 7, exclusiveMaximum: 7 }],
    ['const a string under a numeric keyword', { const: '3', maximum: 5 }],
    ['const an object with too many items', { const: [1, 2], maxItems: 1 }],
    ['const an object missing a required member', { const: { b: 1 }, required: ['a'] }],
    ['type string with a numeric keyword (it implies number)', { type: 'string', minimum: 1 }],
    ['type number with maxLength (it implies string)', { type: 'number', maxLength: 3 }],
    ['type boolean with maxItems (it implies array)', { type: 'boolean', maxItems: 1 }],
    ['type null with properties (it implies object)', { type: 'null', properties: {} }],
    ['type array with required (it implies object)', { type: 'array', required: [] }],
    ['numeric and string keywords together', { maximum: 5, maxLength: 3 }],
    ['array and object keywords together', { maxItems: 1, required: [] }],
    ['string and object keywords together', { maxLength: 1, additionalProperties: false }],
    ['a required property no value meets', { properties: { a: { minimum: 10, maximum: 5 } }, required: ['a'] }],
    ['a required name additionalProperties: false forbids', { required: ['a'], additionalProperties: false }],
    ['a required name outside a closed object\'s properties', { properties: { b: {} }, required: ['a'], additionalProperties: false }],
    [
      'a required property deep inside required properties',
      { properties: { order: { properties: { currency: { enum: [] }, lines: { maxItems: 0 } }, required: ['lines', 'currency'] } }, required: ['order'] },
    ],
    ['a required property of a required object no value meets', { properties: { a: { required: ['x'], properties: { x: { const: 1, maximum: 0 } } } }, required: ['a'] }],
    ['an unknown type name', { type: 'text' as never }],
  ];
  for (const [name, c] of unsatisfiable) {
    it(`${name}: ${JSON.stringify(c)}`, () => {
      assert.equal(witness(c), undefined);
      assert.equal(argumentsWitness({ x: c }), undefined);
      assert.equal(argumentsWitness({ ok: {}, x: c }), undefined);
      assert.equal(checkArguments({ x: c }, closestArguments({ x: c })).ok, false);
    });
  }
});

describe('witness: constraints some value meets, and the value found', () => {
  const satisfiable: Array<[string, Constraint, unknown]> = [
    ['no keyword', {}, null],
    ['type null', { type: 'null' }, null],
    ['type boolean', { type: 'boolean' }, false],
    ['type number', { type: 'number' }, 0],
    ['type integer', { type: 'integer' }, 0],
    ['type string', { type: 'string' }, ''],
    ['type array', { type: 'array' }, []],
    ['type object', { type: 'object' }, {}],
    ['an empty array meets any items', { items: { enum: [] } }, []],
    ['maxItems 0 with items no value meets', { maxItems: 0, items: { minimum: 10, maximum: 5 } }, []],
    ['a property no value meets that is not required', { properties: { a: { enum: [] } } }, {}],
    ['a closed object with nothing required', { properties: { a: { enum: [] } }, additionalProperties: false }, {}],
    ['a required name properties does not list', { required: ['a'] }, { a: null }],
    ['required properties at their closest values', { properties: { a: { exclusiveMinimum: 2 }, b: { enum: ['x', 'y'], maxLength: 1 } }, required: ['b', 'a'] }, { b: 'x', a: nextDouble(2) }],
    ['minimum equal to maximum', { minimum: 5, maximum: 5 }, 5],
    ['the least number above an exclusive minimum', { exclusiveMinimum: 5, maximum: 6 }, nextDouble(5)],
    ['the one double between two others', { exclusiveMinimum: 1, exclusiveMaximum: nextDouble(nextDouble(1)) }, nextDouble(1)],
    ['the least positive double', { exclusiveMinimum: 0, exclusiveMaximum: 1 }, Number.MIN_VALUE],
    ['the tighter of two lower bounds (exclusive)', { minimum: 1, exclusiveMinimum: 3, maximum: 4 }, nextDouble(3)],
    ['the tighter of two lower bounds (inclusive)', { minimum: 3, exclusiveMinimum: 1, maximum: 4 }, 3],
    ['only an upper bound', { maximum: -7.5 }, -7.5],
    ['only an exclusive upper bound', { exclusiveMaximum: 0 }, -Number.MIN_VALUE],
    ['an integer between fractions', { type: 'integer', minimum: 0.5, maximum: 1.5 }, 1],
    ['an integer above a negative fraction', { type: 'integer', exclusiveMinimum: -1.5 }, -1],
    ['an integer above an exclusive integer', { type: 'integer', exclusiveMinimum: 1, maximum: 2 }, 2],
    ['an integer below an exclusive maximum', { type: 'integer', exclusiveMaximum: 1 }, 0],
    ['+0, never -0', { type: 'integer', minimum: -0.5, maximum: 0 }, 0],
    ['an integer past 2^53, where x + 1 rounds back to x', { type: 'integer', exclusiveMinimum: 2 ** 53 }, 2 ** 53 + 2],
    ['an integer past 2^60, negative', { type: 'integer', exclusiveMinimum: -(2 ** 60), maximum: 0 }, -(2 ** 60) + 128],
    // What JSON.parse gives for 1e400: the evaluator admits it, so a call can meet this limit.
    ['a number above the largest double', { exclusiveMinimum: Number.MAX_VALUE }, Infinity],
    ['const within its keywords', { const: '😀', maxLength: 1 }, '😀'],
    ['const null', { const: null }, null],
    ['const within its enum', { enum: ['USD', 'EUR'], const: 'EUR' }, 'EUR'],
    ['the first enum value within the other keywords', { enum: [1, 'a', 3, 4], minimum: 2 }, 3],
    ['an enum value of the type', { type: 'integer', enum: [1.5, 2] }, 2],
    ['a string within maxLength 0', { maxLength: 0 }, ''],
  ];
  for (const [name, c, expected] of satisfiable) {
    it(`${name}: ${JSON.stringify(c)}`, () => {
      const w = witness(c);
      assert.deepEqual(w, expected);
      assert.equal(Object.is(w, -0), false);
      assert.deepEqual(checkValue(c, w), { ok: true });
    });
  }

  it('argumentsWitness names every argument of the map (all are required), __proto__ included', () => {
    const map = JSON.parse('{"__proto__":{"const":1},"amount":{"maximum":100},"currency":{"enum":["EUR"]}}') as ArgumentConstraints;
    const args = argumentsWitness(map)!;
    assert.deepEqual(Object.keys(args).sort(), ['__proto__', 'amount', 'currency']);
    assert.equal(Object.getPrototypeOf(args), Object.prototype);
    assert.deepEqual({ ...args }, JSON.parse('{"__proto__":1,"amount":100,"currency":"EUR"}'));
    assert.deepEqual(checkArguments(map, args), { ok: true });
    assert.deepEqual(argumentsWitness({}), {});
  });
});

describe('witness: every numeric constraint on a grid, against an exhaustive search', () => {
  // Integer bounds in [-2, 2]: a non-empty interval between them holds an integer or a half, so the search over
  // [-3, 3] in halves (and "" for type string) finds a value exactly when one exists.
  const bounds = [undefined, -2, -1, 0, 1, 2];
  const grid = [...Array.from({ length: 13 }, (_, i) => -3 + i / 2), ''];
  it('witness is defined exactly when some value of the grid passes, and then passes itself', () => {
    let constraints = 0;
    let none = 0;
    for (const type of [undefined, 'number', 'integer', 'string'] as const) {
      for (const minimum of bounds) {
        for (const maximum of bounds) {
          for (const exclusiveMinimum of bounds) {
            for (const exclusiveMaximum of bounds) {
              const c: Constraint = Object.fromEntries(
                Object.entries({ type, minimum, maximum, exclusiveMinimum, exclusiveMaximum }).filter(([, v]) => v !== undefined),
              );
              constraints++;
              const exists = grid.some((v) => checkValue(c, v).ok);
              const w = witness(c);
              if (!exists) none++;
              assert.equal(w !== undefined, exists, JSON.stringify(c));
              if (w !== undefined) assert.deepEqual(checkValue(c, w), { ok: true }, JSON.stringify(c));
            }
          }
        }
      }
    }
    assert.equal(constraints, 4 * 6 ** 4);
    assert.ok(none > 1000, `only ${none} unsatisfiable constraints`);
  });
});

// Random constraints of the subset, generators kept small so unsatisfiable combinations are common.
const small = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -10, max: 10 }).map((n) => n / 2));
const scalar = fc.oneof(small, fc.constantFrom('', 'a', 'ab', 'abc', '😀', '😀😀'), fc.boolean(), fc.constant(null));
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('x', 'y', 'z'), tie('v'), { maxKeys: 3 })),
})).v;
const typeName = fc.constantFrom('null', 'boolean', 'number', 'integer', 'string', 'array', 'object') as fc.Arbitrary<NonNullable<Constraint['type']>>;
const constraint: fc.Arbitrary<Constraint> = fc.letrec((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ type: typeName, minimum: small, maximum: small, exclusiveMinimum: small, exclusiveMaximum: small }, { requiredKeys: [] }),
    fc.record({ type: typeName, maxLength: fc.integer({ min: 0, max: 3 }), const: scalar }, { requiredKeys: ['maxLength'] }),
    fc.record({ const: json, type: typeName, maximum: small, maxLength: fc.integer({ min: 0, max: 2 }) }, { requiredKeys: ['const'] }),
    fc.record({ enum: fc.array(json, { maxLength: 4 }), type: typeName, minimum: small, maxLength: fc.integer({ min: 0, max: 2 }) }, { requiredKeys: ['enum'] }),
    fc.record({ type: typeName }),
    fc.record({ maxItems: fc.integer({ min: 0, max: 3 }), items: tie('c'), type: typeName }, { requiredKeys: [] }),
    fc.record(
      {
        properties: fc.dictionary(fc.constantFrom('x', 'y', 'z'), tie('c'), { maxKeys: 3 }),
        required: fc.uniqueArray(fc.constantFrom('x', 'y', 'z'), { maxLength: 3 }),
        additionalProperties: fc.constant(false as const),
        type: typeName,
      },
      { requiredKeys: [] },
    ),
  ) as fc.Arbitrary<Constraint>,
})).c;

/** One value of each type, and some numbers: tried against every constraint. */
const BASE: readonly unknown[] = [0, -1, 1, 0.5, '', 'a', null, true, false, [], {}];

/** Values aimed at `c`: its const and enum values, its bounds and the doubles around them, members its object names. */
function near(c: Constraint): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [json];
  if (c.const !== undefined) options.push(fc.constant(c.const));
  if (c.enum !== undefined && c.enum.length > 0) options.push(fc.constantFrom(...c.enum));
  const bounds = [c.minimum, c.maximum, c.exclusiveMinimum, c.exclusiveMaximum].filter((b): b is number => b !== undefined);
  for (const b of bounds) options.push(fc.constantFrom(b, nextDouble(b), -nextDouble(-b), Math.ceil(b), Math.floor(b), b + 0.25, b - 0.25, b + 1, b - 1));
  if (c.items !== undefined) options.push(fc.array(near(c.items), { maxLength: 3 }));
  if (c.properties !== undefined || c.required !== undefined) {
    const names = [...new Set([...Object.keys(c.properties ?? {}), ...(c.required ?? []), 'w'])];
    const member = (name: string) => (c.properties !== undefined && Object.hasOwn(c.properties, name) ? near(c.properties[name]!) : json);
    options.push(fc.tuple(...names.map((name) => fc.option(member(name), { nil: undefined }))).map((values) =>
      Object.fromEntries(names.flatMap((name, i) => (values[i] === undefined ? [] : [[name, values[i]]]))),
    ));
  }
  return fc.oneof(...options);
}

describe('witness is sound and exact (fast-check)', () => {
  it('whenever it says satisfiable, the witness passes the evaluator, as a value and as an argument', () => {
    let found = 0;
    let none = 0;
    fc.assert(
      fc.property(constraint, (c) => {
        const w = witness(c);
        if (w === undefined) {
          none++;
          return;
        }
        found++;
        assert.deepEqual(checkValue(c, w), { ok: true });
        assert.deepEqual(checkArguments({ a: c, b: {} }, argumentsWitness({ a: c, b: {} })), { ok: true });
      }),
      { numRuns: 5000 },
    );
    assert.ok(found > 1000 && none > 1000, `${found} satisfiable, ${none} not: the generator misses one side`);
  });

  it('whenever some value passes, it says satisfiable', () => {
    let satisfiable = 0;
    let met = 0;
    fc.assert(
      fc.property(
        constraint.chain((c) => fc.tuple(fc.constant(c), fc.array(near(c), { minLength: 10, maxLength: 30 }))),
        ([c, values]) => {
          const w = witness(c);
          if (w !== undefined) satisfiable++;
          const passing = [...BASE, ...values].find((v) => checkValue(c, v).ok);
          if (passing === undefined) return;
          met++;
          assert.notEqual(w, undefined, `${JSON.stringify(passing)} passes`);
        },
      ),
      { numRuns: 5000 },
    );
    // The search must reach nearly every constraint the witness calls satisfiable, or this proves little.
    assert.ok(met > 1000 && met >= 0.9 * satisfiable, `a passing value found for ${met} of ${satisfiable} satisfiable constraints`);
  });

  it('an arguments map has a witness exactly when each of its constraints has one', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('a', 'b', 'c', '__proto__'), constraint, { maxKeys: 3 }), (map) => {
        const args = argumentsWitness(map);
        assert.equal(args !== undefined, Object.values(map).every((c) => witness(c) !== undefined));
        if (args !== undefined) assert.deepEqual(checkArguments(map, args), { ok: true });
      }),
      { numRuns: 2000 },
    );
  });
});
