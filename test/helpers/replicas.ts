// Two replicas on one private redis-server: A reaches it only through a TCP proxy the test can cut or hang, B directly.
// Same keys, issuer, secrets and prefix; `issuer: a.url` makes B's own url A's, so B is used through its service object.
import type { ChildProcess } from 'node:child_process';
import { startRedis } from './private_redis.js';
import { startTcpProxy, type TcpProxy } from './tcp_proxy.js';
import { freePort, randomUUID, startService, type TestService } from './service.js';

export interface ReplicasBehindProxy {
  redis: ChildProcess;
  redisPort: number;
  proxy: TcpProxy;
  a: TestService & { keysDir: string };
  b: TestService;
  /** Restores the proxy, stops both replicas and the proxy, kills the redis-server and waits for it to exit. */
  stop(): Promise<void>;
}

/** `name` starts the key prefix; both replicas send feed heartbeats every second. */
export async function startReplicasBehindProxy(name: string): Promise<ReplicasBehindProxy> {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: redisPort });
  const keyPrefix = `${name}:${randomUUID()}:`;
  const revocation = { feedHeartbeatSeconds: 1 };
  const a = await startService({ extra: () => ({ redis: { url: `redis://127.0.0.1:${proxy.port}`, keyPrefix }, revocation }) });
  const b = await startService({
    share: { keysDir: a.keysDir, prefix: keyPrefix, secrets: a.secrets },
    extra: () => ({ issuer: a.url, redis: { url: `redis://127.0.0.1:${redisPort}`, keyPrefix }, revocation }),
  });
  return {
    redis,
    redisPort,
    proxy,
    a,
    b,
    async stop() {
      proxy.restore();
      await b.stop();
      await a.stop();
      await proxy.close();
      if (redis.exitCode === null && redis.signalCode === null) {
        const exited = new Promise((resolve) => redis.once('exit', resolve));
        redis.kill('SIGKILL');
        await exited;
      }
    },
  };
}
