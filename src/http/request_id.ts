// The id that ties one request's answer (`X-Request-Id`), its log lines and its audit or decision events together: one
// rule for the service (app.ts requestLog) and the gateway (gateway.ts).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** What an inbound `X-Request-Id` may be to be kept: 1 to 64 visible ASCII characters (no space, no control character). */
const INBOUND = /^[\x21-\x7e]{1,64}$/;

/**
 * The caller's (or its load balancer's) `X-Request-Id` when it is a short visible-ASCII string, so one id follows the
 * request across hops; otherwise (absent, too long, a control character, a space, non-ASCII, sent twice) a fresh UUID,
 * never a cut or cleaned copy of it. Never a value that could not go back in a header or would forge a log field.
 *
 * @example
 * const id = requestIdOf(req); // 'lb-7f3a…' or a random UUID
 */
export function requestIdOf(req: IncomingMessage): string {
  const inbound = req.headers['x-request-id'];
  return typeof inbound === 'string' && INBOUND.test(inbound) ? inbound : randomUUID();
}
