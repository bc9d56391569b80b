// The delegation policy: (agent, user, tool server, requested scopes) -> decision with reasons. Deny by default.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Policy, type PolicyInput } from '../../src/policy/decide.js';
import type { ToolServerConfig } from '../../src/config/schema.js';

const CRM: ToolServerConfig = { resource: 'https://tools.example/crm', audiences: ['crm'], scopes: ['crm.read', 'crm.export', 'crm.write'], maxTtlSeconds: 300 };
const BILLING: ToolServerConfig = { resource: 'https://tools.example/billing', audiences: [], scopes: ['billing.read'], maxTtlSeconds: 120 };
/** The same tool server with its own limit: only finance users may ever hold its tokens. */
const LIMITED: ToolServerConfig = { ...BILLING, resource: 'https://tools.example/ledger', allowedGroups: ['finance'] };

const policy = new Policy([
  {
    clientId: 'agent',
    subjectClients: ['web-app'],
    toolServers: [
      { resource: CRM.resource, scopes: ['crm.read', 'crm.export'], defaultScopes: ['crm.read'] },
      { resource: BILLING.resource, scopes: ['billing.read'], groups: ['finance', 'audit'] },
    ],
  },
  { clientId: 'lister', subjectClients: [], toolServers: [{ resource: CRM.resource, scopes: ['crm.read', 'crm.export'] }] },
  // A rule with no group limit of its own (like a tool server's hop rule).
  { clientId: 'hopper', subjectClients: [], toolServers: [{ resource: LIMITED.resource, scopes: ['billing.read'] }] },
], [CRM, BILLING, LIMITED]);

const input = (over: Partial<PolicyInput> = {}): PolicyInput => ({
  agent: 'agent',
  toolServer: CRM,
  userGroups: [],
  subjectScopes: new Set(['crm.read', 'crm.export', 'crm.write', 'billing.read']),
  requested: undefined,
  ...over,
});

