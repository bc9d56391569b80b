// Checks a DPoP proof at the token endpoint (RFC 9449 §4.3), for every grant: the token exchange's step
// (grants/token_exchange/dpop.ts) and the step in front of oidc-provider's own grants (token_endpoint.ts), whose own
// checks are weaker (`htu` against the address the request arrived on rather than the configured public issuer, replay
// per client, a fixed window) and run after these.
import { createHash } from 'node:crypto';
import { decodeJsonSegment, dpopKeyProblem, normalizeHtu } from 'delegation-token-verify';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { LRUCache } from 'lru-cache';
import { errors } from 'oidc-provider';
import type { DpopReplayStore, ReplayClaim } from '../stores/types.js';
import type { DpopNonces } from './nonces.js';
import { SigningUnavailable, verifyOnThisThread, type VerifyCompact } from '../keys/jws_thread.js';

/** A checked proof: the RFC 7638 thumbprint of its key, and its `ath` when it carries one. */
export interface DpopProof {
  jkt: string;
  ath?: string;
}

/** A proof that passed every check but the replay check: `replay` is the claim that completes it (RFC 9449 §11.1). */
export interface InspectedDpopProof extends DpopProof {
  replay: ReplayClaim;
  /** The last second (epoch) its `iat` is within the window: a replay claim that settles after it does not count. */
  acceptableUntil: number;
}

export interface DpopProofOptions {
  /** The URL proofs must name in `htu`: the configured public issuer's token endpoint. */
  htu: string;
  algorithms: string[];
  /** `iat` must be within this many seconds of now, either way. */
  windowSeconds: number;
  requireNonce: boolean;
  nonces: DpopNonces;
  replay: DpopReplayStore;
  /** Epoch seconds. */
  now: () => number;
  /** Imported proof keys kept, by alg and thumbprint (default 1000). */
  keyCacheSize?: number;
  /** Verifies the proof's signature; default jose's compactVerify on this thread (the service passes its signing
   * thread's, keys/jws_thread.ts). */
  verify?: VerifyCompact;
}

