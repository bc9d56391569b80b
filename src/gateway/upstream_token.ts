// upstreamAuth: exchange. RFC 8693 §2.3: rather than forward the delegation token, exchange it at the service for a
// token whose aud is the upstream (one more act level: the gateway's client); cached per inbound token until near exp.
// A DPoP-bound inbound token is exchanged with a proof of the gateway's own key (RFC 9449 §5; the service's multi-hop
// rule for the tool server's registered client), and the DPoP-bound token it yields goes upstream with a fresh proof.
import { createHash, randomBytes } from 'node:crypto';
import type { VerifiedToken } from 'delegation-token-verify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
/** A cached token is not handed out in its last seconds: it must outlive the upstream call. */
const MARGIN_MS = 10_000;
const MAX_ENTRIES = 10_000;

export class UpstreamTokenError extends Error {
  override name = 'UpstreamTokenError';
}

/** The credential for one upstream call: a bearer token, or a DPoP-bound one with its proof for this request. */
export type UpstreamCredential = {
  authorization: string;
  dpop?: string;
  /**
   * DPoP-bound only, RFC 9449 §9 (resource server nonces): `seen` keeps a `DPoP-Nonce` upstream sent, for this
   * upstream's next proofs; `proof` makes a fresh proof for this same request naming one.
   */
  nonces?: { seen(nonce: string): void; proof(nonce: string): Promise<string> };
};

export interface UpstreamTokens {
  /** `method` and `url`: the upstream request the credential is for (a DPoP proof names them, RFC 9449 §4.2). */
  credentialFor(inbound: string, token: VerifiedToken, upstream: string, method: string, url: URL): Promise<UpstreamCredential>;
}

interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

/** RFC 9449 §4.2: a proof for one request; `ath` when it goes with an access token. */
function dpopProof(key: DpopKey, htm: string, htu: string, extra: { ath?: string; nonce?: string }): Promise<string> {
  return new SignJWT({ htm, htu, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url'), ...extra })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .sign(key.privateKey);
}

export interface UpstreamTokensOptions {
  /** The service's token endpoint as it names itself (`<issuer>/token`): the `htu` of the gateway's DPoP proofs. */
  tokenEndpoint: string;
  /** Where the request is sent, when not `tokenEndpoint` (the gateway's `serviceUrl`). */
  tokenUrl?: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  now?: () => number;
}

export function createUpstreamTokens(options: UpstreamTokensOptions): UpstreamTokens {
  const now = options.now ?? Date.now;
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString('base64')}`;
  const cache = new Map<string, { token: string; until: number; bound: boolean }>();
  // The gateway's DPoP key: ES256, made on first need and kept in memory only (tokens bound to it are cached in this
  // process too, so a restart simply exchanges again).
  let dpopKey: Promise<DpopKey> | undefined;
  const key = () =>
    (dpopKey ??= generateKeyPair('ES256').then(async ({ privateKey, publicKey }) => {
      const { kty, crv, x, y } = await exportJWK(publicKey);
      return { privateKey, jwk: { kty, crv, x, y } };
    }));
  // RFC 9449 §8: the token endpoint's last DPoP-Nonce, sent with the next proof.
  let nonce: string | undefined;
  // RFC 9449 §9: each upstream resource server's last DPoP-Nonce, by the route's upstream URL (one entry per route).
  const upstreamNonces = new Map<string, string>();

  async function post(body: URLSearchParams, bound: boolean): Promise<Response> {
    const headers: Record<string, string> = { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (bound) headers.dpop = await dpopProof(await key(), 'POST', options.tokenEndpoint, nonce === undefined ? {} : { nonce });
    try {
      const res = await fetch(options.tokenUrl ?? options.tokenEndpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.timeoutMs) });
      nonce = res.headers.get('dpop-nonce') ?? nonce;
      return res;
    } catch (err) {
      throw new UpstreamTokenError(`token endpoint unreachable: ${(err as Error).name}`);
    }
  }

  async function exchange(inbound: string, token: VerifiedToken, upstream: string): Promise<{ token: string; until: number; bound: boolean }> {
    const bound = token.jkt !== undefined;
    const body = new URLSearchParams({ grant_type: EXCHANGE, subject_token: inbound, subject_token_type: ACCESS_TOKEN, resource: upstream, scope: token.scopes.join(' ') });
    let res = await post(body, bound);
    let answer = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; token_type?: unknown };
    // RFC 9449 §8: asked for a nonce, retry once with the one the answer carried.
    if (bound && res.status === 400 && answer.error === 'use_dpop_nonce' && res.headers.get('dpop-nonce')) {
      res = await post(body, bound);
      answer = (await res.json().catch(() => ({}))) as typeof answer;
    }
    if (res.status !== 200 || typeof answer.access_token !== 'string') throw new UpstreamTokenError(`exchange refused: ${res.status} ${String(answer.error ?? '')}`);
    // A bound subject token yields only a bound token (the service's rule); anything else is not used.
    if (bound && String(answer.token_type).toLowerCase() !== 'dpop') throw new UpstreamTokenError('exchange answered an unbound token for a bound one');
    const expiresIn = typeof answer.expires_in === 'number' ? answer.expires_in : 60;
    return { token: answer.access_token, until: now() + expiresIn * 1000 - MARGIN_MS, bound };
  }

  return {
    async credentialFor(inbound, token, upstream, method, url) {
      const cacheKey = `${token.jti}\n${upstream}`;
      let entry = cache.get(cacheKey);
      if (!entry || entry.until <= now()) {
        entry = await exchange(inbound, token, upstream);
        if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
        cache.set(cacheKey, entry);
      }
      if (!entry.bound) return { authorization: `Bearer ${entry.token}` };
      // RFC 9449 §4.2/§7.1: a fresh proof per upstream request, htu without query or fragment, ath over the token;
      // §9: naming the nonce this upstream sent last, if it sent one.
      const htu = `${url.origin}${url.pathname}`;
      const ath = createHash('sha256').update(entry.token).digest('base64url');
      const proof = async (withNonce: string | undefined) => dpopProof(await key(), method, htu, withNonce === undefined ? { ath } : { ath, nonce: withNonce });
      return {
        authorization: `DPoP ${entry.token}`,
        dpop: await proof(upstreamNonces.get(upstream)),
        nonces: { seen: (value) => void upstreamNonces.set(upstream, value), proof },
      };
    },
  };
}
