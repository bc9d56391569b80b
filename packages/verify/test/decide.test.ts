// decide(token, tool, arguments): scope first, then the token's mcp_tool entries for this audience (SPEC §11 AD-04).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ANY_ARGUMENTS, decide, type Constraint, type DecisionToken, type McpToolDetails } from 'delegation-token-verify';

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

describe('decide: tools/list agrees with tools/call', () => {
  const tools = ['t.a', 't.b', 't.c', 't.d'];
  const constraint = fc.oneof(
    fc.record({ maximum: fc.integer({ min: -5, max: 5 }) }),
    fc.record({ enum: fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 3 }) }),
    fc.record({ const: fc.integer({ min: -5, max: 5 }) }),
  );
  const detail = fc.record({
    actions: fc.subarray(tools, { minLength: 1 }),
    arguments: fc.dictionary(fc.constantFrom('x', 'y'), constraint, { maxKeys: 2 }),
  });
  const scenario = fc.record({
    scopes: fc.subarray(tools),
    details: fc.array(detail, { maxLength: 3 }),
    tool: fc.constantFrom(...tools, 'not.a.tool'),
    args: fc.dictionary(fc.constantFrom('x', 'y', 'z'), fc.integer({ min: -6, max: 6 }), { maxKeys: 3 }),
  });

  it('a call is allowed only for a listed tool, and a listed tool is refused only for its arguments', () => {
    fc.assert(
      fc.property(scenario, ({ scopes, details, tool, args }) => {
        const t = token(details.map((d) => entry(d.arguments, d.actions)), scopes);
        const listed = decide(t, tool, ANY_ARGUMENTS).allow;
        const call = decide(t, tool, args);
        if (call.allow) return listed;
        return listed ? call.reason === 'insufficient_authorization_details' : call.reason === 'insufficient_scope';
      }),
      { numRuns: 2000 },
    );
  });

  it('a listed tool is callable with some arguments (a witness built from its first entry)', () => {
    fc.assert(
      fc.property(scenario, ({ scopes, details, tool }) => {
        const t = token(details.map((d) => entry(d.arguments, d.actions)), scopes);
        if (!decide(t, tool, ANY_ARGUMENTS).allow) return true;
        const first = t.authorizationDetails.find((d) => d.actions.includes(tool));
        const witness: Record<string, unknown> = {};
        for (const [name, c] of Object.entries(first?.arguments ?? {})) {
          witness[name] = c.const ?? c.enum?.[0] ?? c.maximum;
        }
        return decide(t, tool, witness).allow;
      }),
      { numRuns: 2000 },
    );
  });
});
