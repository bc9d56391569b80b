// Wire schemas of the admin API (path, query, body). Clients only ever see the fixed texts below, never zod's messages.
import { z } from 'zod';
import { AdminError, unavailable } from './errors.js';
import { isIdentifier } from '../sessions/identifiers.js';

/**
 * Identifiers (sid, sub, client_id, jti): the bounds the exchange applies too (sessions/identifiers.ts), so whatever it
 * accepted can be revoked here; subjects of external IdPs may hold `|`, `@`, `/`, spaces, any script.
 */
const id = z.string().refine(isIdentifier);

/** Empty query values mean "not given" (as RFC 6749 §3.2 treats parameters sent without a value). */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 50;

const limit = optional(
  z
    .string()
    .regex(/^[0-9]{1,6}$/)
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_LIMIT)),
).transform((v) => v ?? DEFAULT_LIMIT);

/** Cursors are opaque to callers; their exact shape is the store's business, so only a sane size and charset are checked. */
const cursor = optional(z.string().min(1).max(256).regex(/^[\x21-\x7e]+$/));

/** `since`: epoch milliseconds, or an ISO 8601 date-time with offset (or a plain date, meaning its UTC midnight). */
const since = optional(
  z.union([
    z.string().regex(/^[0-9]{1,15}$/).transform(Number),
    z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
    z.iso.date().transform((s) => Date.parse(`${s}T00:00:00Z`)),
  ]).pipe(z.number().int().nonnegative()),
);

export const sessionsQuery = z.strictObject({
  sub: optional(id),
  client_id: optional(id),
  limit,
  cursor,
});

export const auditQuery = z.strictObject({
  sid: optional(id),
  sub: optional(id),
  client_id: optional(id),
  decision: optional(z.enum(['allow', 'deny'])),
  type: optional(z.enum(['exchange', 'revocation', 'admin', 'gateway'])),
  since,
  limit,
  cursor,
});

export const revokeBody = z.strictObject({
  reason: z.string().trim().min(1).max(500).regex(/^[^\p{Cc}]+$/u),
});

export const consentsQuery = z.strictObject({
  sub: optional(id),
  client_id: optional(id),
  limit,
  cursor,
});

export const clientsQuery = z.strictObject({ limit, cursor });

/** A resource indicator (RFC 8707 §2: an absolute URI), bounded like the identifiers. */
const resourceIndicator = z.string().max(2048).refine((v) => URL.canParse(v) && !/[\s\p{Cc}]/u.test(v));

export const revokeConsentBody = z.strictObject({
  sub: id,
  client_id: id,
  resource: resourceIndicator,
  reason: revokeBody.shape.reason,
});

export const idParam = id;

const texts: Record<string, string> = {
  sub: 'sub is invalid',
  sid: 'sid is invalid',
  client_id: 'client_id is invalid',
  jti: 'jti is invalid',
  limit: `limit must be an integer from 1 to ${MAX_LIMIT}`,
  cursor: 'cursor is invalid',
  decision: 'decision must be allow or deny',
  type: 'type must be exchange, revocation, admin or gateway',
  since: 'since must be epoch milliseconds, a date-time YYYY-MM-DDThh:mm:ss with Z or ±hh:mm, or a date YYYY-MM-DD',
  reason: 'reason must be a string of 1 to 500 characters without control characters',
  resource: 'resource must be an absolute URI',
};

/** The fixed text for the first issue: by field name, so no input and no zod wording can reach the client. */
export function describeIssue(error: z.ZodError, what: 'query parameter' | 'body member'): string {
  const issue = error.issues[0];
  if (issue?.code === 'unrecognized_keys') return `unknown ${what}`;
  const field = issue?.path[0];
  return (typeof field === 'string' && texts[field]) || `invalid ${what}`;
}

/** Parses with `schema`, or throws a 400 invalid_request with a fixed description. */
export function parseOr400<T extends z.ZodType>(schema: T, input: unknown, what: 'query parameter' | 'body member'): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw new AdminError(400, 'invalid_request', describeIssue(result.error, what), ['invalid_request']);
  return result.data;
}

/** The refusal of a cursor that is not one of the listing's: the same for every listing. */
export const invalidCursor = () => new AdminError(400, 'invalid_request', texts.cursor!, ['invalid_request']);

/** A page read: a cursor the store cannot decode (it throws a TypeError, see stores/) is the caller's 400, anything else a 503. */
export function pageRead<T>(read: Promise<T>, cursor: string | undefined): Promise<T> {
  return read.catch((err: unknown) => {
    if (cursor !== undefined && err instanceof TypeError) throw invalidCursor();
    return unavailable(err);
  });
}

/** Validates one path parameter (already percent-decoded by the router). */
export function pathParam(name: 'sid' | 'sub' | 'client_id' | 'jti', value: unknown): string {
  const result = idParam.safeParse(value);
  if (!result.success) throw new AdminError(400, 'invalid_request', texts[name]!, ['invalid_request']);
  return result.data;
}

export type SessionsQuery = z.output<typeof sessionsQuery>;
export type AuditQuery = z.output<typeof auditQuery>;
export type ConsentsQuery = z.output<typeof consentsQuery>;
