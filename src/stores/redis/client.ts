// The ioredis client as this service needs it: fail fast when Redis is away, so requests get a quick 503 instead of
// hanging on a queue.
import { Cluster, Redis } from 'ioredis';

export interface RedisClientOptions {
  /** Milliseconds to wait for a connection, and for any one command's reply. */
  timeoutMs?: number;
  /** Receives connection errors; ioredis prints them to stderr when nobody listens. */
  onError?: (error: Error) => void;
  /** Receives every command that failed (an error reply, a timeout, a dropped connection); not a missing script, which
   * ioredis loads and retries itself. Connection errors without a command go to `onError` only. */
  onCommandError?: (error: Error) => void;
}

/** Tells `onCommandError` of every command `client` sends that fails: each command, pipelined or not, goes through
 * its `sendCommand` (a Cluster's too, which hands it to a node's), whose promise settles with the reply. */
function observeCommandErrors(client: Redis | Cluster, onCommandError: (error: Error) => void): void {
  const send = client.sendCommand.bind(client) as (...args: unknown[]) => unknown;
  const observe = (err: unknown) => {
    // NOSCRIPT: ioredis loads the script and sends it again (Script.js); that is no failure of the command.
    if (err instanceof Error && !err.message.startsWith('NOSCRIPT')) onCommandError(err);
  };
  (client as unknown as { sendCommand: (...args: unknown[]) => unknown }).sendCommand = (...args: unknown[]) => {
    const result = send(...args);
    const command = args[0] as { name?: string; promise?: Promise<unknown> };
    // CLIENT: ioredis' own SETINFO at connect, which servers before 7.2 refuse and ioredis ignores; the stores send none.
    if (command.name !== 'client') command.promise?.catch(observe);
    return result;
  };
}

/**
 * A client that is not yet connected (call `connectRedis` or let the first command connect it).
 * - `enableOfflineQueue: false`: while disconnected, commands reject at once instead of waiting for a reconnect.
 * - `maxRetriesPerRequest: 1`: a command caught by a dropped connection is retried once, then rejected.
 * - `enableAutoPipelining`: commands issued in the same tick (concurrent exchanges) share one socket write; measured
 *   with `npm run bench`: service CPU per exchange 0.45 ms instead of 0.49-0.60 ms on a 2-core machine.
 * - `commandTimeout`: a connected but unresponsive Redis rejects too.
 * Reconnection keeps going in the background, so the service recovers when Redis is back.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const timeoutMs = options.timeoutMs ?? 1000;
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    // The stores parse WITHSCORES and XINFO replies as flat RESP2-style arrays; pin that shape (ioredis' default today).
    replyMapping: 'legacy',
  });
  if (options.onError) redis.on('error', options.onError);
  if (options.onCommandError) observeCommandErrors(redis, options.onCommandError);
  return redis;
}

/**
 * A Redis Cluster client from seed URLs (`redis://` or `rediss://`, all alike in scheme and credentials: each node of
 * the cluster is reached with them), with the same fail-fast rules as createRedisClient, typed as the `Redis` the stores
 * take: ioredis' Cluster has the same command, MULTI, pipeline, script and duplicate() API (the stores branch on
 * `isCluster` where a cluster needs other commands). Commands issued together are in flight together, on every node
 * at once, so reads of keys on several nodes cost one round trip in parallel, not one per key.
 * - No auto-pipelining (unlike the single-node client): ioredis' Cluster builds a cluster pipeline per node and tick,
 *   which cost more than the socket writes it saves. Measured with `npm run bench -- --scenarios cluster` (two runs
 *   each way, 2-core VM): service CPU per exchange on the cluster 0.496 and 0.499 ms without, 0.589 and 0.538 ms with;
 *   p99 9 ms without, 10-11 ms with.
 * - `maxRedirections: 3`, `retryDelayOnClusterDown/Failover: 100`: a MOVED during resharding is followed, but a cluster
 *   that is down fails the command within a few hundred ms (503) instead of retrying for seconds.
 * - `slotsRefreshInterval: 5000`: a promoted replica is found even when no command hits a MOVED first.
 */
