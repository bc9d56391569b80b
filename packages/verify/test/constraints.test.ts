// The `mcp_tool` authorization details subset: shape validation, value checks per keyword, subsumption and narrowing,
// and property tests that subsumption is sound (a value satisfying the narrower constraint satisfies the wider).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  argumentConstraintsError,
  argumentsSubsume,
  checkArguments,
  checkValue,
  narrowest,
  narrowestArguments,
  parseAuthorizationDetails,
  parseAuthorizationDetailsJson,
  parseMcpToolDetails,
  subsumes,
  type Constraint,
} from 'delegation-token-verify';

const LOCATION = 'https://billing.example/mcp';
const entry = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'mcp_tool',
  locations: [LOCATION],
  actions: ['billing.issue_refund'],
  arguments: { amount: { maximum: 100 }, currency: { enum: ['EUR'] }, customer_id: { const: 'c-42' } },
  ...extra,
});
const reason = (value: unknown): string => {
  const parsed = parseMcpToolDetails(value);
  assert.equal(parsed.ok, false, 'expected a refusal');
  return (parsed as { reason: string }).reason;
};

describe('parseMcpToolDetails', () => {
  it('accepts the issue wire format and returns the value itself', () => {
    const value = entry();
    const parsed = parseMcpToolDetails(value);
    assert.deepEqual(parsed, { ok: true, details: value });
    assert.equal(parsed.ok && parsed.details, value);
  });

  it('accepts every keyword of the subset, nested', () => {
    const args = {
      a: { type: 'integer', minimum: 0, maximum: 10, exclusiveMinimum: -1, exclusiveMaximum: 11 },
      b: { type: 'string', maxLength: 3 },
      c: { maxItems: 2, items: { properties: { x: { const: 1 } }, required: ['x'], additionalProperties: false } },
      d: { type: 'null' },
      e: { type: 'boolean', enum: [true] },
      f: {},
      g: { const: { nested: [1, 'two', null] } },
    };
    assert.equal(parseMcpToolDetails(entry({ arguments: args })).ok, true);
    assert.equal(parseMcpToolDetails({ type: 'mcp_tool', locations: ['urn:example:tool'], actions: ['t'] }).ok, true);
  });

  it('refuses an unknown type, a missing type, unknown fields and malformed fields', () => {
    assert.equal(reason({ ...entry(), type: 'payment_initiation' }), 'unknown type');
    assert.equal(reason({ locations: [LOCATION], actions: ['t'] }), 'type missing');
    assert.equal(reason(entry({ datatypes: ['x'] })), 'unknown field datatypes');
    assert.equal(reason(entry({ identifier: 'x' })), 'unknown field identifier');
    assert.equal(reason([entry()]), 'not an object');
    assert.equal(reason(null), 'not an object');
    assert.equal(reason(entry({ locations: [] })), 'locations is not exactly one URI');
    assert.equal(reason(entry({ locations: [LOCATION, 'https://other.example/mcp'] })), 'locations is not exactly one URI');
    assert.equal(reason(entry({ locations: LOCATION })), 'locations is not exactly one URI');
    assert.equal(reason(entry({ locations: ['/relative'] })), 'locations is not an absolute URI');
    assert.equal(reason(entry({ locations: ['https://a.example/ mcp'] })), 'locations is not an absolute URI');
    assert.equal(reason(entry({ locations: [42] })), 'locations is not an absolute URI');
    assert.equal(reason(entry({ actions: [] })), 'actions is not a non-empty array');
    assert.equal(reason(entry({ actions: 'billing.issue_refund' })), 'actions is not a non-empty array');
    assert.equal(reason(entry({ actions: [''] })), 'actions holds an invalid tool name');
    assert.equal(reason(entry({ actions: ['a b'] })), 'actions holds an invalid tool name');
    assert.equal(reason(entry({ actions: [7] })), 'actions holds an invalid tool name');
    assert.equal(reason(entry({ actions: ['x'.repeat(129)] })), 'actions holds an invalid tool name');
    assert.equal(reason(entry({ actions: ['t', 't'] })), 'action t repeated');
    assert.equal(reason(entry({ arguments: [] })), 'arguments: not an object');
    assert.equal(reason(entry({ arguments: { a: 5 } })), 'arguments/a: constraint is not an object');
  });

  it('refuses pattern, $ref, unknown keywords and malformed keyword values', () => {
    const arg = (c: unknown): string => reason(entry({ arguments: { amount: c } }));
    assert.equal(arg({ pattern: '^(a+)+$' }), 'arguments/amount: unknown keyword pattern');
    assert.equal(arg({ $ref: '#/x' }), 'arguments/amount: unknown keyword $ref');
    assert.equal(arg({ minLength: 1 }), 'arguments/amount: unknown keyword minLength');
    assert.equal(arg({ anyOf: [] }), 'arguments/amount: unknown keyword anyOf');
    assert.equal(arg({ maximum: '100' }), 'arguments/amount: maximum is not a number');
    assert.equal(arg({ minimum: null }), 'arguments/amount: minimum is not a number');
    assert.equal(arg({ maxLength: -1 }), 'arguments/amount: maxLength is not a non-negative integer');
    assert.equal(arg({ maxItems: 1.5 }), 'arguments/amount: maxItems is not a non-negative integer');
    assert.equal(arg({ type: 'float' }), 'arguments/amount: type is not a supported type name');
    assert.equal(arg({ type: ['string', 'null'] }), 'arguments/amount: type is not a supported type name');
    assert.equal(arg({ type: 'string', maximum: 1 }), 'arguments/amount: type contradicts its keywords');
    assert.equal(arg({ maximum: 1, maxLength: 2 }), "arguments/amount: maxLength contradicts another keyword's type");
    assert.equal(arg({ enum: [] }), 'arguments/amount: enum is not a non-empty array');
    assert.equal(arg({ enum: 'EUR' }), 'arguments/amount: enum is not a non-empty array');
    assert.equal(arg({ additionalProperties: true }), 'arguments/amount: additionalProperties is not false');
    assert.equal(arg({ additionalProperties: {} }), 'arguments/amount: additionalProperties is not false');
    assert.equal(arg({ required: ['a', 'a'] }), 'arguments/amount: required is not an array of distinct names');
    assert.equal(arg({ required: [1] }), 'arguments/amount: required is not an array of distinct names');
    assert.equal(arg({ properties: [] }), 'arguments/amount: properties is not an object');
    assert.equal(arg({ items: { pattern: 'x' } }), 'arguments/amount/items: unknown keyword pattern');
    assert.equal(arg({ properties: { 'a/b': { $ref: '#' } } }), 'arguments/amount/properties/a~1b: unknown keyword $ref');
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 10; i++) deep = { items: deep };
    assert.equal(arg(deep).endsWith('nested too deep'), true);
  });

  it('argumentConstraintsError validates a bare arguments map', () => {
    assert.equal(argumentConstraintsError({ amount: { maximum: 5000 } }), undefined);
    assert.equal(argumentConstraintsError({ amount: { maximum: 100, pattern: '^1' } }), '/amount: unknown keyword pattern');
    assert.equal(argumentConstraintsError('x'), 'not an object');
  });
});

