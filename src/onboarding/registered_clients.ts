// Lifetime of clients registered by Dynamic Client Registration: stored with an expiry (a client that never obtains a
// token goes away after `unusedClientTtlSeconds`), extended when it obtains tokens, listed and deleted by the admin API.
import type Provider from 'oidc-provider';
import type { AdapterConstructor } from 'oidc-provider';
import type { OnboardingStore } from '../stores/types.js';
import { dropMembers } from './client_rules.js';

type ClientAdapter = new (name: string) => {
  upsert(id: string, payload: unknown, expiresIn?: number): Promise<void>;
  find(id: string): Promise<unknown>;
};

/**
 * oidc-provider stores registered clients without an expiry; ours get `ttlSeconds` (static clients are never stored).
 * A stored client is read without the members onboarded clients never keep (client_rules.ts `DROPPED_MEMBERS`): the
 * registration gate drops them, and this drops them from records an earlier version stored with them.
 */
export function expiringRegisteredClients(Base: AdapterConstructor, ttlSeconds: number): AdapterConstructor {
  return class ExpiringClientAdapter extends (Base as unknown as ClientAdapter) {
    readonly #model: string;
    constructor(name: string) {
      super(name);
      this.#model = name;
    }
    override upsert(id: string, payload: unknown, expiresIn?: number): Promise<void> {
      return super.upsert(id, payload, this.#model === 'Client' && expiresIn === undefined ? ttlSeconds : expiresIn);
    }
    override async find(id: string): Promise<unknown> {
      const payload = await super.find(id);
      // RFC 9700 §4.11.2 (open redirector): a stored client's post-logout redirect is never honoured.
      if (this.#model === 'Client' && payload && typeof payload === 'object') dropMembers(payload as Record<string, unknown>);
      return payload;
    }
  } as unknown as AdapterConstructor;
}

export interface ClientUseOptions {
  store: Pick<OnboardingStore, 'touchClient'>;
  /** How long a registered client lives after its latest token. */
  ttlSeconds: number;
  onError: (err: unknown) => void;
}

/** A registered client that obtains a token lives `ttlSeconds` more: its record and its index entry, at most once an
 * hour per client and process (a write per token would be waste). */
export function extendRegisteredClientsOnUse(provider: Provider, { store, ttlSeconds, onError }: ClientUseOptions): void {
  const extendedAt = new Map<string, number>();
  provider.on('grant.success', (ctx) => {
    const client = ctx.oidc.client;
    if (!client?.clientId.startsWith('dcr_')) return;
    const now = Date.now();
    if ((extendedAt.get(client.clientId) ?? 0) > now - 3_600_000) return;
    if (extendedAt.size > 10_000) extendedAt.clear();
    extendedAt.set(client.clientId, now);
    const adapter = (provider.Client as unknown as { adapter: unknown }).adapter as { find(id: string): Promise<unknown>; upsert(id: string, p: unknown, e: number): Promise<void> };
    void (async () => {
      const payload = await adapter.find(client.clientId);
      if (!payload) return;
      await adapter.upsert(client.clientId, payload, ttlSeconds);
      await store.touchClient(client.clientId, Math.floor(now / 1000) + ttlSeconds);
    })().catch(onError);
  });
}
