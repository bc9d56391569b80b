// A test upstream OpenID provider for the upstream login (issue 12 item 6): discovery, an authorization endpoint that
// approves the current test user at once, a token endpoint (client_secret_basic, PKCE S256), JWKS, userinfo, and
// logout tokens signed with its key. Tests tamper with what it issues through `user`, `idToken` and `callback`.
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { exportJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

export interface UpstreamUser {
  sub: string;
  /** Upstream session id put in the ID token (`sid`); absent = none. */
  sid?: string;
  groups?: unknown;
  name?: string;
}

export interface UpstreamIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Who the authorization endpoint approves next. */
  user: UpstreamUser;
  /** Claims put over the next ID tokens (e.g. `{ aud: 'someone-else' }`), or undefined. */
  idToken: JWTPayload | undefined;
  /** Rewrites the callback query before the redirect (e.g. a different state), or undefined. */
  callback: ((query: URLSearchParams) => void) | undefined;
  /** Claims returned by userinfo (sub added). */
  userinfo: Record<string, unknown>;
  tokenRequests: number;
  /** The query of every authorization request received, oldest first. */
  authorizationRequests: URLSearchParams[];
  /** A logout token: iss, aud, iat, jti, events filled in, then `claims` on top (a member set to undefined is removed). */
  logoutToken(claims?: Record<string, unknown>, header?: Record<string, unknown>, key?: KeyObject): Promise<string>;
  stop(): Promise<void>;
}

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

export async function startUpstreamIdp({ clientId = 'dts-at-upstream' } = {}): Promise<UpstreamIdp> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'upstream-1';
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const clientSecret = randomBytes(24).toString('base64url');
  const codes = new Map<string, { redirectUri: string; challenge: string; nonce?: string; user: UpstreamUser }>();
  const accessTokens = new Map<string, UpstreamUser>();
  let issuer = '';

  const idp: UpstreamIdp = {
    issuer: '',
    clientId,
    clientSecret,
    user: { sub: 'carol', sid: 'up-session-1', groups: ['finance'], name: 'Carol' },
    idToken: undefined,
    callback: undefined,
    userinfo: {},
    tokenRequests: 0,
    authorizationRequests: [],
    async logoutToken(claims = {}, header = {}, key = privateKey) {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = { iss: issuer, aud: clientId, iat: now, exp: now + 120, jti: randomBytes(12).toString('base64url'), events: { [BACKCHANNEL_EVENT]: {} }, ...claims };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: 'RS256', kid, typ: 'logout+jwt', ...header }).sign(key);
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    res.end(JSON.stringify(body));
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
      });
    }
    if (url.pathname === '/jwks') return json(res, 200, { keys: [publicJwk] });
    if (url.pathname === '/authorize') {
      const p = url.searchParams;
      idp.authorizationRequests.push(new URLSearchParams(p));
      if (p.get('client_id') !== clientId || p.get('response_type') !== 'code' || p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge')) {
        return json(res, 400, { error: 'invalid_request' });
      }
      const code = randomBytes(16).toString('base64url');
      codes.set(code, { redirectUri: p.get('redirect_uri')!, challenge: p.get('code_challenge')!, ...(p.get('nonce') ? { nonce: p.get('nonce')! } : {}), user: { ...idp.user } });
      const back = new URL(p.get('redirect_uri')!);
      const query = new URLSearchParams({ code, ...(p.get('state') ? { state: p.get('state')! } : {}) });
      idp.callback?.(query);
      back.search = query.toString();
      res.statusCode = 302;
      res.setHeader('location', back.href);
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      idp.tokenRequests += 1;
      const form = new URLSearchParams(await readBody(req));
      // RFC 6749 §2.3.1: id and secret form-urlencoded, then Basic.
      const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      const [id, secret] = basic.split(':').map((v) => decodeURIComponent(v.replace(/\+/g, ' ')));
      if (id !== clientId || secret !== clientSecret) return json(res, 401, { error: 'invalid_client' });
      const entry = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      if (!entry || form.get('grant_type') !== 'authorization_code' || form.get('redirect_uri') !== entry.redirectUri) return json(res, 400, { error: 'invalid_grant' });
      if (createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url') !== entry.challenge) return json(res, 400, { error: 'invalid_grant' });
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        iss: issuer, aud: clientId, sub: entry.user.sub, iat: now, exp: now + 300, auth_time: now,
        ...(entry.nonce ? { nonce: entry.nonce } : {}),
        ...(entry.user.sid ? { sid: entry.user.sid } : {}),
        ...(entry.user.groups !== undefined ? { groups: entry.user.groups } : {}),
        ...(entry.user.name ? { name: entry.user.name } : {}),
        ...idp.idToken,
      };
      const idToken = await new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
      const accessToken = randomBytes(16).toString('base64url');
      accessTokens.set(accessToken, entry.user);
      return json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: idToken });
    }
    if (url.pathname === '/userinfo') {
      const user = accessTokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!user) return json(res, 401, { error: 'invalid_token' });
      return json(res, 200, { sub: user.sub, ...idp.userinfo });
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  idp.issuer = issuer;
  return idp;
}