describe('parseAuthorizationDetails / parseAuthorizationDetailsJson', () => {
  it('accepts a list and refuses a non-array, an empty one and a repeated (location, tool)', () => {
    assert.equal(parseAuthorizationDetails([entry()]).ok, true);
    assert.deepEqual(parseAuthorizationDetails(entry()), { ok: false, reason: 'not an array' });
    assert.deepEqual(parseAuthorizationDetails([]), { ok: false, reason: 'empty array' });
    assert.deepEqual(parseAuthorizationDetails([entry(), entry({ arguments: {} })]), {
      ok: false,
      reason: '[1]: action billing.issue_refund repeated for its location',
    });
    assert.equal(parseAuthorizationDetails([entry(), entry({ locations: ['https://other.example/mcp'] })]).ok, true);
    assert.deepEqual(parseAuthorizationDetails([entry(), { type: 'x' }]), { ok: false, reason: '[1]: unknown type' });
  });

  it('parses strictly: not JSON, duplicate member names at any depth', () => {
    assert.deepEqual(parseAuthorizationDetailsJson('[{'), { ok: false, reason: 'not JSON' });
    assert.deepEqual(parseAuthorizationDetailsJson('"x"'), { ok: false, reason: 'not an array' });
    assert.deepEqual(parseAuthorizationDetailsJson('{}'), { ok: false, reason: 'not an array' });
    const dup = `[{"type":"mcp_tool","locations":["${LOCATION}"],"actions":["t"],"arguments":{"a":{"maximum":1,"maximum":9}}}]`;
    assert.deepEqual(parseAuthorizationDetailsJson(dup), { ok: false, reason: 'duplicate member name' });
    const ok = parseAuthorizationDetailsJson(JSON.stringify([entry()]));
    assert.deepEqual(ok, { ok: true, details: [entry()] });
  });
});

