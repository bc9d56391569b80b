// Test keys and a raw token minter that can produce anything, including tokens jose itself refuses to sign.
import { randomUUID, webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

export const AUDIENCE = 'https://tools.example/mcp';

export interface TestKey {
  kid: string;
  alg: 'ES256' | 'EdDSA' | 'RS256';
  privateKey: webcrypto.CryptoKey;
  publicKey: webcrypto.CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(alg: TestKey['alg'], kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, publicJwk };
}

const b64 = (data: string | Uint8Array) => Buffer.from(data).toString('base64url');

/** Sign arbitrary header and payload text (so duplicate names and odd headers survive). */
export async function signRaw(headerJson: string, payloadJson: string, key: TestKey | Uint8Array | 'none'): Promise<string> {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`;
  const data = new TextEncoder().encode(input);
  let signature: ArrayBuffer | Uint8Array;
  if (key === 'none') signature = new Uint8Array();
  else if (key instanceof Uint8Array) {
    const hmac = await webcrypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    signature = await webcrypto.subtle.sign('HMAC', hmac, data);
  } else {
    const params =
      key.alg === 'ES256'
        ? { name: 'ECDSA', hash: 'SHA-256' }
        : key.alg === 'EdDSA'
          ? { name: 'Ed25519' }
          : { name: 'RSASSA-PKCS1-v1_5' };
    signature = await webcrypto.subtle.sign(params, key.privateKey, data);
  }
  return `${input}.${b64(new Uint8Array(signature))}`;
}

export interface MintOptions {
  key: TestKey | Uint8Array | 'none';
  issuer: string;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  /** Claim names to delete from the defaults. */
  omit?: string[];
}

export const now = () => Math.floor(Date.now() / 1000);

export function defaultClaims(issuer: string): Record<string, unknown> {
  const iat = now();
  return {
    iss: issuer,
    sub: 'user-1',
    aud: AUDIENCE,
    client_id: 'agent-a',
    scope: 'crm.lookup_customer crm.export_customers',
    iat,
    exp: iat + 300,
    jti: randomUUID(),
    sid: 'sess-1',
    act: { sub: 'agent-a' },
  };
}

/** A delegation token; header and claims override the defaults, `omit` removes claims. */
export async function mint(options: MintOptions): Promise<string> {
  const { key } = options;
  const alg = key === 'none' ? 'none' : key instanceof Uint8Array ? 'HS256' : key.alg;
  const kid = key === 'none' || key instanceof Uint8Array ? 'k-rs' : key.kid;
  const header: Record<string, unknown> = { alg, typ: 'at+jwt', kid, ...options.header };
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name];
  const claims = { ...defaultClaims(options.issuer), ...options.claims };
  for (const name of options.omit ?? []) delete claims[name];
  return signRaw(JSON.stringify(header), JSON.stringify(claims), key);
}
