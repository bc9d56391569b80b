// What the gateway logs of an unexpected exception: type, code, message and stack, with no token left in them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loggableFailure } from '../../src/gateway/failure.js';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLWJvYiJ9.c2lnbmF0dXJl';

describe('loggableFailure', () => {
  it('keeps type, string code, message and stack; removes compact JWTs and Bearer/DPoP credentials from message and stack', () => {
    const err = Object.assign(new TypeError(`bad subject_token=${JWT}; header Authorization: DPoP opaque-abc123, then Bearer xyz`), { code: 'ERR_X', request: { headers: { authorization: `Bearer ${JWT}` } } });
    const logged = loggableFailure(err);
    assert.equal(logged.type, 'TypeError');
    assert.equal(logged.code, 'ERR_X');
    assert.equal(logged.message, 'bad subject_token=[redacted]; header Authorization: DPoP [redacted], then Bearer [redacted]');
    assert.ok(logged.stack?.startsWith('TypeError: bad subject_token=[redacted]'));
    // No other property of the error is copied (a library's error may carry the request it failed on).
    assert.deepEqual(Object.keys(logged).sort(), ['code', 'message', 'stack', 'type']);
    assert.ok(!JSON.stringify(logged).includes('c2lnbmF0dXJl') && !JSON.stringify(logged).includes('opaque-abc123'));
  });

  it('describes a thrown non-Error, even one that cannot be printed', () => {
    assert.deepEqual(loggableFailure(`token ${JWT}`), { type: 'string', message: 'token [redacted]' });
    assert.deepEqual(loggableFailure(Object.create(null)), { type: 'object', message: '(unprintable)' });
    assert.deepEqual(loggableFailure({ code: 42 }), { type: 'object', message: '[object Object]' });
  });
});
