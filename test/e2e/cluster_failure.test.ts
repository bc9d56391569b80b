// test:serial (scripts/run_tests.mjs): it times what it checks, or runs the whole bench; alone on the machine
// Fail closed on a Redis Cluster: one master stopped mid-run (SIGSTOP: it neither answers nor closes its sockets, as in
// a partition) -> the exchanges touching its slots answer 503 temporarily_unavailable and issue nothing; once it runs
// again the same exchange answers 200. A private three-master cluster of this test's own (never REDIS_CLUSTER_NODES).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from 'ioredis';
import { clusterKeys } from '../../src/stores/redis/keys.js';
import { exchangeFor, loginUser, type LoginResult } from '../helpers/http.js';
import { privateCluster } from '../helpers/redis_cluster.js';
import { CRM, startService, type TestService } from '../helpers/service.js';

const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' };

/** Until every master reports `cluster_state:ok` (CLUSTER INFO), for at most 20 s. */
async function clusterStateOk(client: Cluster): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(client.nodes('master').map((node) => node.cluster('INFO').then(String, () => '')));
    if (states.every((info) => info.includes('cluster_state:ok'))) return;
    if (Date.now() > deadline) throw new Error('the cluster did not report ok again');
    await sleep(100);
  }
}

describe('redis cluster: a master stops mid-run', () => {
  const cluster = privateCluster();
  let svc: TestService;
  let user: LoginResult;
  let stoppedPid: number | undefined;

  before(async () => {
    svc = await startService({ cluster: cluster.nodes });
    user = await loginUser(svc, { username: 'bob' });
  });
  after(async () => {
    if (stoppedPid) process.kill(stoppedPid, 'SIGCONT');
    try {
      // The resumed master is back for the exchange before every node has cleared its failure flag: the key cleanup
      // would meet CLUSTERDOWN on a node still reporting the cluster down. Wait until each says ok.
      await clusterStateOk(svc.redis as unknown as Cluster);
      await svc.stop();
    } finally {
      cluster.stop();
    }
  });

  it('exchanges touching its slots answer 503 and issue nothing; after it resumes they answer 200', async () => {
    assert.equal((await exchangeFor(svc, 'agent', user.accessToken, CRM)).status, 200);

    // The master holding the user's access token (an opaque token's id is its value); the others answer MOVED.
    const tokenKey = clusterKeys.record(svc.prefix, 'AccessToken', user.accessToken);
    const masters = (svc.redis as unknown as Cluster).nodes('master');
    const holder = (await Promise.all(masters.map(async (node) => ((await node.exists(tokenKey).catch(() => 0)) === 1 ? node : undefined)))).find(Boolean);
    assert.ok(holder, 'no master holds the token');
    const port = holder.options.port as number;
    stoppedPid = Number(readFileSync(join(cluster.dir, String(port), 'redis.pid'), 'utf8'));
    process.kill(stoppedPid, 'SIGSTOP');

    const issued: string[] = [];
    svc.service.events.on((e) => {
      if (e.type === 'exchange' && e.decision === 'allow') issued.push('allow');
    });
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const res = await exchangeFor(svc, 'agent', user.accessToken, CRM);
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.deepEqual(res.body, UNAVAILABLE);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.ok(performance.now() - started < 3000, 'answers quickly instead of hanging on the stopped node');
    }
    assert.deepEqual(issued, []);
    assert.equal((await fetch(`${svc.url}/readyz`)).status, 503);

    process.kill(stoppedPid, 'SIGCONT');
    stoppedPid = undefined;
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await exchangeFor(svc, 'agent', user.accessToken, CRM)).status;
      if (status === 200) break;
      assert.equal(status, 503);
      await sleep(200);
    }
    assert.equal(status, 200, 'service did not resume after the master came back');
    assert.equal((await fetch(`${svc.url}/readyz`)).status, 200);
  });
});
