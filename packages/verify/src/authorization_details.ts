// The token's RFC 9396 `authorization_details` claim, reduced to the `mcp_tool` entries for this server's audience.
import { parseMcpToolDetails, type McpToolDetails } from './constraints.js';
import { VerifyError } from './errors.js';

const MCP_TOOL = 'mcp_tool';

/**
 * The `mcp_tool` entries whose `locations` is `audience`, checked with the issuer's own parser (so an unknown keyword
 * refuses the token instead of being ignored). Entries of other types and for other locations (a downstream hop's
 * limits) are someone else's and are skipped. Throws `ERR_CLAIM_INVALID` for a claim that is not an array of
 * objects with a string `type`, or an own entry the parser refuses.
 */
export function ownToolDetails(claim: unknown, audience: string): McpToolDetails[] {
  if (claim === undefined) return [];
  // RFC 9396 §2: authorization_details is a JSON array of JSON objects, each of which MUST contain a `type` field.
  if (!Array.isArray(claim)) throw invalid('authorization_details is not an array');
  const own: McpToolDetails[] = [];
  for (const entry of claim) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalid('authorization_details entry is not an object');
    const { type, locations } = entry as { type?: unknown; locations?: unknown };
    if (typeof type !== 'string') throw invalid('authorization_details entry has no type');
    if (type !== MCP_TOOL) continue;
    // SPEC §11: a verifier applies only the entries for its own audience; a malformed `locations` cannot be sorted out.
    if (!Array.isArray(locations)) throw invalid('mcp_tool entry has no locations');
    if (!locations.includes(audience)) continue;
    // RFC 9396 §5: never ignore what is not understood; an own entry the issuer's parser refuses refuses the token
    // (it also holds `locations` to exactly one URI).
    const parsed = parseMcpToolDetails(entry);
    if (!parsed.ok) throw invalid(`mcp_tool entry for this audience refused: ${parsed.reason}`);
    own.push(parsed.details);
  }
  return own;
}

function invalid(detail: string): VerifyError {
  return new VerifyError('ERR_CLAIM_INVALID', { detail });
}
