// The id that ties one gateway request's answer (`X-Request-Id`), its decision event and its log lines together.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** What an inbound `X-Request-Id` may be to be kept: visible ASCII, as long as the service keeps (src/http/app.ts). */
const INBOUND = /^[\x21-\x7e]{1,64}$/;

/**
 * The caller's (or its load balancer's) `X-Request-Id` when it is a short visible-ASCII string, so one id follows the
 * request across hops as at the service; otherwise a fresh UUID. Never a value that could not go back in a header.
 *
 * @example
 * const id = requestIdOf(req); // 'lb-7f3a…' or a random UUID
 */
export function requestIdOf(req: IncomingMessage): string {
  const inbound = req.headers['x-request-id'];
  return typeof inbound === 'string' && INBOUND.test(inbound) ? inbound : randomUUID();
}
