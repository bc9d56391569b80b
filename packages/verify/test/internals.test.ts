// Unit tests of the small internal pieces: duplicate-name scanner, SSE parser, LRU, revocation matching, Basic auth.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basicAuthorization, issuerEndpoint } from '../src/issuer_http.js';
import { decodeSegmentText, hasDuplicateMember, type MemberSpan } from '../src/json_strict.js';
import { OwnToolDetailsCache } from '../src/authorization_details.js';
import { deepFreeze } from '../src/freeze.js';
import { createVerifier } from '../src/verifier.js';
import { ExpiringLru, setBounded } from '../src/lru.js';
import { precheck } from '../src/precheck.js';
import { VerifyError } from '../src/errors.js';
import { stats } from '../src/internal_stats.js';
import { RevocationSet } from '../src/revocation_set.js';
import { SseParser } from '../src/sse.js';
import type { RevocationRecord, VerifiedToken } from 'delegation-token-verify';
import { rejectsWith } from './helpers/assert_error.js';
import { startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, defaultClaims, makeKey, signRaw, type TestKey } from './helpers/tokens.js';

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
    // Escaped names: only a name with a backslash is unescaped, and then compared by its value.
    ['{"a\\"b":1,"a\\u0022b":2}', true],
    ['{"a\\\\":1,"a\\u005c":2}', true],
    ['{"a\\\\":1,"a":2}', false],
    ['{"v":"\\\\","a":1,"\\u0061":2}', true],
    ['{"\\u0061":{"b":1,"b":2}}', true],
    ['{"\\u0061":{"b":1},"c":{"\\u0061":[{"b":1,"\\u0062":2}]}}', true],
    ['{"a\\"":{"x":[1,{"y":1}]},"a":{"x":{"y":[]}}}', false],
    ['{"é":1,"\\u00e9":2}', true],
    // A repeated member whose values differ in kind or shape, before or after a nested duplicate-free value.
    ['{"a":{"b":1},"a":null}', true],
    ['{"a":{"b":1},"a":5}', true],
    ['{"a":[1,{"b":2}],"a":{"0":1}}', true],
    ['{"a":{"b":{"c":1}},"a":{"b":2}}', true],
    ['{"a":{"b":[{"c":1}]},"a":{"b":[{"c":1}]}}', true],
    ['{"a":1,"b":{"a":1}}', false],
    // Names that are also Object.prototype members or array-index-like keys.
    ['{"__proto__":1,"__proto__":2}', true],
    ['{"__proto__":{"a":1}}', false],
    ['{"__proto__":{"a":1,"a":2}}', true],
    ['{"toString":{"constructor":[{"hasOwnProperty":1}]}}', false],
    ['{"1":{"x":1},"0":{"x":2},"01":[]}', false],
    ['{"1":1,"0":{"y":1,"y":2}}', true],
    // Arrays at the top and inside arrays; whitespace everywhere JSON allows it.
    ['[{"a":1},{"a":1}]', false],
    ['[[{"a":1}],[{"b":1,"b":1}]]', true],
    [' { "a" : [ { } , [ ] , { "b" : 1 } ] , "c" : { } } ', false],
    ['{\n\t"a": 1,\r\n "a": 2\n}', true],
    ['{}', false],
    ['[]', false],
    ['"{\\"a\\":1,\\"a\\":2}"', false],
  ];
  for (const [text, expected] of cases) {
    it(`${text} → ${expected}`, () => {
      assert.equal(hasDuplicateMember(text), expected);
      assert.equal(hasDuplicateMember(text, { name: 'a', start: 0, end: 0 }), expected);
    });
  }

  it('agrees with a reference parser on random documents with escaped and repeated names', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    // Each name has several spellings of the same value, so repeats are often written differently.
    const spellings: Record<string, string[]> = {
      a: ['"a"', '"\\u0061"'],
      b: ['"b"', '"\\u0062"'],
      'q"': ['"q\\""', '"q\\u0022"'],
      '\\': ['"\\\\"', '"\\u005c"'],
      __proto__: ['"__proto__"', '"__pr\\u006fto__"'],
      '0': ['"0"'],
    };
    const names = Object.keys(spellings);
    const value = (depth: number): string => {
      const kind = depth > 3 ? 0 : Math.floor(random() * 4);
      if (kind === 0) return pick(['1', 'null', '"x"', '"\\"}"', '"\\\\"', '[]', '{}']);
      if (kind === 1) return `[${Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1)).join(',')}]`;
      const members = Array.from({ length: Math.floor(random() * 4) }, () => `${pick(spellings[pick(names)]!)}:${value(depth + 1)}`);
      return `{${members.join(' , ')}}`;
    };
    let duplicates = 0;
    for (let n = 0; n < 3000; n++) {
      const text = `{${Array.from({ length: 1 + Math.floor(random() * 4) }, () => `${pick(spellings[pick(names)]!)}:${value(1)}`).join(',')}}`;
      const expected = referenceHasDuplicate(text);
      if (expected) duplicates++;
      assert.equal(hasDuplicateMember(text), expected, text);
    }
    assert.ok(duplicates > 500 && duplicates < 2500, `${duplicates} of 3000 had duplicates`);
  });
});

