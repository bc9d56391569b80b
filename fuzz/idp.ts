// The fuzzer's external identity provider: an EC and an RSA key published on a loopback JWKS, an attacker's EC key
// that is not, and a signer over raw header/payload JSON text so that any malformed token can be produced.
import { createHmac, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { JWK } from 'jose';

export const b64u = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

export interface FuzzIdp {
  issuer: string;
  jwksUri: string;
  ecKid: string;
  rsaKid: string;
  /** The attacker's public key as a JWK (for an embedded `jwk` header). */
  attackerJwk: JWK;
  /** The RSA public key as PEM text: the HMAC key of the RS256 -> HS256 confusion attack (RFC 8725 §2.1). */
  rsaPublicPem: string;
  sign(headerJson: string, payloadJson: string, signer: Signer): string;
  stop(): Promise<void>;
}

/** Who signs: the trusted keys, the attacker, nobody (`alg: none`) or an HMAC keyed with the RSA public key. */
export type Signer = 'ec' | 'rsa' | 'attacker' | 'none' | 'hs256_pubkey';

function jwkOf(key: KeyObject): JWK {
  return key.export({ format: 'jwk' }) as JWK;
}

export async function startFuzzIdp(): Promise<FuzzIdp> {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecKid = 'fuzz-ec-1';
  const rsaKid = 'fuzz-rsa-1';
  const jwks = JSON.stringify({
    keys: [
      { ...jwkOf(ec.publicKey), kid: ecKid, alg: 'ES256', use: 'sig' },
      { ...jwkOf(rsa.publicKey), kid: rsaKid, alg: 'RS256', use: 'sig' },
    ],
  });
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(jwks);
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const rsaPublicPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    ecKid,
    rsaKid,
    attackerJwk: jwkOf(attacker.publicKey),
    rsaPublicPem,
    sign(headerJson, payloadJson, signer) {
      const input = `${b64u(headerJson)}.${b64u(payloadJson)}`;
      switch (signer) {
        case 'none':
          return `${input}.`;
        case 'hs256_pubkey':
          return `${input}.${createHmac('sha256', rsaPublicPem).update(input).digest('base64url')}`;
        case 'rsa':
          return `${input}.${createSign('RSA-SHA256').update(input).sign(rsa.privateKey).toString('base64url')}`;
        default: {
          const key = signer === 'ec' ? ec.privateKey : attacker.privateKey;
          return `${input}.${createSign('SHA256').update(input).sign({ key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
        }
      }
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
