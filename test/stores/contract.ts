// The one contract every Stores implementation must meet; redis.test.ts and memory.test.ts run it.
import { after, before, describe } from 'node:test';
import type { StoreLimits, Stores } from '../../src/stores/types.js';
import { auditContract } from './contract_audit.js';
import { exchangeContract } from './contract_exchange.js';
import { expiryContract } from './contract_expiry.js';
import { feedContract } from './contract_feed.js';
import { oidcAdapterContract } from './contract_oidc_adapter.js';
import { sessionsContract } from './contract_sessions.js';
import { dpopReplayContract } from './contract_dpop.js';
import { upstreamLoginContract } from './contract_upstream.js';
import { consentContract } from './contract_consents.js';
import { onboardingContract } from './contract_onboarding.js';

export interface StoreHarness {
  stores: Stores;
  /** Removes whatever the harness stored and closes the stores. */
  close(): Promise<void>;
}

export interface HarnessOptions {
  limits?: Partial<StoreLimits>;
  revocationEventsMax?: number;
}

/** Opens a fresh, empty store (its own key prefix for Redis). */
export type OpenHarness = (options?: HarnessOptions) => Promise<StoreHarness>;

/** Lets the contract parts reach the shared harness that `before()` opens, and open their own. */
export interface ContractContext {
  shared(): StoreHarness;
  open: OpenHarness;
}

/** Limits small enough to exercise in tests. */
export const contractLimits: Partial<StoreLimits> = { auditMaxLength: 20, maxHopsPerSession: 3 };

export function storeContract(name: string, open: OpenHarness): void {
  describe(`${name} stores contract`, () => {
    let harness: StoreHarness | undefined;
    before(async () => {
      harness = await open({ limits: contractLimits });
    });
    after(async () => {
      await harness?.close();
    });
    const context: ContractContext = {
      shared() {
        if (!harness) throw new Error('harness not open');
        return harness;
      },
      open: (options) => open({ limits: contractLimits, ...options }),
    };
    oidcAdapterContract(context.shared);
    exchangeContract(context.shared);
    feedContract(context);
    sessionsContract(context);
    auditContract(context);
    expiryContract(context);
    dpopReplayContract(context.shared);
    upstreamLoginContract(context.shared);
    consentContract(context);
    onboardingContract(context);
  });
}

/** Runs `body` against a fresh store and always closes it. */
export async function withFresh<T>(context: ContractContext, options: HarnessOptions, body: (h: StoreHarness) => Promise<T>): Promise<T> {
  const h = await context.open(options);
  try {
    return await body(h);
  } finally {
    await h.close();
  }
}
