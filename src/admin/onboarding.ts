// Admin routes for onboarded MCP clients (issue 12 item 5): remembered consents (list, revoke: its grants and every
// token derived from them end) and clients onboarded by Dynamic Client Registration or Client ID Metadata Document
// (list, delete: its tokens are revoked, its consents removed, its registration deleted).
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ConsentRecord, ConsentStore, OnboardingStore, SessionRegistry } from '../stores/types.js';
import type { RevocationService } from '../sessions/revoke.js';
import { AdminError, notFound, unavailable } from './errors.js';
import { clientsQuery, consentsQuery, invalidCursor, pageRead, parseOr400, pathParam, revokeBody, revokeConsentBody } from './schemas.js';
import { clientOrderKey, isDocumentClientId, isOrderKey } from '../stores/onboarding_order.js';

export interface AdminOnboardingDeps {
  consents: ConsentStore;
  registered: Pick<OnboardingStore, 'listClients' | 'removeClient'>;
  /** The stored metadata of a client registered by DCR (undefined when there is none), and its deletion. */
  clientRecords: { find(clientId: string): Promise<Record<string, unknown> | undefined>; destroy(clientId: string): Promise<void> };
  /** Ends a provider grant and every token issued from it, delegation tokens derived from it included. */
  endGrant(grantId: string, by: string, reason: string, requestId?: string): Promise<void>;
  revocation: Pick<RevocationService, 'revoke' | 'consentRevoked'>;
  /** Clients in the configuration: managed there, never deleted here. */
  configuredClients: ReadonlySet<string>;
}

type Ctx = Context & { state: { adminCaller: { clientId: string }; requestId?: string }; params: Record<string, string> };

