// The delegation policy: (agent, user, tool server, requested scopes) -> decision with reasons. Deny by default.
import type { AgentPolicyConfig, OnboardedClientPolicyConfig, ToolServerConfig } from '../config/schema.js';

type AgentRule = AgentPolicyConfig['toolServers'][number];

/** Whether an onboarded client's id matches a rule: a CIMD client by its https URL's host, a DCR client by the flag. */
function matchesOnboarded(rule: OnboardedClientPolicyConfig, clientId: string): boolean {
  let host: string | undefined;
  try {
    const url = new URL(clientId);
    if (url.protocol === 'https:') host = url.host.toLowerCase();
  } catch {
    host = undefined;
  }
  if (host === undefined) return rule.dynamicallyRegistered;
  return rule.clientIdHosts.some((p) => {
    const pattern = p.toLowerCase();
    return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern;
  });
}

export type PolicyError = 'invalid_target' | 'invalid_scope' | 'invalid_request';

export type Decision =
  | { allowed: true; scopes: string[]; reasons: string[] }
  | { allowed: false; error: PolicyError; reasons: string[] };

export interface PolicyInput {
  agent: string;
  toolServer: ToolServerConfig;
  /** The original user's groups: from the login (own users), the issuer's groups claim (external), or the `groups` the
   * delegation token carries (multi-hop); never looked up again by a bare `sub`. */
  userGroups: readonly string[];
  /** The subject token's scopes: the user's own grant. */
  subjectScopes: ReadonlySet<string>;
  /** Scopes the request named, or undefined for "the default set". */
  requested: string[] | undefined;
}

export class Policy {
  readonly #agents: Map<string, AgentPolicyConfig>;
  /** Every group a rule or a tool server limit names: the only groups a decision can ever depend on. */
  readonly #groups: ReadonlySet<string>;
  readonly #onboarded: readonly OnboardedClientPolicyConfig[];
  /** Clients registered in config: never matched by an onboarded-client rule, whatever their id looks like. */
  readonly #registered: ReadonlySet<string>;

  constructor(
    agents: AgentPolicyConfig[],
    toolServers: readonly ToolServerConfig[],
    onboarded: readonly OnboardedClientPolicyConfig[] = [],
    registeredClients: Iterable<string> = [],
  ) {
    this.#agents = new Map(agents.map((a) => [a.clientId, a]));
    this.#onboarded = onboarded;
    this.#registered = new Set(registeredClients);
    this.#groups = new Set([
      ...[...agents, ...onboarded].flatMap((a) => a.toolServers.flatMap((r) => r.groups ?? [])),
      ...toolServers.flatMap((t) => t.allowedGroups ?? []),
    ]);
  }

  /** The agent's rule for a tool server: its own policy, else (a client not in config) the first onboarded-client rule that matches it and names the tool server. */
  #rule(agent: string, resource: string): AgentRule | undefined {
    const own = this.#agents.get(agent);
    if (own || this.#registered.has(agent)) return own?.toolServers.find((r) => r.resource === resource);
    for (const p of this.#onboarded) {
      const rule = matchesOnboarded(p, agent) ? p.toolServers.find((r) => r.resource === resource) : undefined;
      if (rule) return rule;
    }
    return undefined;
  }

  /** The rule that decides this agent for the tool server (its `arguments` bound the `authorization_details` step). */
  ruleFor(agent: string, resource: string): AgentRule | undefined {
    return this.#rule(agent, resource);
  }

  /** The scopes the policy could ever grant this agent for the tool server (before the user's groups and grant); empty when none. */
  scopesFor(agent: string, toolServer: ToolServerConfig): string[] {
    const rule = this.#rule(agent, toolServer.resource);
    return rule ? rule.scopes.filter((s) => toolServer.scopes.includes(s)) : [];
  }

  /**
   * The user's groups a delegation token carries (its `groups` claim) so that a later hop decides on the original
   * subject: only those the policy names (minimal disclosure to tool servers, and bounded whatever an IdP sends).
   */
  carriedGroups(userGroups: readonly string[]): string[] {
    return [...new Set(userGroups.filter((g) => this.#groups.has(g)))];
  }

  /** Clients whose users' access tokens this agent may exchange, besides its own. */
  subjectClients(agent: string): readonly string[] {
    return this.#agents.get(agent)?.subjectClients ?? [];
  }

  decide(input: PolicyInput): Decision {
    const rule = this.#rule(input.agent, input.toolServer.resource);
    if (!rule) return { allowed: false, error: 'invalid_target', reasons: ['agent_not_allowed_for_tool_server'] };
    // The tool server's own limit holds whatever agent or chain asks, so no rule can route around it.
    const limit = input.toolServer.allowedGroups;
    if (limit && !limit.some((g) => input.userGroups.includes(g))) {
      return { allowed: false, error: 'invalid_request', reasons: ['user_not_in_tool_server_groups'] };
    }
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
