// The default policy for MCP clients onboarded by CIMD or DCR (config `onboardedClients`): matched by client id host or
// registration, never for a client registered in config; deny by default.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Policy } from '../../src/policy/decide.js';
import type { ToolServerConfig } from '../../src/config/schema.js';

const CRM = { resource: 'https://tools.example/crm', audiences: [], scopes: ['crm.read', 'crm.export'], maxTtlSeconds: 300 } as unknown as ToolServerConfig;
const BILLING = { resource: 'https://tools.example/billing', audiences: [], scopes: ['billing.read'], maxTtlSeconds: 120 } as unknown as ToolServerConfig;

const policy = new Policy(
  [{ clientId: 'configured', subjectClients: [], toolServers: [{ resource: BILLING.resource, scopes: ['billing.read'] }] }],
  [CRM, BILLING],
  [
    { clientIdHosts: ['claude.ai', '*.vscode.dev'], dynamicallyRegistered: false, toolServers: [{ resource: CRM.resource, scopes: ['crm.read'] }] },
    { clientIdHosts: [], dynamicallyRegistered: true, toolServers: [{ resource: BILLING.resource, scopes: ['billing.read'], groups: ['finance'] }] },
  ],
  ['configured', 'https://claude.ai/configured.json'],
);

const decide = (agent: string, toolServer: ToolServerConfig, userGroups: string[] = []) =>
  policy.decide({ agent, toolServer, userGroups, subjectScopes: new Set(toolServer.scopes), requested: undefined });

describe('onboarded client policy', () => {
  it('a CIMD client matches by the host of its https client_id (exact, or a subdomain of a *. pattern)', () => {
    assert.deepEqual(policy.scopesFor('https://claude.ai/oauth/client.json', CRM), ['crm.read']);
    assert.deepEqual(policy.scopesFor('https://insiders.vscode.dev/client.json', CRM), ['crm.read']);
    assert.deepEqual(decide('https://claude.ai/oauth/client.json', CRM), { allowed: true, scopes: ['crm.read'], reasons: ['default_scopes'] });
  });

  it('no match: another host, the bare domain of a *. pattern, http, a host suffix trick → nothing (invalid_target)', () => {
    for (const id of ['https://evil.example/client.json', 'https://vscode.dev/c.json', 'http://claude.ai/c.json', 'https://notclaude.ai/c.json', 'https://claude.ai.evil.example/c.json']) {
      assert.deepEqual(policy.scopesFor(id, CRM), [], id);
    }
    assert.deepEqual(decide('https://evil.example/client.json', CRM), { allowed: false, error: 'invalid_target', reasons: ['agent_not_allowed_for_tool_server'] });
  });

  it('a DCR client (no host in its id) gets the dynamicallyRegistered rule, with its groups', () => {
    assert.deepEqual(policy.scopesFor('0f3c9a7e-dcr-client', BILLING), ['billing.read']);
    assert.deepEqual(policy.scopesFor('0f3c9a7e-dcr-client', CRM), []);
    assert.equal(decide('0f3c9a7e-dcr-client', BILLING, ['support']).allowed, false);
    assert.equal(decide('0f3c9a7e-dcr-client', BILLING, ['finance']).allowed, true);
    assert.deepEqual(policy.carriedGroups(['finance', 'other']), ['finance']);
  });

  it('a client registered in config never falls back to an onboarded rule, whatever its id looks like', () => {
    assert.deepEqual(policy.scopesFor('configured', CRM), []);
    assert.deepEqual(policy.scopesFor('https://claude.ai/configured.json', CRM), []);
    assert.deepEqual(policy.scopesFor('configured', BILLING), ['billing.read']);
  });
});
