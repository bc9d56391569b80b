// `node scripts/dev_oidc_provider.mjs <port> <client secret> <redirect URI>`: a stand-in for a company's OpenID Connect
// provider, for scripts/mcp_inspector_check.sh --web: oidc-provider with its development login and consent pages
// (any user name and password sign in; every user is in group `finance`), one confidential client `dts` with that
// secret and redirect URI, issuer `http://127.0.0.1:<port>`, in memory. Never for anything but a local check.
import Provider from 'oidc-provider';

const [port, secret, redirectUri] = process.argv.slice(2);
if (!port || !secret || !redirectUri) {
  process.stderr.write('usage: dev_oidc_provider.mjs <port> <client secret> <redirect URI>\n');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{ client_id: 'dts', client_secret: secret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
  claims: { openid: ['sub'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'profile', 'groups'],
  // The groups claim in the ID token too, as company providers can be told to.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, name: id, groups: ['finance'] }) }),
  features: { devInteractions: { enabled: true } },
});
provider.listen(Number(port), '127.0.0.1', () => process.stdout.write(`${issuer}\n`));
