// The per-call decision (token, tool, arguments) -> allow | deny: pure, synchronous, no I/O. The middleware, the
// tools/list filter and the gateway all call this one function, so listing and calling can never disagree.
import { checkArguments, type JsonValue, type McpToolDetails } from './constraints.js';
import { closestArguments } from './witness.js';

/**
 * Pass as `args` to ask whether a tool may be listed: whether some arguments would be allowed. A tool the token's
 * scope grants is listed when it has no `mcp_tool` entry here, or when some arguments are within one of its entries
 * (the limits bound the arguments, not the tool); a tool whose every entry holds a limit no value meets
 * (`minimum` above `maximum`, `const` longer than `maxLength`) is not listed, since every call of it is refused.
 *
 * @example
 * ```ts
 * const visible = tools.filter((tool) => decide(token, tool.name, ANY_ARGUMENTS).allow)
 * ```
 */
export const ANY_ARGUMENTS: unique symbol = Symbol('delegation-token-verify.anyArguments');

/**
 * What `decide` reads from a token: a `VerifiedToken` satisfies it, and so does anything holding the same two fields.
 *
 * @example
 * ```ts
 * const token: DecisionToken = { scopes: ['billing.issue_refund'], authorizationDetails: [] }
 * ```
 */
export interface DecisionToken {
  /** The granted scopes; a tool's scope is its own name. */
  readonly scopes: readonly string[];
  /** The `mcp_tool` authorization details for this server's own audience (`VerifiedToken.authorizationDetails`). */
  readonly authorizationDetails: readonly McpToolDetails[];
}

/**
 * One argument outside one `mcp_tool` entry's limits.
 *
 * @example
 * ```ts
 * const v: ArgumentViolation = { argument: 'amount', path: '/amount', keyword: 'maximum', limit: 5000 }
 * ```
 */
export interface ArgumentViolation {
  /** The top-level argument name (`''` when the arguments are not an object at all). */
  argument: string;
  /** RFC 6901 JSON Pointer into the arguments: `/amount`, `/lines/0/price`. */
  path: string;
  /** The constraint keyword the value failed (`maximum`, `enum`, `type`, `required` for an absent argument, ...). */
  keyword: string;
  /** The keyword's value in the token: the maximum, the enum, the type name, the missing property's name. */
  limit: JsonValue;
}

/**
 * The outcome of `decide`. A refusal says what would have allowed the call: the scope to ask for, or the token's own
 * limits and the first violation of each entry for this tool.
 *
 * @example
 * ```ts
 * const d: Decision = decide(token, 'billing.issue_refund', { amount: 50000 })
 * if (!d.allow && d.reason === 'insufficient_authorization_details') console.log(d.violations[0])
 * ```
 */
export type Decision =
  | { readonly allow: true }
  | {
      readonly allow: false;
      /** RFC 6750 §3.1: the tool is not among the token's scopes. */
      readonly reason: 'insufficient_scope';
      /** The scopes that would allow the call (the tool's own name). */
      readonly scopes: readonly string[];
    }
  | {
      readonly allow: false;
      /** draft-zehavi-oauth-rar-metadata: the arguments exceed every `mcp_tool` entry for this tool. */
      readonly reason: 'insufficient_authorization_details';
      /** The token's entries for this tool: a call within any one of them is allowed. */
      readonly authorizationDetails: readonly McpToolDetails[];
      /** For each of those entries, in order, the first argument that broke it. */
      readonly violations: readonly ArgumentViolation[];
    };

const ALLOW: Decision = Object.freeze({ allow: true });

/**
 * Decide one tool call (or, with `ANY_ARGUMENTS`, whether to list the tool). Rules, in order:
 * 1. the tool must be one of the token's scopes, else `insufficient_scope` naming that scope;
 * 2. if the token has `mcp_tool` entries for this audience naming the tool in `actions`, the arguments must satisfy
 *    one entry's `arguments`: every named argument present and within its constraint; arguments not named are free;
 * 3. a tool without such entries is limited by scope only.
 *
 * `args` is the JSON-RPC `params.arguments` as received (absent arguments: pass `{}`); anything but a plain object
 * breaks every entry that names an argument. With `ANY_ARGUMENTS`, each entry is tried with the arguments closest to
 * it, which pass it whenever any arguments do: a refusal's violations then name, per entry, an argument no value meets.
 *
 * @example
 * ```ts
 * import { decide } from 'delegation-token-verify'
 *
 * const decision = decide(token, 'billing.issue_refund', { customerId: 'cus_1001', amount: 3000 })
 * if (!decision.allow) return refuse(decision)
 * ```
 */
export function decide(token: DecisionToken, toolName: string, args: unknown): Decision {
  // MCP authorization, "Scope Challenge Handling" / RFC 6750 §3.1: a tool outside the granted scopes is insufficient_scope.
  if (toolName.length === 0 || !token.scopes.includes(toolName)) {
    return { allow: false, reason: 'insufficient_scope', scopes: [toolName] };
  }
  // A call allowed by the first entry for this tool allocates nothing; only a refusal collects the entries.
  let entries: McpToolDetails[] | undefined;
  let violations: ArgumentViolation[] | undefined;
  for (const entry of token.authorizationDetails) {
    if (!entry.actions.includes(toolName)) continue;
    // RFC 9396 §2: the entries of one type are alternatives; a call within any one of them is authorized. Listing
    // tries the arguments closest to the entry: they pass it if any arguments do (an entry no call meets lists nothing).
    const violation = firstViolation(entry, args === ANY_ARGUMENTS ? closestArguments(entry.arguments ?? {}) : args);
    if (violation === undefined) return ALLOW;
    (entries ??= []).push(entry);
    (violations ??= []).push(violation);
  }
  // No entry for this tool here: the scope is the whole grant.
  if (entries === undefined || violations === undefined) return ALLOW;
  return { allow: false, reason: 'insufficient_authorization_details', authorizationDetails: entries, violations };
}

function firstViolation(entry: McpToolDetails, args: unknown): ArgumentViolation | undefined {
  // Our profile (issue 10): every argument the entry names is required and within its constraint; others are free.
  if (entry.arguments === undefined) return undefined;
  const result = checkArguments(entry.arguments, args);
  if (result.ok) return undefined;
  const { keyword, limit } = result;
  // An absent top-level argument is reported at the root with its name as the limit; point at where it should be.
  if (result.path === '' && keyword === 'required' && typeof limit === 'string') {
    return { argument: limit, path: `/${limit.replaceAll('~', '~0').replaceAll('/', '~1')}`, keyword, limit };
  }
  const token = result.path.split('/')[1];
  const argument = token === undefined ? '' : token.replaceAll('~1', '/').replaceAll('~0', '~');
  return { argument, path: result.path, keyword, limit };
}
