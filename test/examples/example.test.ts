// The example (npm run example) as an end-to-end test: real Redis, the STS over HTTP, MCP SDK servers and client.
// It runs as a child process (`examples/run.ts --json`: the narration on stderr, the run as JSON on stdout).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { runExampleProcess } from '../helpers/example_process.js';

/** What `examples/run.ts --json` prints: only the parts asserted here. */
interface ExampleRun {
  issuer: string;
  crmResource: string;
  billingResource: string;
  keyPrefix: string;
  steps: Record<string, any>;
  gatewayResource: string;
  gatewaySteps: Record<string, any>;
  gatewayUpstream: { toolCalls: Array<{ name: string; arguments: Record<string, unknown> }>; withAuthorization: number };
  billingDecisions: Array<Record<string, any>>;
  mcpClient: Record<string, any>;
}

async function runExample(store: string): Promise<{ run: ExampleRun; lines: string[] }> {
  const r = await runExampleProcess('examples/run.ts', ['--json'], store === 'memory' ? { EXAMPLE_STORE: 'memory' } : { REDIS_URL: store, EXAMPLE_STORE: '' });
  assert.equal(r.code, 0, r.stderr);
  return { run: JSON.parse(r.stdout) as ExampleRun, lines: r.stderr.split('\n') };
}

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const AT = 'urn:ietf:params:oauth:token-type:access_token';
const metadataUrl = (resource: string) => `${new URL(resource).origin}/.well-known/oauth-protected-resource/mcp`;

async function keysUnder(prefix: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL);
  try {
    return await redis.keys(`${prefix}*`);
  } finally {
    redis.disconnect();
  }
}

