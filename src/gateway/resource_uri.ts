// The `resources/read` rule's URI checks, shared by the decision (the URI asked for) and the configuration (the route's
// prefixes): a URI is compared only in the form upstream will look it up in.

/**
 * Why `uri` is not in its own normal form, or undefined when it is. The MCP TypeScript SDK's `McpServer` looks a
 * resource up by `new URL(uri).toString()` (WHATWG URL: dot segments and `%2e` removed, scheme and special hosts
 * lowercased, tab and newline stripped), so `docs://kb/public/../private/x` is read as `docs://kb/private/x`. Only a
 * URI that already is its WHATWG serialisation is compared, so the string decided is the one upstream reads.
 */
export function uriProblem(uri: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return 'is not a URL';
  }
  if (parsed.href !== uri) return `is not in normal form (WHATWG URL): ${JSON.stringify(parsed.href)}`;
  // RFC 3986 §3.2.1: userinfo in a URI is deprecated, and `docs://x@kb/` is a different authority from `docs://kb/`.
  if (parsed.username !== '' || parsed.password !== '') return 'must not carry userinfo (user:password@)';
  return undefined;
}

/**
 * Whether `uri` (normal form, `uriProblem` undefined) is under `prefix` (normal form too, or `*`): equal, or the prefix
 * ends a path segment (it ends with `/`, or the URI goes on with `/`, `?` or `#`). `docs://kb/public` covers
 * `docs://kb/public/terms`, never `docs://kb/publicity`.
 */
export function underPrefix(uri: string, prefix: string): boolean {
  if (prefix === '*') return true;
  if (!uri.startsWith(prefix)) return false;
  if (uri.length === prefix.length || prefix.endsWith('/')) return true;
  const next = uri[prefix.length];
  return next === '/' || next === '?' || next === '#';
}
