// upstreamAuth: exchange. RFC 8693 §2.3: rather than forward the delegation token, exchange it at the service for a
// token whose aud is the upstream (one more act level: the gateway's client); cached per inbound token until near exp.
import type { VerifiedToken } from 'delegation-token-verify';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
/** A cached token is not handed out in its last seconds: it must outlive the upstream call. */
const MARGIN_MS = 10_000;
const MAX_ENTRIES = 10_000;

export class UpstreamTokenError extends Error {
  override name = 'UpstreamTokenError';
}

export interface UpstreamTokens {
  tokenFor(inbound: string, token: VerifiedToken, upstream: string): Promise<string>;
}

export function createUpstreamTokens(options: { tokenEndpoint: string; clientId: string; clientSecret: string; timeoutMs: number; now?: () => number }): UpstreamTokens {
  const now = options.now ?? Date.now;
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString('base64')}`;
  const cache = new Map<string, { token: string; until: number }>();
  return {
    async tokenFor(inbound, token, upstream) {
      const key = `${token.jti}\n${upstream}`;
      const hit = cache.get(key);
      if (hit && hit.until > now()) return hit.token;
      const body = new URLSearchParams({ grant_type: EXCHANGE, subject_token: inbound, subject_token_type: ACCESS_TOKEN, resource: upstream, scope: token.scopes.join(' ') });
      let res: Response;
      try {
        res = await fetch(options.tokenEndpoint, {
          method: 'POST',
          headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (err) {
        throw new UpstreamTokenError(`token endpoint unreachable: ${(err as Error).name}`);
      }
      const answer = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
      if (res.status !== 200 || typeof answer.access_token !== 'string') throw new UpstreamTokenError(`exchange refused: ${res.status} ${String(answer.error ?? '')}`);
      const expiresIn = typeof answer.expires_in === 'number' ? answer.expires_in : 60;
      if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
      cache.set(key, { token: answer.access_token, until: now() + expiresIn * 1000 - MARGIN_MS });
      return answer.access_token;
    },
  };
}
