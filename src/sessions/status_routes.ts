// Revocation status for tool servers: the feed (snapshot + SSE live events, wire format v2, docs/revocation-feed.md)
// and RFC 7662 introspection of our delegation tokens (oidc-provider's own introspection refuses JWTs).
import { PassThrough } from 'node:stream';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import type { Context } from 'koa';
import type { ExchangeStateStore, RevocationEvent, RevocationFeed } from '../stores/types.js';
import { authenticateClient } from '../http/client_auth.js';
import type { Metrics } from '../http/metrics.js';
import { parseAct } from '../token_types/act.js';
import { ancestorsOf, revocationQueryFor, verifyOwnToken, type OwnTokens } from '../token_types/own_tokens.js';
import { revokedBecause } from './revocation.js';
import { ServiceUnavailable } from '../provider/errors.js';
import { HttpError } from '../http/errors.js';
import { compareStreamIds, parseStreamId, type StreamId } from '../stores/stream_id.js';

/** v2 added `token_digest` records (revoked ancestors); docs/revocation-feed.md. */
export const FEED_VERSION = 2;

// Fail closed: without the store we cannot say a token is live, so the answer is 503, never `active: true`.
const unavailable = (err: unknown): never => {
  throw new ServiceUnavailable(`store: ${(err as Error).message}`);
};
export const paths = { snapshot: '/revocations', events: '/revocations/events', introspect: '/token/introspection/delegation' } as const;

export interface StatusDeps {
  provider: Provider;
  feed: RevocationFeed;
  store: ExchangeStateStore;
  own: OwnTokens;
  /** Clients allowed to read the feed: tool servers' clients and clients holding `revocation` or `admin` scope. */
  feedClients: Set<string>;
  heartbeatSeconds: number;
  metrics: Metrics;
  /** Most open event feed connections per client in this process (`revocation.maxFeedConnectionsPerClient`). */
  maxFeedConnectionsPerClient: number;
  /** Aborted when this instance starts shutting down: open streams get a `reconnect` event and end, new ones a 503. */
  closing?: AbortSignal;
}

/** What a client over its feed connection cap is told to wait: a slot frees only when one of its streams closes. */
export const FEED_RETRY_AFTER_SECONDS = 5;

/** Open event feed connections per client, in this process: each holds a socket, a timer and a subscription. */
function feedConnectionLimiter(max: number) {
  const open = new Map<string, number>();
  return {
    /** A release function (idempotent), or undefined when the client already holds `max` connections. */
    acquire(clientId: string): (() => void) | undefined {
      const held = open.get(clientId) ?? 0;
      if (held >= max) return undefined;
      open.set(clientId, held + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (open.get(clientId) ?? 1) - 1;
        if (left > 0) open.set(clientId, left);
        else open.delete(clientId);
      };
    },
  };
}

async function feedClient(deps: StatusDeps, ctx: Context): Promise<string> {
  const clientId = await authenticateClient(deps.provider, ctx);
  if (!deps.feedClients.has(clientId)) {
    throw new HttpError(403, 'access_denied', 'the client may not read revocations', { detail: `client ${clientId} is not a feed client` });
  }
  return clientId;
}

function sse(e: RevocationEvent): string {
  return `id: ${e.id}\nevent: revocation\ndata: ${JSON.stringify(e.record)}\n\n`;
}

/** Writes to an event stream; the first write also sets the consumer's reconnect delay (`retry`, ms). */
function eventWriter(stream: PassThrough): (text: string) => void {
  let first = true;
  return (text) => {
    stream.write(first ? `retry: 1000\n${text}` : text);
    first = false;
  };
}

/**
 * A heartbeat tells a consumer it has missed nothing, so it may only be sent while this replica's reader of the shared
 * event stream has read successfully within the window; never shorter than the reader's healthy interval on a quiet
 * stream (XREAD BLOCK 2 s, plus the reply), so a healthy replica is not reported stale.
 */