describe('hasDuplicateMember: large objects, escaped names, the span', () => {
  const members = (n: number, name = (i: number) => `k${i}`) => Array.from({ length: n }, (_, i) => `"${name(i)}":${i}`);
  it('an object past 32 names falls back to the exact count: a repeat anywhere in it, or nested below it, is found', () => {
    const many = members(200);
    assert.equal(hasDuplicateMember(`{${many.join(',')}}`), false);
    assert.equal(hasDuplicateMember(`{${many.join(',')},"k3":0}`), true);
    assert.equal(hasDuplicateMember(`{${many.join(',')},"k199":0}`), true);
    assert.equal(hasDuplicateMember(`{${many.join(',')},"x":{"a":1,"a":2}}`), true);
    assert.equal(hasDuplicateMember(`{"x":{"a":1,"a":2},${many.join(',')}}`), true);
    assert.equal(hasDuplicateMember(`[{${many.join(',')}},{${many.join(',')}}]`), false);
    // Names of one length that differ only in their last character.
    assert.equal(hasDuplicateMember(`{${members(40, (i) => `same_length_${String(i).padStart(3, '0')}`).join(',')}}`), false);
  });
  it('deep nesting: exact, no stack growth, buffers released', () => {
    const deep = (inner: string) => `${'{"a":[{"b":1,"c":'.repeat(3000)}${inner}${'}]}'.repeat(3000)}`;
    assert.equal(hasDuplicateMember(deep('1')), false);
    assert.equal(hasDuplicateMember(deep('{"x":1,"x":2}')), true);
    assert.equal(hasDuplicateMember('{"a":{"a":{"a":1}},"b":1}'), false);
  });
  it('the count ignores enumerable properties added to Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = 1;
    try {
      assert.equal(hasDuplicateMember(`{${members(40).join(',')},"o":{"p":{}}}`), false);
      assert.equal(hasDuplicateMember('{"\\u0061":{"b":{}},"c":1}'), false);
    } finally {
      delete proto.polluted;
    }
  });
  it('text that is not JSON: unbalanced brackets and a name outside any object are duplicates; nothing throws', () => {
    for (const text of ['}{', '{"a":1}}', '"a":1', '{"\\u00":1,"b":2}', '{"a":[1,}', '{"a', '{"a\\']) assert.doesNotThrow(() => hasDuplicateMember(text), text);
    assert.equal(hasDuplicateMember('{"a":1}}'), true);
    assert.equal(hasDuplicateMember('"a":1'), true);
    assert.equal(hasDuplicateMember('{"\\u00zz":1,"b":2}'), true);
  });
  it('reports the span of a top-level member whose value is an array or object, and only that', () => {
    const find = (text: string): string | undefined => {
      const span: MemberSpan = { name: 'authorization_details', start: -1, end: -1 };
      assert.equal(hasDuplicateMember(text, span), false, text);
      return span.start === -1 ? undefined : text.slice(span.start, span.end);
    };
    assert.equal(find('{"a":1,"authorization_details":[{"x":"]}\\"","y":[[]]}],"b":{}}'), '[{"x":"]}\\"","y":[[]]}]');
    assert.equal(find('{ "authorization_details" :\n [ 1 , { } ] }'), '[ 1 , { } ]');
    assert.equal(find('{"authorization_details":{"a":[1]}}'), '{"a":[1]}');
    assert.equal(find('{"x":{"authorization_details":[1]},"y":[{"authorization_details":[2]}]}'), undefined);
    assert.equal(find('{"authorization_details":"[1]"}'), undefined);
    assert.equal(find('{"authorization_details":null}'), undefined);
    assert.equal(find('{"s":"\\"authorization_details\\":[1]"}'), undefined);
    // An escaped spelling is the same member to JSON.parse but is not located: the caller then just does not cache.
    assert.equal(find('{"authorization\\u005fdetails":[1]}'), undefined);
  });
  it('steps over a value knownAt vouches for, and still checks everything around it', () => {
    const known = '[{"a":1,"b":{"a":2}}]';
    const span = (): MemberSpan => ({ name: 'authorization_details', start: -1, end: -1, knownAt: (text, start) => (text.startsWith(known, start) ? known.length : 0) });
    const text = `{"x":1,"authorization_details":${known},"y":{"z":1}}`;
    const s = span();
    assert.equal(hasDuplicateMember(text, s), false);
    assert.equal(text.slice(s.start, s.end), known);
    assert.equal(hasDuplicateMember(`{"x":1,"authorization_details":${known},"x":2}`, span()), true);
    assert.equal(hasDuplicateMember(`{"authorization_details":${known},"y":{"z":1,"z":1}}`, span()), true);
    // Not the known text: read as usual.
    assert.equal(hasDuplicateMember('{"authorization_details":[{"a":1,"a":1}]}', span()), true);
  });
  it('stays exact when it falls back to the count after stepping over a known value (JW-07)', () => {
    const known = '[{"a":1,"b":{"a":2}}]';
    const span = (): MemberSpan => ({ name: 'authorization_details', start: -1, end: -1, knownAt: (text, start) => (text.startsWith(known, start) ? known.length : 0) });
    // As many repeats as the known value has members: a count that skips its names but parses them sees no repeat.
    const repeats = (name: string) => `,"${name}":0`.repeat(parsedMembers(known));
    const texts = [
      `{"\\u0078":1,"authorization_details":${known}}`,
      `{"\\u0078":1,"y":0${repeats('y')},"authorization_details":${known}}`,
      `{"authorization_details":${known},"\\u0078":1,"y":0${repeats('y')}}`,
      `{${members(40).join(',')},"authorization_details":${known}}`,
      `{${members(40).join(',')},"authorization_details":${known}${repeats('k0')}}`,
    ];
    const expected = texts.map(referenceHasDuplicate);
    assert.deepEqual(expected, [false, true, true, false, true]);
    texts.forEach((text, n) => {
      const s = span();
      assert.equal(hasDuplicateMember(text, s), expected[n], text);
      assert.equal(text.slice(s.start, s.end), known, text);
    });
  });
  it('agrees with a reference parser, and with no step, on random documents around a known value', () => {
    const known = '[{"a":1,"b":{"a":2}}]';
    const span = (): MemberSpan => ({ name: 'authorization_details', start: -1, end: -1, knownAt: (text, start) => (text.startsWith(known, start) ? known.length : 0) });
    let seed = 13;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const names = ['"a"', '"\\u0061"', '"b"', '"b"', '"c"', '"c"', '"d"'];
    let duplicates = 0;
    for (let n = 0; n < 2000; n++) {
      const top = Array.from({ length: Math.floor(random() * 6) }, () => `${pick(names)}:${pick(['1', '{}', '{"a":1}', '[{"b":1,"b":2}]', '[{"b":1}]'])}`);
      if (random() < 0.3) top.push(...members(34));
      top.splice(Math.floor(random() * (top.length + 1)), 0, `"authorization_details":${known}`);
      const text = `{${top.join(',')}}`;
      const expected = referenceHasDuplicate(text);
      if (expected) duplicates++;
      assert.equal(hasDuplicateMember(text, span()), expected, text);
      assert.equal(hasDuplicateMember(text), expected, text);
    }
    assert.ok(duplicates > 400 && duplicates < 1600, `${duplicates} of 2000 had duplicates`);
  });
});

