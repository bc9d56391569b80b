// RFC 9396 `authorization_details` of type `mcp_tool` in the token exchange (SPEC §11 AD-01…AD-03): granted = the
// narrowest of policy, request and subject; every widening refused with invalid_authorization_details.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { exchange, exchangeFor, loginUser, postForm } from '../../helpers/http.js';
import { startTestIdp, type TestIdp } from '../../helpers/test_idp.js';
import { BILLING, CRM, JWT_TYPE, startService, testConfig, type TestService } from '../../helpers/service.js';
import { parseConfig } from '../../../src/config/load.js';
import type { ExchangeDecisionEvent } from '../../../src/audit/events.js';

const REFUND = 'billing.issue_refund';
const LOOKUP = 'billing.refund_lookup';
const LOGIN_SCOPE = `openid crm.lookup_customer ${LOOKUP} ${REFUND}`;
// The policy under test: refunds for finance users up to 5000 cents in EUR/USD, for their own customer only; refund
// lookups (direct, or carried downstream in a CRM token) bounded by the agent's rule and the CRM hop rule.
const REFUND_POLICY = { amount: { maximum: 5000 }, currency: { enum: ['EUR', 'USD'] }, customer_id: { const: '${subject.customer_id}' } };
const LOOKUP_POLICY = { customer_id: { const: '${subject.customer_id}' }, limit: { maximum: 50 } };
const HOP_LOOKUP_POLICY = { limit: { maximum: 100 } };

const mcp = (location: string, actions: string[], args?: Record<string, unknown>) => ({
  type: 'mcp_tool',
  locations: [location],
  actions,
  ...(args ? { arguments: args } : {}),
});
const invalid = (description: string) => ({ error: 'invalid_authorization_details', error_description: description });
const MALFORMED = invalid('authorization_details is malformed');
const NOT_GRANTED = invalid('authorization_details names a location or tool that is not granted');
const WIDER = invalid('authorization_details is wider than allowed');
const UNRESOLVABLE = invalid('authorization_details cannot be granted for this subject');

