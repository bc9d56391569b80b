// A fake token service over real HTTP: JWKS, revocation feed v2 (snapshot + SSE) and RFC 7662 introspection.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export const FEED_CLIENT = { clientId: 'crm tools', clientSecret: 's3cr:t+/%é' };

export interface Revocation {
  /** A v2 kind, or any string to play an issuer newer than the SDK. */
  kind: 'sid' | 'sub' | 'client' | 'jti' | 'token_digest' | (string & {});
  value: string;
  revokedAt: number;
  expiresAt: number;
  reason?: string;
}

export interface FakeIssuer {
  url: string;
  keys: JWK[];
  counts: { jwks: number; snapshot: number; streams: number; resets: number; introspection: number };
  /** Every request path, to prove nothing else (jku, x5u, kid-as-path) was fetched. */
  paths: string[];
  /** Last-Event-ID headers received on /revocations/events, in order. */
  lastEventIds: Array<string | undefined>;
  /** Tokens introspection reports as inactive. */
  inactive: Set<string>;
  /** Force a status on an endpoint: e.g. { jwks: 500, introspection: 503, snapshot: 500, events: 503 }. */
  fail: Partial<Record<'jwks' | 'snapshot' | 'events' | 'introspection', number>>;
  heartbeats: boolean;
  /** The `v` every heartbeat carries; undefined (the default) sends none. */
  heartbeatVersion: unknown;
  /** Send one heartbeat carrying exactly `data` to every open event stream, now. */
  heartbeat(data: Record<string, unknown>): void;
  /** The wire-format version the snapshot answers (2 unless a test plays another issuer). */
  feedVersion: unknown;
  /** Answer the next event-stream connection with `event: reset`. */
  resetNext: boolean;
  /**
   * Forget the event history so far, as the service's capped stream does: from now on a resume from an older cursor
   * gets `event: reset` between two heartbeats (the service sends its connect heartbeat before the reset, or after
   * it), then live events and heartbeats on the same connection. The snapshot's cursor is current, so a consumer that
   * loads it resumes without a reset.
   */
  trim(): void;
  /** Record and broadcast a revocation; with `silent`, only the snapshot will show it. */
  revoke(record: Revocation, silent?: boolean): void;
  /** The id of the latest event ('0-0' before any). */
  cursor(): string;
  /** Cut every open event stream, as a network failure would. */
  dropStreams(): void;
  /** How many event streams are open now. */
  openStreams(): number;
  close(): Promise<void>;
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/** RFC 6749 §2.3.1: Basic credentials whose parts are form-urlencoded. */
function authorized(req: IncomingMessage): boolean {
  const match = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
  if (!match?.[1]) return false;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return (
    formDecode(decoded.slice(0, colon)) === FEED_CLIENT.clientId &&
    formDecode(decoded.slice(colon + 1)) === FEED_CLIENT.clientSecret
  );
}

export async function startFakeIssuer(options: { heartbeatMs?: number } = {}): Promise<FakeIssuer> {
  const events: Array<{ seq: number; record: Revocation }> = [];
  const snapshot: Revocation[] = [];
  const streams = new Set<ServerResponse>();
  let seq = 0;
  /** Events up to this one are no longer in the history (`trim()`). */
  let trimmedThrough = 0;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const writeEvent = (res: ServerResponse, e: { seq: number; record: Revocation }) =>
    res.write(`id: ${e.seq}-0\nevent: revocation\ndata: ${JSON.stringify(e.record)}\n\n`);

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    issuer.paths.push(req.url ?? '');
    const forced = (name: keyof FakeIssuer['fail']) => {
      const status = issuer.fail[name];
      if (status === undefined) return false;
      json(res, status, { error: 'server_error' });
      return true;
    };
    if (req.method === 'GET' && path === '/jwks') {
      issuer.counts.jwks++;
      if (!forced('jwks')) json(res, 200, { keys: issuer.keys });
      return;
    }
    if (path.startsWith('/revocations') || path === '/token/introspection/delegation') {
      if (!authorized(req)) return json(res, 401, { error: 'invalid_client' });
    }
    if (req.method === 'GET' && path === '/revocations') {
      issuer.counts.snapshot++;
      if (forced('snapshot')) return;
      return json(res, 200, { v: issuer.feedVersion, cursor: issuer.cursor(), revocations: snapshot });
    }
    if (req.method === 'GET' && path === '/revocations/events') {
      issuer.counts.streams++;
      const lastEventId = req.headers['last-event-id'];
      issuer.lastEventIds.push(typeof lastEventId === 'string' ? lastEventId : undefined);
      if (forced('events')) return;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      if (issuer.resetNext) {
        issuer.resetNext = false;
        res.end('event: reset\ndata: {}\n\n');
        return;
      }
      res.write(': connected\n\n');
      const after = Number.parseInt(String(lastEventId ?? '0'), 10) || 0;
      if (after < trimmedThrough) {
        issuer.counts.resets++;
        const heartbeat = `event: heartbeat\ndata: {"t":${Math.floor(Date.now() / 1000)},"v":2}\n\n`;
        res.write(`${heartbeat}event: reset\ndata: {}\n\n${heartbeat}`);
      } else for (const e of events) if (e.seq > after) writeEvent(res, e);
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    if (req.method === 'POST' && path === '/token/introspection/delegation') {
      issuer.counts.introspection++;
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (forced('introspection')) return;
        const form = new URLSearchParams(body);
        const token = form.get('token');
        const wellFormed = req.headers['content-type'] === 'application/x-www-form-urlencoded' && token;
        if (!wellFormed) return json(res, 400, { error: 'invalid_request' });
        json(res, 200, issuer.inactive.has(token) ? { active: false } : { active: true });
      });
      return;
    }
    json(res, 404, { error: 'not_found' });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const heartbeat = setInterval(() => {
    if (!issuer.heartbeats) return;
    const v = issuer.heartbeatVersion;
    issuer.heartbeat({ t: Math.floor(Date.now() / 1000), ...(v === undefined ? {} : { v }) });
  }, options.heartbeatMs ?? 100);

  const issuer: FakeIssuer = {
    url: `http://127.0.0.1:${port}`,
    keys: [],
    counts: { jwks: 0, snapshot: 0, streams: 0, resets: 0, introspection: 0 },
    paths: [],
    lastEventIds: [],
    inactive: new Set(),
    fail: {},
    heartbeats: true,
    heartbeatVersion: undefined,
    heartbeat(data) {
      for (const res of streams) res.write(`event: heartbeat\ndata: ${JSON.stringify(data)}\n\n`);
    },
    feedVersion: 2,
    resetNext: false,
    revoke(record, silent = false) {
      snapshot.push(record);
      if (silent) return;
      const event = { seq: ++seq, record };
      events.push(event);
      for (const res of streams) writeEvent(res, event);
    },
    trim() {
      // The history holds at least one event the consumer never saw, so its cursor is older than what is kept.
      trimmedThrough = ++seq;
      events.length = 0;
    },
    cursor: () => (seq === 0 ? '0-0' : `${seq}-0`),
    dropStreams() {
      for (const res of streams) res.destroy();
      streams.clear();
    },
    openStreams: () => streams.size,
    async close() {
      clearInterval(heartbeat);
      issuer.dropStreams();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return issuer;
}
