// Lifetime of clients registered by Dynamic Client Registration: stored with an expiry (a client that never obtains a
// token goes away after `unusedClientTtlSeconds`), extended when it obtains tokens, listed and deleted by the admin API.
import type Provider from 'oidc-provider';
import type { AdapterConstructor } from 'oidc-provider';
import type { OnboardingStore } from '../stores/types.js';

/** oidc-provider stores registered clients without an expiry; ours get `ttlSeconds` (static clients are never stored). */
export function expiringRegisteredClients(Base: AdapterConstructor, ttlSeconds: number): AdapterConstructor {
  return class ExpiringClientAdapter extends (Base as unknown as new (name: string) => { upsert(id: string, payload: unknown, expiresIn?: number): Promise<void> }) {
    readonly #model: string;
    constructor(name: string) {
      super(name);
      this.#model = name;
    }
    override upsert(id: string, payload: unknown, expiresIn?: number): Promise<void> {
      return super.upsert(id, payload, this.#model === 'Client' && expiresIn === undefined ? ttlSeconds : expiresIn);
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