describe('JW-07 through verify, with the authorization_details cache primed', () => {
  let issuer: FakeIssuer;
  let key: TestKey;
  before(async () => {
    issuer = await startFakeIssuer();
    key = await makeKey('ES256', 'k-details');
    issuer.keys.push(key.publicJwk);
  });
  after(() => issuer.close());

  const details = JSON.stringify([{ type: 'mcp_tool', locations: [AUDIENCE], actions: ['crm.lookup_customer'] }]);
  const header = JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'k-details' });
  /** The claims as JSON text, `extra` members (text, so names may repeat or be escaped) and then the details. */
  const payload = (claims: Record<string, unknown>, extra = '') => `${JSON.stringify(claims).slice(0, -1)}${extra},"authorization_details":${details}}`;
  /** Run `use` with a verifier that has just checked a token carrying `details`, and one that never saw them. */
  const withVerifiers = async (use: (primed: ReturnType<typeof createVerifier>, fresh: ReturnType<typeof createVerifier>) => Promise<void>) => {
    const primed = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
    const fresh = createVerifier({ issuer: issuer.url, audience: AUDIENCE });
    try {
      const claims = defaultClaims(issuer.url);
      assert.equal((await primed.verify(await signRaw(header, payload(claims), key))).jti, claims.jti);
      await use(primed, fresh);
    } finally {
      primed.close();
      fresh.close();
    }
  };

  it('refuses repeated claims whose count matches the stepped-over details, after an escaped name', async () => {
    await withVerifiers(async (primed, fresh) => {
      const claims = defaultClaims(issuer.url);
      const repeatedSubs = Array.from({ length: parsedMembers(details) }, (_, i) => `,"sub":"admin-${i}"`).join('');
      const token = await signRaw(header, payload(claims, `,"x\\u0061":1${repeatedSubs}`), key);
      for (const verifier of [primed, fresh]) {
        const err = await rejectsWith(verifier.verify(token), 'ERR_TOKEN_MALFORMED');
        assert.equal(err.detail, 'payload is not a UTF-8 JSON object with unique member names');
      }
    });
  });
  it('accepts a token with an escaped name and the cached details, exactly as a verifier that never saw them', async () => {
    await withVerifiers(async (primed, fresh) => {
      const claims = defaultClaims(issuer.url);
      const token = await signRaw(header, payload(claims, ',"x\\u0061":1'), key);
      const verified = await primed.verify(token);
      assert.deepEqual(verified, await fresh.verify(token));
      assert.equal(verified.sub, claims.sub);
      assert.equal(verified.jti, claims.jti);
      assert.deepEqual(verified.authorizationDetails, JSON.parse(details));
      assert.deepEqual(verified.claims, { ...claims, xa: 1, authorization_details: JSON.parse(details) });
    });
  });
});

