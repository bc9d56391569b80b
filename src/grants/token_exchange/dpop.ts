// The exchange's DPoP step (RFC 9449 §5 applies to every grant): checks the request's proof, keeps a bound subject
// token's binding (never dropped), applies the policy's DPoP requirements, and names the key the new token is bound to.
import { createHash } from 'node:crypto';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ToolServerConfig } from '../../config/schema.js';
import { DPOP_PROOF_REQUIRED, type DpopProofChecker, type InspectedDpopProof } from '../../dpop/proof.js';
import type { SubjectContext } from '../../token_types/types.js';

export interface DpopStepDeps {
  proofs: DpopProofChecker;
  /** Clients registered with `dpop_bound_access_tokens` (RFC 9449 §5.2): all their tokens must be bound. */
  boundClients: Set<string>;
  /** Tool servers by resource (a delegation token's `aud`), for the client registered for each. */
  toolServers: Map<string, ToolServerConfig>;
}

export interface DpopStepInput {
  subject: SubjectContext;
  subjectToken: string;
  clientId: string;
  toolServer: ToolServerConfig;
  /** The request's proof as `startDpopProof` checked it (its replay claim still to be settled), if it carried one. */
  proof: InspectedDpopProof | undefined;
}

const MISMATCH = 'the DPoP proof does not match the subject_token';
const refuse = (description: string, reason: string) => new errors.InvalidRequest(description, undefined, reason);

/**
 * Starts the checks of the request's DPoP proof (every RFC 9449 §4.3 rule but the replay check; `DpopProofChecker.start`)
 * for a request with a `DPoP` header (the caller looks at `ctx.req.headers.dpop`, parsed already; `headersDistinct`,
 * which keeps repeated headers apart for §4.3 check 1, is built only here). Run before the subject is read, so the
 * subject's store read can claim the proof's replay key in the same round trip (`ValidationContext.dpopReplay`) while
 * the signature is checked; `dpopBinding` settles the claim. Throws at once for a proof refused before its signature.
 *
 * @example
 * const started = ctx.req.headers.dpop === undefined ? undefined : startDpopProof(deps, ctx);
 * const proof = await started?.done;
 */
export function startDpopProof(deps: DpopStepDeps, ctx: KoaContextWithOIDC): ReturnType<DpopProofChecker['start']> {
  return deps.proofs.start({
    values: ctx.req.headersDistinct.dpop,
    method: ctx.method,
    setNonce: (nonce) => ctx.set('DPoP-Nonce', nonce),
  });
}

/**
 * The thumbprint the issued token is bound to (`cnf.jkt`), or undefined for a bearer token.
 *
 * A DPoP-bound subject token is accepted only (a) from the holder of its key: the proof's key is the subject token's
 * (`ath`, when the proof carries one, must be over the subject token), or (b) from the client registered for the tool
 * server in a bound delegation token's `aud` (multi-hop): that tool server received the token and cannot sign with the
 * agent's key; its own client authentication plus the audience binding is the proof. Either way the request carries a
 * proof of the requester's own key, and the new token is bound to it.
 *
 * @example
 * const jkt = await dpopBinding(deps, { subject, subjectToken: req.subject_token, clientId, toolServer, proof });
 */
export async function dpopBinding(deps: DpopStepDeps, input: DpopStepInput): Promise<string | undefined> {
  const { subject, clientId, toolServer } = input;
  // RFC 9449 §11.1: the replay check, made in the subject's store read when that read could take it, else here.
  const proof = input.proof && (await deps.proofs.claim(input.proof, subject.dpopReplayClaimed));
  if (subject.jkt !== undefined) {
    // RFC 9449 §5/§6: a binding is never dropped: a bound subject token yields only tokens bound to the requester's key.
    if (!proof) throw refuse(DPOP_PROOF_REQUIRED, 'dpop_required_by_subject');
    // RFC 9449 §4.2: `ath` is "the base64url-encoded SHA-256 hash of the ASCII encoding of the associated access token's value".
    if (proof.ath !== undefined && proof.ath !== createHash('sha256').update(input.subjectToken).digest('base64url')) {
      throw refuse(MISMATCH, 'dpop_ath_mismatch');
    }
    const holder = proof.jkt === subject.jkt;
    const audienceClient = subject.kind === 'delegation' && subject.audience !== undefined && deps.toolServers.get(subject.audience)?.clientId === clientId;
    if (!holder && !audienceClient) throw refuse(MISMATCH, 'dpop_key_mismatch');
  }
  if (!proof && toolServer.requireDpop) throw refuse(DPOP_PROOF_REQUIRED, 'dpop_required_by_tool_server');
  // RFC 9449 §5.2: dpop_bound_access_tokens "requires that all access tokens issued to the client are DPoP-bound".
  if (!proof && deps.boundClients.has(clientId)) throw refuse(DPOP_PROOF_REQUIRED, 'dpop_required_by_client');
  return proof?.jkt;
}
