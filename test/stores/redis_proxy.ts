// A TCP proxy in front of the test Redis, so tests can make Redis hang, vanish and come back without touching it.
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { redisUrl } from './redis_harness.js';

/** A TCP proxy to the real Redis that the test can hang (stop forwarding) or kill. */
export async function startProxy(port = 0): Promise<{ url: string; port: number; hang(): void; kill(): Promise<void> }> {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  let hung = false;
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk) => hung || upstream.write(chunk));
    upstream.on('data', (chunk) => hung || client.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return {
    url: `redis://127.0.0.1:${address.port}`,
    port: address.port,
    hang: () => {
      hung = true;
    },
    kill: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