describe('checkValue / checkArguments', () => {
  const fails = (c: Constraint, v: unknown, keyword: string, limit: unknown, path = ''): void =>
    assert.deepEqual(checkValue(c, v), { ok: false, path, keyword, limit });
  const passes = (c: Constraint, v: unknown): void => assert.deepEqual(checkValue(c, v), { ok: true });

  it('numeric keywords imply a number and bound it', () => {
    passes({ maximum: 100 }, 100);
    fails({ maximum: 100 }, 101, 'maximum', 100);
    fails({ maximum: 100 }, '99999', 'type', 'number');
    fails({ maximum: 100 }, '1', 'type', 'number');
    fails({ minimum: 0 }, null, 'type', 'number');
    passes({ minimum: 0 }, 0);
    fails({ minimum: 0 }, -1, 'minimum', 0);
    fails({ exclusiveMinimum: 0 }, 0, 'exclusiveMinimum', 0);
    passes({ exclusiveMinimum: 0 }, 0.5);
    fails({ exclusiveMaximum: 10 }, 10, 'exclusiveMaximum', 10);
    passes({ exclusiveMaximum: 10 }, 9.99);
    fails({ maximum: 10 }, Number.NaN, 'maximum', 10);
  });

  it('type, const and enum (JSON equality)', () => {
    passes({ type: 'integer' }, 3);
    fails({ type: 'integer' }, 3.5, 'type', 'integer');
    fails({ type: 'number' }, '3', 'type', 'number');
    fails({ type: 'string' }, 3, 'type', 'string');
    fails({ type: 'null' }, 0, 'type', 'null');
    fails({ type: 'boolean' }, 'true', 'type', 'boolean');
    fails({ type: 'object' }, [], 'type', 'object');
    fails({ type: 'array' }, {}, 'type', 'array');
    passes({ const: 'c-42' }, 'c-42');
    fails({ const: 'c-42' }, 'c-43', 'const', 'c-42');
    fails({ const: 1 }, '1', 'const', 1);
    passes({ const: { a: [1, { b: 2 }], c: null } }, { c: null, a: [1, { b: 2 }] });
    fails({ const: { a: 1 } }, { a: 1, b: 2 }, 'const', { a: 1 });
    fails({ const: [1, 2] }, [2, 1], 'const', [1, 2]);
    fails({ const: null }, undefined, 'const', null);
    passes({ enum: ['EUR', 'USD'] }, 'USD');
    fails({ enum: ['EUR'] }, 'eur', 'enum', ['EUR']);
    fails({ enum: [{ a: 1 }] }, { a: '1' }, 'enum', [{ a: 1 }]);
  });

  it('maxLength implies a string and counts code points', () => {
    passes({ maxLength: 2 }, '😀😀');
    fails({ maxLength: 2 }, '😀😀😀', 'maxLength', 2);
    fails({ maxLength: 2 }, 12, 'type', 'string');
    passes({ maxLength: 0 }, '');
  });

  it('array keywords imply an array; items constrains every element, with its path', () => {
    passes({ maxItems: 2, items: { maximum: 5 } }, [1, 5]);
    fails({ maxItems: 2 }, [1, 2, 3], 'maxItems', 2);
    fails({ items: { maximum: 5 } }, [1, 6], 'maximum', 5, '/1');
    fails({ items: { maximum: 5 } }, { 0: 1 }, 'type', 'array');
    fails({ items: { maximum: 5 } }, [1, '2'], 'type', 'number', '/1');
  });

  it('object keywords imply an object: properties (when present), required, additionalProperties false', () => {
    const c: Constraint = { properties: { price: { maximum: 10 }, 'a/b': { const: 1 } }, required: ['price'], additionalProperties: false };
    passes(c, { price: 10 });
    passes(c, { price: 1, 'a/b': 1 });
    fails(c, { price: 11 }, 'maximum', 10, '/price');
    fails(c, {}, 'required', 'price');
    fails(c, { price: 1, 'a/b': 2 }, 'const', 1, '/a~1b');
    fails(c, { price: 1, extra: 0 }, 'additionalProperties', false, '/extra');
    fails(c, [], 'type', 'object');
    fails({ required: ['x'] }, null, 'type', 'object');
    passes({ properties: { x: { maximum: 1 } } }, {});
    fails({ items: c }, [{ price: 1 }, { price: 12 }], 'maximum', 10, '/1/price');
  });

  it('checkArguments requires every named argument and leaves others unconstrained', () => {
    const args = { amount: { maximum: 5000 }, customer_id: { const: 'c-42' } };
    assert.deepEqual(checkArguments(args, { amount: 3000, customer_id: 'c-42', note: 'anything' }), { ok: true });
    assert.deepEqual(checkArguments(args, { amount: 50000, customer_id: 'c-42' }), { ok: false, path: '/amount', keyword: 'maximum', limit: 5000 });
    assert.deepEqual(checkArguments(args, { customer_id: 'c-42' }), { ok: false, path: '', keyword: 'required', limit: 'amount' });
    assert.deepEqual(checkArguments(args, { amount: undefined, customer_id: 'c-42' }), { ok: false, path: '/amount', keyword: 'type', limit: 'number' });
    assert.deepEqual(checkArguments(args, undefined), { ok: false, path: '', keyword: 'type', limit: 'object' });
    assert.deepEqual(checkArguments({}, undefined), { ok: true });
    const proto = JSON.parse('{"__proto__":{"const":1}}') as Record<string, Constraint>;
    assert.deepEqual(checkArguments(proto, {}), { ok: false, path: '', keyword: 'required', limit: '__proto__' });
    assert.deepEqual(checkArguments(proto, JSON.parse('{"__proto__":1}')), { ok: true });
  });
  it('a constraint that can still change is checked as it is now, never against an earlier compiled copy', () => {
    // Only a deep-frozen constraint (as every verified token's details are) is compiled once and kept.
    const open: Constraint = { maximum: 10 };
    assert.deepEqual(checkValue(open, 20), { ok: false, path: '', keyword: 'maximum', limit: 10 });
    open.maximum = 30;
    assert.deepEqual(checkValue(open, 20), { ok: true });
    // A frozen map whose inner constraint is not frozen is not kept either.
    const inner: Constraint = { items: { maximum: 5 } };
    const args = Object.freeze({ lines: inner });
    assert.deepEqual(checkArguments(args, { lines: [6] }), { ok: false, path: '/lines/0', keyword: 'maximum', limit: 5 });
    inner.items = { maximum: 7 };
    assert.deepEqual(checkArguments(args, { lines: [6] }), { ok: true });
    const map: Record<string, Constraint> = { amount: { maximum: 1 } };
    assert.deepEqual(checkArguments(map, {}), { ok: false, path: '', keyword: 'required', limit: 'amount' });
    delete map.amount;
    assert.deepEqual(checkArguments(map, {}), { ok: true });
  });
});

