// The delegation policy: (agent, user, tool server, requested scopes) -> decision with reasons. Deny by default.
import type { AgentPolicyConfig, ToolServerConfig } from '../config/schema.js';

export type PolicyError = 'invalid_target' | 'invalid_scope' | 'invalid_request';

export type Decision =
  | { allowed: true; scopes: string[]; reasons: string[] }
  | { allowed: false; error: PolicyError; reasons: string[] };

export interface PolicyInput {
  agent: string;
  toolServer: ToolServerConfig;
  userGroups: string[];
  /** The subject token's scopes: the user's own grant. */
  subjectScopes: ReadonlySet<string>;
  /** Scopes the request named, or undefined for "the default set". */
  requested: string[] | undefined;
}

export class Policy {
  readonly #agents: Map<string, AgentPolicyConfig>;

  constructor(agents: AgentPolicyConfig[]) {
    this.#agents = new Map(agents.map((a) => [a.clientId, a]));
  }

  /** Clients whose users' access tokens this agent may exchange, besides its own. */
  subjectClients(agent: string): readonly string[] {
    return this.#agents.get(agent)?.subjectClients ?? [];
  }

  decide(input: PolicyInput): Decision {
    const rule = this.#agents.get(input.agent)?.toolServers.find((r) => r.resource === input.toolServer.resource);
    if (!rule) return { allowed: false, error: 'invalid_target', reasons: ['agent_not_allowed_for_tool_server'] };
    if (rule.groups && !rule.groups.some((g) => input.userGroups.includes(g))) {
      return { allowed: false, error: 'invalid_request', reasons: ['user_not_in_allowed_groups'] };
    }
    const accepted = new Set(input.toolServer.scopes);
    const policy = new Set(rule.scopes);
    if (input.requested === undefined) {
      // No scope requested: the rule's default set, narrowed to the user's grant (never "everything"), and never outside
      // the rule itself (SPEC profile: granted = requested ∩ subject scopes ∩ policy).
      const scopes = (rule.defaultScopes ?? rule.scopes).filter((s) => policy.has(s) && input.subjectScopes.has(s) && accepted.has(s));
      return scopes.length
        ? { allowed: true, scopes, reasons: ['default_scopes'] }
        : { allowed: false, error: 'invalid_scope', reasons: ['no_default_scope_in_subject_grant'] };
    }
    const reasons = new Set<string>();
    for (const s of input.requested) {
      if (!accepted.has(s)) reasons.add('scope_not_accepted_by_tool_server');
      else if (!policy.has(s)) reasons.add('scope_not_in_agent_policy');
      else if (!input.subjectScopes.has(s)) reasons.add('scope_not_in_subject_grant');
    }
    if (reasons.size) return { allowed: false, error: 'invalid_scope', reasons: [...reasons] };
    return { allowed: true, scopes: [...new Set(input.requested)], reasons: ['requested_scopes_granted'] };
  }
}
