// The exchange's RFC 9396 step: which `mcp_tool` authorization details the token carries. Granted = the narrowest of
// the policy's argument constraints, the request's `authorization_details` and the subject token's own, per tool and
// location; a request not provably inside policy ∩ subject is refused.
import {
  argumentsSubsume,
  MCP_TOOL_TYPE,
  narrowestArguments,
  parseAuthorizationDetailsJson,
  type ArgumentConstraints,
  type McpToolDetails,
} from 'delegation-token-verify';
import type { AgentPolicyConfig, ToolServerConfig } from '../../config/schema.js';
import { hasReference, resolveReferences, UnresolvedReference } from '../../policy/details.js';
import type { SubjectContext } from '../../token_types/types.js';

type AgentRule = AgentPolicyConfig['toolServers'][number];

export interface DetailsDeps {
  /** The policy rule of an agent (client) for a tool server, as the scope decision uses it. */
  ruleFor(agent: string, resource: string): AgentRule | undefined;
  /** Registered tool servers by canonical resource. */
  toolServers: ReadonlyMap<string, ToolServerConfig>;
}

export interface DetailsInput {
  /** The raw `authorization_details` form parameter, when sent. */
  requested: string | undefined;
  agent: string;
  toolServer: ToolServerConfig;
  /** The scopes the policy step granted for `toolServer`. */
  scopes: readonly string[];
  /** What policy references resolve against, and the subject token's own details (none for a user's login). */
  subject: Pick<SubjectContext, 'claims' | 'authorizationDetails'>;
}

/** The refusal kinds; each has one fixed public description, the reason goes to the audit event. */
export type DetailsRefusalKind = 'malformed' | 'not_granted' | 'wider' | 'unresolvable';

export const DETAILS_DESCRIPTIONS: Record<DetailsRefusalKind, string> = {
  malformed: 'authorization_details is malformed',
  not_granted: 'authorization_details names a location or tool that is not granted',
  wider: 'authorization_details is wider than allowed',
  unresolvable: 'authorization_details cannot be granted for this subject',
};

export class DetailsRefused extends Error {
  override name = 'DetailsRefused';
  constructor(
    readonly kind: DetailsRefusalKind,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const referenceCache = new WeakMap<object, boolean>();

/**
 * The `authorization_details` the token carries, or undefined for none. Throws DetailsRefused (400
 * invalid_authorization_details) for a request that is malformed, names a location or tool outside the grant, or is
 * not provably at least as strict as policy ∩ subject; and when a policy reference cannot be resolved.
 */
export function grantAuthorizationDetails(deps: DetailsDeps, input: DetailsInput): McpToolDetails[] | undefined {
  let requested: McpToolDetails[] | undefined;
  if (input.requested !== undefined) {
    // RFC 9396 §6: "authorization_details" in the token request, a JSON array; §5: anything not understood is refused.
    const parsed = parseAuthorizationDetailsJson(input.requested);
    if (!parsed.ok) throw new DetailsRefused('malformed', parsed.reason);
    requested = parsed.details;
  }
  const { agent, toolServer, subject } = input;
  const granted = new Set(input.scopes);
  // Issue 10: `locations` is the token's `aud`, or a downstream tool server that the token's tool server may call on a
  // hop (per policy) for downstream scopes the token carries.
  const tools = new Map<string, string[]>([[toolServer.resource, [...granted]]]);
  if (toolServer.clientId !== undefined) {
    for (const [resource, downstream] of deps.toolServers) {
      if (resource === toolServer.resource) continue;
      const hop = deps.ruleFor(toolServer.clientId, resource);
      if (!hop) continue;
      const carried = hop.scopes.filter((s) => granted.has(s) && downstream.scopes.includes(s));
      if (carried.length) tools.set(resource, carried);
    }
  }

  // The bound for one (location, tool): policy (the agent's rule there; downstream also the hop rule) ∩ subject.
  const bound = (location: string, tool: string): ArgumentConstraints | undefined => {
    let policy = policyArguments(deps.ruleFor(agent, location), tool, subject);
    if (location !== toolServer.resource && toolServer.clientId !== undefined) {
      const hop = policyArguments(deps.ruleFor(toolServer.clientId, location), tool, subject);
      const both = narrowestArguments(policy, hop);
      if (policy !== undefined && hop !== undefined && both === undefined) throw new DetailsRefused('unresolvable', `policy_incomparable:${location} ${tool}`);
      policy = both;
    }
    const own = subjectArguments(subject, location, tool);
    const result = narrowestArguments(policy, own);
    if (policy !== undefined && own !== undefined && result === undefined) throw new DetailsRefused('unresolvable', `subject_incomparable:${location} ${tool}`);
    return result;
  };

  const details: McpToolDetails[] = [];
  const covered = new Set<string>();
  for (const entry of requested ?? []) {
    const location = entry.locations[0];
    const allowed = tools.get(location);
    // Issue 10: the location must be the token's audience or a downstream tool server whose scopes it carries.
    if (allowed === undefined) throw new DetailsRefused('not_granted', `location_not_allowed:${location}`);
    for (const tool of entry.actions) {
      // Issue 10: "actions: tool names (each must also be granted by scope)".
      if (!allowed.includes(tool)) throw new DetailsRefused('not_granted', `action_not_granted:${location} ${tool}`);
      const limit = bound(location, tool);
      // Issue 10: anything not provably inside policy ∩ subject is refused (a higher maximum, a larger enum, a dropped const).
      if (limit !== undefined && !argumentsSubsume(entry.arguments ?? {}, limit)) throw new DetailsRefused('wider', `wider_than_allowed:${location} ${tool}`);
      covered.add(`${location} ${tool}`);
    }
    details.push(entry);
  }
  // Deny by default: a tool with constraints in policy or subject is never granted without them.
  for (const [location, names] of tools) {
    for (const tool of names) {
      if (covered.has(`${location} ${tool}`)) continue;
      const limit = bound(location, tool);
      if (limit !== undefined) details.push({ type: MCP_TOOL_TYPE, locations: [location], actions: [tool], arguments: limit });
    }
  }
  return details.length ? details : undefined;
}

function policyArguments(rule: AgentRule | undefined, tool: string, subject: DetailsInput['subject']): ArgumentConstraints | undefined {
  const args = rule?.arguments?.[tool] as ArgumentConstraints | undefined;
  if (args === undefined) return undefined;
  let refs = referenceCache.get(args);
  if (refs === undefined) referenceCache.set(args, (refs = hasReference(args)));
  if (!refs) return args;
  try {
    return resolveReferences(args, subject.claims ?? {});
  } catch (err) {
    if (err instanceof UnresolvedReference) throw new DetailsRefused('unresolvable', `unresolved_reference:${err.message}`);
    throw err;
  }
}

// The subject token's own constraints for (location, tool): its entry's arguments, {} for an entry without. Both sides
// are canonical: `location` is a registered tool server, the subject's locations are canonicalised by its validator.
function subjectArguments(subject: DetailsInput['subject'], location: string, tool: string): ArgumentConstraints | undefined {
  for (const entry of subject.authorizationDetails ?? []) {
    if (entry.locations[0] === location && entry.actions.includes(tool)) return entry.arguments ?? {};
  }
  return undefined;
}
