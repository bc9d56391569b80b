// Checks a DPoP proof at the token endpoint (RFC 9449 §4.3) for the token exchange grant, which oidc-provider's own
// DPoP checks do not reach (they run in its built-in grants only, and compare `htu` with the address the request
// arrived on rather than the configured public issuer).
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { errors } from 'oidc-provider';
import type { DpopReplayStore } from '../stores/types.js';
import type { DpopNonces } from './nonces.js';

/** A checked proof: the RFC 7638 thumbprint of its key, and its `ath` when it carries one. */
export interface DpopProof {
  jkt: string;
  ath?: string;
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

// RFC 9449 §5: "invalid_dpop_proof" for a bad proof; fixed descriptions, the reason goes to the audit event only.
const invalid = (reason: string) => new errors.InvalidDpopProof('the DPoP proof is invalid', reason);

/** jose's refusal of the proof's JWS, as our audit reason (one switch over its codes). */
function joseReason(err: unknown): string {
  const e = err as { code?: string; claim?: string };
  switch (e.code) {
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'alg_not_allowed';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return e.claim === 'typ' ? 'wrong_typ' : 'bad_claims';
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad_signature';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'malformed';
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
  const expectedHtu = new URL(o.htu).href;

  async function check(req: DpopRequest): Promise<DpopProof | undefined> {
    if (!req.values?.length) return undefined;
    // RFC 9449 §4.3 check 1: "there is not more than one DPoP HTTP request header field".
    if (req.values.length > 1) throw invalid('multiple_proofs');
    const proof = req.values[0]!;
    if (proof.length > MAX_PROOF_LENGTH) throw invalid('too_large');

    let payload;
    let jwk: JWK;
    try {
      // RFC 9449 §4.3 checks 2-7: one well-formed JWT, typ "dpop+jwt", an allowed asymmetric alg, signed by the public
      // key in its `jwk` header (EmbeddedJWK refuses a private one).
      const verified = await jwtVerify(proof, EmbeddedJWK, { algorithms: o.algorithms, typ: 'dpop+jwt' });
      payload = verified.payload;
      jwk = verified.protectedHeader.jwk as JWK;
    } catch (err) {
      throw invalid(joseReason(err));
    }
    // RFC 9449 §4.3 check 7: "the jwk JOSE Header Parameter does not contain a private key".
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw invalid('private_key');
    // RFC 9449 §4.2: jti, htm, htu and iat are required.
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw invalid('bad_jti');
    if (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat)) throw invalid('bad_iat');
    // RFC 9449 §4.3 check 8: "the htm claim matches the HTTP method of the current request".
    if (payload.htm !== req.method) throw invalid('htm_mismatch');
    // RFC 9449 §4.3 check 9: "the htu claim matches the HTTP URI value for the HTTP request in which the JWT was
    // received, ignoring any query and fragment parts" (normalised, §4.3 "SHOULD"); the URI is the public one.
    const htu = typeof payload.htu === 'string' ? URL.parse(payload.htu) : null;
    if (htu) {
      htu.search = '';
      htu.hash = '';
    }
    if (htu?.href !== expectedHtu) throw invalid('htu_mismatch');
    // RFC 9449 §4.3 check 11 and §11.1: "the creation time of the JWT ... is within an acceptable window".
    if (Math.abs(o.now() - payload.iat) > o.windowSeconds) throw invalid('iat_out_of_window');
    // RFC 9449 §8: a missing or no longer valid server nonce is answered use_dpop_nonce with a fresh DPoP-Nonce.
    if (payload.nonce !== undefined || o.requireNonce) {
      const fresh = o.nonces.current();
      if (payload.nonce === undefined || typeof payload.nonce !== 'string' || !o.nonces.check(payload.nonce)) {
        req.setNonce(fresh);
        throw new errors.UseDpopNonce(payload.nonce === undefined ? 'a DPoP nonce is required' : 'the DPoP nonce is invalid or expired', payload.nonce === undefined ? 'nonce_required' : 'stale_nonce');
      }
      // RFC 9449 §8.2: the next nonce may be supplied with a successful response.
      if (payload.nonce !== fresh) req.setNonce(fresh);
    }
    const jkt = await calculateJwkThumbprint(jwk, 'sha256');
    // RFC 9449 §11.1: a proof is used once; its jti is remembered (per key and URI) for as long as its iat is accepted.
    const replayKey = createHash('sha256').update(`${jkt}\n${expectedHtu}\n${payload.jti}`).digest('base64url');
    if (!(await o.replay.claim(replayKey, 2 * o.windowSeconds))) throw invalid('replayed');
    return { jkt, ...(typeof payload.ath === 'string' ? { ath: payload.ath } : {}) };
  }

  return { check };
}

export type DpopProofChecker = ReturnType<typeof createDpopProofChecker>;
