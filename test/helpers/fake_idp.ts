// A trusted external identity provider served by the test itself: a JWKS over HTTP and a signer for its JWTs.
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type JWK } from 'jose';

export interface FakeIdp {
  issuer: string;
  jwksUri: string;
  /** Signs a JWT as the IdP: iss, iat, exp (+300 s) and kid are filled in unless given. */
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  jwksFetches(): number;
  stop(): Promise<void>;
}

export async function startFakeIdp(): Promise<FakeIdp> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' };
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks') {
      fetches += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const issuer = `http://127.0.0.1:${port}`;
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    async sign(claims, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, iat: now, exp: now + 300, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'idp-key-1', ...header })
        .sign(privateKey);
    },
    jwksFetches: () => fetches,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
