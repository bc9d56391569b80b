// How the code and refresh grants' delegation step answers a failure met after oidc-provider answered.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errors } from 'oidc-provider';
import { toHttpError } from '../../../src/grants/authorization_code/delegation.js';
import { StoreUnavailable } from '../../../src/stores/errors.js';

describe('delegation step: failures after oidc-provider answered', () => {
  it("oidc-provider's own invalid_grant (the grant ended by a concurrent reuse) stays a 400, never a 500", () => {
    const event: { error?: string; reasons: string[] } = { reasons: [] };
    const err = toHttpError(new errors.InvalidGrant('grant not found'), event);
    assert.equal(err.status, 400);
    assert.equal(err.error, 'invalid_grant');
    assert.equal(err.error_description, 'grant request is invalid');
    assert.deepEqual(event, { error: 'invalid_grant', reasons: ['grant not found'] });
  });

  it('a store outage is 503 temporarily_unavailable, a bug 500 server_error', () => {
    const outage = { reasons: [] as string[] };
    assert.equal(toHttpError(new StoreUnavailable('down'), outage).status, 503);
    const bug = { reasons: [] as string[] };
    assert.equal(toHttpError(new TypeError('x'), bug).status, 500);
    assert.deepEqual(bug, { error: 'server_error', reasons: ['internal_error'] });
  });
});
