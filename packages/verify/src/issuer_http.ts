// Small helpers for calling the token service's own endpoints (revocation feed, introspection).
import type { FetchLike } from './types.js';

/** `${issuer}/path`, tolerating an issuer configured with a trailing slash. */
export function issuerEndpoint(issuer: string, path: string): string {
  return `${issuer.replace(/\/+$/, '')}/${path}`;
}

/** RFC 6749 §2.3.1: id and secret are each application/x-www-form-urlencoded before the Basic base64 step. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** Upper bound on any single call to the issuer, so a hung connection cannot hold a request forever. */
export const ISSUER_TIMEOUT_MS = 5_000;

/**
 * One call to the issuer, repeated once when it died on a connection the issuer had already closed: an idle keep-alive
 * socket the pool handed out just as the server dropped it (undici `SocketError: other side closed`, `UND_ERR_SOCKET`,
 * or `ECONNRESET`). The pool has discarded that socket, so the repeat goes out on a fresh connection. Only for
 * read-only calls (introspection), where a repeat is harmless; a timeout, an abort or an HTTP status is never repeated.
 */
export async function fetchRetryingClosedSocket(fetchFn: FetchLike, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetchFn(url, init);
  } catch (err) {
    if (init.signal?.aborted || !closedSocket(err)) throw err;
    return fetchFn(url, init);
  }
}

const CLOSED_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET']);

/** Walks the `cause` chain (fetch wraps the socket error in `TypeError: fetch failed`). */
function closedSocket(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CLOSED_SOCKET_CODES.has(code)) return true;
    if (e.name === 'SocketError' && e.message === 'other side closed') return true;
  }
  return false;
}
