// Builds the oidc-provider instance from the slices it is given (configuration, adapter); the adapter wrappers that
// keep oidc-provider's own flows fail closed. What is built with what is decided in service.ts, the composition root.
import Provider, { type AdapterConstructor } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import { providerConfiguration, type ProviderDeps } from './configuration.js';
import { ServiceUnavailable } from './errors.js';

/** Store failures inside oidc-provider's own flows answer 503 temporarily_unavailable, never 500 (fail closed). */
export function failClosed(Base: AdapterConstructor): AdapterConstructor {
  const methods = ['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId'] as const;
  return class FailClosedAdapter extends (Base as unknown as new (name: string) => Record<string, (...a: unknown[]) => Promise<unknown>>) {
    constructor(name: string) {
      super(name);
      for (const m of methods) {
        const inner = this[m]!.bind(this);
        this[m] = (...args: unknown[]) => inner(...args).catch((err: unknown) => {
          throw new ServiceUnavailable(`store: ${err instanceof Error ? err.message : String(err)}`);
        });
      }
    }
  } as unknown as AdapterConstructor;
}

/** Runs `hook` before the store destroys a record (oidc-provider destroys an AccessToken only at RFC 7009 revocation);
 * a failing hook fails the destroy (fail closed). */
export function beforeDestroy(Base: AdapterConstructor, hook: (model: string, id: string) => Promise<void>): AdapterConstructor {
  return class HookedAdapter extends (Base as unknown as new (name: string) => { destroy(id: string): Promise<void> }) {
    readonly #model: string;
    constructor(name: string) {
      super(name);
      this.#model = name;
    }
    override async destroy(id: string): Promise<void> {
      await hook(this.#model, id);
      return super.destroy(id);
    }
  } as unknown as AdapterConstructor;
}

export interface ProviderOptions extends ProviderDeps {
  config: ProviderDeps['config'] & Pick<Config, 'proxy' | 'proxyHops'>;
}

export function createProvider(o: ProviderOptions): Provider {
  const provider = new Provider(o.config.issuer, providerConfiguration(o));
  provider.proxy = o.config.proxy;
  // Koa takes the leftmost X-Forwarded-For entry unless told how many hops to trust: a client could pick its own address.
  provider.maxIpsCount = o.config.proxyHops;
  return provider;
}
