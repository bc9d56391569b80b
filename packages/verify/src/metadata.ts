// RFC 9728 OAuth 2.0 Protected Resource Metadata: the document and where it is served.

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/**
 * Input of `protectedResourceMetadata`, in camelCase.
 *
 * @example
 * ```ts
 * const input: ProtectedResourceMetadataInput = { resource, authorizationServers: ['https://sts.example'] }
 * ```
 */
export interface ProtectedResourceMetadataInput {
  /** The canonical resource URI; must equal the `audience` the verifier checks. */
  resource: string;
  /** Issuer identifiers of the token services trusted here (MCP: at least one). */
  authorizationServers: readonly string[];
  /** The tool scopes this server understands (one per tool). */
  scopesSupported?: readonly string[];
  jwksUri?: string;
  resourceName?: string;
  resourceDocumentation?: string;
  /** Default `['header']`: tokens are only ever read from the Authorization header. */
  bearerMethodsSupported?: readonly ('header' | 'body' | 'query')[];
}

/**
 * The RFC 9728 §2 JSON document.
 *
 * @example
 * ```ts
 * const doc: ProtectedResourceMetadata = protectedResourceMetadata(input) // serve as application/json
 * ```
 */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported?: string[];
  jwks_uri?: string;
  resource_name?: string;
  resource_documentation?: string;
}

/**
 * Build the RFC 9728 metadata document a tool server serves at `resourceMetadataPath(resource)`.
 *
 * @example
 * ```ts
 * const doc = protectedResourceMetadata({
 *   resource: 'https://tools.example/mcp',
 *   authorizationServers: ['https://sts.example'],
 *   scopesSupported: ['crm.lookup_customer', 'crm.export_customers'],
 * })
 * app.get(resourceMetadataPath('https://tools.example/mcp'), (_req, res) => res.json(doc))
 * ```
 */
export function protectedResourceMetadata(input: ProtectedResourceMetadataInput): ProtectedResourceMetadata {
  resourceUrl(input.resource);
  // MCP "Roles": the metadata MUST include at least one authorization_servers entry.
  if (input.authorizationServers.length === 0) throw new TypeError('authorizationServers must not be empty');
  const doc: ProtectedResourceMetadata = {
    // RFC 9728 §3.3: resource must be identical to the identifier the metadata URL was built from.
    resource: input.resource,
    authorization_servers: [...input.authorizationServers],
    bearer_methods_supported: [...(input.bearerMethodsSupported ?? ['header'])],
  };
  // Empty arrays say nothing and some clients treat them as "none supported": omit them.
  if (input.scopesSupported?.length) doc.scopes_supported = [...input.scopesSupported];
  if (input.jwksUri) doc.jwks_uri = input.jwksUri;
  if (input.resourceName) doc.resource_name = input.resourceName;
  if (input.resourceDocumentation) doc.resource_documentation = input.resourceDocumentation;
  return doc;
}

/**
 * The path at which a resource's metadata is served: RFC 9728 §3.1 inserts the well-known suffix between the
 * host and the path (and query) of the resource identifier.
 *
 * @example
 * ```ts
 * resourceMetadataPath('https://tools.example/mcp') // '/.well-known/oauth-protected-resource/mcp'
 * resourceMetadataPath('https://tools.example')     // '/.well-known/oauth-protected-resource'
 * ```
 */
export function resourceMetadataPath(resource: string): string {
  const url = resourceUrl(resource);
  // RFC 9728 §3.1: a terminating slash after the host is removed before inserting.
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${WELL_KNOWN}${path}${url.search}`;
}

/**
 * The absolute metadata URL, for the `resource_metadata` parameter of `WWW-Authenticate` (RFC 9728 §5.1).
 *
 * @example
 * ```ts
 * resourceMetadataUrl('https://tools.example/mcp')
 * // 'https://tools.example/.well-known/oauth-protected-resource/mcp'
 * ```
 */
export function resourceMetadataUrl(resource: string): string {
  return `${resourceUrl(resource).origin}${resourceMetadataPath(resource)}`;
}

function resourceUrl(resource: string): URL {
  if (!URL.canParse(resource)) throw new TypeError('resource must be an absolute URI');
  const url = new URL(resource);
  // RFC 8707 §2: the resource indicator MUST NOT include a fragment component.
  if (url.hash || resource.includes('#')) throw new TypeError('resource must not have a fragment');
  return url;
}
