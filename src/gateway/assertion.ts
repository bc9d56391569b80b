// The `Delegation-Assertion` upstream receives instead of the caller's token (MCP "Token Passthrough"): a short JWT
// signed by the gateway naming the user, the session, the client, the whole actor chain and the call.
// Signed on every call, so it is built by hand (RFC 7515 §7.1 compact serialization) and signed synchronously with
// node:crypto on the key imported once: jose's SignJWT on a WebCrypto key cost ~3x the CPU per call (docs/gateway.md,
// "Performance"). The JOSE header and each token's constant claims are encoded once; iat, exp, jti and tool per call.
import { KeyObject, randomFillSync, sign as cryptoSign, type SignKeyObjectInput, type webcrypto } from 'node:crypto';
import type { VerifiedToken } from 'delegation-token-verify';
import type { LoadedKeys, SigningAlg } from '../keys/index.js';

export const ASSERTION_HEADER = 'delegation-assertion';
export const ASSERTION_TYP = 'delegation-assertion+jwt';

export interface AssertionSigner {
  /** A fresh assertion for one call: new jti, iat now, exp iat + ttl, the tool for tools/call. */
  sign(token: VerifiedToken, upstream: string, tool: string | undefined): string;
}

/** node:crypto's digest and key options for each of the service's signing algorithms (RFC 7518 §3.1, RFC 8037 §3.1). */
function signerFor(alg: SigningAlg, key: KeyObject): (input: Buffer) => Buffer {
  switch (alg) {
    case 'ES256': {
      // RFC 7518 §3.4: the ECDSA signature is R || S (64 octets), not DER.
      const options: SignKeyObjectInput = { key, dsaEncoding: 'ieee-p1363' };
      return (input) => cryptoSign('sha256', input, options);
    }
    case 'EdDSA':
      return (input) => cryptoSign(null, input, key);
    case 'RS256':
      return (input) => cryptoSign('sha256', input, key);
    default:
      throw new TypeError(`unsupported assertion alg ${String(alg)}`);
  }
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
  const signBytes = signerFor(alg, key instanceof KeyObject ? key : KeyObject.from(key as webcrypto.CryptoKey));
  // RFC 8725 §3.11: an explicit typ keeps this JWT from being mistaken for an access token (at+jwt) anywhere.
  const encodedHeader = Buffer.from(JSON.stringify({ alg, kid, typ: ASSERTION_TYP })).toString('base64url');
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
      const signingInput = `${encodedHeader}.${Buffer.from(payload).toString('base64url')}`;
      return `${signingInput}.${signBytes(Buffer.from(signingInput)).toString('base64url')}`;
    },
  };
}