const consentView = (r: ConsentRecord) => ({
  sub: r.accountId,
  client_id: r.clientId,
  resource: r.resource,
  scopes: r.scopes,
  grants: r.grantIds.length,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** Every consent matching `filter`, in one page. */
async function everyConsent(store: ConsentStore, filter: { clientId?: string }): Promise<ConsentRecord[]> {
  return (await store.list(filter, { limit: Number.MAX_SAFE_INTEGER })).items;
}

/**
 * Where a page of /admin/clients stopped in each kind: the clientOrderKey of the last DCR and of the last CIMD client
 * listed so far ('' before the first), and whose turn is next. The two kinds come from two places (the registration
 * index, the consents), so the cursor records a position in each and every page takes from both.
 */
interface ClientsPosition {
  dcr: string;
  cimd: string;
  cimdNext: boolean;
}

const encodeClientsCursor = (p: ClientsPosition) => Buffer.from(JSON.stringify([p.dcr, p.cimd, p.cimdNext ? 1 : 0])).toString('base64url');

function decodeClientsCursor(cursor: string | undefined): ClientsPosition {
  if (cursor === undefined) return { dcr: '', cimd: '', cimdNext: false };
  try {
    const [dcr, cimd, turn, ...rest] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const valid = (k: unknown): k is string => k === '' || (typeof k === 'string' && isOrderKey(k));
    if (valid(dcr) && valid(cimd) && (dcr || cimd) && (turn === 0 || turn === 1) && rest.length === 0) return { dcr, cimd, cimdNext: turn === 1 };
  } catch {
    // fall through: a malformed cursor
  }
  throw invalidCursor();
}

/**
 * Up to `limit` items from `a` and `b` taking turns (`b` first when `bFirst`); when one runs out the other fills the
 * page. `bNext`: whose turn the next page starts with, so the listing's order does not depend on the page size.
 */
function alternate<A, B>(a: A[], b: B[], limit: number, bFirst: boolean): { items: Array<A | B>; fromA: A[]; fromB: B[]; bNext: boolean } {
  const fromA: A[] = [];
  const fromB: B[] = [];
  const items: Array<A | B> = [];
  let bNext = bFirst;
  while (items.length < limit && (fromA.length < a.length || fromB.length < b.length)) {
    if (fromB.length < b.length && (bNext || fromA.length >= a.length)) {
      const item = b[fromB.length]!;
      fromB.push(item);
      items.push(item);
      bNext = false;
    } else {
      const item = a[fromA.length]!;
      fromA.push(item);
      items.push(item);
      bNext = true;
    }
  }
  return { items, fromA, fromB, bNext };
}

/**
 * Whether a client that is not in the configuration was ever onboarded here, as far as the store still knows: a DCR
 * registration (its stored metadata), a consent a user gave it (CIMD clients are not stored: a consent is their
 * trace), or a session it took part in (the session registry, which outlives both while its tokens may be live).
 */
export async function onboardedClientKnown(
  clientId: string,
  sessions: Pick<SessionRegistry, 'list'>,
  d: Pick<AdminOnboardingDeps, 'clientRecords' | 'consents'> | undefined,
): Promise<boolean> {
  if (d && (await d.clientRecords.find(clientId))) return true;
  if (d && (await d.consents.list({ clientId }, { limit: 1 })).items.length > 0) return true;
  return (await sessions.list({ clientId }, { limit: 1 })).items.length > 0;
}

export function addOnboardingRoutes(
  router: Router<never>,
  deps: () => AdminOnboardingDeps | undefined,
  readJsonObject: (ctx: Context) => Promise<Record<string, unknown>>,
): void {
  const need = () => deps() ?? (() => { throw notFound('onboarding', 'onboarding_disabled'); })();

  /**
   * Ends every grant made under a consent, then removes it, audited as one `consent` revocation; undefined when there
   * was none. In that order a failure part-way leaves the consent listed, so a retry finds it and ends what is left
   * (ending a grant twice is harmless); grants added while this runs are in the removed record and ended too. A record
   * that could not keep every grant id that may be alive (`grantsOverflowed`) cannot name them all, so the user is
   * revoked as well (every token and session of theirs; fail closed), unless `clientRevoked`: the client's own cutoff,
   * just written, already reaches every token it obtained.
   */
  const revokeConsent = async (d: AdminOnboardingDeps, r: { sub: string; client_id: string; resource: string }, ctx: Ctx, reason: string, { clientRevoked = false } = {}) => {
    const found = await d.consents.find(r.sub, r.client_id, r.resource);
    if (!found) return undefined;
    const by = ctx.state.adminCaller.clientId;
    const requestId = ctx.state.requestId;
    let ended = false;
    let removed = found;
    let subjectRevoked = false;
    const revokeSubject = async (record: ConsentRecord) => {
      if (!record.grantsOverflowed || clientRevoked || subjectRevoked) return;
      await d.revocation.revoke({ kind: 'sub', value: record.accountId, by, reason, ...(requestId ? { requestId } : {}) });
      subjectRevoked = true;
    };
    try {
      for (const grantId of found.grantIds) await d.endGrant(grantId, by, reason, requestId);
      await revokeSubject(found);
      removed = (await d.consents.remove(r.sub, r.client_id, r.resource)) ?? found;
      for (const grantId of removed.grantIds.filter((g) => !found.grantIds.includes(g))) await d.endGrant(grantId, by, reason, requestId);
      await revokeSubject(removed);
      ended = true;
    } finally {
      // Recorded also when ending a grant failed: the consent is gone, and the trail must say whose and why.
      d.revocation.consentRevoked({ sub: removed.accountId, clientId: removed.clientId, resource: removed.resource, by, reason, ...(requestId ? { requestId } : {}) }, ended);
    }
    return { removed, subjectRevoked };
  };

  router.get('/consents', async (ctx: Ctx) => {
    const d = need();
    const q = parseOr400(consentsQuery, { ...ctx.query }, 'query parameter');
    const filter = { ...(q.sub ? { accountId: q.sub } : {}), ...(q.client_id ? { clientId: q.client_id } : {}) };
    const page = await pageRead(d.consents.list(filter, { limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}) }), q.cursor);
    ctx.body = { items: page.items.map(consentView), ...(page.next ? { next: page.next } : {}) };
  });

  router.post('/consents/revoke', async (ctx: Ctx) => {
    const d = need();
    const body = parseOr400(revokeConsentBody, await readJsonObject(ctx), 'body member');
    const done = await revokeConsent(d, body, ctx, body.reason).catch(unavailable);
    if (!done) throw notFound('consent', 'unknown_consent');
    ctx.body = { ...consentView(done.removed), revoked: true, endedGrants: done.removed.grantIds.length, subjectRevoked: done.subjectRevoked };
  });

  /**
   * DCR and CIMD clients take turns (DCR first), each kind in clientOrderKey order (fixed while a client is listed), so
   * neither kind can push the other off the pages and reading page after page skips and repeats none.
   */
  router.get('/clients', async (ctx: Ctx) => {
    const d = need();
    const q = parseOr400(clientsQuery, { ...ctx.query }, 'query parameter');
    const after = decodeClientsCursor(q.cursor);
    // One more of each kind than a page holds: whether either has more decides `next`. Both stores read from indexes
    // in this order, so a page costs its size, not the number of clients or consents (DCR is open to anyone).
    // CIMD clients are not stored (oidc-provider caches each document in each replica): the ones listed are those
    // holding a user's consent, which is what an operator may need to take away.
    const [registered, consented] = await Promise.all([
      d.registered.listClients(q.limit + 1, after.dcr || undefined),
      d.consents.listDocumentClients(q.limit + 1, after.cimd || undefined),
    ]).catch(unavailable);
    const documents = consented.map((c) => ({ ...c, key: clientOrderKey(c.clientId) }));
    const { items, fromA: dcr, fromB: cimd, bNext } = alternate(registered, documents, q.limit, after.cimdNext);
    const metadata = new Map(
      await Promise.all(dcr.map(async ({ clientId }) => [clientId, (await d.clientRecords.find(clientId).catch(unavailable)) ?? {}] as const)),
    );
    const view = (item: (typeof items)[number]) => {
      if ('key' in item) return { client_id: item.clientId, kind: 'cimd', host: new URL(item.clientId).host, consents: item.consents };
      const m = metadata.get(item.clientId) ?? {};
      return { client_id: item.clientId, kind: 'dcr', client_name: m.client_name, redirect_uris: m.redirect_uris, application_type: m.application_type, expiresAt: item.expiresAt };
    };
    const more = dcr.length < registered.length || cimd.length < documents.length;
    const next: ClientsPosition = { dcr: dcr.length ? clientOrderKey(dcr.at(-1)!.clientId) : after.dcr, cimd: cimd.at(-1)?.key ?? after.cimd, cimdNext: bNext };
    ctx.body = { items: items.map(view), ...(more ? { next: encodeClientsCursor(next) } : {}) };
  });

  router.post('/clients/:client_id/delete', async (ctx: Ctx) => {
    const d = need();
    const clientId = pathParam('client_id', ctx.params.client_id);
    const { reason } = parseOr400(revokeBody, await readJsonObject(ctx), 'body member');
    if (d.configuredClients.has(clientId)) throw new AdminError(400, 'invalid_request', 'configured clients are changed in the configuration', ['invalid_request', 'configured_client']);
    const by = ctx.state.adminCaller.clientId;
    const [record, consents] = await Promise.all([d.clientRecords.find(clientId), everyConsent(d.consents, { clientId })]).catch(unavailable);
    if (!record && !consents.length) throw notFound('client', 'unknown_client');
    // Every token the client obtained so far dies first (delegation tokens and refresh included), then its state goes.
    const revoked = await d.revocation
      .revoke({ kind: 'client', value: clientId, by, reason, ...(ctx.state.requestId ? { requestId: ctx.state.requestId } : {}) })
      .catch(unavailable);
    let revokedConsents = 0;
    for (const c of consents) {
      if (await revokeConsent(d, { sub: c.accountId, client_id: c.clientId, resource: c.resource }, ctx, reason, { clientRevoked: true }).catch(unavailable)) revokedConsents++;
    }
    if (record) {
      await d.clientRecords.destroy(clientId).catch(unavailable);
      await d.registered.removeClient(clientId).catch(unavailable);
    }
    ctx.body = {
      client_id: clientId,
      kind: isDocumentClientId(clientId) ? 'cimd' : 'dcr',
      deleted: Boolean(record),
      revokedConsents,
      revokedAt: revoked.record.revokedAt,
    };
  });
}
