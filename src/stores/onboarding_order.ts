// The orders and cursors of the onboarding listings (consents, registered clients), shared so every implementation
// pages identically. Each order is built only from what never changes while a record is listed, so pages read one
// after another neither skip nor repeat a record; identifiers enter it as SHA-256 digests, which keeps a cursor short
// (identifiers may be 512 characters, URLs longer; the admin API takes cursors of at most 256).
import { createHash } from 'node:crypto';
import type { ConsentRecord, Page } from './types.js';

const DIGEST = /^[A-Za-z0-9_-]{43}$/;
const ORDER_KEY_LENGTH = 43;
const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

/** Where a client sorts in a listing of clients: the base64url SHA-256 of its id, ascending in byte order. */
export const clientOrderKey = (clientId: string): string => digest(clientId);

/** Whether `key` has the shape of a clientOrderKey (a position a cursor may carry). */
export const isOrderKey = (key: string): boolean => DIGEST.test(key);

/** Whether `after` is a position a listing of clients may start from; a TypeError (the caller's mistake) when not. */
export function checkClientPosition(after: string | undefined): void {
  if (after !== undefined && !isOrderKey(after)) throw new TypeError('invalid client position');
}

/**
 * A client's entry in an ordered index of clients: its clientOrderKey, `:`, its id. Entries sort in clientOrderKey
 * order, whether compared by UTF-16 code unit (JavaScript) or by byte (Redis ZRANGEBYLEX): the key is ASCII, of one
 * length, and differs between clients, so it alone decides. Holding the id, an entry is all a listing needs to read.
 */
export const orderEntry = (clientId: string): string => `${clientOrderKey(clientId)}:${clientId}`;

/** The client id an orderEntry holds. */
export const clientOfEntry = (entry: string): string => entry.slice(ORDER_KEY_LENGTH + 1);

/**
 * A string above every entry of a client at or before the position `after` and below every entry of a client after
 * it (`;` follows `:`): the exclusive lower bound of a page that starts after `after`.
 */
export const entriesAfter = (after: string): string => `${after};`;

/** Whether a client id names a Client ID Metadata Document (an https URL), not a registered or configured client. */
export const isDocumentClientId = (clientId: string): boolean => clientId.startsWith('https://');

/**
 * A consent's place in the listing: newest first (`createdAt` descending; it never changes while the record lives),
 * ties by the digest of (user, client, resource) ascending.
 */
interface ConsentPosition {
  createdAt: number;
  key: string;
}

const positionOf = (r: Pick<ConsentRecord, 'accountId' | 'clientId' | 'resource' | 'createdAt'>): ConsentPosition => ({
  createdAt: r.createdAt,
  key: digest(JSON.stringify([r.accountId, r.clientId, r.resource])),
});

/** Negative when `a` comes first in the listing. */
const comparePositions = (a: ConsentPosition, b: ConsentPosition) => b.createdAt - a.createdAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

function encodeConsentCursor(p: ConsentPosition): string {
  return Buffer.from(JSON.stringify([p.createdAt, p.key])).toString('base64url');
}

function decodeConsentCursor(cursor: string): ConsentPosition {
  try {
    const [createdAt, key] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'number' && Number.isSafeInteger(createdAt) && typeof key === 'string' && DIGEST.test(key)) return { createdAt, key };
  } catch {
    // fall through: a malformed cursor
  }
  throw new TypeError('invalid consent cursor');
}

/**
 * One page of `records` (already filtered) in the consent listing's order, after `cursor` when given; `next` when more
 * follow. An undecodable cursor is a TypeError (the admin API's 400), thrown before anything is read from `records`.
 */
export function consentPage(page: { cursor?: string; limit: number }): (records: ConsentRecord[]) => Page<ConsentRecord> {
  const after = page.cursor === undefined ? undefined : decodeConsentCursor(page.cursor);
  return (records) => {
    const sorted = records
      .map((record) => ({ record, position: positionOf(record) }))
      .filter(({ position }) => after === undefined || comparePositions(position, after) > 0)
      .sort((a, b) => comparePositions(a.position, b.position));
    const taken = sorted.slice(0, page.limit);
    const last = taken.at(-1);
    return { items: taken.map(({ record }) => record), ...(sorted.length > taken.length && last ? { next: encodeConsentCursor(last.position) } : {}) };
  };
}
