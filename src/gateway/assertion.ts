// The `Delegation-Assertion` upstream receives instead of the caller's token (MCP "Token Passthrough"): a short JWT
// signed by the gateway naming the user, the session, the client, the whole actor chain and the call.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { VerifiedToken } from 'delegation-token-verify';
import type { LoadedKeys } from '../keys/index.js';

export const ASSERTION_HEADER = 'delegation-assertion';
export const ASSERTION_TYP = 'delegation-assertion+jwt';

export interface AssertionSigner {
  sign(token: VerifiedToken, upstream: string, tool: string | undefined): Promise<string>;
}

export function createAssertionSigner(keys: LoadedKeys, issuer: string, ttlSeconds: number, now: () => number = Date.now): AssertionSigner {
  const { key, kid, alg } = keys.signing;
  // RFC 8725 §3.11: an explicit typ keeps this JWT from being mistaken for an access token (at+jwt) anywhere.
  const header = { alg, kid, typ: ASSERTION_TYP };
  return {
    sign(token, upstream, tool) {
      const iat = Math.floor(now() / 1000);
      const payload: Record<string, unknown> = {
        sub: token.sub,
        sid: token.sid,
        client_id: token.clientId,
        // RFC 8693 §4.1: the chain exactly as the delegation token carries it, current actor outermost.
        act: token.claims.act,
        scope: token.scopes.join(' '),
        delegation_jti: token.jti,
      };
      if (tool !== undefined) payload.tool = tool;
      return new SignJWT(payload)
        .setProtectedHeader(header)
        .setIssuer(issuer)
        .setAudience(upstream)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds)
        .setJti(randomBytes(16).toString('base64url'))
        .sign(key);
    },
  };
}