describe('subsumes / narrowest', () => {
  const yes = (a: Constraint, b: Constraint): void => assert.equal(subsumes(a, b), true, `${JSON.stringify(a)} ⊑ ${JSON.stringify(b)}`);
  const no = (a: Constraint, b: Constraint): void => assert.equal(subsumes(a, b), false, `${JSON.stringify(a)} ⋢ ${JSON.stringify(b)}`);

  it('numeric bounds', () => {
    yes({ maximum: 100 }, { maximum: 5000 });
    yes({ maximum: 100 }, { maximum: 100 });
    no({ maximum: 5001 }, { maximum: 5000 });
    no({}, { maximum: 5000 });
    no({ minimum: 0 }, { maximum: 5000 });
    yes({ minimum: 0, maximum: 10 }, { maximum: 10 });
    yes({ exclusiveMaximum: 10 }, { maximum: 10 });
    no({ maximum: 10 }, { exclusiveMaximum: 10 });
    yes({ maximum: 9 }, { exclusiveMaximum: 10 });
    yes({ minimum: 1 }, { exclusiveMinimum: 0 });
    no({ minimum: 0 }, { exclusiveMinimum: 0 });
    yes({ exclusiveMinimum: 0 }, { minimum: 0 });
    yes({ type: 'integer', maximum: 5 }, { maximum: 5 });
    no({ maximum: 5 }, { type: 'integer', maximum: 5 });
    yes({ maximum: 5 }, { type: 'number' });
    no({ maximum: 5 }, { type: 'string' });
  });

  it('const and enum are decided exactly', () => {
    yes({ const: 50 }, { maximum: 100 });
    no({ const: 500 }, { maximum: 100 });
    no({ const: '50' }, { maximum: 100 });
    yes({ const: 'EUR' }, { enum: ['EUR', 'USD'] });
    yes({ enum: ['EUR'] }, { enum: ['EUR', 'USD'] });
    no({ enum: ['EUR', 'GBP'] }, { enum: ['EUR', 'USD'] });
    no({ enum: ['EUR', 'USD'] }, { const: 'EUR' });
    no({ maximum: 100 }, { const: 100 });
    no({}, { const: 'c-42' });
    yes({ enum: [1, 2, 300], maximum: 10 }, { maximum: 10 }); // 300 is not admitted by a
    yes({ const: { a: 1 } }, { properties: { a: { maximum: 1 } } });
  });

  it('strings and arrays', () => {
    yes({ maxLength: 3 }, { maxLength: 5 });
    no({ maxLength: 6 }, { maxLength: 5 });
    no({ type: 'string' }, { maxLength: 5 });
    yes({ maxItems: 2, items: { maximum: 1 } }, { items: { maximum: 5 } });
    no({ maxItems: 2 }, { items: { maximum: 5 } });
    yes({ maxItems: 0 }, { items: { maximum: 5 } });
    no({ items: { maximum: 1 } }, { maxItems: 5 });
    no({ items: { maximum: 6 } }, { items: { maximum: 5 } });
  });

  it('objects: required, properties and additionalProperties', () => {
    yes({ required: ['a', 'b'] }, { required: ['a'] });
    no({ required: ['b'] }, { required: ['a'] });
    yes({ properties: { a: { maximum: 1 } } }, { properties: { a: { maximum: 2 } } });
    no({ properties: { a: { maximum: 3 } } }, { properties: { a: { maximum: 2 } } });
    no({ properties: {} }, { properties: { a: { maximum: 2 } } });
    yes({ properties: {}, additionalProperties: false }, { properties: { a: { maximum: 2 } } });
    yes({ properties: { a: {} }, additionalProperties: false }, { properties: { a: {}, b: {} }, additionalProperties: false });
    no({ properties: { a: {}, c: {} }, additionalProperties: false }, { properties: { a: {}, b: {} }, additionalProperties: false });
    no({ properties: { a: {} } }, { properties: { a: {} }, additionalProperties: false });
    no({ maximum: 1 }, { required: ['a'] });
  });

  it('arguments maps and narrowest', () => {
    assert.equal(argumentsSubsume({ amount: { maximum: 100 }, currency: { const: 'EUR' } }, { amount: { maximum: 5000 } }), true);
    assert.equal(argumentsSubsume({ currency: { const: 'EUR' } }, { amount: { maximum: 5000 } }), false);
    assert.equal(argumentsSubsume({}, {}), true);
    assert.deepEqual(narrowest({ maximum: 5000 }, { maximum: 100 }), { maximum: 100 });
    assert.deepEqual(narrowest({ maximum: 100 }, { maximum: 5000 }), { maximum: 100 });
    assert.equal(narrowest({ maximum: 5000 }, { enum: ['EUR'] }), undefined);
    assert.equal(narrowest({ minimum: 0 }, { maximum: 5 }), undefined);
    assert.deepEqual(narrowestArguments({ amount: { maximum: 5000 } }, { amount: { maximum: 100 }, currency: { const: 'EUR' } }), {
      amount: { maximum: 100 },
      currency: { const: 'EUR' },
    });
    assert.deepEqual(narrowestArguments({ amount: { maximum: 100 }, note: { maxLength: 5 } }, { amount: { maximum: 5000 }, currency: { const: 'EUR' } }), {
      amount: { maximum: 100 },
      note: { maxLength: 5 },
      currency: { const: 'EUR' },
    });
    assert.equal(narrowestArguments({ amount: { minimum: 0 } }, { amount: { maximum: 5 } }), undefined);
    assert.deepEqual(narrowestArguments(undefined, { a: {} }), { a: {} });
    assert.equal(narrowestArguments(undefined, undefined), undefined);
    const merged = narrowestArguments(JSON.parse('{"__proto__":{"const":1},"a":{}}'), { b: {} })!;
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    assert.deepEqual(Object.keys(merged).sort(), ['__proto__', 'a', 'b']);
  });
});

