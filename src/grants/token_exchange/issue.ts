// Builds and signs the delegation token: an RFC 9068 JWT access token with RFC 8693 `act` and our `sid`.
import { randomFillSync } from 'node:crypto';
import type { McpToolDetails } from 'delegation-token-verify';
import { signOnThisThread, type SignCompact, type SigningKey } from '../../keys/jws_thread.js';
import type { ActClaim } from '../../token_types/types.js';

export type Signer = SigningKey;

export interface DelegationClaims {
  sub: string;
  aud: string;
  clientId: string;
  scopes: string[];
  act: ActClaim;
  sid: string;
  iat: number;
  exp: number;
  authTime?: number;
  acr?: string;
  /** Digests of the tokens this one derives from, root first (claim `ancestors`); omitted when empty. */
  ancestors?: string[];
  /** The original user's groups the policy names (RFC 9068 §2.2.3.1 `groups`); omitted when empty. */
  groups?: string[];
  /** RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to (claim `cnf.jkt`); absent for a bearer token. */
  jkt?: string | undefined;
  /** RFC 9396 §9.1: the granted `mcp_tool` authorization details; omitted when none. */
  authorizationDetails?: McpToolDetails[] | undefined;
}

/** 16 random bytes per jti, cut from a pool refilled 256 jtis at a time (one CSPRNG call instead of one per token, as
 * Node's randomUUID does); each slice is used once. */
const JTI_BYTES = 16;
const jtiPool = Buffer.alloc(JTI_BYTES * 256);
let jtiOffset = jtiPool.length;

function newJti(): string {
  if (jtiOffset === jtiPool.length) {
    randomFillSync(jtiPool);
    jtiOffset = 0;
  }
  const jti = jtiPool.toString('base64url', jtiOffset, jtiOffset + JTI_BYTES);
  jtiOffset += JTI_BYTES;
  return jti;
}

/** The claims are built here, from checked values, and serialized once: jose's CompactSign signs them as they are
 * (SignJWT would clone and re-validate the same object on every token). */
export async function signDelegationToken(issuer: string, signer: Signer, c: DelegationClaims, sign: SignCompact = signOnThisThread): Promise<{ token: string; jti: string }> {
  const jti = newJti();
  const claims = {
    client_id: c.clientId,
    scope: c.scopes.join(' '),
    sid: c.sid,
    act: c.act,
    ...(c.authTime !== undefined ? { auth_time: c.authTime } : {}),
    ...(c.acr !== undefined ? { acr: c.acr } : {}),
    ...(c.ancestors?.length ? { ancestors: c.ancestors } : {}),
    ...(c.groups?.length ? { groups: c.groups } : {}),
    ...(c.jkt ? { cnf: { jkt: c.jkt } } : {}),
    ...(c.authorizationDetails ? { authorization_details: c.authorizationDetails } : {}),
    iss: issuer,
    sub: c.sub,
    aud: c.aud,
    iat: c.iat,
    exp: c.exp,
    jti,
  };
  // RFC 9068 §2.1: typ "at+jwt"; a kid from the published JWKS.
  const token = await sign(signer, { alg: signer.alg, typ: 'at+jwt', kid: signer.kid }, JSON.stringify(claims));
  return { token, jti };
}
