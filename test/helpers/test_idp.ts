// An external identity provider for JOSE edge cases: its own RSA key, hand-built JWS (raw header and payload text), and
// a JWKS endpoint whose fetches are counted. Several can run at once (a trusted one, an attacker, one per JWKS test).
import { createHmac, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

export interface TestIdp {
  issuer: string;
  jwksUri: string;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
  /** iss, iat and exp (+300 s) filled in, then `extra` on top. */
  claims(extra?: JWTPayload): JWTPayload;
  /** An RS256 JWT signed with the IdP key unless `key`/`alg` say otherwise; `kid` set unless the header overrides it. */
  sign(extra?: JWTPayload, header?: Record<string, unknown>, options?: { key?: KeyObject; alg?: string; crit?: Record<string, boolean> }): Promise<string>;
  /** A compact JWS over exactly these JSON texts, RS256 with the IdP key: for what jose refuses to produce. */
  signRaw(headerJson: string, payloadJson: string): string;
  jwksFetches(): number;
  stop(): Promise<void>;
}

export const b64u = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** An unsecured JWS (RFC 7519 §6): header and payload, empty signature. */
export function unsecured(header: Record<string, unknown>, payload: JWTPayload): string {
  return `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}.`;
}

/** HS256 over header.payload keyed with `secret`: the RS256 -> HS256 key confusion attack (RFC 8725 §2.1). */
export function hmacJws(header: Record<string, unknown>, payload: JWTPayload, secret: string | Buffer): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** `jwksDelayMs` holds every JWKS answer back that long (a slow IdP: keeps an exchange in flight). */
export async function startTestIdp({ kid = 'idp-key-1', jwksDelayMs = 0 }: { kid?: string; jwksDelayMs?: number } = {}): Promise<TestIdp> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks') {
      fetches += 1;
      res.setHeader('content-type', 'application/json');
      setTimeout(() => res.end(JSON.stringify({ keys: [publicJwk] })), jwksDelayMs);
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const claims = (extra: JWTPayload = {}): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: issuer, iat: now, exp: now + 300, ...extra };
  };
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    kid,
    privateKey,
    publicKey,
    publicJwk,
    claims,
    sign(extra = {}, header = {}, options = {}) {
      return new SignJWT(claims(extra))
        .setProtectedHeader({ alg: options.alg ?? 'RS256', kid, ...header })
        .sign(options.key ?? privateKey, options.crit ? { crit: options.crit } : undefined);
    },
    signRaw(headerJson, payloadJson) {
      const input = `${b64u(headerJson)}.${b64u(payloadJson)}`;
      return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
    },
    jwksFetches: () => fetches,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
