// Builds the oidc-provider instance with our configuration and the token exchange grant registered on it.
import Provider, { type AdapterConstructor } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { LoadedKeys } from '../keys/index.js';
import type { Stores } from '../stores/types.js';
import { adapterClass } from '../stores/index.js';
import type { DecisionEvents } from '../audit/events.js';
import { Policy } from '../policy/decide.js';
import { registerTokenExchange } from '../grants/token_exchange/register.js';
import { trustedIssuersFrom } from '../token_types/context.js';
import type { OwnTokens } from '../token_types/own_tokens.js';
import { providerConfiguration } from './configuration.js';
import { ServiceUnavailable } from './errors.js';

/** Store failures inside oidc-provider's own flows answer 503 temporarily_unavailable, never 500 (fail closed). */
function failClosed(Base: AdapterConstructor): AdapterConstructor {
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

/** Runs `hook` before the store destroys a record (oidc-provider destroys an AccessToken only at RFC 7009 revocation). */
function beforeDestroy(Base: AdapterConstructor, hook: (model: string, id: string) => Promise<void>): AdapterConstructor {
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

export interface ProviderOptions {
  config: Config;
  keys: LoadedKeys;
  stores: Stores;
  clientSecrets: Map<string, string>;
  cookieKeys: string[];
  events: DecisionEvents;
  /** Our own delegation tokens (shared with the introspection endpoint). */
  own: OwnTokens;
  /** Awaited before a record is destroyed; a failure fails the destroy (fail closed). */
  beforeDestroy?: (model: string, id: string) => Promise<void>;
  now?: () => number;
}

export function createProvider(o: ProviderOptions): Provider {
  const { config } = o;
  const provider = new Provider(
    config.issuer,
    providerConfiguration({
      config,
      clientSecrets: o.clientSecrets,
      privateJwks: o.keys.privateJwks as never,
      cookieKeys: o.cookieKeys,
      adapter: failClosed(o.beforeDestroy ? beforeDestroy(adapterClass(o.stores), o.beforeDestroy) : adapterClass(o.stores)),
    }),
  );
  provider.proxy = config.proxy;

  const { toolServers } = o.own;
  registerTokenExchange(provider, {
    issuer: config.issuer,
    clients: new Map(config.clients.map((c) => [c.client_id, c])),
    toolServers,
    audiences: new Map(config.toolServers.flatMap((t) => t.audiences.map((a) => [a, t] as const))),
    policy: new Policy(config.agents, config.toolServers),
    maxActDepth: config.exchange.maxActDepth,
    tokenTypes: {
      issuer: config.issuer,
      store: o.stores.exchange,
      own: o.own,
      clockTolerance: config.exchange.clockToleranceSeconds,
      trustedIssuers: trustedIssuersFrom(config.trustedIssuers),
      accounts: new Map(config.demoLogin.users.map((u) => [u.sub, u])),
    },
    signer: () => o.keys.signing,
    findClientCredentials: async (token) => {
      const found = await provider.ClientCredentials.find(token);
      return found?.clientId ? { clientId: found.clientId } : undefined;
    },
    events: o.events,
    ...(o.now ? { now: o.now } : {}),
  });
  return provider;
}
