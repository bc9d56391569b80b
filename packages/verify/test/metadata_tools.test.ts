// RFC 9728 metadata document and path (MD-03, MCP-06), and per-tool scope helpers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  filterTools,
  protectedResourceMetadata,
  resourceMetadataPath,
  resourceMetadataUrl,
  toolAllowed,
} from 'delegation-token-verify';

describe('resourceMetadataPath / resourceMetadataUrl (RFC 9728 §3.1)', () => {
  it('inserts the well-known suffix between host and path', () => {
    assert.equal(resourceMetadataPath('https://tools.example/mcp'), '/.well-known/oauth-protected-resource/mcp');
    assert.equal(resourceMetadataPath('https://tools.example/a/b'), '/.well-known/oauth-protected-resource/a/b');
    assert.equal(resourceMetadataPath('https://tools.example'), '/.well-known/oauth-protected-resource');
    assert.equal(resourceMetadataPath('https://tools.example/'), '/.well-known/oauth-protected-resource');
    assert.equal(resourceMetadataPath('https://tools.example/mcp?t=1'), '/.well-known/oauth-protected-resource/mcp?t=1');
    assert.equal(
      resourceMetadataUrl('https://tools.example:8443/mcp'),
      'https://tools.example:8443/.well-known/oauth-protected-resource/mcp',
    );
  });
  it('refuses a relative or fragment-carrying resource', () => {
    assert.throws(() => resourceMetadataPath('tools.example/mcp'), TypeError);
    assert.throws(() => resourceMetadataPath('https://tools.example/mcp#x'), TypeError);
  });
});

describe('protectedResourceMetadata (RFC 9728 §2)', () => {
  it('builds the document with the exact resource and the STS issuer (MCP-06)', () => {
    assert.deepEqual(
      protectedResourceMetadata({
        resource: 'https://tools.example/mcp',
        authorizationServers: ['https://sts.example'],
        scopesSupported: ['crm.lookup_customer', 'crm.export_customers'],
        resourceName: 'CRM tools',
      }),
      {
        resource: 'https://tools.example/mcp',
        authorization_servers: ['https://sts.example'],
        bearer_methods_supported: ['header'],
        scopes_supported: ['crm.lookup_customer', 'crm.export_customers'],
        resource_name: 'CRM tools',
      },
    );
  });
  it('omits empty arrays and requires an authorization server', () => {
    const doc = protectedResourceMetadata({ resource: 'https://t.example/', authorizationServers: ['https://sts.example'], scopesSupported: [] });
    assert.equal('scopes_supported' in doc, false);
    assert.throws(() => protectedResourceMetadata({ resource: 'https://t.example/', authorizationServers: [] }), TypeError);
  });
});

describe('per-tool scopes', () => {
  const scopes = ['crm.lookup_customer'];
  it('allows a tool only when its exact name is granted', () => {
    assert.equal(toolAllowed(scopes, 'crm.lookup_customer'), true);
    assert.equal(toolAllowed(scopes, 'crm.export_customers'), false);
    assert.equal(toolAllowed(scopes, 'CRM.lookup_customer'), false);
    assert.equal(toolAllowed(['crm.*'], 'crm.lookup_customer'), false);
    assert.equal(toolAllowed([''], ''), false);
  });
  it('filters tools/list', () => {
    const tools = [{ name: 'crm.lookup_customer', description: 'a' }, { name: 'crm.export_customers', description: 'b' }];
    assert.deepEqual(filterTools(tools, scopes), [{ name: 'crm.lookup_customer', description: 'a' }]);
    assert.deepEqual(filterTools(tools, []), []);
  });
});
