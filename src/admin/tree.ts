// The delegation tree of one session, built from its recorded hops by `parentJti`.
import type { SessionHop } from '../stores/types.js';

export interface DelegationNode {
  jti: string;
  clientId: string;
  toolServer: string;
  scopes: string[];
  at: number;
  exp: number;
  /** Only on a root whose parent is no longer in the (bounded) hop list: the jti it was exchanged from. */
  parentJti?: string;
  children: DelegationNode[];
}

/**
 * Roots are hops exchanged from a user's token (no `parentJti`), and hops whose parent was trimmed from the bounded
 * hop list (they keep `parentJti`, so the gap is visible). Siblings are ordered by issue time (ties: the hop list's order). A jti seen twice is kept
 * once, so a malformed record can never loop.
 *
 * @example
 * buildDelegationTree(record.hops) // [{ jti: 'a', ..., children: [{ jti: 'b', ..., children: [] }] }]
 */
export function buildDelegationTree(hops: readonly SessionHop[]): DelegationNode[] {
  const byJti = new Map<string, SessionHop>();
  for (const hop of hops) if (!byJti.has(hop.jti)) byJti.set(hop.jti, hop);
  const hasParent = (hop: SessionHop) => hop.parentJti !== undefined && hop.parentJti !== hop.jti && byJti.has(hop.parentJti);
  const childrenOf = new Map<string, SessionHop[]>();
  for (const hop of byJti.values()) {
    if (hasParent(hop)) childrenOf.set(hop.parentJti!, [...(childrenOf.get(hop.parentJti!) ?? []), hop]);
  }
  // A stable sort: hops within the same second keep the registry's order, which is the order they were issued in.
  const byTime = (a: SessionHop, b: SessionHop) => a.at - b.at;
  const visited = new Set<string>();
  const build = (hop: SessionHop, asRoot: boolean): DelegationNode => {
    visited.add(hop.jti);
    const children = [...(childrenOf.get(hop.jti) ?? [])].sort(byTime);
    return {
      jti: hop.jti,
      clientId: hop.clientId,
      toolServer: hop.toolServer,
      scopes: [...hop.scopes],
      at: hop.at,
      exp: hop.exp,
      ...(asRoot && hop.parentJti !== undefined ? { parentJti: hop.parentJti } : {}),
      children: children.flatMap((c) => (visited.has(c.jti) ? [] : [build(c, false)])),
    };
  };
  const roots = [...byJti.values()].filter((h) => !hasParent(h)).sort(byTime).map((h) => build(h, true));
  // Hops on a parent cycle (a record no honest writer produces) are reachable from no root: show them rather than drop them.
  for (const hop of [...byJti.values()].sort(byTime)) if (!visited.has(hop.jti)) roots.push(build(hop, true));
  return roots;
}
