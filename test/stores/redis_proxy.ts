// A TCP proxy in front of the test Redis, so tests can make Redis hang, vanish and come back without touching it.
import { proxiedUrl, startTcpProxy, urlTarget } from '../helpers/tcp_proxy.js';
import { redisUrl } from './redis_harness.js';

/**
 * A proxy to the real Redis that the test can hang (stop forwarding) or kill; `startProxy(oldPort)` brings it back.
 * `url` is the test's REDIS_URL with only host and port replaced: its db number, credentials and options survive.
 */
export async function startProxy(port = 0): Promise<{ url: string; port: number; hang(): void; kill(): Promise<void> }> {
  const proxy = await startTcpProxy({ ...urlTarget(redisUrl), listenPort: port });
  return { url: proxiedUrl(redisUrl, proxy.port), port: proxy.port, hang: proxy.hang, kill: proxy.close };
}