describe('Policy.decide', () => {
  it('an agent without a policy: invalid_target agent_not_allowed_for_tool_server (deny by default)', () => {
    assert.deepEqual(policy.decide(input({ agent: 'stranger' })), { allowed: false, error: 'invalid_target', reasons: ['agent_not_allowed_for_tool_server'] });
  });

  it('an agent without a rule for this tool server: invalid_target agent_not_allowed_for_tool_server', () => {
    assert.deepEqual(policy.decide(input({ agent: 'lister', toolServer: BILLING })), { allowed: false, error: 'invalid_target', reasons: ['agent_not_allowed_for_tool_server'] });
  });

  it('a user in none of the rule groups: invalid_request user_not_in_allowed_groups', () => {
    for (const userGroups of [[], ['support'], ['Finance']]) {
      assert.deepEqual(policy.decide(input({ toolServer: BILLING, userGroups })), { allowed: false, error: 'invalid_request', reasons: ['user_not_in_allowed_groups'] });
    }
  });

  it('a user in any one of the rule groups is allowed', () => {
    assert.deepEqual(policy.decide(input({ toolServer: BILLING, userGroups: ['support', 'audit'] })), { allowed: true, scopes: ['billing.read'], reasons: ['default_scopes'] });
  });

  it('toolServers[].allowedGroups: a user in none of them is refused even when the rule sets no groups (user_not_in_tool_server_groups)', () => {
    for (const userGroups of [[], ['support'], ['Finance']]) {
      assert.deepEqual(policy.decide(input({ agent: 'hopper', toolServer: LIMITED, userGroups })), { allowed: false, error: 'invalid_request', reasons: ['user_not_in_tool_server_groups'] });
    }
    assert.deepEqual(policy.decide(input({ agent: 'hopper', toolServer: LIMITED, userGroups: ['support', 'finance'] })), { allowed: true, scopes: ['billing.read'], reasons: ['default_scopes'] });
  });

  it('toolServers[].allowedGroups never lets an agent without a rule in (invalid_target first)', () => {
    assert.deepEqual(policy.decide(input({ agent: 'lister', toolServer: LIMITED, userGroups: ['finance'] })), { allowed: false, error: 'invalid_target', reasons: ['agent_not_allowed_for_tool_server'] });
  });

  it('carriedGroups: only the groups a rule or a tool server limit names, once each', () => {
    assert.deepEqual(policy.carriedGroups(['support', 'finance', 'finance', 'audit', 'x'.repeat(1000)]), ['finance', 'audit']);
    assert.deepEqual(policy.carriedGroups(['support']), []);
    assert.deepEqual(new Policy([], [LIMITED]).carriedGroups(['audit', 'finance']), ['finance']);
  });

  it('no scope requested: the rule default set, narrowed to the subject grant (default_scopes)', () => {
    assert.deepEqual(policy.decide(input()), { allowed: true, scopes: ['crm.read'], reasons: ['default_scopes'] });
  });

  it('no scope requested and no defaultScopes: the rule scopes, narrowed to the subject grant, never "everything"', () => {
    assert.deepEqual(policy.decide(input({ agent: 'lister', subjectScopes: new Set(['crm.export', 'crm.write']) })), { allowed: true, scopes: ['crm.export'], reasons: ['default_scopes'] });
  });

  it('no scope requested, and the subject grant holds none of the defaults: invalid_scope no_default_scope_in_subject_grant', () => {
    assert.deepEqual(policy.decide(input({ subjectScopes: new Set(['crm.export']) })), { allowed: false, error: 'invalid_scope', reasons: ['no_default_scope_in_subject_grant'] });
  });

  it('a scope the tool server does not accept: invalid_scope scope_not_accepted_by_tool_server', () => {
    assert.deepEqual(policy.decide(input({ requested: ['billing.read'] })), { allowed: false, error: 'invalid_scope', reasons: ['scope_not_accepted_by_tool_server'] });
  });

  it('a scope beyond the agent policy: invalid_scope scope_not_in_agent_policy', () => {
    assert.deepEqual(policy.decide(input({ requested: ['crm.write'] })), { allowed: false, error: 'invalid_scope', reasons: ['scope_not_in_agent_policy'] });
  });

  it('a scope beyond the subject grant: invalid_scope scope_not_in_subject_grant', () => {
    assert.deepEqual(policy.decide(input({ requested: ['crm.export'], subjectScopes: new Set(['crm.read']) })), { allowed: false, error: 'invalid_scope', reasons: ['scope_not_in_subject_grant'] });
  });

  it('several problems: every reason once, and nothing is granted', () => {
    const decision = policy.decide(input({ requested: ['crm.write', 'billing.read', 'crm.export', 'other'], subjectScopes: new Set(['crm.read']) }));
    assert.deepEqual(decision, { allowed: false, error: 'invalid_scope', reasons: ['scope_not_in_agent_policy', 'scope_not_accepted_by_tool_server', 'scope_not_in_subject_grant'] });
  });

  it('requested scopes inside all three sets: granted as requested, duplicates once (requested_scopes_granted)', () => {
    assert.deepEqual(policy.decide(input({ requested: ['crm.export', 'crm.read', 'crm.export'] })), { allowed: true, scopes: ['crm.export', 'crm.read'], reasons: ['requested_scopes_granted'] });
  });

  it('scopes compare case-sensitively', () => {
    assert.equal(policy.decide(input({ requested: ['CRM.read'] })).allowed, false);
  });

  it('defaultScopes outside the rule scopes are never granted by default', () => {
    const loose = new Policy([{ clientId: 'agent', subjectClients: [], toolServers: [{ resource: CRM.resource, scopes: ['crm.read'], defaultScopes: ['crm.read', 'crm.write'] }] }], [CRM]);
    assert.deepEqual(loose.decide(input()), { allowed: true, scopes: ['crm.read'], reasons: ['default_scopes'] });
  });

  it('subjectClients: the other clients whose user tokens an agent may exchange; none by default', () => {
    assert.deepEqual(policy.subjectClients('agent'), ['web-app']);
    assert.deepEqual(policy.subjectClients('lister'), []);
    assert.deepEqual(policy.subjectClients('stranger'), []);
  });
});
