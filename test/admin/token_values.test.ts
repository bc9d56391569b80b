// What counts as a token inside a value an admin asks to revoke (src/admin/token_values.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { holdsCompactToken, MIN_OPAQUE_LENGTH, opaqueCandidates } from '../../src/admin/token_values.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const JWS = `${b64({ alg: 'ES256' })}.${b64({ sub: 'user-bob' })}.c2lnbmF0dXJl`;
const JWE = `${b64({ alg: 'RSA-OAEP-256', enc: 'A256GCM' })}.a2V5.aXY.Y2lwaGVy.dGFn`;

describe('admin token values', () => {
  it('finds a JWS or JWE anywhere in the value: bare, padded, quoted, after a scheme, glued to a prefix, in a dotted run', () => {
    for (const v of [JWS, JWE, ` ${JWS}`, `${JWS}\t`, `"${JWS}"`, `'${JWS}'`, `Bearer ${JWS}`, `DPoP ${JWE}`, `Authorization: Bearer ${JWS}`, `x.${JWS}.y`, `Bearer_${JWS}`, `${JWS}.`]) {
      assert.equal(holdsCompactToken(v), true, v);
    }
    // Whitespace-padded JSON header (`{ "alg"…`), detached payload, unsecured JWS (empty signature).
    assert.equal(holdsCompactToken(`${Buffer.from('{ "alg": "HS256" }').toString('base64url')}..c2ln`), true);
    assert.equal(holdsCompactToken(`${b64({ alg: 'none' })}.${b64({})}.`), true);
  });

  it('leaves identifiers alone, dotted ones included: only a segment decoding to a JOSE header counts', () => {
    for (const v of ['user.name.x', 'x-AbCdEfGhIj.idp-session-42', 'a.b.c.d.e', 'eyJohn.smith.x', 'auth0|5f7c8ec7c33c6c004bbafe82', 'Jane "JD" Doe', 'https://agents.example.com/client.json',
      // Two segments only; a JSON header without "alg" (RFC 7515 §4.1.1 requires it).
      `${b64({ alg: 'ES256' })}.${b64({})}`, `${b64({ typ: 'JWT' })}.${b64({})}.c2ln`, `${b64(['alg'])}.e30.c2ln`]) {
      assert.equal(holdsCompactToken(v), false, v);
    }
  });

  it('looks up the value and every base64url run long enough to be an opaque token', () => {
    const opaque = 'JHsWVZtiySvjT0QbPqhNZDJd2smxCaK218nmjzKV4Ab';
    assert.deepEqual(opaqueCandidates(opaque), [opaque]);
    assert.deepEqual(opaqueCandidates(`Bearer ${opaque}`), [`Bearer ${opaque}`, opaque]);
    assert.deepEqual(opaqueCandidates(`"${opaque}"`), [`"${opaque}"`, opaque]);
    assert.deepEqual(opaqueCandidates('x-AbCdEfGhIj.idp-session-42'), ['x-AbCdEfGhIj.idp-session-42']);
    const short = 'a'.repeat(MIN_OPAQUE_LENGTH - 1);
    assert.deepEqual(opaqueCandidates(`${short} ${short}`), [`${short} ${short}`]);
    // A 512-character value holds at most a few dozen candidates.
    assert.ok(opaqueCandidates(`${'a'.repeat(MIN_OPAQUE_LENGTH)} `.repeat(30)).length <= 31);
  });
});
