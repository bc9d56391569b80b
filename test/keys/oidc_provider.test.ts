// privateJwks is what the service hands to oidc-provider: check that it accepts it and publishes what we publish.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import Provider from 'oidc-provider';
import { loadOrCreateKeys, rotateKeyFile, SIGNING_ALGS } from '../../src/keys/index.js';
import { tempDir } from './temp_dir.js';

for (const alg of SIGNING_ALGS) {
  test(`oidc-provider ${alg}: accepts privateJwks and serves the same public keys at jwks_uri`, async (t) => {
    const file = join(await tempDir(t), 'jwks.json');
    await loadOrCreateKeys({ file, alg });
    await rotateKeyFile({ file });
    const keys = await loadOrCreateKeys({ file, alg });

    const provider = new Provider('http://localhost', {
      jwks: keys.privateJwks,
      features: { devInteractions: { enabled: false } },
    });
    const server = createServer(provider.callback()).listen(0, '127.0.0.1');
    t.after(() => server.close());
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;

    const response = await fetch(`http://127.0.0.1:${port}/jwks`);
    assert.equal(response.status, 200);
    const served = (await response.json()) as { keys: Array<Record<string, unknown>> };
    assert.deepEqual(
      served.keys.map((jwk) => jwk['kid']),
      keys.publicJwks.keys.map((jwk) => jwk.kid),
    );
    for (const [index, jwk] of served.keys.entries()) {
      assert.deepEqual(jwk, { ...keys.publicJwks.keys[index] });
    }
  });
}