export function createRedisClusterClient(seeds: readonly string[], options: RedisClientOptions = {}): Redis {
  if (seeds.length === 0) throw new TypeError('Redis Cluster: no seed nodes');
  const parsed = seeds.map(parseSeed);
  const first = parsed[0] as ReturnType<typeof parseSeed>;
  for (const seed of parsed) {
    if (seed.tls !== first.tls || seed.username !== first.username || seed.password !== first.password) {
      throw new TypeError('Redis Cluster: every seed node must use the same scheme and credentials');
    }
  }
  const timeoutMs = options.timeoutMs ?? 1000;
  const cluster = new Cluster(
    parsed.map(({ host, port }) => ({ host, port })),
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: false,
      maxRedirections: 3,
      retryDelayOnClusterDown: 100,
      retryDelayOnFailover: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: timeoutMs,
      slotsRefreshInterval: 5000,
      clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2000),
      redisOptions: {
        connectTimeout: timeoutMs,
        commandTimeout: timeoutMs,
        maxRetriesPerRequest: 1,
        replyMapping: 'legacy',
        ...(first.username ? { username: first.username } : {}),
        ...(first.password ? { password: first.password } : {}),
        ...(first.tls ? { tls: {} } : {}),
      },
    },
  );
  // ioredis opens a node's connection only when a command is first routed to it, and with `enableOfflineQueue: false`
  // rejects the node's other commands until that connection is ready ("Connection is closed."), retrying each
  // retryDelayOnFailover later on a RANDOM node: a MOVED, and after `maxRedirections` such errors the command fails
  // ("Too many Cluster redirections", a 503), e.g. in a burst right after a (re)connect. So every node is connected as
  // soon as it is known: the nodes of each (re)connect on 'ready' (connectRedis waits for them), a node joining later (a
  // promoted replica, a dropped connection recreated by a slots refresh) when it joins. Never before 'ready' (ioredis' own
  // CLUSTER INFO ready check would meet a connecting node and fail the same way), and a tick later (a MOVED handler
  // that just created the node sends to it at once, which a 'wait' node accepts and a connecting one refuses).
  const connectNode = (node: Redis) => {
    if (cluster.status === 'ready' && node.status === 'wait') node.connect().catch(() => {});
  };
  cluster.on('ready', () => cluster.nodes('all').forEach(connectNode));
  cluster.on('+node', (node: Redis) => setImmediate(connectNode, node));
  if (options.onError) cluster.on('error', options.onError);
  if (options.onCommandError) observeCommandErrors(cluster, options.onCommandError);
  return cluster as unknown as Redis;
}

/** `REDIS_CLUSTER_NODES`: comma-separated seed URLs; blanks between commas are ignored. */
export function parseClusterNodes(value: string): string[] {
  return value
    .split(',')
    .map((seed) => seed.trim())
    .filter((seed) => seed !== '');
}

function parseSeed(seed: string): { host: string; port: number; tls: boolean; username: string; password: string } {
  let url: URL;
  try {
    url = new URL(seed);
  } catch {
    throw new TypeError(`Redis Cluster: seed ${redactUrl(seed)} is not a redis:// or rediss:// URL`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new TypeError(`Redis Cluster: seed ${redactUrl(seed)} is not a redis:// or rediss:// URL`);
  if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') throw new TypeError('Redis Cluster: a seed cannot select a database (a cluster has only db 0)');
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 6379,
    tls: url.protocol === 'rediss:',
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

/** True for a client made by createRedisClusterClient. */
export function isCluster(redis: Redis): boolean {
  return (redis as unknown as { isCluster?: boolean }).isCluster === true;
}

/** Connects, or fails with an Error that names the (password-free) URL, closing the client so nothing keeps retrying. */
export async function connectRedis(redis: Redis, url: string): Promise<void> {
  // ioredis rejects connect() with "Connection is closed." whatever happened; the client's last 'error' event says why
  // (ECONNREFUSED, WRONGPASS, NOAUTH, a TLS failure). Its message never holds the password.
  let lastError: Error | undefined;
  const remember = (err: Error) => {
    lastError = err;
  };
  redis.on('error', remember);
  try {
    await redis.connect();
    // A Cluster is ready once it has the slot map; wait for its node connections too (opened on 'ready', see
    // createRedisClusterClient), so commands sent at once right after go to their nodes. Best effort: a node that does
    // not answer fails the commands for its slots, as before.
    if (isCluster(redis)) await Promise.allSettled((redis as unknown as Cluster).nodes('all').map((node) => node.ping()));
  } catch (cause) {
    redis.disconnect();
    const message = cause instanceof Error ? cause.message : String(cause);
    const reason = lastError && lastError.message && lastError.message !== message ? `${message} (${lastError.message})` : message;
    // A cluster's `url` is its comma-separated seeds.
    const where = url.split(',').map(redactUrl).join(',');
    throw new Error(`cannot connect to Redis${isCluster(redis) ? ' Cluster' : ''} at ${where}: ${reason}`, { cause });
  } finally {
    redis.off('error', remember);
  }
}

/** Closes politely when Redis answers, and drops the socket when it does not. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

/** The URL without its password: masked in the userinfo, and the query dropped (ioredis reads `?password=` too). */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    parsed.search = '';
    parsed.hash = '';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