const MIN_VOUCH_MS = 5_000;

/**
 * How old a stream read a heartbeat may vouch for. What a consumer knows can be this plus one heartbeat interval old
 * just before the next heartbeat, so `revocation.feedHeartbeatSeconds` is capped to keep that under consumers' bounds.
 */
export function vouchWindowMs(heartbeatSeconds: number): number {
  return Math.max(heartbeatSeconds * 1000, MIN_VOUCH_MS);
}

/**
 * Writes `heartbeat` while the stream tail is fresh; once it is not, one `stale` event (with the age of the last
 * good read in seconds, null when unknown) and silence, so consumers fail closed; heartbeats resume with good reads.
 */
function freshnessVoucher(deps: StatusDeps, write: (text: string) => void): (extra?: string) => void {
  const windowMs = vouchWindowMs(deps.heartbeatSeconds);
  let stale = false;
  return (extra = '') => {
    const ageMs = deps.feed.tailAgeMs();
    const t = Math.floor(Date.now() / 1000);
    if (ageMs <= windowMs) {
      stale = false;
      write(`event: heartbeat\ndata: {"t":${t}${extra}}\n\n`);
    } else if (!stale) {
      stale = true;
      const age = Number.isFinite(ageMs) ? Math.floor(ageMs / 1000) : null;
      write(`event: stale\ndata: {"t":${t}${extra},"age":${age}}\n\n`);
    }
  };
}