// Property tests: subsumption must be sound. Generators stay small so the search hits interesting corners.
const small = fc.integer({ min: -5, max: 5 });
const scalar = fc.oneof(small, fc.constantFrom('a', 'b', 'EUR', ''), fc.boolean(), fc.constant(null), fc.double({ min: -5, max: 5, noNaN: true }));
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('x', 'y', 'z'), tie('value'), { maxKeys: 3 })),
})).value;

const numberConstraint = fc
  .record(
    { type: fc.constantFrom('number', 'integer'), minimum: small, maximum: small, exclusiveMinimum: small, exclusiveMaximum: small },
    { requiredKeys: [] },
  )
  .filter((c) => Object.keys(c).length > 0) as fc.Arbitrary<Constraint>;
const constraint: fc.Arbitrary<Constraint> = fc.letrec((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberConstraint,
    fc.record({ maxLength: fc.integer({ min: 0, max: 3 }), type: fc.constant('string' as const) }, { requiredKeys: ['maxLength'] }),
    fc.record({ const: scalar }),
    fc.record({ enum: fc.array(scalar, { minLength: 1, maxLength: 4 }), maximum: small }, { requiredKeys: ['enum'] }),
    fc.record({ type: fc.constantFrom('null', 'boolean', 'number', 'integer', 'string', 'array', 'object') }),
    fc.constant({}),
    fc.record({ maxItems: fc.integer({ min: 0, max: 3 }), items: tie('c') }, { requiredKeys: [] }),
    fc.record(
      {
        properties: fc.dictionary(fc.constantFrom('x', 'y', 'z'), tie('c'), { maxKeys: 2 }),
        required: fc.uniqueArray(fc.constantFrom('x', 'y', 'z'), { maxLength: 2 }),
        additionalProperties: fc.constant(false as const),
      },
      { requiredKeys: [] },
    ),
  ) as fc.Arbitrary<Constraint>,
})).c;

