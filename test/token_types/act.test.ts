// RFC 8693 §4.1 `act` and §4.4 `may_act`: parsing, depth and the clients a chain names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ACT_DEPTH } from 'delegation-token-verify';
import { actClientIds, actDepth, actList, parseAct, parseMayAct } from '../../src/token_types/act.js';

/** A chain of `n` actors, a0 outermost. */
function chain(n: number): Record<string, unknown> {
  let act: Record<string, unknown> | undefined;
  for (let i = n - 1; i >= 0; i--) act = { sub: `a${i}`, ...(act ? { act } : {}) };
  return act!;
}

describe('parseAct', () => {
  it('TE-10 parses a nested chain: current actor outermost, prior actors nested', () => {
    assert.deepEqual(parseAct({ sub: 'crm-server', act: { sub: 'agent', iss: 'https://idp.example' } }), {
      sub: 'crm-server',
      act: { sub: 'agent', iss: 'https://idp.example' },
    });
  });

  it('TE-10 refuses exp, nbf or aud inside act, at any depth', () => {
    for (const member of ['exp', 'nbf', 'aud']) {
      assert.equal(parseAct({ sub: 'a', [member]: 1 }), undefined, `outer ${member}`);
      assert.equal(parseAct({ sub: 'a', act: { sub: 'b', act: { sub: 'c', [member]: 'x' } } }), undefined, `nested ${member}`);
    }
    // Presence is enough: even an undefined-valued or null member is refused.
    assert.equal(parseAct({ sub: 'a', exp: null }), undefined);
  });

  it('refuses what is not an actor: no sub, empty or non-string sub, non-string iss, arrays, scalars', () => {
    for (const value of [undefined, null, 'agent', 42, [], [{ sub: 'a' }], {}, { sub: '' }, { sub: 7 }, { sub: 'a', iss: 1 }, { sub: 'a', act: 'b' }, { sub: 'a', act: {} }]) {
      assert.equal(parseAct(value), undefined, JSON.stringify(value));
    }
  });

  it('keeps only sub, iss and act (other identity claims are informational and dropped)', () => {
    assert.deepEqual(parseAct({ sub: 'a', client_id: 'x', scope: 'admin' }), { sub: 'a' });
  });

  it('parses chains up to the SDK\'s MAX_ACT_DEPTH (10) deep and refuses deeper ones (no unbounded recursion on hostile input)', () => {
    assert.equal(MAX_ACT_DEPTH, 10);
    assert.equal(actDepth(parseAct(chain(10))), 10);
    assert.equal(parseAct(chain(11)), undefined);
    assert.equal(parseAct(chain(10_000)), undefined);
  });
});

describe('act helpers', () => {
  it('actDepth counts actors; no act is depth 0', () => {
    assert.equal(actDepth(undefined), 0);
    assert.equal(actDepth({ sub: 'a' }), 1);
    assert.equal(actDepth({ sub: 'a', act: { sub: 'b', act: { sub: 'c' } } }), 3);
  });

  it('actList lists the current actor first', () => {
    assert.deepEqual(actList({ sub: 'a', act: { sub: 'b' } }).map((a) => a.sub), ['a', 'b']);
  });

  it('actClientIds names every actor, whatever its iss (the SDK\'s revokableActors: revocation reaches the whole chain)', () => {
    assert.deepEqual(actClientIds({ sub: 'crm-server', act: { sub: 'bot', iss: 'https://idp.example', act: { sub: 'agent' } } }), ['crm-server', 'bot', 'agent']);
  });
});

describe('parseMayAct', () => {
  it('TE-09 absent is undefined; a well-formed claim keeps sub and iss', () => {
    assert.equal(parseMayAct(undefined), undefined);
    assert.deepEqual(parseMayAct({ sub: 'agent' }), { sub: 'agent' });
    assert.deepEqual(parseMayAct({ sub: 'agent', iss: 'https://as.example', extra: 1 }), { sub: 'agent', iss: 'https://as.example' });
    assert.deepEqual(parseMayAct({}), {});
  });

  it('TE-09 malformed is null (the exchange refuses the subject token)', () => {
    for (const value of [null, 'agent', ['agent'], 1, { sub: 1 }, { iss: false }]) assert.equal(parseMayAct(value), null, JSON.stringify(value));
  });
});