/** Members of every object in a JSON text, counted on the parsed value. */
function parsedMembers(text: string): number {
  const count = (value: unknown): number =>
    Array.isArray(value) ? value.reduce((n: number, item) => n + count(item), 0)
      : typeof value === 'object' && value !== null ? Object.values(value).reduce((n: number, item) => n + 1 + count(item), 0) : 0;
  return count(JSON.parse(text));
}

describe('OwnToolDetailsCache', () => {
  const AUD = 'https://tools.example/mcp';
  const entry = (max: number) => [{ type: 'mcp_tool', locations: [AUD], actions: ['t'], arguments: { n: { maximum: max } } }];
  const check = (cache: OwnToolDetailsCache, max: number) => {
    const text = JSON.stringify(entry(max));
    return cache.lookup(text) ?? cache.resolve(JSON.parse(text), text);
  };
  it('keeps the last claim, and others from their second sighting; refused claims never', () => {
    const cache = new OwnToolDetailsCache(AUD);
    const a1 = check(cache, 1);
    assert.equal(check(cache, 1), a1); // the last one
    const b1 = check(cache, 2);
    const a2 = check(cache, 1); // seen before, not kept: checked again, now kept
    assert.notEqual(a2, a1);
    assert.deepEqual(a2, a1);
    assert.notEqual(check(cache, 2), b1); // second sighting of b: checked again, now kept
    assert.equal(check(cache, 1), a2); // from the map
    assert.ok(Object.isFrozen(a2.claim) && Object.isFrozen(a2.own) && Object.isFrozen(a2.own[0]));
    const bad = JSON.stringify([{ ...entry(1)[0], pattern: 'x' }]);
    for (let i = 0; i < 3; i++) assert.throws(() => cache.lookup(bad) ?? cache.resolve(JSON.parse(bad), bad), (e: unknown) => e instanceof VerifyError && e.code === 'ERR_CLAIM_INVALID');
  });
  it('stays bounded under a stream of distinct claims', () => {
    const cache = new OwnToolDetailsCache(AUD);
    for (let round = 0; round < 2; round++) for (let i = 0; i < 500; i++) check(cache, i);
    const inner = cache as unknown as { entries: Map<string, unknown>; seenOnce: Set<string> };
    assert.ok(inner.entries.size <= 64 && inner.seenOnce.size <= 64, `${inner.entries.size} ${inner.seenOnce.size}`);
  });
});

