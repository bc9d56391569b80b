// The resource server's DPoP proof check (RFC 9449 §4.3 and §7.1): run on every request, cached token or not.
import { createHash } from 'node:crypto';
import { compactVerify, importJWK, type CryptoKey, type JWK } from 'jose';
import { VerifyError } from './errors.js';
import { decodeJsonSegment } from './json_strict.js';
import { deepFreeze } from './freeze.js';
import { ExpiringLru, setBounded } from './lru.js';
import type { DpopNonces } from './dpop_nonce.js';
import type { DpopReplayStore } from './dpop_replay.js';

/**
 * What the caller saw on the request: every `DPoP` header value, the method, and the public URL it was sent to.
 *
 * @example
 * ```ts
 * await verifier.verify(token, { dpop: { proof: req.headersDistinct.dpop, method: req.method, url: 'https://tools.example/mcp' } })
 * ```
 */
export interface DpopRequest {
  /** The `DPoP` header: one string, or each value separately (node's `req.headersDistinct.dpop`). */
  proof: string | readonly string[] | undefined;
  method: string;
  /** The request's public URL (what the client addressed), not the address a proxy forwarded to. */
  url: string;
}

export interface DpopCheckOptions {
  algorithms: ReadonlySet<string>;
  windowSeconds: number;
  replay: DpopReplayStore;
  nonces: DpopNonces | undefined;
  /** Epoch milliseconds. */
  now: () => number;
}

const MAX_PROOF_LENGTH = 8192;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
// RFC 7638 §3.2: the required members of each key type, in lexicographic order.
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/**
 * A proof header that passed every header check: its algorithm, its public key's RFC 7638 required members (all of the
 * key a signature is checked with) and that key's thumbprint.
 */
interface VettedHeader {
  readonly alg: string;
  readonly members: Readonly<Record<string, string>>;
  readonly thumbprint: string;
}

const VETTED_HEADERS_MAX = 1000;
const REQUEST_URLS_MAX = 64;
const NOT_JSON = 'header or payload is not a JSON object with unique members';

const invalid = (detail: string) => new VerifyError('ERR_DPOP_PROOF_INVALID', { detail });

/** base64url(SHA-256(value)): the `ath` of a token (RFC 9449 §4.2) and the replay key. */
export const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK, computed synchronously (jose's is async and goes through Web
 * Crypto: this runs on every request).
 */
export function jwkThumbprint(jwk: Record<string, unknown>): string | undefined {
  const members = requiredMembers(jwk);
  return members && sha256(JSON.stringify(members));
}

/** RFC 7638 §3.2: a public JWK's required members, in lexicographic order; undefined for a type or member we do not know. */
function requiredMembers(jwk: Record<string, unknown>): Record<string, string> | undefined {
  // Own members only: a kty such as "constructor" must not reach Object.prototype.
  const names = typeof jwk.kty === 'string' && Object.hasOwn(THUMBPRINT_MEMBERS, jwk.kty) ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (!names) return undefined;
  const members: Record<string, string> = {};
  for (const name of names) {
    const value = jwk[name];
    if (typeof value !== 'string') return undefined;
    members[name] = value;
  }
  return members;
}

/** RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used"; above 4096 bits a proof only costs more to check. */
const RSA_MODULUS_BITS = { min: 2048, max: 4096 };
/** RFC 7518 §2 Base64urlUInt: base64url without padding (strict, so every decoder reads the same octets). */
const BASE64URL_UINT = /^[A-Za-z0-9_-]+$/;

/**
 * Why a DPoP proof's public key is refused beyond what its import checks, or undefined when it is not: an RSA key
 * needs a modulus of 2048 to 4096 bits and an odd public exponent from 3 to 2^32 - 1 (a larger exponent makes every
 * signature check a full-size modular exponentiation, milliseconds per proof). EC and OKP keys are left to the import,
 * which checks the curve and the point. The verifier and the delegation token service's token endpoint both apply it.
 *
 * @example
 * ```ts
 * dpopKeyProblem({ kty: 'RSA', n, e: 'AQAB' }) // undefined for a 2048-bit modulus
 * dpopKeyProblem({ kty: 'RSA', n: n1024, e: 'AQAB' }) // 'RSA modulus of 1024 bits'
 * ```
 */
