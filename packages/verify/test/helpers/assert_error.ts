// Assert that a promise rejects with a VerifyError of one exact code (and its status / OAuth error).
import assert from 'node:assert/strict';
import { VerifyError, type VerifyErrorCode } from 'delegation-token-verify';

const STATUS: Partial<Record<VerifyErrorCode, number>> = {
  ERR_INSUFFICIENT_SCOPE: 403,
  ERR_REVOCATION_UNAVAILABLE: 503,
  ERR_JWKS_UNAVAILABLE: 503,
};

export async function rejectsWith(promise: Promise<unknown>, code: VerifyErrorCode): Promise<VerifyError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof VerifyError, `expected VerifyError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `detail: ${caught.detail}`);
  const status = STATUS[code] ?? 401;
  assert.equal(caught.status, status);
  assert.equal(
    caught.oauthError,
    status === 401 ? 'invalid_token' : status === 403 ? 'insufficient_scope' : 'temporarily_unavailable',
  );
  return caught;
}
