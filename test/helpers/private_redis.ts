// A throw-away redis-server of the test's own (never the shared one): for tests that stop Redis or watch all its traffic.
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

/** `persistDir`: keep an append-only file there (fsync always), so a restart after an injected outage keeps the data. */
export async function startRedis(port: number, { persistDir }: { persistDir?: string } = {}): Promise<ChildProcess> {
  const persistence = persistDir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', persistDir] : ['--appendonly', 'no'];
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused until the server listens
  try {
    for (let i = 0; i < 50; i++) {
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return child;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    child.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not start`);
  } finally {
    probe.disconnect();
  }
}