describe('authorization_details in the token exchange (RFC 9396, SPEC §11)', () => {
  let svc: TestService;
  let idp: TestIdp;
  let events: ExchangeDecisionEvent[];
  let bob: string;

  before(async () => {
    idp = await startTestIdp();
    svc = await startService({
      extra: (port) => {
        const base = testConfig(port, '', '');
        return {
          demoLogin: {
            enabled: true,
            users: [
              { sub: 'user-bob', username: 'bob', name: 'Bob', groups: ['finance'], claims: { customer_id: 'c-42' } },
              // In finance, but with no customer_id: a policy reference to it cannot be resolved.
              { sub: 'user-carol', username: 'carol', name: 'Carol', groups: ['finance'] },
            ],
          },
          trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: [REFUND, LOOKUP, 'crm.lookup_customer'] }],
          agents: base.agents!.map((a) => {
            if (a.clientId === 'agent') {
              return {
                ...a,
                toolServers: [
                  a.toolServers![0]!,
                  { resource: BILLING, scopes: [LOOKUP, REFUND], groups: ['finance'], arguments: { [REFUND]: REFUND_POLICY, [LOOKUP]: LOOKUP_POLICY } },
                ],
              };
            }
            if (a.clientId === 'crm-server') return { ...a, toolServers: [{ resource: BILLING, scopes: [LOOKUP, REFUND], arguments: { [LOOKUP]: HOP_LOOKUP_POLICY } }] };
            return a;
          }),
        };
      },
    });
    events = [];
    svc.service.events.on((e) => {
      if (e.type === 'exchange') events.push(e);
    });
    bob = (await loginUser(svc, { username: 'bob', scope: LOGIN_SCOPE })).accessToken;
  });
  after(async () => {
    await svc.stop();
    await idp.stop();
  });

  const refund = (details: unknown, subject = bob) =>
    exchangeFor(svc, 'agent', subject, BILLING, { scope: REFUND, authorization_details: typeof details === 'string' ? details : JSON.stringify(details) });
  const introspect = (token: string, asClient: string) => postForm(`${svc.url}/token/introspection/delegation`, { token }, { authorization: svc.basic(asClient) });

  it('discovery lists authorization_details_types_supported: ["mcp_tool"] (RFC 9396 §10)', async () => {
    // Also spelt as oidc-provider routes them (any case, one trailing slash): the same document.
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/.well-known/OAUTH-authorization-server/']) {
      const res = await fetch(`${svc.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.deepEqual(((await res.json()) as Record<string, unknown>).authorization_details_types_supported, ['mcp_tool'], path);
    }
  });

  it('AD-01: a request narrower than policy ∩ subject: token, response and introspection carry exactly the granted details', async () => {
    const requested = [mcp(BILLING, [REFUND], { amount: { maximum: 3000 }, currency: { const: 'EUR' }, customer_id: { const: 'c-42' }, reason: { maxLength: 200 } })];
    const res = await refund(requested);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.scope, REFUND);
    assert.deepEqual(res.body.authorization_details, requested);
    const token = res.body.access_token as string;
    assert.deepEqual(decodeJwt(token).authorization_details, requested);
    const intro = await introspect(token, 'billing-server');
    assert.equal(intro.status, 200);
    assert.equal(intro.body.active, true);
    assert.deepEqual(intro.body.authorization_details, requested);
    assert.equal(events.at(-1)!.decision, 'allow');
  });

  it('an audience alias as the only target, with authorization_details: the same grant as by resource', async () => {
    const requested = [mcp(BILLING, [REFUND], { amount: { maximum: 100 }, currency: { const: 'EUR' }, customer_id: { const: 'c-42' } })];
    const res = await exchange(svc, 'agent', { subject_token: bob, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', audience: 'billing', scope: REFUND, authorization_details: JSON.stringify(requested) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.authorization_details, requested);
    const claims = decodeJwt(res.body.access_token as string);
    assert.deepEqual([claims.aud, claims.authorization_details], [BILLING, requested]);
    // A resource and an audience together are still two targets.
    const both = await exchangeFor(svc, 'agent', bob, BILLING, { audience: 'billing', scope: REFUND, authorization_details: JSON.stringify(requested) });
    assert.deepEqual([both.status, both.body], [400, { error: 'invalid_target', error_description: 'exactly one resource or audience is allowed' }]);
  });

  it('the policy constraints are granted as-is (references resolved) when the request names none; none for a tool without any', async () => {
    const res = await exchangeFor(svc, 'agent', bob, BILLING, { scope: `${REFUND} ${LOOKUP}` });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const granted = [
      mcp(BILLING, [REFUND], { amount: { maximum: 5000 }, currency: { enum: ['EUR', 'USD'] }, customer_id: { const: 'c-42' } }),
      mcp(BILLING, [LOOKUP], { customer_id: { const: 'c-42' }, limit: { maximum: 50 } }),
    ];
    const sorted = (d: unknown) => [...(d as { actions: string[] }[])].sort((x, y) => x.actions[0]!.localeCompare(y.actions[0]!));
    assert.deepEqual(sorted(res.body.authorization_details), sorted(granted));
    assert.deepEqual(sorted(decodeJwt(res.body.access_token as string).authorization_details), sorted(granted));

    // Only the lookup named in the request: the refund's constraints still apply (deny by default).
    const partial = await exchangeFor(svc, 'agent', bob, BILLING, {
      scope: `${REFUND} ${LOOKUP}`,
      authorization_details: JSON.stringify([mcp(BILLING, [LOOKUP], { customer_id: { const: 'c-42' }, limit: { maximum: 5 } })]),
    });
    assert.equal(partial.status, 200, JSON.stringify(partial.body));
    assert.deepEqual(partial.body.authorization_details, [mcp(BILLING, [LOOKUP], { customer_id: { const: 'c-42' }, limit: { maximum: 5 } }), granted[0]]);

    // A tool server no rule constrains: no claim, no response member.
    const crm = await exchangeFor(svc, 'agent', bob, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    assert.equal('authorization_details' in crm.body, false);
    assert.equal(decodeJwt(crm.body.access_token as string).authorization_details, undefined);
  });

  it('AD-02: every widening or malformed form is refused with 400 invalid_authorization_details, the reason in the audit event', async () => {
    const ok = { amount: { maximum: 3000 }, currency: { const: 'EUR' }, customer_id: { const: 'c-42' } };
    const cases: [string, unknown, Record<string, string>, string][] = [
      ['not JSON', '[{"type":', MALFORMED, 'not JSON'],
      ['not an array', JSON.stringify(mcp(BILLING, [REFUND], ok)), MALFORMED, 'not an array'],
      ['an empty array', '[]', MALFORMED, 'empty array'],
      ['a duplicate member name', `[{"type":"mcp_tool","locations":["${BILLING}"],"actions":["${REFUND}"],"arguments":{"amount":{"maximum":1,"maximum":9000}}}]`, MALFORMED, 'duplicate member name'],
      ['an unknown type', [{ ...mcp(BILLING, [REFUND], ok), type: 'payment_initiation' }], MALFORMED, '[0]: unknown type'],
      ['an unknown field', [{ ...mcp(BILLING, [REFUND], ok), privileges: ['admin'] }], MALFORMED, '[0]: unknown field privileges'],
      ['an unknown keyword', [mcp(BILLING, [REFUND], { ...ok, amount: { maximum: 3000, minLength: 1 } })], MALFORMED, '[0]: arguments/amount: unknown keyword minLength'],
      ['pattern', [mcp(BILLING, [REFUND], { ...ok, customer_id: { pattern: '^c-' } })], MALFORMED, '[0]: arguments/customer_id: unknown keyword pattern'],
      ['a wrong field type', [{ ...mcp(BILLING, [REFUND], ok), actions: REFUND }], MALFORMED, '[0]: actions is not a non-empty array'],
      ['two locations', [{ ...mcp(BILLING, [REFUND], ok), locations: [BILLING, CRM] }], MALFORMED, '[0]: locations is not exactly one URI'],
      ['a location that is neither the target nor downstream', [mcp('https://elsewhere.example/mcp', [REFUND], ok)], NOT_GRANTED, 'location_not_allowed:https://elsewhere.example/mcp'],
      ['a tool not in the granted scope', [mcp(BILLING, [LOOKUP], { customer_id: { const: 'c-42' }, limit: { maximum: 1 } })], NOT_GRANTED, `action_not_granted:${BILLING} ${LOOKUP}`],
      ['a higher maximum', [mcp(BILLING, [REFUND], { ...ok, amount: { maximum: 5001 } })], WIDER, `wider_than_allowed:${BILLING} ${REFUND}`],
      ['a string where a number is limited', [mcp(BILLING, [REFUND], { ...ok, amount: { maxLength: 4 } })], WIDER, `wider_than_allowed:${BILLING} ${REFUND}`],
      ['a larger enum', [mcp(BILLING, [REFUND], { ...ok, currency: { enum: ['EUR', 'GBP'] } })], WIDER, `wider_than_allowed:${BILLING} ${REFUND}`],
      ['a dropped const', [mcp(BILLING, [REFUND], { amount: ok.amount, currency: ok.currency })], WIDER, `wider_than_allowed:${BILLING} ${REFUND}`],
      ['another const', [mcp(BILLING, [REFUND], { ...ok, customer_id: { const: 'c-43' } })], WIDER, `wider_than_allowed:${BILLING} ${REFUND}`],
      ['no arguments at all', [mcp(BILLING, [REFUND])], WIDER, `wider_than_allowed:${BILLING} ${REFUND}`],
    ];
    for (const [name, details, body, reason] of cases) {
      const res = await refund(details);
      assert.equal(res.status, 400, name);
      assert.deepEqual(res.body, body, name);
      assert.equal(res.headers.get('cache-control'), 'no-store', name);
      const event = events.at(-1)!;
      assert.deepEqual([event.decision, event.error, event.reasons], ['deny', 'invalid_authorization_details', [`authorization_details:${reason}`]], name);
    }
    // A repeated authorization_details parameter is a malformed request (RFC 6749 §3.2), not a second list.
    const twice = await exchangeFor(svc, 'agent', bob, BILLING, { scope: REFUND, authorization_details: ['[]', '[]'] });
    assert.equal(twice.status, 400);
    assert.equal(twice.body.error, 'invalid_request');
  });

  it('AD-03: a hop is bounded by the details its subject token carries for the downstream location', async () => {
    // The CRM token carries the downstream billing lookup, narrowed by the agent's request.
    const carried = mcp(BILLING, [LOOKUP], { customer_id: { const: 'c-42' }, limit: { maximum: 20 } });
    const crm = await exchangeFor(svc, 'agent', bob, CRM, { scope: `crm.lookup_customer ${LOOKUP}`, authorization_details: JSON.stringify([carried]) });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    assert.deepEqual(crm.body.authorization_details, [carried]);
    const crmToken = crm.body.access_token as string;
    const hop = (details?: unknown) =>
      exchangeFor(svc, 'crm-server', crmToken, BILLING, { scope: LOOKUP, ...(details ? { authorization_details: JSON.stringify(details) } : {}) });

    // No details on the hop: the subject's (narrower than the hop rule's maximum 100) are granted.
    const plain = await hop();
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    assert.deepEqual(plain.body.authorization_details, [carried]);
    assert.deepEqual(decodeJwt(plain.body.access_token as string).authorization_details, [carried]);

    const narrower = [mcp(BILLING, [LOOKUP], { customer_id: { const: 'c-42' }, limit: { maximum: 10 } })];
    const narrowed = await hop(narrower);
    assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
    assert.deepEqual(narrowed.body.authorization_details, narrower);
    const intro = await introspect(narrowed.body.access_token as string, 'billing-server');
    assert.deepEqual(intro.body.authorization_details, narrower);

    // Inside the hop rule (100) but wider than the subject token (20): refused.
    const wider = await hop([mcp(BILLING, [LOOKUP], { customer_id: { const: 'c-42' }, limit: { maximum: 30 } })]);
    assert.equal(wider.status, 400);
    assert.deepEqual(wider.body, WIDER);
    assert.deepEqual(events.at(-1)!.reasons, [`authorization_details:wider_than_allowed:${BILLING} ${LOOKUP}`]);
    // Dropping the subject's const on the hop: refused.
    const dropped = await hop([mcp(BILLING, [LOOKUP], { limit: { maximum: 10 } })]);
    assert.deepEqual([dropped.status, dropped.body], [400, WIDER]);
  });

  it('AD-03: without a request, the downstream details in a first token are the agent rule ∩ the hop rule', async () => {
    const crm = await exchangeFor(svc, 'agent', bob, CRM, { scope: `crm.lookup_customer ${LOOKUP}` });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    assert.deepEqual(crm.body.authorization_details, [mcp(BILLING, [LOOKUP], { customer_id: { const: 'c-42' }, limit: { maximum: 50 } })]);
  });

  it('an external JWT subject\'s own details bound the grant (never wider than the subject); unreadable ones refuse it', async () => {
    const external = (details: unknown) =>
      idp.sign({ sub: 'ext-dana', aud: svc.url, sid: `s-${randomBytes(4).toString('hex')}`, scope: REFUND, groups: ['finance'], customer_id: 'c-77', authorization_details: details });
    // The subject allows refunds up to 10 only: policy (5000) ∩ subject (10).
    const narrow = await exchangeFor(svc, 'agent', await external([mcp(BILLING, [REFUND], { amount: { maximum: 10 } })]), BILLING, { scope: REFUND, subject_token_type: JWT_TYPE });
    assert.equal(narrow.status, 200, JSON.stringify(narrow.body));
    assert.deepEqual(narrow.body.authorization_details, [mcp(BILLING, [REFUND], { amount: { maximum: 10 }, currency: { enum: ['EUR', 'USD'] }, customer_id: { const: 'c-77' } })]);
    assert.deepEqual(decodeJwt(narrow.body.access_token as string).authorization_details, narrow.body.authorization_details);
    // A request for more than the subject allows is wider than allowed.
    const wider = await exchangeFor(svc, 'agent', await external([mcp(BILLING, [REFUND], { amount: { maximum: 10 } })]), BILLING, {
      scope: REFUND, subject_token_type: JWT_TYPE, authorization_details: JSON.stringify([mcp(BILLING, [REFUND], { amount: { maximum: 100 }, currency: { const: 'EUR' }, customer_id: { const: 'c-77' } })]),
    });
    assert.equal(wider.status, 400);
    assert.equal(wider.body.error, 'invalid_authorization_details');
    assert.deepEqual(events.at(-1)!.reasons, [`authorization_details:wider_than_allowed:${BILLING} ${REFUND}`]);
    // Entries of another type are the issuer's for its own APIs: skipped (an mcp_tool entry beside them still binds).
    const foreign = { type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '123.50' } };
    const mixed = await exchangeFor(svc, 'agent', await external([foreign, mcp(BILLING, [REFUND], { amount: { maximum: 10 } })]), BILLING, { scope: REFUND, subject_token_type: JWT_TYPE });
    assert.equal(mixed.status, 200, JSON.stringify(mixed.body));
    assert.deepEqual(mixed.body.authorization_details, narrow.body.authorization_details);
    for (const none of [[foreign], []]) {
      const res = await exchangeFor(svc, 'agent', await external(none), BILLING, { scope: REFUND, subject_token_type: JWT_TYPE });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.authorization_details, [mcp(BILLING, [REFUND], { amount: { maximum: 5000 }, currency: { enum: ['EUR', 'USD'] }, customer_id: { const: 'c-77' } })]);
    }
    // RFC 9396 §5: details the service cannot read (an mcp_tool entry with an unknown keyword, an untyped entry, not an
    // array) refuse the subject token.
    for (const unreadable of [[mcp(BILLING, [REFUND], { amount: { multipleOf: 5 } })], [{ locations: [BILLING] }], 'not-an-array']) {
      const refused = await exchangeFor(svc, 'agent', await external(unreadable), BILLING, { scope: REFUND, subject_token_type: JWT_TYPE });
      assert.deepEqual([refused.status, refused.body], [400, { error: 'invalid_request', error_description: 'subject_token is invalid' }], JSON.stringify(unreadable));
      assert.deepEqual(events.at(-1)!.reasons, ['subject_token:malformed_authorization_details']);
    }
  });

  it("an external JWT's details bind under any spelling of the tool server's URI the resource parameter accepts; an uncanonicalisable or ambiguous location refuses it", async () => {
    const external = (details: unknown) =>
      idp.sign({ sub: 'ext-dana', aud: svc.url, sid: `s-${randomBytes(4).toString('hex')}`, scope: REFUND, groups: ['finance'], customer_id: 'c-77', authorization_details: details });
    const bounded = [mcp(BILLING, [REFUND], { amount: { maximum: 10 }, currency: { enum: ['EUR', 'USD'] }, customer_id: { const: 'c-77' } })];
    // RFC 8707 §2 / policy/resource.ts: the exchange takes these as BILLING for `resource`, so the subject's limit is BILLING's.
    for (const spelling of ['http://TOOLS.TEST/billing/mcp', 'http://tools.test:80/billing/mcp', 'HTTP://tools.test/billing/mcp']) {
      const subject = await external([mcp(spelling, [REFUND], { amount: { maximum: 10 } })]);
      for (const resource of [BILLING, spelling]) {
        const res = await exchangeFor(svc, 'agent', subject, resource, { scope: REFUND, subject_token_type: JWT_TYPE });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body.authorization_details, bounded, `${spelling} as resource ${resource}`);
      }
    }
    // A location that is not a resource indicator (userinfo, a fragment, another scheme), or two entries for one tool
    // at one tool server once canonical: which limit holds cannot be told, so the subject token is refused.
    for (const unreadable of [
      [mcp('http://u@tools.test/billing/mcp', [REFUND], { amount: { maximum: 10 } })],
      [mcp(`${BILLING}#f`, [REFUND], { amount: { maximum: 10 } })],
      [mcp('urn:example:billing', [REFUND], { amount: { maximum: 10 } })],
      [mcp(BILLING, [REFUND], { amount: { maximum: 10 } }), mcp('http://TOOLS.TEST:80/billing/mcp', [REFUND], { amount: { maximum: 5000 } })],
    ]) {
      const refused = await exchangeFor(svc, 'agent', await external(unreadable), BILLING, { scope: REFUND, subject_token_type: JWT_TYPE });
      assert.deepEqual([refused.status, refused.body], [400, { error: 'invalid_request', error_description: 'subject_token is invalid' }], JSON.stringify(unreadable));
      assert.deepEqual(events.at(-1)!.reasons, ['subject_token:malformed_authorization_details']);
    }
  });

  it('claim references: resolved from an external JWT; an unresolvable one refuses the exchange', async () => {
    const external = await idp.sign({ sub: 'ext-dana', aud: svc.url, sid: `s-${randomBytes(4).toString('hex')}`, scope: REFUND, groups: ['finance'], customer_id: 'c-77' });
    const res = await exchangeFor(svc, 'agent', external, BILLING, { scope: REFUND, subject_token_type: JWT_TYPE });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.authorization_details, [mcp(BILLING, [REFUND], { amount: { maximum: 5000 }, currency: { enum: ['EUR', 'USD'] }, customer_id: { const: 'c-77' } })]);

    // A claim that is not a scalar cannot be a const: unresolvable.
    const objectClaim = await idp.sign({ sub: 'ext-erin', aud: svc.url, sid: `s-${randomBytes(4).toString('hex')}`, scope: REFUND, groups: ['finance'], customer_id: { id: 1 } });
    const refused = await exchangeFor(svc, 'agent', objectClaim, BILLING, { scope: REFUND, subject_token_type: JWT_TYPE });
    assert.deepEqual([refused.status, refused.body], [400, UNRESOLVABLE]);
    assert.deepEqual(events.at(-1)!.reasons, ['authorization_details:unresolved_reference:customer_id']);

    const carol = (await loginUser(svc, { username: 'carol', scope: LOGIN_SCOPE })).accessToken;
    const none = await exchangeFor(svc, 'agent', carol, BILLING, { scope: REFUND });
    assert.deepEqual([none.status, none.body], [400, UNRESOLVABLE]);
    assert.deepEqual(events.at(-1)!.reasons, ['authorization_details:unresolved_reference:customer_id']);
    // Even a request that pins the value itself is refused: the policy bound cannot be computed.
    const pinned = await refund([mcp(BILLING, [REFUND], { amount: { maximum: 1 }, currency: { const: 'EUR' }, customer_id: { const: 'c-42' } })], carol);
    assert.deepEqual([pinned.status, pinned.body], [400, UNRESOLVABLE]);
  });
});

