// Runs the unmodified MCP TypeScript SDK client auth (`auth()` with an OAuthClientProvider) without a browser: a
// provider that keeps everything in memory and records the authorization URL instead of opening it, and a user who
// follows that URL over HTTP through the development login page and the consent page. For the example and tests only.
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { CookieJar } from './dev_login.js';

export interface MemoryOAuthClientOptions {
  redirectUrl: string;
  clientMetadata: OAuthClientMetadata;
  /** The https URL of the client's Client ID Metadata Document: the SDK uses it as `client_id` when the server supports it. */
  clientMetadataUrl?: string;
}

/** An OAuthClientProvider holding client information, tokens and the PKCE verifier in memory. */
export class MemoryOAuthClientProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  /** Where the SDK asked to send the user (set by `redirectToAuthorization`). */
  authorizationUrl: URL | undefined;
  #verifier = '';
  readonly clientMetadataUrl: string | undefined;

  constructor(readonly options: MemoryOAuthClientOptions) {
    this.clientMetadataUrl = options.clientMetadataUrl;
  }
  get redirectUrl(): string {
    return this.options.redirectUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return this.options.clientMetadata;
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.info = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string): void {
    this.#verifier = verifier;
  }
  codeVerifier(): string {
    return this.#verifier;
  }
}

/** What the consent page showed (its `<dd>` values and the tools listed), as the user saw it. */
export interface ConsentShown {
  html: string;
  clientName: string | undefined;
  clientIdHost: string | undefined;
  redirectHost: string | undefined;
  tools: string[];
  localhostWarning: boolean;
}

export interface Approval {
  /** The redirect back to the client (`code` or `error`, `state`, `iss`). */
  callback: URL;
  /** The consent page, when one was shown. */
  consent?: ConsentShown;
}

const unescape = (s: string | undefined) =>
  s?.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

function readConsent(html: string): ConsentShown {
  const dd = (cls: string) => unescape(new RegExp(`<dd class="${cls}">([^<]*)</dd>`).exec(html)?.[1]);
  return {
    html,
    clientName: dd('client-name'),
    clientIdHost: dd('client-id-host'),
    redirectHost: dd('redirect-host'),
    tools: [...html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => unescape(m[1])!),
    localhostWarning: html.includes('class="warning"'),
  };
}

/**
 * What a user does in the browser: follows `authorizationUrl`, logs in on the development login page as `username`,
 * answers the consent page with `decision` (default allow), until the service redirects to `redirectUri`.
 */
export async function approveAuthorization(authorizationUrl: URL, o: { redirectUri: string; username: string; decision?: 'allow' | 'deny' }): Promise<Approval> {
  const jar = new CookieJar();
  const go = async (url: URL, init: RequestInit = {}) => {
    const res = await fetch(url, { redirect: 'manual', ...init, headers: { ...(init.headers as Record<string, string>), cookie: jar.header() } });
    jar.store(res);
    return res;
  };
  const form = (fields: Record<string, string>): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  let consent: ConsentShown | undefined;
  let next = authorizationUrl;
  for (let hops = 0; hops < 14; hops++) {
    if (next.href.startsWith(o.redirectUri)) return { callback: next, ...(consent ? { consent } : {}) };
    const res = await go(next);
    const html = await res.text();
    let answer: Response = res;
    if (res.status === 200 && next.pathname.startsWith('/interaction/')) {
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
      if (csrf) {
        consent = readConsent(html);
        const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
        if (!action) throw new Error('the consent page has no form');
        answer = await go(new URL(action, next), form({ csrf, decision: o.decision ?? 'allow' }));
      } else {
        answer = await go(new URL(`${next.href}/login`), form({ username: o.username }));
      }
    }
    const location = answer.headers.get('location');
    if (!location) throw new Error(`the authorization stopped at ${next.pathname} (${answer.status})`);
    next = new URL(location, next);
  }
  throw new Error('the authorization did not reach the redirect URI');
}