export function dpopKeyProblem(jwk: Readonly<Record<string, unknown>>): string | undefined {
  if (jwk.kty !== 'RSA') return undefined;
  const n = unsignedInteger(jwk.n);
  const e = unsignedInteger(jwk.e);
  if (!n || !e) return 'RSA n or e is not a base64url unsigned integer';
  const bits = n.length === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
  if (bits < RSA_MODULUS_BITS.min || bits > RSA_MODULUS_BITS.max) return `RSA modulus of ${bits} bits`;
  if (e.length > 4) return 'RSA exponent over 32 bits';
  const exponent = e.reduce((value, octet) => value * 256 + octet, 0);
  // RFC 8017 §3.1: e is an odd integer, 3 <= e <= n - 1.
  if (exponent < 3 || exponent % 2 === 0) return `RSA exponent ${exponent}`;
  return undefined;
}

/** The octets of a Base64urlUInt, leading zero octets dropped; undefined when it is not one. */
function unsignedInteger(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || !BASE64URL_UINT.test(value) || value.length % 4 === 1) return undefined;
  const octets = Buffer.from(value, 'base64url');
  const first = octets.findIndex((octet) => octet !== 0);
  return first === -1 ? new Uint8Array() : octets.subarray(first);
}

/**
 * Check one request's proof for a token bound to `jkt`; returns nothing, throws a VerifyError. Keys imported from
 * proofs are kept by alg and thumbprint (a holder sends the same key on every request), so a repeated key costs one
 * SHA-256 instead of a key import.
 */
