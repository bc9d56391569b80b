// A subject token's `mcp_tool` authorization details with every location in the canonical form the exchange's
// `resource` takes (policy/resource.ts), so the exchange matches them to tool servers as it matches the target.
import type { McpToolDetails } from 'delegation-token-verify';
import { canonicalResource } from '../policy/resource.js';

/**
 * The entries with canonical `locations`, or null when a location is not a resource indicator, or two entries name
 * the same tool at one location once canonical (which limit applies would be ambiguous). The entries are new objects.
 *
 * @example canonicalToolDetails([{ type: 'mcp_tool', locations: ['HTTP://Tools.Test:80/crm/mcp'], actions: ['x'] }])
 * // [{ type: 'mcp_tool', locations: ['http://tools.test/crm/mcp'], actions: ['x'] }]
 */
export function canonicalToolDetails(details: readonly McpToolDetails[]): McpToolDetails[] | null {
  const seen = new Set<string>();
  const out: McpToolDetails[] = [];
  for (const entry of details) {
    // RFC 8707 §2: a resource indicator is an absolute URI without a fragment; the same rule as the request's `resource`.
    const location = canonicalResource(entry.locations[0]);
    if (location === undefined) return null;
    for (const action of entry.actions) {
      // RFC 9396 §5: never guess between two limits for one (location, tool); refused as unreadable.
      const key = `${location} ${action}`;
      if (seen.has(key)) return null;
      seen.add(key);
    }
    out.push({ ...entry, locations: [location] });
  }
  return out;
}
