// The token's RFC 9396 `authorization_details` claim, reduced to the `mcp_tool` entries for this server's audience.
import { parseMcpToolDetails, type McpToolDetails } from './constraints.js';
import { VerifyError } from './errors.js';
import { deepFreeze } from './freeze.js';
import { setBounded } from './lru.js';

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

/** Distinct `authorization_details` texts kept per verifier, and the longest kept (a token is at most 16 KiB). */
const CACHE_ENTRIES = 64;
const CACHE_TEXT_MAX = 8192;

/** A checked `authorization_details` claim (deep-frozen) and its entries for this audience. */
export interface ResolvedDetails {
  readonly claim: unknown;
  readonly own: readonly McpToolDetails[];
}

/**
 * `ownToolDetails` for one audience, remembered by the claim's exact JSON text as it appears in the token. The same
 * text always parses to the same value, so a hit is what a fresh check would give: the claim (deep-frozen, shared by
 * every token that carries this text) and its own entries. Tokens minted from one policy rule carry the same details,
 * so most first-seen tokens neither parse nor check them again. Only claims that passed are kept; a refused one is
 * checked again every time. The last claim is always kept; others only from their second sighting, so details that
 * differ per user (a `${subject.…}` reference) cost one kept text each, not a kept claim.
 */
export class OwnToolDetailsCache {
  private readonly entries = new Map<string, ResolvedDetails>();
  /** Texts checked once and not kept (yet). */
  private readonly seenOnce = new Set<string>();
  /** The entry found or added last, and its text: tokens in a row usually carry the same details. */
  private last: { text: string; resolved: ResolvedDetails } | undefined;

  /** `knownAt` bound to this cache, made once (the precheck hands it to the scan on every call). */
  readonly knownAtBound = (text: string, start: number): number => this.knownAt(text, start);

  constructor(private readonly audience: string) {}

  /**
   * The length of the last remembered claim text when `text` holds it at `start`, else 0. That text was checked as a
   * whole JSON value (no repeated names), so a scanner may step over it: the value at `start` is exactly that text.
   */
  knownAt(text: string, start: number): number {
    const last = this.last;
    if (last === undefined) return 0;
    const { length } = last.text;
    // A slice compared with === is a length check and a memory compare, several times faster than startsWith here.
    return text.slice(start, start + length) === last.text ? length : 0;
  }

  /** The entry for this exact claim text, if it was checked before. */
  lookup(text: string): ResolvedDetails | undefined {
    const last = this.last;
    if (last !== undefined && last.text === text) return last.resolved;
    if (this.entries.size === 0) return undefined;
    const resolved = this.entries.get(text);
    if (resolved) this.last = { text, resolved };
    return resolved;
  }

  /** Check a claim (throws `ERR_CLAIM_INVALID` as `ownToolDetails`) and remember it by its text, when known. */
  resolve(claim: unknown, text: string | undefined): ResolvedDetails {
    const own = Object.freeze(ownToolDetails(claim, this.audience));
    const resolved: ResolvedDetails = { claim: deepFreeze(claim), own };
    if (text !== undefined && text.length <= CACHE_TEXT_MAX) {
      this.last = { text, resolved };
      // A stream of distinct details (per-user values, or someone probing) cycles the oldest entries out.
      if (this.seenOnce.delete(text)) {
        setBounded(this.entries, text, resolved, CACHE_ENTRIES);
      } else {
        if (this.seenOnce.size >= CACHE_ENTRIES) this.seenOnce.delete(this.seenOnce.values().next().value!);
        this.seenOnce.add(text);
      }
    }
    return resolved;
  }
}