export function statusRoutes(deps: StatusDeps): Router {
  const router = new Router();
  const feedConnections = feedConnectionLimiter(deps.maxFeedConnectionsPerClient);

  router.get(paths.snapshot, async (ctx) => {
    await feedClient(deps, ctx);
    const { cursor, revocations } = await deps.feed.snapshot().catch(unavailable);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { v: FEED_VERSION, cursor, revocations };
  });

  router.get(paths.events, async (ctx) => {
    const clientId = await feedClient(deps, ctx);
    // Draining: a new stream belongs on another replica (the consumer retries; a load balancer routes it elsewhere).
    if (deps.closing?.aborted) throw new ServiceUnavailable('shutting down');
    const release = feedConnections.acquire(clientId);
    // RFC 6585 §4: 429 "indicates that the user has sent too many requests"; "MAY include a Retry-After header".
    if (!release) {
      throw new HttpError(429, 'too_many_requests', 'too many open revocation feed connections for this client', {
        headers: { 'Retry-After': String(FEED_RETRY_AFTER_SECONDS) },
        detail: `client ${clientId} is at its feed connection limit`,
      });
    }
    // Released when the connection closes or the response ends, however the handler below ends.
    ctx.req.once('close', release);
    ctx.res.once('close', release);
    if (ctx.req.destroyed) release();
    const resumeFrom = ctx.get('last-event-id') || (typeof ctx.query.since === 'string' ? ctx.query.since : '');
    const stream = new PassThrough();
    const write = eventWriter(stream);
    // A cursor that is no stream id cannot be resumed from: the consumer is told to re-snapshot (below).
    let last: StreamId | undefined = resumeFrom ? parseStreamId(resumeFrom) : undefined;
    // Subscribe before catching up, so nothing published meanwhile is missed; duplicates are dropped by id.
    const buffered: RevocationEvent[] = [];
    let live = false;
    let closed = false;
    let heartbeat: NodeJS.Timeout | undefined;
    const reset = () => write('event: reset\ndata: {}\n\n');
    /** A reset the consumer is owed before its first heartbeat: its cursor is gone, or the live events have a gap. */
    let resetOwed = false;
    // A consumer that does not ask for v2 (`?v=2`) may not know v2 record kinds and would ignore them: instead of such
    // a record it gets a reset, which sends it to the snapshot, which answers v2, where an older consumer fails closed.
    const v2 = ctx.query.v === String(FEED_VERSION);
    const send = (e: RevocationEvent) => {
      if (closed) return;
      const id = parseStreamId(e.id);
      if (last && id && compareStreamIds(id, last) <= 0) return;
      if (!v2 && e.record.kind === 'token_digest') {
        reset();
        close();
        return;
      }
      write(sse(e));
      if (id) last = id;
    };
    const unsubscribe = deps.feed.subscribe(
      (e) => (live ? send(e) : buffered.push(e)),
      // This replica's reader found events trimmed before it read them: this consumer never gets them either, so it
      // must re-snapshot (docs/revocation-feed.md, `reset`); the events after the gap keep coming.
      () => {
        if (!live) resetOwed = true;
        else if (!closed) reset();
      },
    );
    const vouch = freshnessVoucher(deps, write);
    deps.metrics.feedConsumers.inc();
    // Shutdown: tell the consumer to reconnect now (to another replica), from its cursor; nothing is lost.
    const onShutdown = () => {
      if (closed) return;
      write('event: reconnect\ndata: {"reason":"shutdown"}\n\n');
      close();
    };
    deps.closing?.addEventListener('abort', onShutdown, { once: true });
    const close = () => {
      if (closed) return;
      closed = true;
      deps.closing?.removeEventListener('abort', onShutdown);
      clearInterval(heartbeat);
      unsubscribe();
      deps.metrics.feedConsumers.dec();
      stream.end();
    };
    ctx.req.once('close', close);
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    ctx.status = 200;
    ctx.body = stream;
    // A heartbeat vouches that nothing before it was missed, and a consumer counts its freshness from it: so the
    // catch-up (or the reset) and the live events buffered meanwhile go first, and the first heartbeat after them.
    if (resumeFrom) {
      const caughtUp = last ? await deps.feed.since(resumeFrom).catch(() => ({ events: [], reset: true })) : { events: [], reset: true };
      if (caughtUp.reset) resetOwed = true;
      else caughtUp.events.forEach(send);
    }
    if (closed) return;
    if (resetOwed) reset();
    live = true;
    buffered.forEach(send);
    if (closed) return;
    vouch(`,"v":${FEED_VERSION}`);
    heartbeat = setInterval(() => vouch(), deps.heartbeatSeconds * 1000);
  });

  router.post(paths.introspect, bodyParser({ enableTypes: ['form'] }), async (ctx) => {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const clientId = await authenticateClient(deps.provider, ctx, body);
    ctx.set('Cache-Control', 'no-store');
    // RFC 7662 §2.1: `token` is REQUIRED.
    if (typeof body.token !== 'string' || body.token === '') throw new HttpError(400, 'invalid_request', 'token is missing');
    ctx.body = await introspect(deps, body.token, clientId);
  });
  return router;
}

/** RFC 7662 §2.2: `{ active: false }` for anything invalid, expired, revoked or not this caller's to see, with no reason. */
async function introspect(deps: StatusDeps, token: string, clientId: string): Promise<Record<string, unknown>> {
  const inactive = { active: false };
  let payload;
  try {
    payload = await verifyOwnToken(deps.own, token, Math.floor(Date.now() / 1000));
  } catch {
    return inactive;
  }
  const act = parseAct(payload.act);
  // Who may see it: the tool server it was issued for, or the client that obtained it.
  if (!act || (deps.own.toolServers.get(payload.aud as string)?.clientId !== clientId && payload.client_id !== clientId)) return inactive;
  const ancestors = ancestorsOf(payload);
  if (!ancestors) return inactive;
  // A revoked ancestor (`token_digest`) makes the token inactive, like its own revocation: same single MGET.
  const hits = await deps.store.readRevocations(revocationQueryFor(payload, act, ancestors)).catch(unavailable);
  if (revokedBecause(hits, payload.iat!)) return inactive;
  // RFC 9449 §6.2: a DPoP-bound token introspects with token_type DPoP and its `cnf.jkt` (in the claims spread here).
  return { active: true, token_type: payload.cnf === undefined ? 'Bearer' : 'DPoP', ...payload };
}
