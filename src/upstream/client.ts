// The relying party at the company's OpenID provider, on openid-client: discovery (once, retried after a failure),
// authorization code + PKCE with state and nonce, the code exchanged and its ID token validated, groups read.
import * as oidc from 'openid-client';
import type { UpstreamLoginConfig } from '../config/schema.js';
import type { UpstreamAccount, UpstreamAuthorization } from '../stores/types.js';
import { accountFrom } from './account.js';

/** The path of our redirect URI at the upstream provider (register `${issuer}${UPSTREAM_CALLBACK_PATH}` there). */
export const UPSTREAM_CALLBACK_PATH = '/login/upstream/callback';

/** Why an upstream login failed, for logs only; the browser gets a fixed description. */
export class UpstreamLoginFailed extends Error {
  override name = 'UpstreamLoginFailed';
  /** The upstream provider answered `error` (e.g. access_denied) instead of a code. */
  readonly upstreamError: string | undefined;
  constructor(detail: string, upstreamError?: string) {
    super(detail);
    this.upstreamError = upstreamError;
  }
}

/** The upstream provider could not be reached (discovery, token endpoint, JWKS): the caller answers 503. */
export class UpstreamUnavailable extends Error {
  override name = 'UpstreamUnavailable';
}

export interface UpstreamLoginResult {
  account: UpstreamAccount;
  /** The upstream session id (`sid` of the ID token), when it sent one. */
  sid?: string;
  /** When the user authenticated at the upstream provider (`auth_time` of the ID token, epoch s), when it sent one. */
  authTime?: number;
}

/** What the client's authorization request asks of the authentication, passed on to the upstream provider. */
export interface UpstreamReauthentication {
  /** The client sent `prompt=login` (or `max_age=0`, which oidc-provider turns into it). */
  login: boolean;
  /** The client's `max_age` (seconds), when it sent one above 0. */
  maxAge?: number;
}

export class UpstreamClient {
  readonly #config: UpstreamLoginConfig;
  readonly #secret: string;
  readonly #redirectUri: string;
  #discovered: Promise<oidc.Configuration> | undefined;

  constructor(config: UpstreamLoginConfig, secret: string, ourIssuer: string) {
    this.#config = config;
    this.#secret = secret;
    this.#redirectUri = `${ourIssuer}${UPSTREAM_CALLBACK_PATH}`;
  }

  get redirectUri(): string {
    return this.#redirectUri;
  }

  /** The discovered configuration; a failed discovery is retried by the next call. */
  configuration(): Promise<oidc.Configuration> {
    this.#discovered ??= (async () => {
      const insecure = new URL(this.#config.issuer).protocol === 'http:';
      const config = await oidc.discovery(
        new URL(this.#config.issuer),
        this.#config.clientId,
        { redirect_uris: [this.#redirectUri], response_types: ['code'] },
        oidc.ClientSecretBasic(this.#secret),
        // The schema allows http only on a loopback host (tests, development).
        { execute: insecure ? [oidc.allowInsecureRequests] : [], timeout: 5 },
      );
      // OpenID Connect Core §3.1.3.7: validate the ID token's signature too, with the provider's JWKS (openid-client
      // otherwise relies on TLS to the token endpoint, as point 6 allows).
      oidc.enableNonRepudiationChecks(config);
      return config;
    })().catch((err: unknown) => {
      this.#discovered = undefined;
      throw new UpstreamUnavailable(`discovery: ${err instanceof Error ? err.message : String(err)}`);
    });
    return this.#discovered;
  }

  /**
   * A fresh authorization request whose `state` starts with the interaction uid (our callback path is fixed), asking
   * the upstream provider for the re-authentication our client asked for.
   */
  async authorizationRequest(uid: string, reauthentication: UpstreamReauthentication = { login: false }): Promise<{ url: URL; checks: UpstreamAuthorization }> {
    const config = await this.configuration();
    const checks = { state: `${uid}.${oidc.randomState()}`, nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.#redirectUri,
      scope: this.#config.scopes.join(' '),
      state: checks.state,
      nonce: checks.nonce,
      // RFC 7636 §4.2: S256.
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
      // OpenID Connect Core §3.1.2.1: prompt=login "SHOULD prompt the End-User for reauthentication", and past max_age
      // the OP "MUST attempt to actively re-authenticate": only the upstream provider can, so both are passed on.
      ...(reauthentication.login ? { prompt: 'login' } : {}),
      ...(reauthentication.maxAge !== undefined ? { max_age: String(reauthentication.maxAge) } : {}),
    });
    return { url, checks };
  }

  /** Completes the login from the callback's query: state, code + PKCE, the ID token (iss, aud, exp, iat, nonce, signature). */
  async complete(query: string, checks: UpstreamAuthorization): Promise<UpstreamLoginResult> {
    const config = await this.configuration();
    const current = new URL(this.#redirectUri);
    current.search = query;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      });
    } catch (err) {
      throw classify(err);
    }
    const claims = tokens.claims() as Record<string, unknown> | undefined;
    if (!claims) throw new UpstreamLoginFailed('no id_token');
    const metadata = config.serverMetadata();
    let userinfo: Record<string, unknown> | undefined;
    if (claims[this.#config.groupsClaim] === undefined && metadata.userinfo_endpoint) {
      try {
        userinfo = (await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub))) as Record<string, unknown>;
      } catch (err) {
        throw classify(err);
      }
    }
    const account = accountFrom(metadata.issuer, claims, this.#config.groupsClaim, userinfo);
    if (!account) throw new UpstreamLoginFailed('sub out of identifier bounds');
    // OpenID Back-Channel Logout §2.4 / Front-Channel Logout §3: `sid` is a string identifying the upstream session.
    const sid = typeof claims.sid === 'string' && claims.sid.length > 0 && claims.sid.length <= 256 ? claims.sid : undefined;
    // OpenID Connect Core §2: auth_time is a JSON number (oauth4webapi already refused any other type).
    const authTime = typeof claims.auth_time === 'number' && Number.isSafeInteger(claims.auth_time) && claims.auth_time > 0 ? claims.auth_time : undefined;
    return { account, ...(sid ? { sid } : {}), ...(authTime !== undefined ? { authTime } : {}) };
  }
}

/** A network failure is an outage (503); everything else (state, ID token, an error response) is a failed login. */
function classify(err: unknown): Error {
  if (err instanceof oidc.AuthorizationResponseError) return new UpstreamLoginFailed(`authorization response: ${err.error}`, err.error);
  if (err instanceof oidc.ResponseBodyError) return new UpstreamLoginFailed(`token endpoint: ${err.error}`);
  const e = err as { code?: string; cause?: unknown; message?: string; name?: string };
  if (e?.name === 'TypeError' && /fetch failed/.test(e.message ?? '')) return new UpstreamUnavailable(String(e.message));
  if (e?.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && ((e.cause as { status?: number } | undefined)?.status ?? 0) >= 500) return new UpstreamUnavailable(String(e.message));
  if (e?.code === 'OAUTH_TIMEOUT' || e?.name === 'TimeoutError' || e?.name === 'AbortError') return new UpstreamUnavailable(String(e.message));
  return new UpstreamLoginFailed(`${e?.code ?? e?.name ?? 'error'}: ${e?.message ?? String(err)}`);
}
