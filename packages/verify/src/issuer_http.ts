// Small helpers for calling the token service's own endpoints (revocation feed, introspection).

/** `${issuer}/path`, tolerating an issuer configured with a trailing slash. */
export function issuerEndpoint(issuer: string, path: string): string {
  return `${issuer.replace(/\/+$/, '')}/${path}`;
}

/** RFC 6749 §2.3.1: id and secret are each application/x-www-form-urlencoded before the Basic base64 step. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** Upper bound on any single call to the issuer, so a hung connection cannot hold a request forever. */
export const ISSUER_TIMEOUT_MS = 5_000;
