// Drives the service's development login page like a browser would: follow redirects with cookies, pick a demo user,
// and return the callback URL holding the authorization code. For demos and tests only.

export class CookieJar {
  readonly #cookies = new Map<string, string>();
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      const eq = pair.indexOf('=');
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * Follows `authorizationUrl` through the login and consent steps as `username` until the server redirects to
 * `redirectUri`; returns that URL (with `code` and `state`).
 */
export async function devLogin(authorizationUrl: URL, redirectUri: string, username: string): Promise<URL> {
  const jar = new CookieJar();
  let next: URL = authorizationUrl;
  for (let hops = 0; hops < 12; hops++) {
    if (next.href.startsWith(redirectUri)) return next;
    const res = await fetch(next, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(res);
    let location = res.headers.get('location');
    if (res.status === 200 && next.pathname.startsWith('/interaction/')) {
      await res.text();
      const post = await fetch(`${next.href}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username }),
      });
      jar.store(post);
      location = post.headers.get('location');
      if (!location) throw new Error(`login as ${username} refused (${post.status}): ${await post.text()}`);
    } else if (!location) {
      throw new Error(`login stopped at ${next.pathname} (${res.status}): ${await res.text()}`);
    }
    next = new URL(location, next);
  }
  throw new Error('login did not reach the redirect URI');
}