/** What the request gives the check: the DPoP header values, each one separately, and the method. */
export interface DpopRequest {
  values: string[] | undefined;
  method: string;
  /** Sets the `DPoP-Nonce` response header (RFC 9449 §8). */
  setNonce(nonce: string): void;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_PROOF_LENGTH = 8192;
/** The longest header text remembered: an RSA-4096 key's header is about 800 characters, an EC P-256 one about 230. */
const MAX_CACHED_HEADER = 1024;

/** What a proof's header gives once checked: its alg, its key's RFC 7638 thumbprint and the thumbprint's members. */
interface CheckedHeader {
  readonly alg: string;
  readonly jkt: string;
  readonly canonical: Readonly<Record<string, string>>;
}
// RFC 7638 §3.2: the required members of each key type, in lexicographic order (what the thumbprint hashes).
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

// RFC 9449 §5: "invalid_dpop_proof" for a bad proof; fixed descriptions, the reason goes to the audit event only.
const invalid = (reason: string) => new errors.InvalidDpopProof('the DPoP proof is invalid', reason);

/**
 * The required members of a public JWK (RFC 7638 §3.2) and their SHA-256 thumbprint, computed synchronously (jose's
 * `calculateJwkThumbprint` is async and goes through Web Crypto: this runs on every proof). Undefined for a key type
 * or member we do not know.
 *
 * @example
 * const { jkt } = jwkThumbprint({ kty: 'EC', crv: 'P-256', x, y })!;
 */
export function jwkThumbprint(jwk: Record<string, unknown>): { jkt: string; canonical: Record<string, string> } | undefined {
  const members = typeof jwk.kty === 'string' && Object.hasOwn(THUMBPRINT_MEMBERS, jwk.kty) ? THUMBPRINT_MEMBERS[jwk.kty]! : undefined;
  if (!members) return undefined;
  const canonical: Record<string, string> = {};
  for (const name of members) {
    const value = jwk[name];
    if (typeof value !== 'string' || value === '') return undefined;
    canonical[name] = value;
  }
  // RFC 7638 §3.3: members in lexicographic order, no whitespace; JSON.stringify keeps insertion order.
  return { jkt: createHash('sha256').update(JSON.stringify(canonical)).digest('base64url'), canonical };
}

// RFC 9449 §4.3: `htu` is compared after RFC 3986 §6.2.2/§6.2.3 normalisation: the verify SDK's normalizeHtu, one
// implementation for the issuer and every tool server (re-exported for the tests of this module).
export { normalizeHtu };

/** The fixed description of every grant's refusal of a request that needs a DPoP proof and has none (RFC 9449 §5, the
 * profile's `requireDpop`): one text, whichever grant answers. */
export const DPOP_PROOF_REQUIRED = 'a DPoP proof is required';

/** jose's refusal of the proof's JWS, as our audit reason (one switch over its codes). */
function joseReason(err: unknown): string {
  const e = err as { code?: string };
  switch (e.code) {
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'alg_not_allowed';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad_signature';
    case 'ERR_JWS_INVALID':
    default:
      return 'malformed';
  }
}

/**
 * @example
 * const proofs = createDpopProofChecker({ htu: `${issuer}/token`, algorithms: ['ES256'], windowSeconds: 60, requireNonce: true, nonces, replay, now });
 * const proof = await proofs.check({ values: ctx.req.headersDistinct.dpop, method: ctx.method, setNonce: (n) => ctx.set('DPoP-Nonce', n) });
 */
export function createDpopProofChecker(o: DpopProofOptions) {
  // The token endpoint's public URL, normalised as a proof's htu is (no query or fragment).
  const expectedHtu = normalizeHtu(o.htu);
  if (expectedHtu === undefined) throw new TypeError(`the DPoP htu ${o.htu} is not an absolute http(s) URL`);
  const algorithms = new Set(o.algorithms);
  // Imported keys by alg and thumbprint: a holder signs every proof with the same key, so a repeated key costs one
  // SHA-256 instead of a key import. The thumbprint fixes the key (RFC 7638 §1), so a cached entry never goes stale;
  // the bound only caps memory against a client sending a new key every time.
  const keys = new LRUCache<string, CryptoKey>({ max: o.keyCacheSize ?? 1000 });
  // Headers that passed the checks below, by their exact base64url text: a holder sends the same header (typ, alg, its
  // public jwk) with every proof, so it is decoded, checked and hashed once. The outcome is a pure function of the text
  // and the alg allow-list (fixed for this checker), so a hit is what a fresh check would give; only passing headers
  // up to MAX_CACHED_HEADER characters are kept, and a stream of distinct headers only cycles the oldest out.
  const headers = new LRUCache<string, CheckedHeader>({ max: o.keyCacheSize ?? 1000 });

  function checkedHeader(segment: string): CheckedHeader {
    const known = headers.get(segment);
    if (known) return known;
    const header = decodeJsonSegment(segment);
    const jwk = header?.jwk;
    if (!header || typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalid('malformed');
    // RFC 9449 §4.3 check 7: "the jwk JOSE Header Parameter does not contain a private key" (checked before the key is used).
    if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk, m))) throw invalid('private_key');
    // RFC 9449 §4.3 check 5: alg "is not none, is supported by the application, and is acceptable per local policy".
    if (typeof header.alg !== 'string' || !algorithms.has(header.alg)) throw invalid('alg_not_allowed');
    // RFC 9449 §4.3 check 4: "the typ JOSE Header Parameter has the value dpop+jwt" (media type, case-insensitive).
    if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== 'dpop+jwt') throw invalid('wrong_typ');
    // RFC 9449 §4.2: the key is a JWK; RFC 7638: its thumbprint is what a token is bound to (`cnf.jkt`).
    const thumbprint = jwkThumbprint(jwk as Record<string, unknown>);
    if (!thumbprint) throw invalid('malformed');
    // RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used"; the verify SDK's rule, which also bounds the
    // modulus and the public exponent (a huge one makes every signature check cost milliseconds).
    if (dpopKeyProblem(thumbprint.canonical)) throw invalid('weak_key');
    // RFC 7515 §4.1.11: we understand no extension header, so a proof naming one as critical is refused.
    if (Object.hasOwn(header, 'crit')) throw invalid('malformed');
    const checked: CheckedHeader = { alg: header.alg, jkt: thumbprint.jkt, canonical: thumbprint.canonical };
    if (segment.length <= MAX_CACHED_HEADER) headers.set(segment, checked);
    return checked;
  }

  /** RFC 9449 §4.3 check 6 (the signature, with the proof's own key), on the signing thread; refusals as `invalid`. */
  async function verifySignature(alg: string, jkt: string, canonical: Readonly<Record<string, string>>, proof: string): Promise<void> {
    const cacheKey = `${alg}:${jkt}`;
    try {
      let key = keys.get(cacheKey);
      if (!key) {
        // Imported from the thumbprint's members only, so every proof naming this thumbprint gets the same key.
        key = (await importJWK(canonical as JWK, alg)) as CryptoKey;
        keys.set(cacheKey, key);
      }
      // jose checks the key fits the alg (curve, type) and refuses unknown `crit` parameters (RFC 7515 §4.1.11).
      await (o.verify ?? verifyOnThisThread)(key, proof, [alg]);
    } catch (err) {
      // The thread that checks signatures is down: an outage (503), not a bad proof.
      if (err instanceof SigningUnavailable) throw err;
      throw invalid(joseReason(err));
    }
  }

  /** The checks of the proof's claims (RFC 9449 §4.3 checks 8-11, §8 nonces); the proof's replay claim when they pass. */
  function checkClaims(payload: Record<string, unknown>, jkt: string, method: string, setNonce: (nonce: string) => void): ReplayClaim {
    const now = o.now();
    // RFC 7519 §4.1.4/§4.1.5: a proof that carries exp or nbf is held to them (as jwtVerify did).
    if (payload.exp !== undefined && (typeof payload.exp !== 'number' || payload.exp <= now)) throw invalid('expired');
    if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now)) throw invalid('bad_claims');
    // RFC 9449 §4.2: jti, htm, htu and iat are required.
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw invalid('bad_jti');
    if (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat)) throw invalid('bad_iat');
    // RFC 9449 §4.3 check 8: "the htm claim matches the HTTP method of the current request".
    if (payload.htm !== method) throw invalid('htm_mismatch');
    // RFC 9449 §4.3 check 9: "the htu claim matches the HTTP URI value for the HTTP request in which the JWT was
    // received, ignoring any query and fragment parts" (normalised, §4.3 "SHOULD"); the URI is the public one.
    // A proof written with exactly the normalised URL (what clients send) needs no parse: normalising is idempotent.
    if (payload.htu !== expectedHtu && (typeof payload.htu !== 'string' || normalizeHtu(payload.htu) !== expectedHtu)) throw invalid('htu_mismatch');
    // RFC 9449 §4.3 check 11 and §11.1: "the creation time of the JWT ... is within an acceptable window".
    if (Math.abs(now - payload.iat) > o.windowSeconds) throw invalid('iat_out_of_window');
    // RFC 9449 §8: a missing or no longer valid server nonce is answered use_dpop_nonce with a fresh DPoP-Nonce.
    if (payload.nonce !== undefined || o.requireNonce) {
      const fresh = o.nonces.current();
      if (payload.nonce === undefined || typeof payload.nonce !== 'string' || !o.nonces.check(payload.nonce)) {
        setNonce(fresh);
        throw new errors.UseDpopNonce(payload.nonce === undefined ? 'a DPoP nonce is required' : 'the DPoP nonce is invalid or expired', payload.nonce === undefined ? 'nonce_required' : 'stale_nonce');
      }
      // RFC 9449 §8.2: the next nonce may be supplied with a successful response.
      if (payload.nonce !== fresh) setNonce(fresh);
    }
    // RFC 9449 §11.1: store "the jti value of each DPoP proof for the time window in which the respective DPoP proof JWT
    // would be accepted" (per key and URI here). A proof passes the iat check from iat - w to iat + w inclusive, on a
    // clock read in whole seconds (service.ts floors it), so its last accepted instant can be up to 2w + 1 s after its
    // first: an entry living that long from the first use outlives every instant the proof is accepted.
    return { key: createHash('sha256').update(`${jkt}\n${expectedHtu}\n${payload.jti}`).digest('base64url'), ttlSeconds: Math.ceil(2 * o.windowSeconds) + 1 };
  }

  /**
   * Starts every check of RFC 9449 §4.3 but the replay check; undefined when the request carries no proof. The parse
   * and header checks run now (a refusal is thrown here), the claims are checked now as well, and the signature is
   * checked on the signing thread meanwhile, so the caller can read the subject (and make the replay claim in that
   * read) while it runs. `replay` is the claim to make, given only when every check but the signature's has passed,
   * so a proof refused for its claims is never spent; `done` settles as `inspect` does, the signature's refusal
   * first, then the claims' (with their `DPoP-Nonce`), so the answer is the one checking in sequence would give.
   */
  function start(req: DpopRequest): { replay: ReplayClaim | undefined; done: Promise<InspectedDpopProof> } | undefined {
    if (!req.values?.length) return undefined;
    // RFC 9449 §4.3 check 1: "there is not more than one DPoP HTTP request header field".
    if (req.values.length > 1) throw invalid('multiple_proofs');
    const proof = req.values[0]!;
    if (proof.length > MAX_PROOF_LENGTH) throw invalid('too_large');
    // RFC 9449 §4.3 check 2: "the DPoP HTTP request header field value is a single and well-formed JWT".
    const parts = proof.split('.');
    if (parts.length !== 3) throw invalid('malformed');
    const { alg, jkt, canonical } = checkedHeader(parts[0]!);
    const payload = decodeJsonSegment(parts[1]!);
    if (!payload) throw invalid('malformed');

    const signature = verifySignature(alg, jkt, canonical, proof);
    let nonce: string | undefined;
    let replay: ReplayClaim | undefined;
    let refused: { error: unknown } | undefined;
    try {
      replay = checkClaims(payload, jkt, req.method, (fresh) => (nonce = fresh));
    } catch (error) {
      refused = { error };
    }
    const done = signature.then(() => {
      if (nonce !== undefined) req.setNonce(nonce);
      if (refused) throw refused.error;
      return { jkt, ...(typeof payload.ath === 'string' ? { ath: payload.ath } : {}), replay: replay!, acceptableUntil: (payload.iat as number) + o.windowSeconds };
    });
    return { replay, done };
  }

  /**
   * Every check of RFC 9449 §4.3 but the replay check: the caller claims `replay` (the store's `claim`, or inside a read
   * that makes it in the same round trip) and refuses the proof unless the claim succeeds, as `check` does.
   */
  async function inspect(req: DpopRequest): Promise<InspectedDpopProof | undefined> {
    return start(req)?.done;
  }

  /** RFC 9449 §11.1: refuses a proof whose replay claim was already taken (`claimed`: the answer of a read that made it). */
  async function claim(proof: InspectedDpopProof, claimed?: boolean): Promise<DpopProof> {
    if (!(claimed ?? (await o.replay.claim(proof.replay.key, proof.replay.ttlSeconds)))) throw invalid('replayed');
    // RFC 9449 §11.1: the jti is remembered only while the proof is acceptable, and its iat was checked before the claim
    // settled: a claim settled later may have been taken over an expired entry, so it counts only while still in window.
    if (o.now() > proof.acceptableUntil) throw invalid('iat_out_of_window');
    return { jkt: proof.jkt, ...(proof.ath === undefined ? {} : { ath: proof.ath }) };
  }

  /** Every check of RFC 9449 §4.3, the replay check included. */
  async function check(req: DpopRequest): Promise<DpopProof | undefined> {
    const proof = await inspect(req);
    return proof && claim(proof);
  }

  return { start, inspect, claim, check };
}

export type DpopProofChecker = ReturnType<typeof createDpopProofChecker>;
