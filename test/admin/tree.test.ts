// The delegation tree built from a session's hops.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildDelegationTree, type DelegationNode } from '../../src/admin/tree.js';
import type { SessionHop } from '../../src/stores/types.js';

const hop = (jti: string, at: number, parentJti?: string): SessionHop => ({
  at,
  clientId: `c-${jti}`,
  priorActors: [],
  toolServer: `t-${jti}`,
  scopes: [`s-${jti}`],
  jti,
  exp: at + 60,
  ...(parentJti !== undefined ? { parentJti } : {}),
});
/** `jti(child,child)` shape, for compact assertions. */
const shape = (nodes: DelegationNode[]): string => nodes.map((n) => `${n.jti}${n.parentJti ? `^${n.parentJti}` : ''}${n.children.length ? `(${shape(n.children)})` : ''}`).join(',');

describe('buildDelegationTree', () => {
  it('nests hops under the token they were exchanged from; roots are exchanges of the user token', () => {
    const tree = buildDelegationTree([hop('a', 1), hop('b', 2, 'a'), hop('c', 3, 'b'), hop('d', 4), hop('e', 5, 'a')]);
    assert.equal(shape(tree), 'a(b(c),e),d');
    assert.deepEqual(tree[0], {
      jti: 'a',
      clientId: 'c-a',
      toolServer: 't-a',
      scopes: ['s-a'],
      at: 1,
      exp: 61,
      children: tree[0]!.children,
    });
  });

  it('orders siblings by time, keeping the list order within one second', () => {
    assert.equal(shape(buildDelegationTree([hop('z', 5), hop('y', 5), hop('x', 3)])), 'x,z,y');
  });

  it('keeps a hop whose parent was trimmed from the bounded list as a root that names its parent', () => {
    assert.equal(shape(buildDelegationTree([hop('b', 2, 'gone'), hop('c', 3, 'b')])), 'b^gone(c)');
  });

  it('survives duplicates, self-parents and cycles without looping or losing hops', () => {
    assert.equal(shape(buildDelegationTree([hop('a', 1), hop('a', 9)])), 'a');
    assert.equal(shape(buildDelegationTree([hop('s', 1, 's')])), 's^s');
    const cycle = buildDelegationTree([hop('p', 1, 'q'), hop('q', 2, 'p'), hop('r', 3)]);
    assert.equal(shape(cycle), 'r,p^q(q)');
    assert.doesNotThrow(() => JSON.stringify(cycle));
    assert.deepEqual(buildDelegationTree([]), []);
  });
});
