// The `Delegation-Assertion` upstream receives instead of the caller's token (MCP "Token Passthrough"): a short JWT
// signed by the gateway naming the user, the session, the client, the whole actor chain and the call.
// Signed on every call with jose's CompactSign (RFC 7515 §7.1) on the key loaded once. The JOSE header and each token's
// constant claims are serialized once; iat, exp, jti and tool per call (docs/gateway.md, "Performance").
import { randomFillSync } from 'node:crypto';
import type { VerifiedToken } from 'delegation-token-verify';
import { CompactSign } from 'jose';
import type { LoadedKeys } from '../keys/index.js';

export const ASSERTION_HEADER = 'delegation-assertion';
export const ASSERTION_TYP = 'delegation-assertion+jwt';

export interface AssertionSigner {
  /** A fresh assertion for one call: new jti, iat now, exp iat + ttl, the tool for tools/call. */
  sign(token: VerifiedToken, upstream: string, tool: string | undefined): Promise<string>;
}

/** 16 random bytes per jti, drawn from a refilled pool (one getrandom per 256 assertions instead of one each). */
function jtiSource(): () => string {
  const pool = Buffer.alloc(16 * 256);
  let offset = pool.length;
  return () => {
    if (offset === pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const jti = pool.toString('base64url', offset, offset + 16);
    offset += 16;
    return jti;
  };
}

export function createAssertionSigner(keys: LoadedKeys, issuer: string, ttlSeconds: number, now: () => number = Date.now): AssertionSigner {
  const { key, kid, alg } = keys.signing;
  // RFC 8725 §3.11: an explicit typ keeps this JWT from being mistaken for an access token (at+jwt) anywhere.
  const header = { alg, kid, typ: ASSERTION_TYP };
  const encoder = new TextEncoder();
  const issuerMember = `"iss":${JSON.stringify(issuer)}`;
  const nextJti = jtiSource();
  // A verified token's identity claims, as JSON members, once per token (the verifier hands back the same object
  // for a repeated token). Weak: an entry lives as long as the verifier's cache keeps the token.
  const identity = new WeakMap<VerifiedToken, string>();
  const identityOf = (token: VerifiedToken): string => {
    let members = identity.get(token);
    if (members === undefined) {
      const json = JSON.stringify({
        sub: token.sub,
        sid: token.sid,
        client_id: token.clientId,
        // RFC 8693 §4.1: the chain exactly as the delegation token carries it, current actor outermost.
        act: token.claims.act,
        scope: token.scopes.join(' '),
        delegation_jti: token.jti,
      });
      members = json.slice(1, -1);
      identity.set(token, members);
    }
    return members;
  };
  return {
    sign(token, upstream, tool) {
      const iat = Math.floor(now() / 1000);
      const payload =
        `{${identityOf(token)},${issuerMember},"aud":${JSON.stringify(upstream)},"iat":${iat},"exp":${iat + ttlSeconds},` +
        `"jti":"${nextJti()}"${tool === undefined ? '' : `,"tool":${JSON.stringify(tool)}`}}`;
      return new CompactSign(encoder.encode(payload)).setProtectedHeader(header).sign(key);
    },
  };
}