describe('policy argument constraints in config', () => {
  const withArguments = (args: unknown) => {
    const base = testConfig(3000, 'p:', '/tmp');
    return { ...base, agents: [{ clientId: 'agent', toolServers: [{ resource: BILLING, scopes: [REFUND], arguments: args }] }] };
  };
  const refusal = (args: unknown): string => {
    try {
      parseConfig(withArguments(args));
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };

  it('accepts the subset with references in const and enum, and refuses anything else at boot', () => {
    assert.equal(refusal({ [REFUND]: { amount: { maximum: 5000 }, customer_id: { enum: ['${subject.customer_id}', 'c-0'] } } }), 'accepted');
    assert.match(refusal({ [REFUND]: { amount: { maximum: 5000, pattern: 'x' } } }), /billing\.issue_refund\/amount: unknown keyword pattern/);
    assert.match(refusal({ [LOOKUP]: { amount: { maximum: 1 } } }), /billing\.refund_lookup: not one of the rule's scopes/);
    assert.match(refusal({ [REFUND]: { customer_id: { const: 'x-${subject.customer_id}' } } }), /is not a \$\{subject\.<claim>\} reference/);
    assert.match(refusal({ [REFUND]: { customer_id: { const: '${user.customer_id}' } } }), /is not a \$\{subject\.<claim>\} reference/);
    assert.match(refusal({ [REFUND]: { amount: { maximum: '${subject.limit}' } } }), /maximum is not a number/);
    // The authorization code flow carries a rule's limits too (test/grants/authorization_code/code_flow.test.ts), so an
    // onboarded client's rule may constrain arguments, checked like any other rule's.
    const onboarded = (args: unknown) => ({ ...withArguments(undefined), onboardedClients: [{ dynamicallyRegistered: true, toolServers: [{ resource: BILLING, scopes: [REFUND], arguments: { [REFUND]: args } }] }] });
    assert.deepEqual(parseConfig(onboarded({ amount: { maximum: 1 } })).onboardedClients[0]!.toolServers[0]!.arguments, { [REFUND]: { amount: { maximum: 1 } } });
    assert.throws(() => parseConfig(onboarded({ amount: { pattern: 'x' } })), /billing\.issue_refund\/amount: unknown keyword pattern/);
  });
});
