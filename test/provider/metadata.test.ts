// RFC 8414 authorization server metadata and the published JWKS (MD-01, MD-02).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startService, type TestService } from '../helpers/service.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

/** Every array anywhere in a JSON value, with its path. */
function arrays(value: unknown, path = '$'): Array<[string, unknown[]]> {
  if (Array.isArray(value)) return [[path, value], ...value.flatMap((v, i) => arrays(v, `${path}[${i}]`))];
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => arrays(v, `${path}.${k}`));
  return [];
}

describe('authorization server metadata and JWKS', () => {
  let svc: TestService;
  const documents: Record<string, Record<string, unknown>> = {};

  before(async () => {
    svc = await startService();
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const res = await fetch(`${svc.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      documents[path] = (await res.json()) as Record<string, unknown>;
    }
  });
  after(() => svc.stop());

  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    it(`MD-01 ${path}: issuer is exactly the issuer the URL was built from (RFC 8414 §3.3)`, () => {
      assert.equal(documents[path]!.issuer, svc.url);
      const issuer = new URL(documents[path]!.issuer as string);
      assert.equal(issuer.search, '');
      assert.equal(issuer.hash, '');
    });

    it(`MD-01 ${path}: token exchange is listed in grant_types_supported`, () => {
      assert.ok((documents[path]!.grant_types_supported as string[]).includes(EXCHANGE));
    });

    it(`MD-01 ${path}: required and expected members are there, endpoints under the issuer`, () => {
      const doc = documents[path]!;
      for (const member of ['token_endpoint', 'jwks_uri', 'response_types_supported', 'token_endpoint_auth_methods_supported', 'introspection_endpoint', 'revocation_endpoint']) {
        assert.ok(doc[member] !== undefined, member);
      }
      assert.equal(doc.token_endpoint, `${svc.url}/token`);
      assert.equal(doc.jwks_uri, `${svc.url}/jwks`);
      for (const method of doc.token_endpoint_auth_methods_supported as string[]) {
        assert.ok(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'].includes(method), method);
      }
    });

    it(`MD-01 ${path}: no empty arrays anywhere`, () => {
      const empty = arrays(documents[path]).filter(([, a]) => a.length === 0).map(([p]) => p);
      assert.deepEqual(empty, []);
    });

    it(`MD-01 ${path}: \`none\` in no *_signing_alg_values_supported list`, () => {
      const lists = Object.entries(documents[path]!).filter(([k]) => k.endsWith('_signing_alg_values_supported'));
      assert.ok(lists.length > 0);
      for (const [name, algs] of lists) {
        assert.ok(Array.isArray(algs), name);
        assert.equal((algs as string[]).some((a) => a.toLowerCase() === 'none'), false, name);
      }
    });

    it(`MD-01 ${path}: dpop_signing_alg_values_supported lists the configured proof algorithms (RFC 9449 §5.1)`, () => {
      assert.deepEqual(documents[path]!.dpop_signing_alg_values_supported, ['ES256', 'Ed25519', 'EdDSA']);
    });
  }

  it('pushed authorization requests (RFC 9126) are off: not advertised, and POST /request is a plain 404', async () => {
    for (const doc of Object.values(documents)) {
      assert.equal('pushed_authorization_request_endpoint' in doc, false);
      assert.equal('require_pushed_authorization_requests' in doc, false);
    }
    const res = await fetch(`${svc.url}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'agent', response_type: 'code' }),
    });
    assert.equal(res.status, 404);
    assert.equal(await res.text(), 'Not Found');
  });

  it('MD-01 both documents say the same', () => {
    assert.deepEqual(documents['/.well-known/oauth-authorization-server'], documents['/.well-known/openid-configuration']);
  });

  it('MD-02 /jwks holds public signing keys only, each with kid, alg and use=sig', async () => {
    const res = await fetch(`${svc.url}/jwks`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/jwk-set\+json/);
    const { keys } = (await res.json()) as { keys: Array<Record<string, unknown>> };
    assert.ok(keys.length > 0);
    const kids = new Set<string>();
    for (const key of keys) {
      for (const member of PRIVATE_MEMBERS) assert.equal(key[member], undefined, `${String(key.kid)} has ${member}`);
      assert.notEqual(key.kty, 'oct');
      assert.equal(typeof key.kid, 'string');
      assert.ok(!kids.has(key.kid as string), 'kids are unique');
      kids.add(key.kid as string);
      assert.equal(typeof key.alg, 'string');
      assert.notEqual(String(key.alg).toLowerCase(), 'none');
      assert.equal(key.use, 'sig');
    }
  });

  it('MD-02 the signing key of issued tokens is in /jwks', async () => {
    const res = await fetch(`${svc.url}/jwks`);
    const { keys } = (await res.json()) as { keys: Array<{ kid: string }> };
    assert.ok(keys.some((k) => k.kid === svc.service.keys.signing.kid));
  });
});