describe('decodeSegmentText', () => {
  it('accepts exactly base64url without padding (as the old regular expression did, and no 4n+1 length)', () => {
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const intruders = ['+', '/', '=', ' ', '\n', '.', '!', '~', '\u00e9', '\u0000', '%'];
    for (let n = 0; n < 3000; n++) {
      const ascii = JSON.stringify({ v: Math.floor(random() * 1e9).toString(36).repeat(1 + Math.floor(random() * 5)) });
      let segment = Buffer.from(ascii).toString('base64url');
      if (random() < 0.5) {
        const at = Math.floor(random() * (segment.length + 1));
        segment = segment.slice(0, at) + intruders[Math.floor(random() * intruders.length)]! + segment.slice(at);
      } else if (random() < 0.3) {
        segment = segment.slice(0, -1);
      }
      const valid = /^[A-Za-z0-9_-]*$/.test(segment) && segment.length % 4 !== 1;
      const decoded = decodeSegmentText(segment);
      assert.equal(decoded !== undefined, valid, JSON.stringify(segment));
      if (valid) assert.equal(decoded, Buffer.from(segment, 'base64url').toString('utf8'));
    }
    assert.ok(alphabet.length === 64);
  });
  it('refuses bytes that are not UTF-8', () => {
    assert.equal(decodeSegmentText(Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')), undefined);
    assert.equal(decodeSegmentText(Buffer.from('{"é":1}').toString('base64url')), '{"é":1}');
  });
});

/** A plain recursive-descent reading of JSON text that reports whether any object repeats a name. */
function referenceHasDuplicate(text: string): boolean {
  let i = 0;
  let found = false;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const string = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): void => {
    ws();
    if (text[i] === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      while (text[i] !== '}') {
        ws();
        const name = string();
        if (seen.has(name)) found = true;
        seen.add(name);
        ws();
        i++; // :
        value();
        ws();
        if (text[i] === ',') i++;
      }
      i++;
    } else if (text[i] === '[') {
      i++;
      ws();
      while (text[i] !== ']') {
        value();
        ws();
        if (text[i] === ',') i++;
      }
      i++;
    } else if (text[i] === '"') {
      string();
    } else {
      while (i < text.length && !/[,\]}\s]/.test(text[i]!)) i++;
    }
  };
  value();
  return found;
}

