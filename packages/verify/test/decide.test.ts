// decide(token, tool, arguments): scope first, then the token's mcp_tool entries for this audience (SPEC §11 AD-04).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ANY_ARGUMENTS, decide, type ArgumentViolation, type Constraint, type DecisionToken, type McpToolDetails } from 'delegation-token-verify';

const HERE = 'https://billing.example/mcp';
const REFUND = 'billing.issue_refund';

function entry(args: Record<string, Constraint> | undefined, actions: string[] = [REFUND]): McpToolDetails {
  return { type: 'mcp_tool', locations: [HERE], actions, ...(args ? { arguments: args } : {}) };
}

function token(details: McpToolDetails[], scopes: string[] = [REFUND, 'billing.refund_lookup']): DecisionToken {
  return { scopes, authorizationDetails: details };
}

/** The refusal for a single entry, violation only. */
function violation(t: DecisionToken, args: unknown, tool = REFUND) {
  const d = decide(t, tool, args);
  assert.equal(d.allow, false, `expected a refusal for ${JSON.stringify(args)}`);
  if (d.allow || d.reason !== 'insufficient_authorization_details') throw new Error(`unexpected ${JSON.stringify(d)}`);
  assert.equal(d.violations.length, 1);
  return d.violations[0]!;
}

describe('decide: scope', () => {
  it('a tool outside the scopes → insufficient_scope naming the tool, with or without entries', () => {
    const t = token([entry({ amount: { maximum: 5000 } })], ['billing.refund_lookup']);
    assert.deepEqual(decide(t, REFUND, { amount: 1 }), { allow: false, reason: 'insufficient_scope', scopes: [REFUND] });
    assert.deepEqual(decide(t, REFUND, ANY_ARGUMENTS), { allow: false, reason: 'insufficient_scope', scopes: [REFUND] });
    assert.deepEqual(decide(t, '', {}), { allow: false, reason: 'insufficient_scope', scopes: [''] });
    // Case-sensitive, no wildcards (RFC 6749 §3.3).
    assert.equal(decide(token([], ['billing.*']), REFUND, {}).allow, false);
    assert.equal(decide(token([], ['BILLING.ISSUE_REFUND']), REFUND, {}).allow, false);
  });

  it('a tool with no entry is limited by scope only, whatever its arguments', () => {
    const t = token([entry({ amount: { maximum: 5000 } })]);
    assert.deepEqual(decide(t, 'billing.refund_lookup', { anything: ['goes', 1e9] }), { allow: true });
    assert.deepEqual(decide(token([]), REFUND, { amount: 1e9 }), { allow: true });
  });

  it('an entry without arguments, or with an empty map, allows any arguments', () => {
    assert.deepEqual(decide(token([entry(undefined)]), REFUND, { amount: 1e9 }), { allow: true });
    assert.deepEqual(decide(token([entry({})]), REFUND, 'not even an object'), { allow: true });
  });
});

