// Client authentication for our own endpoints (revocation feed, delegation token introspection): client_secret_basic,
// or client_secret_post where a form body is allowed. Checked against oidc-provider's registered clients.
import { createHash, timingSafeEqual } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Context } from 'koa';
import { HttpError } from './errors.js';

export class ClientAuthFailed extends HttpError {
  override name = 'ClientAuthFailed';
  constructor() {
    // RFC 6749 §5.2: invalid_client answers 401 with a challenge when the client authenticated (or should have).
    super(401, 'invalid_client', 'client authentication failed', { headers: { 'WWW-Authenticate': 'Basic realm="delegation-token-service"' } });
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** RFC 6749 §2.3.1: client_id and client_secret are form-urlencoded before Basic encoding. */
function fromBasic(header: string): { id: string; secret: string } | undefined {
  const m = /^basic\s+([A-Za-z0-9+/=._~-]+)$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return undefined;
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    return undefined;
  }
}

/** Returns the authenticated client_id, or throws ClientAuthFailed (401, with `WWW-Authenticate: Basic` set). */
export async function authenticateClient(provider: Provider, ctx: Context, body?: Record<string, unknown>): Promise<string> {
  const header = ctx.get('authorization');
  const posted = typeof body?.client_id === 'string' && typeof body.client_secret === 'string' ? { id: body.client_id, secret: body.client_secret } : undefined;
  // RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request".
  const creds = header ? (posted ? undefined : fromBasic(header)) : posted;
  if (!creds) return fail();
  const client = await provider.Client.find(creds.id).catch(() => undefined);
  const secret = client?.clientSecret;
  if (!client || typeof secret !== 'string' || !timingSafeEqual(digest(secret), digest(creds.secret))) return fail();
  return client.clientId;
}

function fail(): never {
  throw new ClientAuthFailed();
}