describe('precheck', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64url');
  const payload = b64('{"sub":"u"}');
  const jws = (headerJson: string, payloadSegment = payload) => `${b64(headerJson)}.${payloadSegment}.c2ln`;
  const codeOf = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      assert.ok(err instanceof VerifyError);
      return err.code;
    }
  };
  const es = new Set(['ES256']);

  const parsed = { claims: { sub: 'u' }, details: undefined, detailsText: undefined };
  it('returns alg, kid and the parsed claims, the same for a header seen before', () => {
    const token = jws('{"alg":"ES256","typ":"at+jwt","kid":"k1"}');
    assert.deepEqual(precheck(token, es), { alg: 'ES256', kid: 'k1', ...parsed });
    assert.deepEqual(precheck(token, es), { alg: 'ES256', kid: 'k1', ...parsed });
  });
  it('runs the allow-list checks on every call, whichever verifier saw the header first', () => {
    const token = jws('{"alg":"RS256","typ":"at+jwt","kid":"k1"}');
    assert.deepEqual(precheck(token, new Set(['RS256'])), { alg: 'RS256', kid: 'k1', ...parsed });
    assert.equal(codeOf(() => precheck(token, es)), 'ERR_ALGORITHM');
  });
  it('still decodes and vets the payload when the header is known', () => {
    const header = '{"alg":"ES256","typ":"at+jwt","kid":"k2"}';
    precheck(jws(header), es);
    for (const bad of [b64('{"a":1,"a":2}'), b64('[1]'), b64('{'), 'e30!', Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')]) {
      assert.equal(codeOf(() => precheck(jws(header, bad), es)), 'ERR_TOKEN_MALFORMED', bad);
    }
  });
  it('refuses a bad header every time, and keeps working through many distinct headers', () => {
    const dup = jws('{"alg":"ES256","typ":"at+jwt","kid":"k1","kid":"k2"}');
    assert.equal(codeOf(() => precheck(dup, es)), 'ERR_TOKEN_MALFORMED');
    assert.equal(codeOf(() => precheck(dup, es)), 'ERR_TOKEN_MALFORMED');
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 40; i++) assert.deepEqual(precheck(jws(`{"alg":"ES256","typ":"at+jwt","kid":"k-${i}"}`), es), { alg: 'ES256', kid: `k-${i}`, ...parsed });
    }
    assert.equal(codeOf(() => precheck(jws('{"alg":"ES256","typ":"JWT","kid":"k-1"}'), es)), 'ERR_TOKEN_TYPE');
    assert.equal(codeOf(() => precheck(jws('{"alg":"ES256","typ":"at+jwt","kid":"k-1","crit":["x"]}'), es)), 'ERR_TOKEN_MALFORMED');
  });
  it('counts segments without splitting a well-formed token', () => {
    for (const [token, count] of [['a', 1], ['a.b', 2], ['a.b.c.d', 4], ['a.b.c.d.e', 5], ['..', 3]] as const) {
      try {
        precheck(token, es);
        assert.fail('accepted');
      } catch (err) {
        assert.ok(err instanceof VerifyError);
        assert.equal(err.code, 'ERR_TOKEN_MALFORMED');
        if (count !== 3) assert.equal(err.detail, `expected 3 JWS segments, got ${count}`);
      }
    }
  });
});