// A narrowing of `c` that subsumes it by construction: tighten one bound, cut an enum, pin a const, close an object.
function narrowed(c: Constraint): fc.Arbitrary<Constraint> {
  const options: fc.Arbitrary<Constraint>[] = [fc.constant(c)];
  if (c.maximum !== undefined) options.push(fc.integer({ min: -10, max: 0 }).map((d) => ({ ...c, maximum: c.maximum! + d })));
  if (c.minimum !== undefined) options.push(fc.integer({ min: 0, max: 10 }).map((d) => ({ ...c, minimum: c.minimum! + d })));
  if (c.maxLength !== undefined) options.push(fc.integer({ min: 0, max: c.maxLength }).map((n) => ({ ...c, maxLength: n })));
  if (c.maxItems !== undefined) options.push(fc.integer({ min: 0, max: c.maxItems }).map((n) => ({ ...c, maxItems: n })));
  if (c.enum !== undefined) options.push(fc.subarray(c.enum, { minLength: 1 }).map((e) => ({ ...c, enum: e })));
  if (c.items !== undefined) options.push(narrowed(c.items).map((items) => ({ ...c, items })));
  if (c.properties !== undefined) options.push(fc.constant({ ...c, additionalProperties: false as const }));
  options.push(value.map((v) => (checkValue(c, v).ok ? { const: v as never } : c)));
  return fc.oneof(...options);
}