describe('decide: each keyword', () => {
  const cases: Array<[string, Constraint, unknown[], unknown[]]> = [
    ['const', { const: 'c-42' }, ['c-42'], ['c-43', 42, null]],
    ['enum', { enum: ['EUR', 'USD'] }, ['EUR', 'USD'], ['GBP', 'eur', ['EUR']]],
    ['minimum', { minimum: 10 }, [10, 11.5], [9.99, -1]],
    ['maximum', { maximum: 5000 }, [5000, 0, -3], [5000.01, 50000]],
    ['exclusiveMinimum', { exclusiveMinimum: 0 }, [0.001, 1], [0, -1]],
    ['exclusiveMaximum', { exclusiveMaximum: 100 }, [99.9], [100, 101]],
    ['maxLength', { maxLength: 3 }, ['abc', '', '😀😀😀'], ['abcd']],
    ['maxItems', { maxItems: 2 }, [[], [1, 2]], [[1, 2, 3]]],
    ['type', { type: 'integer' }, [3, -7], [3.5, '3']],
  ];
  for (const [keyword, constraint, inside, outside] of cases) {
    it(`${keyword}: inside allowed, outside refused naming the argument, keyword and limit`, () => {
      const t = token([entry({ x: constraint })]);
      for (const value of inside) assert.deepEqual(decide(t, REFUND, { x: value }), { allow: true }, JSON.stringify(value));
      for (const value of outside) {
        const v = violation(t, { x: value });
        assert.equal(v.argument, 'x');
        assert.equal(v.path, '/x');
        if (v.keyword !== 'type') {
          assert.equal(v.keyword, keyword);
          assert.deepEqual(v.limit, (constraint as Record<string, unknown>)[keyword]);
        }
      }
    });
  }

  it('implied types: "99999" fails maximum as type number; a number fails maxLength as type string', () => {
    assert.deepEqual(violation(token([entry({ amount: { maximum: 100 } })]), { amount: '99999' }), {
      argument: 'amount', path: '/amount', keyword: 'type', limit: 'number',
    });
    assert.deepEqual(violation(token([entry({ note: { maxLength: 3 } })]), { note: 12 }), {
      argument: 'note', path: '/note', keyword: 'type', limit: 'string',
    });
    assert.deepEqual(violation(token([entry({ ids: { maxItems: 3 } })]), { ids: 'a,b' }), {
      argument: 'ids', path: '/ids', keyword: 'type', limit: 'array',
    });
  });

  it('every named argument is required; unnamed arguments are free', () => {
    const t = token([entry({ amount: { maximum: 5000 }, customer_id: { const: 'c-42' } })]);
    assert.deepEqual(violation(t, { amount: 10 }), { argument: 'customer_id', path: '/customer_id', keyword: 'required', limit: 'customer_id' });
    assert.deepEqual(violation(t, {}), { argument: 'amount', path: '/amount', keyword: 'required', limit: 'amount' });
    assert.deepEqual(decide(t, REFUND, { amount: 10, customer_id: 'c-42', memo: 'anything', extra: [1e9] }), { allow: true });
    // Arguments that are not an object break the entry at the root.
    for (const args of [null, [], 'amount=10', 10]) {
      assert.deepEqual(violation(t, args), { argument: '', path: '', keyword: 'type', limit: 'object' });
    }
  });
});

describe('decide: nested properties and arrays', () => {
  const order: Constraint = {
    properties: {
      currency: { const: 'EUR' },
      lines: { maxItems: 3, items: { properties: { sku: { maxLength: 8 }, qty: { minimum: 1, maximum: 10 } }, required: ['sku', 'qty'], additionalProperties: false } },
    },
    required: ['currency', 'lines'],
  };
  const t = token([entry({ order })]);
  const good = { currency: 'EUR', lines: [{ sku: 'A-1', qty: 2 }, { sku: 'B-2', qty: 10 }] };

  it('a call within every nested limit is allowed', () => {
    assert.deepEqual(decide(t, REFUND, { order: good }), { allow: true });
  });

  it('each nested violation names its JSON Pointer, keyword and limit', () => {
    const refused: Array<[unknown, string, string, unknown]> = [
      [{ ...good, currency: 'USD' }, '/order/currency', 'const', 'EUR'],
      [{ lines: good.lines }, '/order', 'required', 'currency'],
      [{ ...good, lines: [...good.lines, good.lines[0], good.lines[0]] }, '/order/lines', 'maxItems', 3],
      [{ ...good, lines: [good.lines[0], { sku: 'B-2', qty: 11 }] }, '/order/lines/1/qty', 'maximum', 10],
      [{ ...good, lines: [{ sku: 'TOO-LONG-SKU', qty: 1 }] }, '/order/lines/0/sku', 'maxLength', 8],
      [{ ...good, lines: [{ sku: 'A-1' }] }, '/order/lines/0', 'required', 'qty'],
      [{ ...good, lines: [{ sku: 'A-1', qty: 1, price: 0 }] }, '/order/lines/0/price', 'additionalProperties', false],
      [{ ...good, lines: { 0: good.lines[0] } }, '/order/lines', 'type', 'array'],
      ['EUR', '/order', 'type', 'object'],
    ];
    for (const [value, path, keyword, limit] of refused) {
      assert.deepEqual(violation(t, { order: value }), { argument: 'order', path, keyword, limit }, path);
    }
  });

  it('an argument name with / and ~ is escaped in the pointer (RFC 6901) and named as is', () => {
    const v = violation(token([entry({ 'a/b~c': { maximum: 1 } })]), { 'a/b~c': 2 });
    assert.deepEqual(v, { argument: 'a/b~c', path: '/a~1b~0c', keyword: 'maximum', limit: 1 });
  });
});

