// Canonical form of resource indicators (RFC 8707 §2), shared by config loading and the exchange grant.

/**
 * Returns the canonical form of an absolute http(s) URI without fragment, or undefined when it is not one.
 * RFC 8707 §2: "MUST be an absolute URI ... MUST NOT include a fragment component."
 * Scheme and host are lowercased and a lone "/" path dropped (MCP: canonical server URI, no trailing slash).
 */
export function canonicalResource(value: string): string | undefined {
  if (value.includes('#')) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username || url.password) return undefined;
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${path}${url.search}`;
}