describe('subsumption is sound (fast-check)', () => {
  it('for generated A ⊑ B, every value satisfying A satisfies B', () => {
    const pair = constraint.chain((b) => narrowed(b).map((a) => [a, b] as const));
    fc.assert(
      fc.property(pair, fc.array(value, { minLength: 1, maxLength: 10 }), ([a, b], values) => {
        // Pinning a generated value as `const` can nest deeper than the language allows (MAX_DEPTH, refused as not a
        // JSON value): such an A is outside the domain, not a counterexample (seed 72780899 found one, 2026-12-01).
        fc.pre(argumentConstraintsError({ a }) === undefined);
        assert.equal(argumentConstraintsError({ a, b }), undefined);
        assert.equal(subsumes(a, b), true, `${JSON.stringify(a)} should subsume ${JSON.stringify(b)}`);
        for (const v of values) if (checkValue(a, v).ok) assert.equal(checkValue(b, v).ok, true, JSON.stringify(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('for random pairs where subsumes(A, B) holds, every value satisfying A satisfies B', () => {
    let hits = 0;
    fc.assert(
      fc.property(constraint, constraint, fc.array(value, { minLength: 1, maxLength: 10 }), (a, b, values) => {
        if (!subsumes(a, b)) return;
        hits++;
        for (const v of values) if (checkValue(a, v).ok) assert.equal(checkValue(b, v).ok, true, `${JSON.stringify(v)} ${JSON.stringify(a)} ${JSON.stringify(b)}`);
      }),
      { numRuns: 5000 },
    );
    assert.ok(hits > 200, `only ${hits} subsuming pairs`);
  });

  it('a deep-frozen constraint (compiled once and kept) decides every value exactly as its unfrozen twin', () => {
    const deepFreeze = <T>(v: T): T => {
      if (typeof v === 'object' && v !== null) {
        Object.freeze(v);
        for (const child of Object.values(v)) deepFreeze(child);
      }
      return v;
    };
    fc.assert(
      fc.property(constraint, fc.array(value, { minLength: 1, maxLength: 10 }), (c, values) => {
        const frozen = deepFreeze(structuredClone(c));
        const frozenArgs = deepFreeze({ a: structuredClone(c), b: structuredClone(c) });
        for (const v of values) {
          assert.deepEqual(checkValue(frozen, v), checkValue(c, v));
          assert.deepEqual(checkArguments(frozenArgs, { a: 0, b: v }), checkArguments({ a: c, b: c }, { a: 0, b: v }));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('narrowest(A, B), when defined, admits only values both admit', () => {
    fc.assert(
      fc.property(constraint, constraint, fc.array(value, { minLength: 1, maxLength: 10 }), (a, b, values) => {
        const n = narrowest(a, b);
        if (n === undefined) return;
        for (const v of values) if (checkValue(n, v).ok) assert.ok(checkValue(a, v).ok && checkValue(b, v).ok);
      }),
      { numRuns: 3000 },
    );
  });
});
