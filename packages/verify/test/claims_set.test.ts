// validateClaimsSet against jose's own jwtVerify: on random claims sets, times and options, both refuse for the same
// claim and reason (mapped by fromJoseError to the same code), or both accept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { fromJoseError, REQUIRED_CLAIMS } from 'delegation-token-verify';
import { presenceOrder, validateClaimsSet, type ClaimsSetRules } from '../src/claims_set.js';

const ISSUER = 'https://sts.example';
const AUDIENCE = 'https://tools.example/mcp';
const secret = new Uint8Array(32).fill(7);

/** What a refusal says: our code, and jose's claim and reason when it has them. */
function outcome(err: unknown): string {
  if (err === undefined) return 'accepted';
  const mapped = fromJoseError(err);
  const { claim, reason } = err as { claim?: string; reason?: string };
  return `${mapped.code} ${claim ?? '-'} ${reason ?? '-'} ${(err as Error).message}`;
}

describe('validateClaimsSet (jose semantics, on our own parse)', () => {
  it('decides as jose.jwtVerify on 2000 random claims sets', async () => {
    let seed = 3;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const nowMs = 1_764_500_000_500;
    const now = Math.floor(nowMs / 1000);
    const times = [undefined, now, now - 29, now - 31, now + 29, now + 31, now - 1000, now + 1000, '1', null, 1.5 + now, 0];
    const seen = new Set<string>();
    for (let n = 0; n < 2000; n++) {
      // Each claim is usually present and well-formed, so that every later check is reached too.
      const usually = <T>(good: T, others: readonly unknown[]) => (random() < 0.8 ? good : pick(others));
      const claims: Record<string, unknown> = {
        iss: usually(ISSUER, [`${ISSUER}/`, undefined, 5]),
        sub: usually('user-1', [undefined]),
        aud: usually(AUDIENCE, [[AUDIENCE, 'x'], ['x'], 'x', undefined, [], 7]),
        exp: usually(now + 600, times),
        iat: usually(now - 5, times),
        nbf: pick(times),
        jti: usually('j', [undefined]),
        client_id: usually('c', [undefined]),
        sid: usually('s', [undefined]),
        act: usually({ sub: 'a' }, [undefined]),
      };
      for (const key of Object.keys(claims)) if (claims[key] === undefined) delete claims[key];
      const rules: ClaimsSetRules = {
        issuer: ISSUER,
        audience: AUDIENCE,
        clockTolerance: pick([0, 30]),
        maxTokenAge: pick([undefined, 60, 600]),
        requiredClaims: REQUIRED_CLAIMS,
      };
      const token = await new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'HS256' }).sign(secret);
      let joseError: unknown;
      try {
        await jwtVerify(token, secret, { ...rules, requiredClaims: [...rules.requiredClaims], currentDate: new Date(nowMs) });
      } catch (err) {
        joseError = err;
      }
      let ourError: unknown;
      try {
        validateClaimsSet(JSON.parse(JSON.stringify(claims)) as JWTPayload, rules, presenceOrder(rules), nowMs);
      } catch (err) {
        ourError = err;
      }
      const expected = outcome(joseError);
      assert.equal(outcome(ourError), expected, JSON.stringify({ claims, rules }));
      seen.add(expected.split(' ').slice(0, 3).join(' '));
    }
    // The random sets reach every kind of outcome, not just one.
    for (const kind of ['accepted', 'ERR_CLAIM_MISSING', 'ERR_ISSUER iss check_failed', 'ERR_AUDIENCE aud check_failed', 'ERR_EXPIRED exp check_failed',
      'ERR_NOT_YET_VALID nbf check_failed', 'ERR_CLAIM_INVALID exp invalid', 'ERR_EXPIRED iat check_failed', 'ERR_NOT_YET_VALID iat check_failed']) {
      assert.ok([...seen].some((s) => s.startsWith(kind)), `${kind} never reached: ${[...seen].join(', ')}`);
    }
  });
});
