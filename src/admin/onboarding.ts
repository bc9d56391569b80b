// Admin routes for onboarded MCP clients (issue 12 item 5): remembered consents (list, revoke: its grants and every
// token derived from them end) and clients onboarded by Dynamic Client Registration or Client ID Metadata Document
// (list, delete: its tokens are revoked, its consents removed, its registration deleted).
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ConsentRecord, ConsentStore, OnboardingStore, SessionRegistry } from '../stores/types.js';
import type { RevocationService } from '../sessions/revoke.js';
import { AdminError, notFound, unavailable } from './errors.js';
import { clientsQuery, consentsQuery, parseOr400, pathParam, revokeBody, revokeConsentBody } from './schemas.js';

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

/** Every consent of a client, to its last one (list is capped; removal empties it page by page). */
async function allConsentsOf(store: ConsentStore, clientId: string): Promise<ConsentRecord[]> {
  return store.list({ clientId }, Number.MAX_SAFE_INTEGER);
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
  if (d && (await d.consents.list({ clientId }, 1)).length > 0) return true;
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
   * (ending a grant twice is harmless); grants added while this runs are in the removed record and ended too.
   */
  const revokeConsent = async (d: AdminOnboardingDeps, r: { sub: string; client_id: string; resource: string }, ctx: Ctx, reason: string) => {
    const found = await d.consents.find(r.sub, r.client_id, r.resource);
    if (!found) return undefined;
    const by = ctx.state.adminCaller.clientId;
    const requestId = ctx.state.requestId;
    let ended = false;
    let removed = found;
    try {
      for (const grantId of found.grantIds) await d.endGrant(grantId, by, reason, requestId);
      removed = (await d.consents.remove(r.sub, r.client_id, r.resource)) ?? found;
      for (const grantId of removed.grantIds.filter((g) => !found.grantIds.includes(g))) await d.endGrant(grantId, by, reason, requestId);
      ended = true;
    } finally {
      // Recorded also when ending a grant failed: the consent is gone, and the trail must say whose and why.
      d.revocation.consentRevoked({ sub: removed.accountId, clientId: removed.clientId, resource: removed.resource, by, reason, ...(requestId ? { requestId } : {}) }, ended);
    }
    return removed;
  };

  router.get('/consents', async (ctx: Ctx) => {
    const d = need();
    const q = parseOr400(consentsQuery, { ...ctx.query }, 'query parameter');
    const items = await d.consents.list({ ...(q.sub ? { accountId: q.sub } : {}), ...(q.client_id ? { clientId: q.client_id } : {}) }, q.limit).catch(unavailable);
    ctx.body = { items: items.map(consentView) };
  });

  router.post('/consents/revoke', async (ctx: Ctx) => {
    const d = need();
    const body = parseOr400(revokeConsentBody, await readJsonObject(ctx), 'body member');
    const removed = await revokeConsent(d, body, ctx, body.reason).catch(unavailable);
    if (!removed) throw notFound('consent', 'unknown_consent');
    ctx.body = { ...consentView(removed), revoked: true, endedGrants: removed.grantIds.length };
  });

  router.get('/clients', async (ctx: Ctx) => {
    const d = need();
    const q = parseOr400(clientsQuery, { ...ctx.query }, 'query parameter');
    const registered = await d.registered.listClients(q.limit).catch(unavailable);
    const dcr = await Promise.all(
      registered.map(async ({ clientId, expiresAt }) => {
        const m = (await d.clientRecords.find(clientId).catch(unavailable)) ?? {};
        return { client_id: clientId, kind: 'dcr', client_name: m.client_name, redirect_uris: m.redirect_uris, application_type: m.application_type, expiresAt };
      }),
    );
    // CIMD clients are not stored (oidc-provider caches each document in each replica): the ones listed are those
    // holding a user's consent, which is what an operator may need to take away.
    const cimd = new Map<string, number>();
    for (const c of await d.consents.list({}, Number.MAX_SAFE_INTEGER).catch(unavailable)) {
      if (c.clientId.startsWith('https://')) cimd.set(c.clientId, (cimd.get(c.clientId) ?? 0) + 1);
    }
    const documents = [...cimd].map(([clientId, consents]) => ({ client_id: clientId, kind: 'cimd', host: new URL(clientId).host, consents }));
    ctx.body = { items: [...dcr, ...documents].slice(0, q.limit) };
  });

  router.post('/clients/:client_id/delete', async (ctx: Ctx) => {
    const d = need();
    const clientId = pathParam('client_id', ctx.params.client_id);
    const { reason } = parseOr400(revokeBody, await readJsonObject(ctx), 'body member');
    if (d.configuredClients.has(clientId)) throw new AdminError(400, 'invalid_request', 'configured clients are changed in the configuration', ['invalid_request', 'configured_client']);
    const by = ctx.state.adminCaller.clientId;
    const [record, consents] = await Promise.all([d.clientRecords.find(clientId), allConsentsOf(d.consents, clientId)]).catch(unavailable);
    if (!record && !consents.length) throw notFound('client', 'unknown_client');
    // Every token the client obtained so far dies first (delegation tokens and refresh included), then its state goes.
    const revoked = await d.revocation
      .revoke({ kind: 'client', value: clientId, by, reason, ...(ctx.state.requestId ? { requestId: ctx.state.requestId } : {}) })
      .catch(unavailable);
    let revokedConsents = 0;
    for (const c of consents) if (await revokeConsent(d, { sub: c.accountId, client_id: c.clientId, resource: c.resource }, ctx, reason).catch(unavailable)) revokedConsents++;
    if (record) {
      await d.clientRecords.destroy(clientId).catch(unavailable);
      await d.registered.removeClient(clientId).catch(unavailable);
    }
    ctx.body = {
      client_id: clientId,
      kind: clientId.startsWith('https://') ? 'cimd' : 'dcr',
      deleted: Boolean(record),
      revokedConsents,
      revokedAt: revoked.record.revokedAt,
    };
  });
}
