// What the service and the gateway log of an unexpected exception: type, code, message, stack and cause, with no token left in them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loggableFailure } from '../../src/http/scrub.js';

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

  it('removes Basic credentials and secret-bearing form and query parameters (client_secret, tokens, assertions)', () => {
    const text = [
      'authorization: Basic Z2F0ZXdheTpzM2NyM3Q=',
      'body client_id=gateway&client_secret=s3cr3t-value&grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA',
      'access_token=2YotnFZFEjr1zCsicMWpAA subject_token=opaque-subject actor_token=opaque-actor',
      'assertion=opaque-assertion;client_assertion=opaque-client-assertion',
    ].join('\n');
    assert.equal(
      loggableFailure(new Error(text)).message,
      [
        'authorization: Basic [redacted]',
        'body client_id=gateway&client_secret=[redacted]&grant_type=refresh_token&refresh_token=[redacted]',
        'access_token=[redacted] subject_token=[redacted] actor_token=[redacted]',
        'assertion=[redacted];client_assertion=[redacted]',
      ].join('\n'),
    );
    assert.equal(loggableFailure(`POST /token client_secret=${'s'.repeat(8)}`).message, 'POST /token client_secret=[redacted]');
  });

  it('removes authorization codes, PKCE verifiers and Cookie / Set-Cookie header lines (RFC 6749 §4.1.3, RFC 7636 §4.5, RFC 6265 §4)', () => {
    const text = ['redirect http://127.0.0.1:9/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz', 'body grant_type=authorization_code&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'cookie: _session=abc; _session.sig=def', 'Set-Cookie: _interaction=ghi; path=/'].join('\n');
    assert.equal(
      loggableFailure(new Error(text)).message,
      ['redirect http://127.0.0.1:9/callback?code=[redacted]&state=xyz', 'body grant_type=authorization_code&code_verifier=[redacted]', 'cookie: [redacted]', 'Set-Cookie: [redacted]'].join('\n'),
    );
    // A parameter merely ending in `code` is not one.
    assert.equal(loggableFailure(new Error('error_code=E42')).message, 'error_code=E42');
  });

  it("follows the error's cause, scrubbed the same way, a few levels deep", () => {
    const root = new Error(`connect failed, Bearer ${JWT}`);
    const err = new Error('fetch failed', { cause: new Error('one', { cause: new Error('two', { cause: new Error('three', { cause: root }) }) }) });
    const logged = loggableFailure(err);
    assert.equal(logged.cause?.message, 'one');
    assert.equal(logged.cause?.cause?.cause?.message, 'three');
    assert.equal(logged.cause?.cause?.cause?.cause, undefined, 'at most three causes');
    assert.deepEqual(loggableFailure(new Error('x', { cause: `client_secret=${JWT}` })).cause, { type: 'string', message: 'client_secret=[redacted]' });
    const throwing = new Error('x');
    Object.defineProperty(throwing, 'cause', { get() { throw new Error('no'); } });
    assert.equal(loggableFailure(throwing).message, 'x');
    assert.ok(!JSON.stringify(loggableFailure(new Error('y', { cause: root }))).includes('c2lnbmF0dXJl'));
  });

  it('never throws: a message or stack that is not a string is printed (and scrubbed), a name that is not one too; a throwing getter gives a placeholder', () => {
    const numbered = Object.assign(new Error('x'), { message: 42 });
    assert.equal(loggableFailure(numbered).message, '42');
    const objectMessage = Object.assign(new TypeError('x'), { message: { toString: () => `Bearer ${JWT}` } });
    assert.deepEqual({ ...loggableFailure(objectMessage), stack: undefined }, { type: 'TypeError', message: 'Bearer [redacted]', stack: undefined });
    // Error.prepareStackTrace may make `stack` anything.
    const arrayStack = new Error('x');
    Object.defineProperty(arrayStack, 'stack', { value: [`at ${JWT}`, 2] });
    assert.deepEqual(loggableFailure(arrayStack), { type: 'Error', message: 'x', stack: 'at [redacted],2' });
    const namedOddly = Object.assign(new Error('x'), { name: 7 });
    assert.equal(loggableFailure(namedOddly).type, '7');
    const throwing = new Error('x');
    Object.defineProperty(throwing, 'message', { get() { throw new Error('no'); } });
    assert.deepEqual(loggableFailure(throwing), { type: 'unknown', message: '(unprintable)' });
    const unprintable = Object.assign(new Error('x'), { message: Object.create(null) as object });
    assert.equal(loggableFailure(unprintable).message, '(unprintable)');
  });

  it('describes a thrown non-Error, even one that cannot be printed', () => {
    assert.deepEqual(loggableFailure(`token ${JWT}`), { type: 'string', message: 'token [redacted]' });
    assert.deepEqual(loggableFailure(Object.create(null)), { type: 'object', message: '(unprintable)' });
    assert.deepEqual(loggableFailure({ code: 42 }), { type: 'object', message: '[object Object]' });
  });
});
