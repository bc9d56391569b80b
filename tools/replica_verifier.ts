// A feed-mode verifier attached to one replica of a service: tokens name the replicas' shared issuer, but the JWKS and
// the revocation feed are fetched from this replica only (tests and the bench's cross-replica scenario).
import { createVerifier, type Verifier } from 'delegation-token-verify';

export function replicaFeedVerifier(o: { issuer: string; replicaUrl: string; audience: string; clientId: string; clientSecret: string }): Verifier {
  const toReplica = (url: string | URL | Request) => String(url instanceof Request ? url.url : url).replace(o.issuer, o.replicaUrl);
  return createVerifier({
    issuer: o.issuer,
    audience: o.audience,
    jwksUri: `${o.replicaUrl}/jwks`,
    revocation: { mode: 'feed', clientId: o.clientId, clientSecret: o.clientSecret, fetch: (url, init) => fetch(toReplica(url), init) },
  });
}
