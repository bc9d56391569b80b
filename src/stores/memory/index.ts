// The in-memory Stores, for one instance in development: nothing is shared between processes or survives a restart.
import { storeLimits } from '../limits.js';
import type { OidcAdapter, StoreLimits, Stores } from '../types.js';
import { MemoryAuditLog } from './audit_log.js';
import { MemoryExchangeStateStore } from './exchange_state_store.js';
import { MemoryOidcAdapter, accountSessionUids } from './oidc_adapter.js';
import { MemoryRevocationFeed } from './revocation_feed.js';
import { MemorySessionRegistry } from './session_registry.js';
import { MemoryState } from './state.js';
import { MemoryOnboardingStore } from './onboarding_store.js';
import { MemoryConsentStore } from './consent_store.js';
import { MemoryDpopReplayStore } from './dpop_replay.js';
import { MemoryUpstreamLoginStore } from './upstream_login.js';

export interface MemoryStoresOptions {
  limits?: Partial<StoreLimits>;
  /** How often expired entries are dropped, in ms. Expired entries are never returned either way. */
  sweepIntervalMs?: number;
  /** The clock (epoch ms), for tests. */
  now?: () => number;
  /** Cap of the revocation event log; lowered in tests to exercise trimming. */
  revocationEventsMax?: number;
}

/**
 * @example
 * const stores = createMemoryStores();
 * const sessions = stores.adapterFor('Session');
 */
export function createMemoryStores(options: MemoryStoresOptions = {}): Stores {
  const now = options.now ?? Date.now;
  const limits = storeLimits(options.limits);
  const state = new MemoryState(now, options.revocationEventsMax);
  const sessions = new MemorySessionRegistry(limits, now);
  const adapters = new Map<string, OidcAdapter>();
  const dpopReplay = new MemoryDpopReplayStore(now);
  const upstreamLogin = new MemoryUpstreamLoginStore(now);
  const onboarding = new MemoryOnboardingStore(now);
  // unref(): the sweep alone must not keep a process (or a test run) alive.
  const sweeper = setInterval(() => {
    state.sweep();
    sessions.sweep();
    dpopReplay.sweep();
    upstreamLogin.sweep();
    onboarding.sweep();
  }, options.sweepIntervalMs ?? 60_000);
  sweeper.unref();
  return {
    kind: 'memory',
    adapterFor(model) {
      let adapter = adapters.get(model);
      if (!adapter) adapters.set(model, (adapter = new MemoryOidcAdapter(state, model)));
      return adapter;
    },
    providerSessionsOf: async (accountId) => accountSessionUids(state, accountId),
    exchange: new MemoryExchangeStateStore(state, dpopReplay),
    sessions,
    audit: new MemoryAuditLog(limits, now),
    revocations: new MemoryRevocationFeed(state),
    onboarding,
    consents: new MemoryConsentStore(),
    dpopReplay,
    upstreamLogin,
    health: { ping: async () => true },
    async close() {
      clearInterval(sweeper);
      state.revocationEvents.clearListeners();
    },
  };
}