describe('decide: arguments of any depth', () => {
  // JSON.parse builds any depth a body holds; every check goes only as deep as the limit it applies.
  const deep = () => JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown[];
  const limits = { amount: { maximum: 5000 }, lines: { items: { items: { const: [] } } }, mode: { enum: [[[1]], 'x'] }, tag: { const: [[1]] } };

  it('arguments nested 100,000 deep are decided by the limits, like shallow ones', () => {
    const t = token([entry(limits)]);
    const good = { amount: 1, lines: [[[]]], mode: 'x', tag: [[1]] };
    assert.deepEqual(decide(t, REFUND, { ...good, note: deep() }), { allow: true });
    const refused: Array<[string, string, unknown]> = [
      ['amount', 'type', 'number'],
      ['lines', 'const', []],
      ['mode', 'enum', [[[1]], 'x']],
      ['tag', 'const', [[1]]],
    ];
    for (const [name, keyword, limit] of refused) {
      const path = name === 'lines' ? '/lines/0/0' : `/${name}`;
      const d = decide(t, REFUND, { ...good, [name]: deep() });
      assert.ok(!d.allow && d.reason === 'insufficient_authorization_details', name);
      assert.deepEqual(d.violations, [{ argument: name, path, keyword, limit }], name);
    }
    assert.deepEqual(decide(token([entry(limits)], ['billing.refund_lookup']), REFUND, { note: deep() }), { allow: false, reason: 'insufficient_scope', scopes: [REFUND] });
    assert.deepEqual(decide(token([]), REFUND, deep()), { allow: true });
  });
});

describe('decide: several entries', () => {
  it('entries naming the tool are alternatives; the refusal lists each one and its first violation', () => {
    const eur = entry({ currency: { const: 'EUR' }, amount: { maximum: 5000 } });
    const usd = entry({ currency: { const: 'USD' }, amount: { maximum: 100 } });
    const t = token([eur, usd, entry({ customerId: { const: 'x' } }, ['billing.refund_lookup'])]);
    assert.deepEqual(decide(t, REFUND, { currency: 'EUR', amount: 3000 }), { allow: true });
    assert.deepEqual(decide(t, REFUND, { currency: 'USD', amount: 100 }), { allow: true });
    assert.deepEqual(decide(t, REFUND, { currency: 'USD', amount: 3000 }), {
      allow: false,
      reason: 'insufficient_authorization_details',
      authorizationDetails: [eur, usd],
      violations: [
        { argument: 'currency', path: '/currency', keyword: 'const', limit: 'EUR' },
        { argument: 'amount', path: '/amount', keyword: 'maximum', limit: 100 },
      ],
    });
    // The lookup entry limits only the lookup tool.
    assert.equal(decide(t, 'billing.refund_lookup', { customerId: 'y' }).allow, false);
  });
});

