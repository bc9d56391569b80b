// Checks on the raw compact JWS that must hold before any key is looked up or any signature is computed.
import type { JWTPayload } from 'jose' with { 'resolution-mode': 'import' };
import type { OwnToolDetailsCache, ResolvedDetails } from './authorization_details.js';
import { parseClaimsSet } from './claims_set.js';
import { VerifyError } from './errors.js';
import { decodeJsonSegment, decodeSegmentText, hasDuplicateMember, type MemberSpan } from './json_strict.js';
import { deepFreeze } from './freeze.js';
import { setBounded } from './lru.js';

/** Our tokens are well under 4 KiB; anything far larger is refused before it costs a JSON parse. */
export const MAX_TOKEN_LENGTH = 16_384;

const ACCESS_TOKEN_TYP = 'application/at+jwt';

const DETAILS_CLAIM = 'authorization_details';

/** What the verifier needs after a successful precheck: the header's `alg` and `kid`, and the parsed payload. */
export interface Prechecked {
  alg: string;
  kid: string;
  /** The claims set, parsed once; untrusted until the signature is verified. */
  claims: JWTPayload;
  /** The cached check of its `authorization_details`, when that exact text was checked before. */
  details: ResolvedDetails | undefined;
  /** The `authorization_details` JSON text, when it is an array or object (the key to remember its check by). */
  detailsText: string | undefined;
}

/**
 * Parse and vet the header and payload of a compact JWS, each decoded exactly once. The payload is parsed here only;
 * the verifier checks the signature with jose's compactVerify, which does not parse it again, and then the claims.
 * Nothing in the payload is trusted until then. Returns the header's `alg` and `kid`, so the caller can pick the key
 * without decoding the header again, and the claims set. With `details`, an `authorization_details` value whose text
 * was checked before is taken from it instead of parsed (see `parseClaimsSet`).
 */
export function precheck(token: unknown, algorithms: ReadonlySet<string>, details?: OwnToolDetailsCache): Prechecked {
  if (typeof token !== 'string' || token.length === 0) throw new VerifyError('ERR_TOKEN_MISSING');
  if (token.length > MAX_TOKEN_LENGTH) throw malformed('token too long');
  const firstDot = token.indexOf('.');
  const secondDot = firstDot === -1 ? -1 : token.indexOf('.', firstDot + 1);
  // RFC 7515 §7.1: compact serialization is exactly three parts (five would be a JWE, which we never accept).
  if (secondDot === -1 || token.indexOf('.', secondDot + 1) !== -1) {
    throw malformed(`expected 3 JWS segments, got ${token.split('.').length}`);
  }
  const header = decodeHeader(token.slice(0, firstDot));
  if (!header) throw malformed('header is not a UTF-8 JSON object with unique member names');
  const payload = decodeSegmentText(token.slice(firstDot + 1, secondDot));
  const span: MemberSpan = details ? { name: DETAILS_CLAIM, start: -1, end: -1, knownAt: details.knownAtBound } : { name: DETAILS_CLAIM, start: -1, end: -1 };
  // RFC 7515 §4 / RFC 7519 §4: names must be unique; we refuse instead of taking the last one [P, JW-07].
  // RFC 7519 §7.2 step 10: the claims set is a JSON object.
  const parsed = payload === undefined || hasDuplicateMember(payload, span) ? undefined : parseClaimsSet(payload, span, details);
  if (!parsed) throw malformed('payload is not a UTF-8 JSON object with unique member names');

  // RFC 8725 §3.1: accept only an allow-listed algorithm (this is also what refuses "none" and HS256 key confusion).
  if (typeof header.alg !== 'string' || !algorithms.has(header.alg)) {
    throw new VerifyError('ERR_ALGORITHM', { detail: `alg ${JSON.stringify(header.alg)} not allowed` });
  }
  // RFC 9068 §4: the resource server MUST verify that the typ header value is "at+jwt" or "application/at+jwt".
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== ACCESS_TOKEN_TYP) {
    throw new VerifyError('ERR_TOKEN_TYPE', { detail: `typ ${JSON.stringify(header.typ)}` });
  }
  // RFC 7515 §4.1.11: an unknown critical extension makes the JWS invalid; our profile defines none, so any crit fails.
  if (Object.hasOwn(header, 'crit')) throw malformed('crit header present');
  // RFC 8725 §3.10: kid selects a key from the issuer's JWKS by string equality only, never as a path or query.
  if (typeof header.kid !== 'string' || header.kid.length === 0) throw malformed('kid header missing');
  return { alg: header.alg, kid: header.kid, claims: parsed.claims, details: parsed.details, detailsText: parsed.detailsText };
}

/**
 * Header segments already decoded, by their exact base64url text. One issuer's tokens share a handful of headers (one
 * per signing key), so each is decoded and scanned for duplicate names once instead of on every call. Decoding is a
 * pure function of the segment, so a hit is the same object a fresh decode would give; the entries are frozen, and
 * only what decoded to an object with unique names is kept. The allow-list checks below still run on every call.
 */
const decodedHeaders = new Map<string, Readonly<Record<string, unknown>>>();
const DECODED_HEADERS_MAX = 16;

function decodeHeader(segment: string): Readonly<Record<string, unknown>> | undefined {
  const known = decodedHeaders.get(segment);
  if (known) return known;
  const header = decodeJsonSegment(segment);
  if (!header) return undefined;
  setBounded(decodedHeaders, segment, deepFreeze(header), DECODED_HEADERS_MAX);
  return header;
}

// RFC 7515 §4.1.9: typ is compared case-insensitively, and "application/" is implied when there is no "/".
function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

function malformed(detail: string): VerifyError {
  return new VerifyError('ERR_TOKEN_MALFORMED', { detail });
}
