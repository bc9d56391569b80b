// Bridges our Stores to oidc-provider's `adapter` option, which it instantiates once per model (`new Adapter(name)`).
import type { AdapterConstructor, AdapterPayload as ProviderPayload } from 'oidc-provider';
import type { AdapterPayload, OidcAdapter, Stores } from './types.js';

/**
 * @example
 * const stores = await createStores({ redisUrl, keyPrefix: 'dts:' });
 * const provider = new Provider(issuer, { adapter: adapterClass(stores), ... });
 */
export function adapterClass(stores: Pick<Stores, 'adapterFor'>): AdapterConstructor {
  return class StoresAdapter {
    readonly #adapter: OidcAdapter;

    constructor(model: string) {
      this.#adapter = stores.adapterFor(model);
    }

    upsert(id: string, payload: ProviderPayload, expiresIn?: number): Promise<void> {
      // oidc-provider may omit expiresIn (e.g. for Clients); our adapters read that as "never expires".
      return this.#adapter.upsert(id, payload as AdapterPayload, expiresIn as number);
    }

    find(id: string): Promise<ProviderPayload | undefined> {
      return this.#adapter.find(id) as Promise<ProviderPayload | undefined>;
    }

    findByUid(uid: string): Promise<ProviderPayload | undefined> {
      return this.#adapter.findByUid(uid) as Promise<ProviderPayload | undefined>;
    }

    findByUserCode(userCode: string): Promise<ProviderPayload | undefined> {
      return this.#adapter.findByUserCode(userCode) as Promise<ProviderPayload | undefined>;
    }

    consume(id: string): Promise<void> {
      return this.#adapter.consume(id);
    }

    destroy(id: string): Promise<void> {
      return this.#adapter.destroy(id);
    }

    revokeByGrantId(grantId: string): Promise<void> {
      return this.#adapter.revokeByGrantId(grantId);
    }
  };
}