describe('decide: tools/list hides a tool no call can meet', () => {
  const cases: Array<[string, Record<string, Constraint>, ArgumentViolation]> = [
    ['minimum above maximum', { amount: { minimum: 10, maximum: 5 } }, { argument: 'amount', path: '/amount', keyword: 'maximum', limit: 5 }],
    ['exclusive bounds that meet', { amount: { exclusiveMinimum: 5, exclusiveMaximum: 5 } }, { argument: 'amount', path: '/amount', keyword: 'exclusiveMaximum', limit: 5 }],
    ['an empty enum', { currency: { enum: [] } }, { argument: 'currency', path: '/currency', keyword: 'enum', limit: [] }],
    ['const longer than maxLength', { memo: { const: 'a', maxLength: 0 } }, { argument: 'memo', path: '/memo', keyword: 'maxLength', limit: 0 }],
    ['type string with a numeric keyword', { amount: { type: 'string', minimum: 1 } }, { argument: 'amount', path: '/amount', keyword: 'type', limit: 'string' }],
    [
      'an integer strictly between adjacent integers, in a second argument',
      { amount: { maximum: 5000 }, qty: { type: 'integer', exclusiveMinimum: 1, exclusiveMaximum: 2 } },
      { argument: 'qty', path: '/qty', keyword: 'exclusiveMaximum', limit: 2 },
    ],
    [
      'a nested required property whose const is outside its enum',
      { order: { properties: { currency: { const: 'EUR', enum: ['USD'] }, note: { enum: [] } }, required: ['currency'] } },
      { argument: 'order', path: '/order/currency', keyword: 'enum', limit: ['USD'] },
    ],
    [
      'a required name a closed object forbids',
      { order: { properties: { currency: {} }, required: ['lines'], additionalProperties: false } },
      { argument: 'order', path: '/order/lines', keyword: 'additionalProperties', limit: false },
    ],
  ];
  for (const [name, args, why] of cases) {
    it(`${name}: not listed, refused naming an argument no value meets`, () => {
      const only = entry(args);
      const t = token([only, entry({ customerId: { const: 'x' } }, ['billing.refund_lookup'])]);
      assert.deepEqual(decide(t, REFUND, ANY_ARGUMENTS), {
        allow: false,
        reason: 'insufficient_authorization_details',
        authorizationDetails: [only],
        violations: [why],
      });
      // The other tool is unaffected, and the hidden one is refused for its arguments on every call.
      assert.deepEqual(decide(t, 'billing.refund_lookup', ANY_ARGUMENTS), { allow: true });
      for (const value of [5, 7.5, 'a', '', null, { currency: 'USD', lines: [] }]) {
        const call = decide(t, REFUND, { amount: value, qty: value, currency: value, memo: value, order: value });
        assert.equal(call.allow, false);
        assert.equal(!call.allow && call.reason, 'insufficient_authorization_details');
      }
    });
  }

  it('an entry no call meets hides nothing another entry for the tool allows', () => {
    const never = entry({ amount: { minimum: 10, maximum: 5 } });
    assert.deepEqual(decide(token([never, entry({ amount: { maximum: 100 } })]), REFUND, ANY_ARGUMENTS), { allow: true });
    assert.deepEqual(decide(token([never, entry(undefined)]), REFUND, ANY_ARGUMENTS), { allow: true });
    assert.deepEqual(decide(token([entry({ ids: { items: { enum: [] } } }), never]), REFUND, ANY_ARGUMENTS), { allow: true });
    assert.deepEqual(decide(token([never]), REFUND, { amount: 100 }).allow, false);
    // Several entries none of which can be met: one violation each, in order.
    const empty = entry({ currency: { enum: [] } });
    assert.deepEqual(decide(token([never, empty]), REFUND, ANY_ARGUMENTS), {
      allow: false,
      reason: 'insufficient_authorization_details',
      authorizationDetails: [never, empty],
      violations: [
        { argument: 'amount', path: '/amount', keyword: 'maximum', limit: 5 },
        { argument: 'currency', path: '/currency', keyword: 'enum', limit: [] },
      ],
    });
  });

  it('a limit only one double meets, or only Infinity (JSON.parse reads 1e400 so), still lists the tool', () => {
    const between = token([entry({ x: { exclusiveMinimum: 1, exclusiveMaximum: 1 + 2 * Number.EPSILON } })]);
    assert.deepEqual(decide(between, REFUND, ANY_ARGUMENTS), { allow: true });
    assert.deepEqual(decide(between, REFUND, { x: 1 + Number.EPSILON }), { allow: true });
    const above = token([entry({ x: { exclusiveMinimum: Number.MAX_VALUE } })]);
    assert.deepEqual(decide(above, REFUND, ANY_ARGUMENTS), { allow: true });
    assert.deepEqual(decide(above, REFUND, JSON.parse('{"x":1e400}')), { allow: true });
    assert.equal(decide(token([entry({ x: { type: 'integer', exclusiveMinimum: Number.MAX_VALUE } })]), REFUND, ANY_ARGUMENTS).allow, false);
  });
});

