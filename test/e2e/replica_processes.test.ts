// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// Three service PROCESSES (src/main.ts, each its own child) on one store, single Redis and Redis Cluster: the same
// keys dir, key prefix, client secrets and issuer, as replicas behind a load balancer. A user logs in on replica 1
// (the dev login over HTTP), exchanges on replica 2, is revoked on replica 3 through the admin API; every replica
// refuses the session's next exchange, its delegation introspection answers active:false, and a feed-mode verifier
// attached to each replica refuses within 100 ms of the revoke response. (replicas.test.ts runs the same flow with
// in-process instances; this one proves nothing is shared through process memory.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import { VerifyError, type Verifier } from 'delegation-token-verify';
import { replicaFeedVerifier } from '../../tools/replica_verifier.js';
import { deleteKeysWithPrefix, freePort } from '../../tools/local.js';
import { CRM, REDIS_URL, testConfig, type TestService } from '../helpers/service.js';
import { exchangeFor, loginUser, postForm, revokeSessionViaAdmin } from '../helpers/http.js';
import { connectTestCluster, deleteClusterKeysWithPrefix, testCluster } from '../helpers/redis_cluster.js';
import { startService as spawnService, stopService, waitReady, writeConfig } from '../main/spawn_service.js';

const CLIENT_IDS = ['agent', 'agent2', 'crm-server', 'billing-server', 'admin-cli', 'no-exchange'] as const;

/** What the HTTP helpers need of a service: its URL and client credentials. */
type Replica = Pick<TestService, 'url' | 'secrets' | 'basic'> & { child: ChildProcess };

/** A feed-mode verifier whose issuer is the shared one but whose requests go to this replica. */
function verifierOn(replica: Replica, issuer: string): Verifier {
  return replicaFeedVerifier({ issuer, replicaUrl: replica.url, audience: CRM, clientId: 'crm-server', clientSecret: replica.secrets['crm-server']! });
}

for (const backend of ['redis', 'redis cluster'] as const) describe(`three replica processes on one store (${backend})`, () => {
  const cluster = backend === 'redis cluster';
  const dir = mkdtempSync(join(tmpdir(), 'dts-replicas-'));
  const keysDir = join(dir, 'keys');
  const prefix = `test:procs:${randomUUID()}:`;
  const secrets: Record<string, string> = Object.fromEntries(CLIENT_IDS.map((id) => [id, randomBytes(24).toString('base64url')]));
  const replicas: Replica[] = [];
  let issuer: string;

  async function spawnReplica(n: number): Promise<Replica> {
    const port = await freePort();
    issuer ??= `http://127.0.0.1:${port}`;
    const cwd = join(dir, `replica${n}`);
    mkdirSync(cwd);
    const config = testConfig(port, prefix, keysDir, { issuer });
    const nodes = cluster ? testCluster().nodes : undefined;
    config.redis = nodes ? { clusterNodes: nodes, keyPrefix: prefix } : { url: REDIS_URL, keyPrefix: prefix };
    const env: NodeJS.ProcessEnv = {
      CONFIG_FILE: writeConfig(cwd, config),
      // The config file names the store; the test runner's own Redis env must not override it.
      REDIS_URL: nodes ? '' : REDIS_URL,
      REDIS_CLUSTER_NODES: nodes ? nodes.join(',') : '',
      ...Object.fromEntries(Object.entries(secrets).map(([id, s]) => [`TEST_SECRET_${id.replace(/-/g, '_').toUpperCase()}`, s])),
    };
    const child = spawnService(cwd, env);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(child, `${url}/readyz`);
    } catch (err) {
      await stopService(child);
      throw err;
    }
    return {
      url,
      secrets,
      child,
      basic: (clientId) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secrets[clientId] ?? '')}`).toString('base64')}`,
    };
  }

  before(async () => {
    // Replica 1 first: it generates the signing keys and cookie secret the other two then read.
    replicas.push(await spawnReplica(1));
    replicas.push(...(await Promise.all([spawnReplica(2), spawnReplica(3)])));
  });
  after(async () => {
    await Promise.all(replicas.map((r) => stopService(r.child)));
    const redis = cluster ? await connectTestCluster() : new Redis(REDIS_URL);
    await (cluster ? deleteClusterKeysWithPrefix : deleteKeysWithPrefix)(redis, prefix).finally(() => redis.disconnect());
    rmSync(dir, { recursive: true, force: true });
  });

  it('login on 1, exchange on 2, revoke on 3: every replica refuses, introspection says inactive, feed verifiers refuse within 100 ms', async () => {
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const asService = (r: Replica) => r as unknown as TestService; // the HTTP helpers use only url and basic
    for (const r of replicas) {
      const ready = await fetch(`${r.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', checks: { store: 'ok', keys: 'ok', revocations: 'ok' } });
    }

    const user = await loginUser(asService(r1), { username: 'bob' });
    const first = await exchangeFor(asService(r2), 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(first.status, 200);
    const token = first.body.access_token as string;
    const { sid, iss } = decodeJwt(token);
    assert.equal(iss, issuer);

    const verifiers = replicas.map((r) => verifierOn(r, issuer));
    try {
      for (const v of verifiers) {
        await v.ready();
        await v.verify(token); // accepted before the revocation
      }

      assert.equal(await revokeSessionViaAdmin(r3.url, r3.basic('admin-cli'), sid as string, 'replica process test'), 200);
      const returned = performance.now();

      // Each feed verifier, attached to its own replica process, refuses within 100 ms of the revoke response.
      const refusedAfter = await Promise.all(
        verifiers.map(async (v, i) => {
          for (;;) {
            try {
              await v.verify(token);
            } catch (err) {
              assert.ok(err instanceof VerifyError, String(err));
              assert.equal(err.code, 'ERR_REVOKED', `replica ${i + 1}`);
              return performance.now() - returned;
            }
            assert.ok(performance.now() - returned < 100, `replica ${i + 1}'s verifier still accepts after 100 ms`);
            await new Promise((r) => setTimeout(r, 2));
          }
        }),
      );
      for (const [i, ms] of refusedAfter.entries()) assert.ok(ms < 100, `replica ${i + 1}'s verifier refused only after ${ms.toFixed(1)} ms`);

      for (const [i, r] of replicas.entries()) {
        const again = await exchangeFor(asService(r), 'agent', user.accessToken, CRM);
        assert.equal(again.status, 400, `replica ${i + 1}`);
        assert.equal(again.headers.get('cache-control'), 'no-store');
        assert.deepEqual(again.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
        const introspection = await postForm(`${r.url}/token/introspection/delegation`, { token }, { authorization: r.basic('crm-server') });
        assert.equal(introspection.status, 200, `replica ${i + 1}`);
        assert.deepEqual(introspection.body, { active: false });
      }
    } finally {
      for (const v of verifiers) v.close();
    }
  });
});