export function createDpopCheck(o: DpopCheckOptions) {
  const keys = new ExpiringLru<CryptoKey>(1000);
  // Proof headers already vetted, by their exact base64url text: a holder signs every proof with one key, so its
  // header ({typ, alg, jwk}) is the same segment on every request and is decoded, checked and hashed once. Vetting is
  // a pure function of the segment and this verifier's algorithms; only headers that passed are kept, and a stream
  // of distinct ones (someone probing) just cycles the oldest out.
  const headers = new Map<string, VettedHeader>();

  /** The checks on a proof's header, in RFC 9449 §4.3 order; a refusal's detail when one fails. */
  function vetHeader(segment: string): VettedHeader | string {
    const header = decodeJsonSegment(segment);
    if (!header) return NOT_JSON;
    // RFC 9449 §4.3 check 4: "the typ JOSE Header Parameter has the value dpop+jwt".
    if (typeof header.typ !== 'string' || !['dpop+jwt', 'application/dpop+jwt'].includes(header.typ.toLowerCase())) return `typ ${JSON.stringify(header.typ)}`;
    // RFC 9449 §4.3 check 5: "the alg JOSE Header Parameter indicates a registered asymmetric digital signature
    // algorithm, is not none, is supported by the application, and is acceptable per local policy".
    if (typeof header.alg !== 'string' || !o.algorithms.has(header.alg)) return `alg ${JSON.stringify(header.alg)} not allowed`;
    // RFC 7515 §4.1.11: we understand no critical extension.
    if (Object.hasOwn(header, 'crit')) return 'crit header present';
    const jwk = header.jwk;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'jwk header missing';
    // RFC 9449 §4.3 check 7: "the jwk JOSE Header Parameter does not contain a private key".
    if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk, m))) return 'jwk holds a private key';
    const members = requiredMembers(jwk as Record<string, unknown>);
    if (!members) return 'jwk is not an EC, OKP or RSA public key';
    // RFC 7518 §3.3: an RSA key of at least 2048 bits; our profile also bounds its size and exponent (dpopKeyProblem).
    const weak = dpopKeyProblem(members);
    if (weak) return `jwk: ${weak}`;
    const vetted: VettedHeader = deepFreeze({ alg: header.alg, members, thumbprint: sha256(JSON.stringify(members)) });
    setBounded(headers, segment, vetted, VETTED_HEADERS_MAX);
    return vetted;
  }

  // A server answers on a handful of public URLs: each is normalised once.
  const requestHtus = new Map<string, string | undefined>();
  function requestHtu(url: string): string | undefined {
    if (requestHtus.has(url)) return requestHtus.get(url);
    const normalized = normalizeHtu(url);
    setBounded(requestHtus, url, normalized, REQUEST_URLS_MAX);
    return normalized;
  }

  return async function checkProof(request: DpopRequest, token: string, jkt: string): Promise<void> {
    const values = typeof request.proof === 'string' ? [request.proof] : (request.proof ?? []);
    // RFC 9449 §7.1: a DPoP-bound token comes with a proof; without one it is refused.
    if (values.length === 0 || values[0] === '') throw new VerifyError('ERR_DPOP_PROOF_MISSING');
    // RFC 9449 §4.3 check 1: "there is not more than one DPoP HTTP request header field".
    if (values.length > 1 || values[0]!.includes(',')) throw invalid('more than one DPoP header');
    const proof = values[0]!;
    if (proof.length > MAX_PROOF_LENGTH) throw invalid('proof too long');
    // RFC 9449 §4.3 check 2: "the DPoP HTTP request header field value is a single and well-formed JWT".
    const parts = proof.split('.');
    if (parts.length !== 3) throw invalid('not a compact JWS');
    const payload = decodeJsonSegment(parts[1]!);
    if (!payload) throw invalid(NOT_JSON);
    const header = headers.get(parts[0]!) ?? vetHeader(parts[0]!);
    if (typeof header === 'string') throw invalid(header);
    const { alg, members, thumbprint } = header;
    // RFC 9449 §7.1: "the public key to which the access token is bound ... matches the public key from the DPoP proof".
    if (thumbprint !== jkt) throw new VerifyError('ERR_DPOP_KEY_MISMATCH', { detail: `proof key ${thumbprint}` });

    // RFC 9449 §4.3 check 6: "the JWT signature verifies with the public key contained in the jwk JOSE Header Parameter".
    // The key is imported from its RFC 7638 members only, so whoever sends a thumbprint first cannot shape the key (a
    // `key_ops: []` or `use: "enc"` that refuses to verify) the holder's proofs are checked with; and it is kept only
    // once a signature verified with it.
    const cacheKey = `${alg}:${thumbprint}`;
    const nowMs = o.now();
    try {
      const cached = keys.get(cacheKey, nowMs);
      const key = cached ?? ((await importJWK(members as JWK, alg)) as CryptoKey);
      await compactVerify(proof, key, { algorithms: [alg] });
      if (!cached) keys.set(cacheKey, key, nowMs + 3_600_000);
    } catch (err) {
      throw new VerifyError('ERR_DPOP_PROOF_INVALID', { detail: `signature: ${err instanceof Error ? err.message : String(err)}`, cause: err });
    }

    // RFC 9449 §4.3 check 3: "all required claims per Section 4.2 are contained in the JWT" (jti, htm, htu, iat).
    const { jti, htm, htu, iat, ath, nonce } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw invalid('jti missing');
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('iat missing');
    // RFC 9449 §4.3 check 8: "the htm claim matches the HTTP method of the current request".
    if (htm !== request.method.toUpperCase()) throw invalid(`htm ${JSON.stringify(htm)}`);
    // RFC 9449 §4.3 check 9: "the htu claim matches the HTTP URI value for the HTTP request in which the JWT was
    // received, ignoring any query and fragment parts" (normalised per RFC 3986 §6.2.2-6.2.3, §4.3 "SHOULD").
    const expectedHtu = requestHtu(request.url);
    if (!expectedHtu) throw invalid('the request URL is not an absolute http(s) URL');
    if (typeof htu !== 'string' || (htu !== request.url && normalizeHtu(htu) !== expectedHtu)) throw invalid(`htu ${JSON.stringify(htu)}`);
    // RFC 9449 §4.3 check 11 and §11.1: "the creation time of the JWT ... is within an acceptable window".
    if (Math.abs(nowMs / 1000 - iat) > o.windowSeconds) throw invalid('iat out of window');
    // RFC 9449 §4.3 check 12 / §7.1: "the value of the ath claim equals the hash of that access token".
    if (typeof ath !== 'string' || ath !== sha256(token)) throw invalid('ath does not match the access token');
    // RFC 9449 §9: a resource server that wants nonces answers use_dpop_nonce until the proof carries a current one.
    if (o.nonces && (typeof nonce !== 'string' || !o.nonces.check(nonce))) {
      throw new VerifyError('ERR_DPOP_NONCE_REQUIRED', { detail: nonce === undefined ? 'no nonce' : 'stale nonce', dpopNonce: o.nonces.current() });
    }
    // RFC 9449 §11.1: store "the jti value of each DPoP proof for the time window in which the respective DPoP proof JWT
    // would be accepted" (per key and URI here).
    let first: boolean;
    try {
      first = await o.replay.claim(sha256(`${thumbprint}\n${expectedHtu}\n${jti}`), replayTtlSeconds(o.windowSeconds));
    } catch (err) {
      throw new VerifyError('ERR_DPOP_REPLAY_UNAVAILABLE', { detail: 'replay store failed', cause: err });
    }
    if (!first) throw new VerifyError('ERR_DPOP_REPLAYED', { detail: `jti ${jti}` });
    // RFC 9449 §11.1: the jti is remembered only while the proof is acceptable, and the clock above was read before the
    // signature check and the claim: a claim settled later may have been taken over an expired entry, so it counts
    // only while the proof is still in window.
    if (o.now() / 1000 - iat > o.windowSeconds) throw invalid('iat out of window');
  };
}