describe('decide: tools/list agrees with tools/call', () => {
  const tools = ['t.a', 't.b', 't.c', 't.d'];
  const bound = fc.integer({ min: -5, max: 5 });
  const atom = fc.oneof(bound, fc.constantFrom(0.5, -2.5, '', 'a', 'ab', 'abc', null));
  // Limits some calls meet, and (often) limits none meets: bounds that cross, an enum outside them, a type they contradict.
  const constraint = fc.oneof(
    fc.record({ maximum: bound }),
    fc.record({ enum: fc.array(bound, { minLength: 1, maxLength: 3 }) }),
    fc.record({ const: bound }),
    fc.record({ type: fc.constantFrom('number', 'integer'), minimum: bound, maximum: bound, exclusiveMinimum: bound, exclusiveMaximum: bound }, { requiredKeys: [] }),
    fc.record(
      { enum: fc.array(atom, { maxLength: 3 }), const: atom, maximum: bound, maxLength: fc.integer({ min: 0, max: 2 }), type: fc.constantFrom('integer', 'string') },
      { requiredKeys: [] },
    ),
  ) as fc.Arbitrary<Constraint>;
  const detail = fc.record({
    actions: fc.subarray(tools, { minLength: 1 }),
    arguments: fc.dictionary(fc.constantFrom('x', 'y'), constraint, { maxKeys: 2 }),
  });
  const scenario = fc.record({
    scopes: fc.subarray(tools),
    details: fc.array(detail, { maxLength: 3 }),
    tool: fc.constantFrom(...tools, 'not.a.tool'),
    args: fc.dictionary(fc.constantFrom('x', 'y', 'z'), fc.oneof(fc.integer({ min: -6, max: 6 }), atom), { maxKeys: 3 }),
  });
  // Every value a generated limit can single out: the numbers in halves (bounds are integers, so a non-empty interval
  // holds one of them), every const and enum value, and strings up to the longest maxLength.
  const DOMAIN = [...Array.from({ length: 25 }, (_, i) => -6 + i / 2), '', 'a', 'ab', 'abc', null];

  it('a call is allowed only for a listed tool; an unlisted tool is refused for the reason it is not listed', () => {
    fc.assert(
      fc.property(scenario, ({ scopes, details, tool, args }) => {
        const t = token(details.map((d) => entry(d.arguments, d.actions)), scopes);
        const listing = decide(t, tool, ANY_ARGUMENTS);
        const call = decide(t, tool, args);
        if (call.allow) return listing.allow;
        return listing.allow ? call.reason === 'insufficient_authorization_details' : call.reason === listing.reason;
      }),
      { numRuns: 2000 },
    );
  });

  it('a tool is listed exactly when some call of it is allowed (an exhaustive search over every value that matters)', () => {
    let hidden = 0;
    fc.assert(
      fc.property(scenario, ({ scopes, details, tool }) => {
        const t = token(details.map((d) => entry(d.arguments, d.actions)), scopes);
        const listed = decide(t, tool, ANY_ARGUMENTS).allow;
        const callable = DOMAIN.some((x) => DOMAIN.some((y) => decide(t, tool, { x, y }).allow));
        if (!listed && scopes.includes(tool)) hidden++;
        assert.equal(listed, callable);
      }),
      { numRuns: 3000 },
    );
    assert.ok(hidden > 60, `only ${hidden} in-scope tools hidden by their limits`);
  });
});
