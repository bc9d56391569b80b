// The key file format: a private JWKS whose keys carry our rotation metadata as extra members.
//
// {
//   "keys": [
//     { "kty": "EC", "crv": "P-256", "x": "…", "y": "…", "d": "…",
//       "kid": "<RFC 7638 thumbprint>", "alg": "ES256", "use": "sig",
//       "x-status": "current", "x-created": 1767225600 },
//     { …, "x-status": "next", "x-created": 1767225600 },
//     { …, "x-status": "retired", "x-created": 1767000000, "x-retire-after": 1767229500 }
//   ]
// }
//
// RFC 7517 §4: "Additional members can be present in the JWK; if not understood by implementations encountering
// them, they MUST be ignored", so the file stays a valid JWKS for any other tool; the `x-` prefix keeps our members
// clear of registered names. Times are epoch seconds.
import { z } from 'zod';
import { KeyStoreError } from './errors.js';
import { ALG_KEY_TYPE, PRIVATE_MEMBERS, SIGNING_ALGS, toPrivateJwk, type PrivateJwk } from './jwk_shape.js';

export const STATUS_MEMBER = 'x-status';
export const CREATED_MEMBER = 'x-created';
export const RETIRE_AFTER_MEMBER = 'x-retire-after';

/**
 * - `next`: published, never signs; becomes `current` at the next rotation.
 * - `current`: signs new tokens (exactly one per file).
 * - `retired`: no longer signs; published until `retireAfter`, when every token it signed has expired.
 */
export type KeyStatus = 'next' | 'current' | 'retired';
export const KEY_STATUSES = ['current', 'next', 'retired'] as const satisfies readonly KeyStatus[];

/** One key of the file, with the metadata split out of the JWK. */
export interface StoredKey {
  jwk: PrivateJwk;
  status: KeyStatus;
  /** Epoch seconds. */
  created: number;
  /** Epoch seconds; set on retired keys only. */
  retireAfter?: number;
}

const fileSchema = z.object({ keys: z.array(z.unknown()) });

const storedKeySchema = z.looseObject({
  kty: z.string(),
  kid: z.string().min(1),
  alg: z.enum(SIGNING_ALGS),
  use: z.literal('sig'),
  [STATUS_MEMBER]: z.enum(KEY_STATUSES),
  [CREATED_MEMBER]: z.int().nonnegative(),
  [RETIRE_AFTER_MEMBER]: z.int().nonnegative().optional(),
});

function invalid(file: string, message: string): KeyStoreError {
  return new KeyStoreError('KEYS_INVALID', `key file ${file}: ${message}`, { file });
}

function describeIssues(error: z.ZodError): string {
  // zod messages name the member and the expected type, never the value, so they are safe to print.
  return error.issues.map((issue) => `${issue.path.join('.') || 'key'}: ${issue.message}`).join('; ');
}

function parseKey(raw: unknown, index: number, file: string): StoredKey {
  const kidHint = typeof (raw as { kid?: unknown } | null)?.kid === 'string' ? ` (kid ${(raw as { kid: string }).kid})` : '';
  const where = `key ${index}${kidHint}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(file, `${where} is not an object`);
  if (typeof (raw as { d?: unknown }).d !== 'string') {
    throw invalid(file, `${where} has no private part ("d"); the file must hold private keys`);
  }
  const parsed = storedKeySchema.safeParse(raw);
  if (!parsed.success) throw invalid(file, `${where}: ${describeIssues(parsed.error)}`);
  const key = parsed.data;

  const expected = ALG_KEY_TYPE[key.alg];
  if (key.kty !== expected.kty || (expected.crv !== undefined && key['crv'] !== expected.crv)) {
    const wanted = expected.crv === undefined ? expected.kty : `${expected.kty} ${expected.crv}`;
    throw invalid(file, `${where} has alg ${key.alg} but is not an ${wanted} key`);
  }
  const missing = PRIVATE_MEMBERS[expected.kty].filter((member) => typeof key[member] !== 'string');
  if (missing.length > 0) throw invalid(file, `${where} is missing private members: ${missing.join(', ')}`);

  const status = key[STATUS_MEMBER];
  const retireAfter = key[RETIRE_AFTER_MEMBER];
  if (status === 'retired' && retireAfter === undefined) {
    throw invalid(file, `${where} is retired but has no "${RETIRE_AFTER_MEMBER}"`);
  }
  return {
    jwk: toPrivateJwk(key as unknown as PrivateJwk),
    status,
    created: key[CREATED_MEMBER],
    ...(status === 'retired' ? { retireAfter: retireAfter as number } : {}),
  };
}

/**
 * Parses and checks the file's text: shape, one key per kid, at most one `current` and one `next`.
 * Whether a `current` key exists is left to the caller: listing a file without one is still useful.
 */
export function parseKeyFile(text: string, file: string): StoredKey[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The JSON.parse message quotes the text around the error, which may be key material: do not keep it.
    throw invalid(file, 'is not valid JSON');
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) throw invalid(file, 'is not a JWKS (expected an object with a "keys" array)');

  const keys = parsed.data.keys.map((raw, index) => parseKey(raw, index, file));
  const kids = new Set<string>();
  for (const key of keys) {
    if (kids.has(key.jwk.kid)) throw invalid(file, `kid ${key.jwk.kid} appears more than once`);
    kids.add(key.jwk.kid);
  }
  for (const status of ['current', 'next'] as const) {
    if (keys.filter((key) => key.status === status).length > 1) throw invalid(file, `has more than one ${status} key`);
  }
  return keys;
}

/** The file's text for `keys`, which the caller has already ordered. */
export function serializeKeyFile(keys: readonly StoredKey[]): string {
  const out = keys.map((key) => ({
    ...key.jwk,
    [STATUS_MEMBER]: key.status,
    [CREATED_MEMBER]: key.created,
    ...(key.retireAfter === undefined ? {} : { [RETIRE_AFTER_MEMBER]: key.retireAfter }),
  }));
  return `${JSON.stringify({ keys: out }, null, 2)}\n`;
}