function assertRun(run: ExampleRun): void {
  const { steps, crmResource } = run;
  const sid = String(steps.exchange.claims.sid);
  assert.match(sid, /^\S+$/);

  assert.equal(steps.login.username, 'bob');
  assert.deepEqual(steps.login.scope.split(' ').sort(), ['billing.issue_refund', 'billing.refund_lookup', 'crm.export_customers', 'crm.lookup_customer']);

  // Issue 13: every token of the agent is DPoP-bound to its key (openid-client's getDPoPHandle).
  const agentJkt = steps.agentJkt as string;
  assert.match(agentJkt, /^[\w-]{43}$/);
  assert.deepEqual(steps.exchange, {
    scope: 'crm.lookup_customer billing.refund_lookup',
    issuedTokenType: AT,
    tokenType: 'dpop',
    expiresIn: 300,
    claims: { sub: 'user-bob', aud: crmResource, scope: 'crm.lookup_customer billing.refund_lookup', act: { sub: 'demo-agent' }, sid, cnf: { jkt: agentJkt } },
  });

  assert.deepEqual(steps.tools, ['crm.lookup_customer']);

  // The CRM server's hop to billing is bound to the CRM server's own key, not the agent's.
  const crmJkt = steps.lookup.billing.caller.jkt as string;
  assert.match(crmJkt, /^[\w-]{43}$/);
  assert.notEqual(crmJkt, agentJkt);
  assert.deepEqual(steps.lookup, {
    tool: 'crm.lookup_customer',
    caller: { sub: 'user-bob', sid, clientId: 'demo-agent', actors: [{ sub: 'demo-agent' }], jkt: agentJkt },
    customer: { id: 'cus_1001', name: 'Ada Lovelace', email: 'ada@example.com', plan: 'enterprise' },
    billing: {
      tool: 'billing.refund_lookup',
      // Billing got a token of its own (client crm-server), not the agent's: sub is the user, act is crm-server → agent.
      caller: { sub: 'user-bob', sid, clientId: 'crm-server', actors: [{ sub: 'crm-server' }, { sub: 'demo-agent' }], jkt: crmJkt },
      customerId: 'cus_1001',
      refunds: [{ id: 're_5001', amount: 4900, currency: 'EUR', status: 'succeeded' }],
    },
  });

  // A copy of the CRM token without the agent's key is refused (RFC 9449 §7.1, §7.2).
  const dpopChallenge = (error: string, description: string) =>
    `DPoP error="${error}", error_description="${description}", algs="ES256 EdDSA RS256 PS256", resource_metadata="${metadataUrl(crmResource)}"`;
  assert.deepEqual(steps.stolen, {
    asBearer: {
      status: 401,
      challenge: dpopChallenge('invalid_token', 'sender-constrained token presented as bearer'),
      body: { error: 'invalid_token', error_description: 'sender-constrained token presented as bearer' },
    },
    withOtherKey: {
      status: 401,
      challenge: dpopChallenge('invalid_dpop_proof', 'DPoP proof key does not match the token'),
      body: { error: 'invalid_dpop_proof', error_description: 'DPoP proof key does not match the token' },
    },
  });

  assert.deepEqual(steps.exportRefused, {
    status: 403,
    challenge: `DPoP error="insufficient_scope", scope="crm.export_customers", algs="ES256 EdDSA RS256 PS256", resource_metadata="${metadataUrl(crmResource)}"`,
    body: { error: 'insufficient_scope', error_description: 'insufficient scope' },
  });

  // Issue 10: the billing token carries the policy's refund limit; the billing server's verify SDK enforces it per call.
  const { billingResource } = run;
  const limit = [{ type: 'mcp_tool', locations: [billingResource], actions: ['billing.issue_refund'], arguments: { amount: { maximum: 5000 } } }];
  assert.deepEqual(steps.refund.exchange, {
    scope: 'billing.issue_refund',
    authorizationDetails: limit,
    claims: { aud: billingResource, scope: 'billing.issue_refund', authorization_details: limit },
  });
  assert.deepEqual(steps.refund.allowed.refund, { id: 're_5002', customerId: 'cus_1001', amount: 3000, currency: 'EUR', status: 'pending' });
  assert.deepEqual(steps.refund.refused, {
    status: 403,
    challenge: `DPoP error="insufficient_authorization_details", algs="ES256 EdDSA RS256 PS256", resource_metadata="${metadataUrl(billingResource)}"`,
    body: {
      error: 'insufficient_authorization_details',
      error_description: 'arguments outside the authorized limits',
      tool: 'billing.issue_refund',
      violations: [{ argument: 'amount', path: '/amount', keyword: 'maximum', limit: 5000 }],
    },
  });
  // The billing server's decision hook: the CRM hop's lookup, then the two refunds; arguments only as an HMAC.
  const decisions = run.billingDecisions.map(({ time, arguments_hmac, jti, ...rest }) => {
    assert.match(time, /^\d{4}-\d\d-\d\dT/);
    assert.match(arguments_hmac, /^[\w-]{43}$/);
    assert.match(jti, /^\S+$/);
    return rest;
  });
  const who = { sub: 'user-bob', sid };
  assert.deepEqual(decisions, [
    { ...who, actors: [{ sub: 'crm-server' }, { sub: 'demo-agent' }], client_id: 'crm-server', tool: 'billing.refund_lookup', decision: 'allow', reasons: [] },
    { ...who, actors: [{ sub: 'demo-agent' }], client_id: 'demo-agent', tool: 'billing.issue_refund', decision: 'allow', reasons: [] },
    {
      ...who, actors: [{ sub: 'demo-agent' }], client_id: 'demo-agent', tool: 'billing.issue_refund', decision: 'deny',
      reasons: ['insufficient_authorization_details'], violations: [{ argument: 'amount', path: '/amount', keyword: 'maximum', limit: 5000 }],
    },
    // The last step's CRM hop, for the MCP client that onboarded itself by Client ID Metadata Document.
    { sub: 'user-bob', sid: run.mcpClient.token.claims.sid, actors: [{ sub: 'crm-server' }, { sub: run.mcpClient.clientId }], client_id: 'crm-server', tool: 'billing.refund_lookup', decision: 'allow', reasons: [] },
  ]);
  assert.notEqual(run.billingDecisions[1]!.arguments_hmac, run.billingDecisions[2]!.arguments_hmac);

  assert.equal(steps.revocation.status, 200);
  assert.equal(steps.revocation.sid, sid);
  assert.deepEqual(
    (({ kind, value, created }) => ({ kind, value, created }))(steps.revocation.body as Record<string, unknown>),
    { kind: 'sid', value: sid, created: true },
  );

  const { afterMs, ...after } = steps.afterRevocation;
  assert.ok(afterMs < 5000);
  assert.deepEqual(after, {
    status: 401,
    challenge: dpopChallenge('invalid_token', 'token revoked'),
    body: { error: 'invalid_token', error_description: 'token revoked' },
  });

  // Issue 11: the plain MCP server (no auth) behind the enforcement gateway; every decision is the gateway's.
  const g = run.gatewaySteps;
  const resource = run.gatewayResource;
  const gatewayMetadata = `${new URL(resource).origin}/.well-known/oauth-protected-resource/plain/mcp`;
  const gwSid = g.exchange.sid;
  assert.notEqual(gwSid, sid, 'a login of its own: the first session was revoked');
  assert.deepEqual(g.exchange, {
    scope: 'lookup_customer issue_refund',
    authorizationDetails: [{ type: 'mcp_tool', locations: [resource], actions: ['issue_refund'], arguments: { amount: { maximum: 5000 } } }],
    sid: gwSid,
  });
  assert.deepEqual(g.tools, ['issue_refund', 'lookup_customer']);
  assert.deepEqual(g.lookup, { customerId: 'cus_1001', name: 'Ada Lovelace', plan: 'enterprise' });
  assert.deepEqual(g.assertion.header.typ, 'delegation-assertion+jwt');
  assert.equal(g.assertion.header.alg, 'ES256');
  const { iat, exp, jti, delegation_jti, aud, iss, ...claims } = g.assertion.claims;
  assert.ok(exp - iat > 0 && exp - iat <= 60);
  assert.match(jti, /^\S+$/);
  assert.match(delegation_jti, /^\S+$/);
  assert.notEqual(jti, delegation_jti);
  assert.equal(iss, new URL(resource).origin);
  assert.match(aud, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  assert.deepEqual(claims, { sub: 'user-bob', sid: gwSid, client_id: 'demo-agent', act: { sub: 'demo-agent' }, scope: 'lookup_customer issue_refund', tool: 'lookup_customer' });
  assert.deepEqual(g.refund, { refunded: 3000, customerId: 'cus_1001' });
  assert.deepEqual(g.argumentRefused, {
    status: 403,
    challenge: `Bearer error="insufficient_authorization_details", resource_metadata="${gatewayMetadata}"`,
    body: {
      error: 'insufficient_authorization_details',
      error_description: 'arguments outside the authorized limits',
      tool: 'issue_refund',
      violations: [{ argument: 'amount', path: '/amount', keyword: 'maximum', limit: 5000 }],
    },
  });
  assert.deepEqual(g.toolRefused, {
    status: 403,
    challenge: `Bearer error="insufficient_scope", scope="export_customers", resource_metadata="${gatewayMetadata}"`,
    body: { error: 'insufficient_scope', error_description: 'insufficient scope' },
  });
  assert.equal(g.revocation.status, 200);
  const { afterMs: gwAfterMs, ...gwAfter } = g.afterRevocation;
  assert.ok(gwAfterMs < 5000);
  assert.deepEqual(gwAfter, {
    status: 401,
    challenge: `Bearer error="invalid_token", error_description="token revoked", resource_metadata="${gatewayMetadata}"`,
    body: { error: 'invalid_token', error_description: 'token revoked' },
  });
  // Upstream ran exactly the allowed calls, and never saw a bearer token.
  assert.deepEqual(run.gatewayUpstream, {
    toolCalls: [
      { name: 'lookup_customer', arguments: { customerId: 'cus_1001' } },
      { name: 'issue_refund', arguments: { customerId: 'cus_1001', amount: 3000 } },
    ],
    withAuthorization: 0,
  });

  // Issue 12: an MCP client not in the configuration onboards itself by Client ID Metadata Document with the
  // unmodified MCP SDK auth() (login and consent page over HTTP) and calls a CRM tool as the user, itself the actor.
  const m = run.mcpClient;
  const clientId = m.clientId as string;
  assert.match(clientId, /^https:\/\/127\.0\.0\.1:\d+\/example-mcp-client\.json$/);
  assert.deepEqual(m.consent, {
    clientName: 'Example MCP client',
    clientIdHost: new URL(clientId).host,
    redirectHost: '127.0.0.1:8977',
    tools: ['crm.lookup_customer', 'billing.refund_lookup'],
    localhostWarning: true,
  });
  assert.equal(m.iss, run.issuer);
  const mSid = m.token.claims.sid as string;
  assert.match(mSid, /^\S+$/);
  assert.ok(mSid !== sid && mSid !== gwSid, 'a login of its own');
  // The SDK asked for the CRM server's scopes_supported (RFC 9728); the onboardedClients rule granted two of them.
  assert.deepEqual(m.token, {
    scope: 'crm.lookup_customer billing.refund_lookup',
    hasRefreshToken: false,
    claims: { sub: 'user-bob', aud: crmResource, scope: 'crm.lookup_customer billing.refund_lookup', act: { sub: clientId }, sid: mSid, client_id: clientId },
  });
  assert.deepEqual(m.tools, ['crm.lookup_customer']);
  assert.deepEqual(m.crmSaw, { sub: 'user-bob', sid: mSid, clientId, actors: [{ sub: clientId }] });
  assert.match(m.billingSaw.jkt, /^[\w-]{43}$/);
  assert.deepEqual(m.billingSaw, { sub: 'user-bob', sid: mSid, clientId: 'crm-server', actors: [{ sub: 'crm-server' }, { sub: clientId }], jkt: m.billingSaw.jkt });
}

describe('example: agent → CRM → billing with delegation tokens', () => {
  it('runs every step against Redis, prints them, and leaves no keys behind', { timeout: 30_000 }, async () => {
    const { run, lines } = await runExample(REDIS_URL);
    assertRun(run);
    const titles = lines.filter((l) => l.startsWith('== ')).map((l) => l.trim().split('.')[0]);
    assert.deepEqual(titles, Array.from({ length: 19 }, (_, i) => `== ${i + 1}`));
    assert.ok(lines.some((l) => l.includes('Delegation-Assertion claims (verified against') && l.includes('"tool":"lookup_customer"')));
    // The decision lines of the allowed and the refused refund are shown in the narration.
    const refundLines = lines.filter((l) => l.includes('billing decision line:') && l.includes('"tool":"billing.issue_refund"'));
    assert.equal(refundLines.length, 2);
    assert.match(refundLines[0]!, /"decision":"allow"/);
    assert.match(refundLines[1]!, /"decision":"deny","reasons":\["insufficient_authorization_details"\]/);
    assert.ok(!refundLines.join('\n').includes('50000'), 'raw arguments are not in the decision lines');
    assert.ok(lines.some((l) => l.includes('billing saw  sub=user-bob') && l.endsWith('act: crm-server → demo-agent')));
    assert.ok(lines.includes(`   CRM saw      sub=user-bob act: ${run.mcpClient.clientId}`));
    assert.deepEqual(await keysUnder(run.keyPrefix), []);
  });

  it('runs the same with the in-memory store (EXAMPLE_STORE=memory)', { timeout: 30_000 }, async () => {
    assertRun((await runExample('memory')).run);
  });
});
