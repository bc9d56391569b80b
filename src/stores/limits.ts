// Bounds the stores enforce, with the same defaults as the service configuration (config/schema.ts).
import type { StoreLimits } from './types.js';

export const DEFAULT_STORE_LIMITS: StoreLimits = {
  auditMaxLength: 100_000,
  auditMaxAgeSeconds: 7 * 86_400,
  maxHopsPerSession: 200,
};

export function storeLimits(limits: Partial<StoreLimits> = {}): StoreLimits {
  return { ...DEFAULT_STORE_LIMITS, ...limits };
}
