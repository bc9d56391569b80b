// A browser session against the service: log a user in keeping the session cookies, then end the session over HTTP
// (RP-initiated logout), so tests can show what happens to tokens of an ended session.
import { createHash, randomBytes } from 'node:crypto';
import { postForm } from './http.js';
import { REDIRECT, type TestService } from './service.js';

export class Browser {
  readonly #cookies = new Map<string, string>();

  constructor(readonly svc: TestService) {}

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(new URL(url, this.svc.url), { redirect: 'manual', ...init, headers: { ...(init.headers as Record<string, string>), cookie: this.#header() } });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const [name, value] = [pair!.slice(0, eq), pair!.slice(eq + 1)];
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    return res;
  }

  /** The names of the cookies this browser holds now. */
  cookieNames(): string[] {
    return [...this.#cookies.keys()];
  }

  #header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** Authorization code + PKCE through the dev login page; returns the user's access token. */
  async login({ clientId = 'agent', username = 'alice', scope = 'openid crm.lookup_customer crm.export_customers billing.refund_lookup' } = {}): Promise<string> {
    const verifier = randomBytes(32).toString('base64url');
    const auth = new URL(`${this.svc.url}/auth`);
    auth.search = new URLSearchParams({
      client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope, state: 'st',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    }).toString();
    let next: string | null = auth.href;
    for (let hops = 0; hops < 10 && next; hops++) {
      if (next.startsWith(REDIRECT)) {
        const code = new URL(next).searchParams.get('code');
        if (!code) throw new Error(`login failed: ${next}`);
        const token = await postForm(`${this.svc.url}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: this.svc.basic(clientId) });
        if (token.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(token.body)}`);
        return token.body.access_token as string;
      }
      const url = new URL(next, this.svc.url);
      const res = await this.fetch(url);
      await res.text();
      if (res.status === 200 && url.pathname.startsWith('/interaction/')) {
        const post = await this.fetch(`${url.href}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username }) });
        next = post.headers.get('location');
        continue;
      }
      next = res.headers.get('location');
    }
    throw new Error('login flow did not reach the redirect URI');
  }

  /** RP-initiated logout: the confirmation page, then "Yes, sign me out"; oidc-provider destroys the session. */
  async logout(): Promise<void> {
    const page = await this.fetch('/session/end');
    const html = await page.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    if (!xsrf) throw new Error(`no logout form (${page.status})`);
    const confirm = await this.fetch('/session/end/confirm', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf, logout: 'yes' }),
    });
    await confirm.text();
    if (confirm.status !== 303 && confirm.status !== 302) throw new Error(`logout answered ${confirm.status}`);
  }
}