/**
 * How long a proof's jti is remembered: a proof passes the iat check from iat - w to iat + w inclusive, so its first use
 * can be 2w before its last; one more second keeps the entry alive at that last instant (an entry is gone at its expiry,
 * and a store counting whole seconds gets an integer).
 */
function replayTtlSeconds(windowSeconds: number): number {
  return Math.ceil(2 * windowSeconds) + 1;
}

/** RFC 3986 §2.3: the unreserved characters, which a percent-encoding must not hide (§6.2.2.2). */
const UNRESERVED = /^[A-Za-z0-9._~-]$/;

/**
 * Scheme and host lowercased, default port dropped, dot segments resolved, the path's percent-encodings normalised; no
 * query or fragment. RFC 9449 §4.3: servers "SHOULD employ syntax-based normalization (Section 6.2.2 of [RFC3986]) and
 * scheme-based normalization (Section 6.2.3 of [RFC3986]) before comparing the htu claim". WHATWG parsing does all but
 * the percent-encodings: RFC 3986 §6.2.2.2, octets of unreserved characters "should be decoded to their corresponding
 * unreserved characters" (`/%6dcp` is `/mcp`); §6.2.2.1, every other triplet's hex digits "should be normalized to use
 * uppercase letters" (`%2f` is `%2F`, still not a `/`). The issuer compares its token endpoint's `htu` with this too.
 *
 * @example
 * normalizeHtu('HTTPS://Sts.Example:443/%74oken?x=1'); // 'https://sts.example/token'
 */
export function normalizeHtu(value: string): string | undefined {
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return undefined;
  url.search = '';
  url.hash = '';
  if (url.pathname.includes('%')) {
    url.pathname = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
      const char = String.fromCharCode(Number.parseInt(hex, 16));
      return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
    });
  }
  return url.href;
}
