// A loopback TCP proxy a test can partition: hang (black-hole bytes), cut (drop and refuse connections), lose one reply
// (drop a connection once a request has reached the upstream, before its answer comes back), restore, close.
// For Redis, `proxiedUrl` rewrites only host and port of a URL, so its db number, credentials and options survive.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** The proxy's own port on 127.0.0.1. */
  port: number;
  /** Stop forwarding bytes both ways; connections stay open (a network black hole). */
  hang(): void;
  /** Drop every open connection and reset new ones until `restore()` (the upstream "vanishes"). */
  cut(): void;
  /**
   * The next request whose bytes `matches` goes through, and its connection is dropped when the upstream answers, that
   * answer undelivered: the command ran, its reply is lost. New connections are accepted (a client may reconnect and
   * send it again). Resolves once the reply was dropped.
   */
  loseReply(matches: (request: Buffer) => boolean): Promise<void>;
  /** Forward again after `hang()` or `cut()`. */
  restore(): void;
  /** Drop every connection and stop listening; safe to call twice. */
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Upstream host (default 127.0.0.1) and port. */
  host?: string;
  port: number;
  /** Port to listen on (default: any free port); pass an old proxy's port to bring a closed proxy back. */
  listenPort?: number;
}

/** Starts a proxy on 127.0.0.1 forwarding to `host:port` (a bare number: that port on 127.0.0.1). */
export async function startTcpProxy(target: TcpProxyOptions | number): Promise<TcpProxy> {
  const options = typeof target === 'number' ? { port: target } : target;
  const sockets = new Set<Socket>();
  let hung = false;
  let cut = false;
  let closed: Promise<void> | undefined;
  let loseNext: { matches: (request: Buffer) => boolean; lost: () => void } | undefined;
  const server: Server = createServer((client) => {
    if (cut) {
      client.on('error', () => {});
      client.destroy();
      return;
    }
    const upstream = connect(options.port, options.host ?? '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        // One side gone: take the other down too, as a real connection would.
        (s === client ? upstream : client).destroy();
      });
    }
    /** Set once this connection carried the request whose reply is to be lost. */
    let losing: (() => void) | undefined;
    client.on('data', (chunk: Buffer) => {
      if (hung) return;
      if (loseNext?.matches(chunk)) {
        losing = loseNext.lost;
        loseNext = undefined;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (hung) return;
      if (losing) {
        client.destroy();
        losing();
        losing = undefined;
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port: address.port,
    hang: () => {
      hung = true;
    },
    cut: () => {
      cut = true;
      dropAll();
    },
    loseReply: (matches) => new Promise<void>((lost) => (loseNext = { matches, lost })),
    restore: () => {
      hung = false;
      cut = false;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        dropAll();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}

/** `url` pointing at 127.0.0.1:`port` instead, keeping scheme, credentials, path (Redis db number) and query. */
export function proxiedUrl(url: string, port: number): string {
  const out = new URL(url);
  out.hostname = '127.0.0.1';
  out.port = String(port);
  return out.toString();
}

/** Host and port a URL names (Redis default port 6379). IPv6 brackets are removed for net.connect. */
export function urlTarget(url: string, defaultPort = 6379): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port: Number(parsed.port || defaultPort) };
}
