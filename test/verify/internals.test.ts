// Unit tests of the small internal pieces: duplicate-name scanner, SSE parser, LRU, revocation matching, Basic auth.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { basicAuthorization, issuerEndpoint } from '../../src/verify/issuer_http.js';
import { hasDuplicateMember } from '../../src/verify/json_strict.js';
import { ExpiringLru } from '../../src/verify/lru.js';
import { RevocationSet } from '../../src/verify/revocation_set.js';
import { SseParser } from '../../src/verify/sse.js';
import type { VerifiedToken } from '../../src/verify/index.js';

describe('hasDuplicateMember', () => {
  const cases: Array<[string, boolean]> = [
    ['{"a":1,"b":2}', false],
    ['{"a":1,"a":2}', true],
    ['{"a":1,"\\u0061":2}', true],
    ['{"a":{"b":1,"b":2}}', true],
    ['{"a":[{"b":1},{"b":2}]}', false],
    ['{"a":"\\"b\\":1,\\"b\\"","b":[1,{"a":"}"}]}', false],
    ['{"x":[1,2,{"y":1,"z":{"y":2}}],"y":3}', false],
    ['{"x":[[],{}],"x":0}', true],
  ];
  for (const [text, expected] of cases) {
    it(`${text} → ${expected}`, () => assert.equal(hasDuplicateMember(text), expected));
  }
});

describe('SseParser', () => {
  it('parses events split anywhere, with CRLF, CR, comments, multi-line data and persistent ids', () => {
    const stream = ': hi\r\nid: 1-0\r\nevent: revocation\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: heartbeat\rdata: {}\r\revent: reset\n\n';
    const parser = new SseParser('0-0');
    const events = [];
    for (const ch of stream) events.push(...parser.push(ch));
    assert.deepEqual(events, [
      { type: 'revocation', data: '{"a":\n1}', lastEventId: '1-0' },
      { type: 'heartbeat', data: '{}', lastEventId: '1-0' },
      { type: 'reset', data: '', lastEventId: '1-0' },
    ]);
  });
  it('strips a leading BOM, one space after the colon, and defaults the type to message', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('\ufeffdata:  x\nid\n\n'), [{ type: 'message', data: ' x', lastEventId: '' }]);
  });
});

describe('ExpiringLru', () => {
  it('evicts the least recently used entry and drops expired ones', () => {
    const lru = new ExpiringLru<number>(2);
    lru.set('a', 1, 1_000);
    lru.set('b', 2, 1_000);
    assert.equal(lru.get('a', 0), 1);
    lru.set('c', 3, 1_000);
    assert.equal(lru.get('b', 0), undefined);
    assert.equal(lru.get('a', 0), 1);
    assert.equal(lru.get('c', 1_000), undefined);
    assert.equal(lru.size, 1);
  });
});

describe('RevocationSet matching (wire format v1)', () => {
  const token = (iat: number): VerifiedToken => ({
    sub: 'u',
    clientId: 'c',
    scopes: [],
    sid: 's',
    jti: 'j',
    exp: iat + 300,
    iat,
    actors: [{ sub: 'agent-b' }, { sub: 'agent-a' }],
    claims: {},
  });
  const rec = (kind: 'sid' | 'sub' | 'client' | 'jti', value: string, revokedAt = 100) => ({
    kind,
    value,
    revokedAt,
    expiresAt: 10_000,
  });
  it('matches jti and sid regardless of iat, sub and client only for tokens issued up to revokedAt', () => {
    const cases: Array<[ReturnType<typeof rec>, number, boolean]> = [
      [rec('jti', 'j'), 500, true],
      [rec('sid', 's'), 500, true],
      [rec('sub', 'u'), 100, true],
      [rec('sub', 'u'), 101, false],
      [rec('client', 'c'), 50, true],
      [rec('client', 'agent-a'), 50, true],
      [rec('client', 'agent-b'), 101, false],
      [rec('client', 'other'), 50, false],
      [rec('jti', 'other'), 50, false],
    ];
    for (const [record, iat, revoked] of cases) {
      const set = new RevocationSet();
      set.add(record);
      assert.equal(set.match(token(iat)) !== undefined, revoked, `${JSON.stringify(record)} iat=${iat}`);
    }
  });
  it('keeps the latest revokedAt per subject and prunes after expiresAt', () => {
    const set = new RevocationSet();
    set.add(rec('sub', 'u', 200));
    set.add(rec('sub', 'u', 100));
    assert.ok(set.match(token(150)));
    set.prune(20_000);
    assert.equal(set.size, 0);
  });
});

describe('issuer HTTP helpers', () => {
  it('form-urlencodes Basic credentials (RFC 6749 §2.3.1) and joins endpoints', () => {
    const header = basicAuthorization('my client', 'a:b+c/é');
    assert.equal(Buffer.from(header.slice(6), 'base64').toString(), 'my+client:a%3Ab%2Bc%2F%C3%A9');
    assert.equal(issuerEndpoint('https://sts.example/', 'jwks'), 'https://sts.example/jwks');
    assert.equal(issuerEndpoint('https://sts.example/t1', 'jwks'), 'https://sts.example/t1/jwks');
  });
});
