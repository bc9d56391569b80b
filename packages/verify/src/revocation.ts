// The revocation check every verify call runs after the token itself is known to be good, and its three modes.
import type { RevocationOptions, VerifiedToken, VerifierHealth } from './types.js';
import { FeedRevocation } from './revocation_feed.js';
import { IntrospectionRevocation } from './revocation_introspect.js';

/**
 * Decides whether a verified token has been revoked: throws (or rejects with) ERR_REVOKED or
 * ERR_REVOCATION_UNAVAILABLE. A mode that decides from memory answers synchronously (no promise to await per call).
 */
export interface RevocationCheck {
  check(token: string, verified: VerifiedToken): Promise<void> | void;
  ready(): Promise<void>;
  /** Whether `check` would currently refuse every token for want of usable revocation data (`fresh: false`). */
  health(): VerifierHealth['revocation'];
  close(): void;
}

const NO_REVOCATION: RevocationCheck = {
  check: () => {},
  ready: async () => {},
  health: () => ({ mode: 'none', fresh: true }),
  close: () => {},
};

export function createRevocationCheck(options: RevocationOptions | undefined, issuer: string, now: () => number = Date.now): RevocationCheck {
  const mode = options?.mode ?? 'none';
  switch (options?.mode) {
    case undefined:
    case 'none':
      return NO_REVOCATION;
    case 'feed':
      return new FeedRevocation(options, issuer, now);
    case 'introspect':
      return new IntrospectionRevocation(options, issuer, now);
    default:
      throw new TypeError(`unknown revocation mode ${JSON.stringify(mode)}`);
  }
}