describe('deepFreeze', () => {
  it('freezes a structure 100,000 deep without growing the call stack', () => {
    const depth = 100_000;
    const root: Record<string, unknown> = {};
    const made: object[] = [root];
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < depth; i++) {
      const child: Record<string, unknown> | unknown[] = i % 2 === 0 ? [] : {};
      if (Array.isArray(node)) node.push(i, child);
      else node.next = child;
      made.push(child);
      node = child;
    }
    assert.equal(deepFreeze(root), root);
    assert.equal(made.length, depth + 1);
    assert.ok(made.every((value) => Object.isFrozen(value)));
  });
  it('walks arrays by index and objects by own enumerable names, skips what is frozen, and ends on cycles', () => {
    const shell = Object.freeze({ inner: {} });
    const list = Object.assign([{}], { named: {} });
    const proto = { inherited: {} };
    const withProto = Object.assign(Object.create(proto) as Record<string, unknown>, { own: {} });
    const hidden = {};
    const value: Record<string, unknown> = { shell, list, withProto, shared: [{}], again: {} };
    Object.defineProperty(value, 'hidden', { value: hidden, enumerable: false });
    value.self = value;
    (value.again as Record<string, unknown>).up = value.shared;
    deepFreeze(value);
    for (const frozen of [value, list, list[0]!, withProto, withProto.own!, value.shared!, (value.shared as object[])[0]!, value.again!]) assert.ok(Object.isFrozen(frozen));
    for (const open of [shell.inner, list.named, proto, proto.inherited, hidden]) assert.ok(!Object.isFrozen(open));
    assert.equal(deepFreeze(7), 7);
    assert.equal(deepFreeze(null), null);
  });
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

describe('setBounded', () => {
  it('holds at most max entries, dropping the oldest; setting a key it holds drops nothing', () => {
    const map = new Map<string, number>();
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) setBounded(map, k, v, 3);
    setBounded(map, 'b', 20, 3);
    assert.deepEqual([...map], [['a', 1], ['b', 20], ['c', 3]]);
    setBounded(map, 'd', 4, 3);
    assert.deepEqual([...map], [['b', 20], ['c', 3], ['d', 4]]);
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
    ancestors: [],
    authorizationDetails: [],
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
  it('keeps kinds apart and matches a revoked ancestor digest whenever the token was issued', () => {
    const withAncestors = { ...token(500), ancestors: ['d-root', 'd-parent'] };
    const cases: Array<[RevocationRecord, VerifiedToken, boolean]> = [
      // A value revoked as one kind does not revoke a token carrying it as another.
      [rec('client', 'u', 1000), token(50), false],
      [rec('sub', 'c', 1000), token(50), false],
      [rec('jti', 's'), token(50), false],
      [rec('sid', 'j'), token(50), false],
      [{ kind: 'token_digest', value: 'd-parent', revokedAt: 1, expiresAt: 10_000 }, withAncestors, true],
      [{ kind: 'token_digest', value: 'd-other', revokedAt: 1, expiresAt: 10_000 }, withAncestors, false],
    ];
    for (const [record, t, revoked] of cases) {
      const set = new RevocationSet();
      // Unrelated records of every kind alongside, so no kind is empty.
      for (const kind of ['sid', 'sub', 'client', 'jti', 'token_digest'] as const) set.add({ kind, value: 'unrelated', revokedAt: 1000, expiresAt: 10_000 });
      set.add(record);
      assert.equal(set.match(t)?.value === record.value, revoked, `${JSON.stringify(record)}`);
      assert.equal(set.size, 6);
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

describe('RevocationSet pruning', () => {
  const tokenWith = (claims: Partial<VerifiedToken>): VerifiedToken => ({
    sub: 'u',
    clientId: 'c',
    scopes: [],
    sid: 's',
    jti: 'j',
    exp: 400,
    iat: 100,
    actors: [],
    ancestors: [],
    authorizationDetails: [],
    claims: {},
    ...claims,
  });
  /** A record that counts every read of its expiry: whatever looks at a record to prune it reads that. */
  const counted = (reads: { n: number }, kind: RevocationRecord['kind'], value: string, expiresAt: number): RevocationRecord => ({
    kind,
    value,
    revokedAt: 1,
    get expiresAt() {
      reads.n++;
      return expiresAt;
    },
  });

  it('a burst of n events on m records, pruning on each as the feed does, looks at records O(m + n) times, not m * n', () => {
    const held = 20_000;
    const burst = 2_000;
    const reads = { n: 0 };
    const set = new RevocationSet();
    set.replaceAll(Array.from({ length: held }, (_, i) => counted(reads, 'sid', `held-${i}`, 10_000 + i)));
    assert.ok(reads.n <= 2 * held, `${reads.n} expiry reads to load ${held} records`);
    reads.n = 0;
    for (let i = 0; i < burst; i++) {
      set.add(counted(reads, 'jti', `burst-${i}`, 50_000));
      set.prune(5_000 + i); // nothing has expired yet
    }
    // A walk of every record per event would read burst * (held + burst / 2) = 42,000,000 expiries.
    assert.ok(reads.n <= 2 * burst, `${reads.n} expiry reads for a burst of ${burst} on ${held} records`);
    assert.equal(set.size, held + burst);
    // Once some have expired, it looks at those only (and drops them).
    reads.n = 0;
    const visits = stats.revocationPruneVisits;
    set.prune(10_099.5); // held-0 .. held-99 expired
    assert.equal(stats.revocationPruneVisits - visits, 100);
    assert.ok(reads.n <= 2 * 100, `${reads.n} expiry reads to prune 100 records`);
    assert.equal(set.size, held - 100 + burst);
    assert.equal(set.match(tokenWith({ sid: 'held-99' })), undefined);
    assert.equal(set.match(tokenWith({ sid: 'held-100' }))?.value, 'held-100');
  });

  it('prunes each record at its latest expiresAt, and stays correct for expired records not yet pruned', () => {
    const set = new RevocationSet();
    set.add({ kind: 'sid', value: 's', revokedAt: 100, expiresAt: 1_000 });
    set.add({ kind: 'sid', value: 's', revokedAt: 100, expiresAt: 2_000 }); // kept longer
    set.add({ kind: 'sid', value: 's', revokedAt: 100, expiresAt: 1_500 }); // an older repeat arriving late
    set.add({ kind: 'jti', value: 'j', revokedAt: 100, expiresAt: 1_000 });
    set.add({ kind: 'sub', value: 'u', revokedAt: 100, expiresAt: 1_000 });
    // Past expiresAt but not pruned yet: a record still matches only the tokens it revokes (here issued up to revokedAt).
    assert.equal(set.match(tokenWith({ sid: 'other', jti: 'other', iat: 101 })), undefined);
    assert.equal(set.match(tokenWith({ sid: 'other', jti: 'other', iat: 100 }))?.kind, 'sub');
    set.prune(1_001);
    assert.equal(set.size, 1);
    assert.equal(set.match(tokenWith({ jti: 'j', sid: 'other', iat: 100 })), undefined);
    assert.equal(set.match(tokenWith({ sid: 's' }))?.expiresAt, 2_000);
    set.prune(2_000); // kept while expiresAt >= now
    assert.equal(set.size, 1);
    set.prune(2_001);
    assert.equal(set.size, 0);
    // A record added again after being pruned is pruned again at its new expiry, not before.
    set.add({ kind: 'sid', value: 's', revokedAt: 3_000, expiresAt: 4_000 });
    set.prune(3_500);
    assert.equal(set.size, 1);
    set.replaceAll([{ kind: 'jti', value: 'a', revokedAt: 1, expiresAt: 5_000 }, { kind: 'jti', value: 'b', revokedAt: 1, expiresAt: 6_000 }]);
    set.prune(5_500);
    assert.deepEqual([set.size, set.match(tokenWith({ jti: 'b' }))?.value], [1, 'b']);
  });

  it('drops at most `limit` records per prune, the earliest to expire first (a mass expiry is spread over calls)', () => {
    const set = new RevocationSet();
    for (const at of [5, 3, 1, 4, 2]) set.add({ kind: 'jti', value: `j${at}`, revokedAt: 0, expiresAt: 1_000 + at });
    set.prune(2_000, 2);
    assert.deepEqual(['j1', 'j2', 'j3', 'j4', 'j5'].filter((jti) => set.match(tokenWith({ jti })) !== undefined), ['j3', 'j4', 'j5']);
    set.prune(2_000);
    assert.equal(set.size, 0);
  });

  it('keeps its expiry queue bounded when one record is kept longer again and again', () => {
    const set = new RevocationSet();
    for (let i = 1; i <= 10_000; i++) set.add({ kind: 'sub', value: 'u', revokedAt: i, expiresAt: 1_000 + i });
    const visits = stats.revocationPruneVisits;
    set.prune(100_000);
    assert.equal(set.size, 0);
    // Every entry left behind by a later expiry comes out at the end; without a bound there would be 10,000.
    assert.ok(stats.revocationPruneVisits - visits <= 2 + 1024, String(stats.revocationPruneVisits - visits));
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
