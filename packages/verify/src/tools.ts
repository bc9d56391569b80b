// Per-tool authorization: the scope that grants a tool is the tool's own name.

/**
 * Whether the granted scopes allow calling a tool. Scope values are case-sensitive (RFC 6749 §3.3), and there
 * are no wildcards: `crm.*` does not grant `crm.lookup_customer`.
 *
 * @example
 * ```ts
 * if (!toolAllowed(token.scopes, 'crm.export_customers')) throw new Error('forbidden')
 * ```
 */
export function toolAllowed(scopes: readonly string[], toolName: string): boolean {
  return toolName.length > 0 && scopes.includes(toolName);
}

/**
 * Keep only the tools the token's scopes grant, for a `tools/list` answer that does not advertise the rest. A token's
 * `authorization_details` may still allow no call of a kept tool: `decide(token, name, ANY_ARGUMENTS)` leaves it out too.
 *
 * @example
 * ```ts
 * const visible = filterTools(allTools, token.scopes) // allTools: Array<{ name: string, ... }>
 * ```
 */
export function filterTools<T extends { name: string }>(tools: readonly T[], scopes: readonly string[]): T[] {
  const granted = new Set(scopes);
  return tools.filter((tool) => granted.has(tool.name));
}
