// What the subject/actor token validators need: built once at start, passed in (never global).
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { OwnTokens } from './own_tokens.js';
import type { DemoUser, TrustedIssuerConfig } from '../config/schema.js';
import type { ExchangeStateStore, ReplayClaim } from '../stores/types.js';
import type { RevocationReader } from '../sessions/revocation_view.js';

export interface TrustedIssuer {
  config: TrustedIssuerConfig;
  /** Remote JWKS: cached, refreshed at most once per cooldown on an unknown `kid`. */
  keys: JWTVerifyGetKey;
  /** Prefix that namespaces this issuer's session ids. */
  sidPrefix: string;
}

export interface TokenTypeDeps {
  issuer: string;
  store: ExchangeStateStore;
  /** Revocation markers: this replica's in-memory view (sessions/revocation_view.ts), or the store on every call. */
  revocations: RevocationReader;
  /** Our own delegation tokens: keys, algorithms, tool servers, verification cache. */
  own: OwnTokens;
  clockTolerance: number;
  /** How long a revocation marker is kept (the effective `revocation.retentionSeconds`): external JWTs that could
   * outlive one are refused. */
  retentionSeconds: number;
  trustedIssuers: Map<string, TrustedIssuer>;
  accounts: Map<string, DemoUser>;
  /** Users of the upstream login (issue 12 item 6), by account id: their groups and display claims as of their login. */
  upstreamAccounts?: (accountId: string) => Promise<{ groups: string[]; claims: Record<string, string> } | undefined>;
}

export interface ValidationContext {
  deps: TokenTypeDeps;
  /** The authenticated client. */
  clientId: string;
  /** Epoch seconds. */
  now: number;
  /** The request's DPoP proof's replay claim, for a validator whose store read can make it in the same round trip. */
  dpopReplay?: ReplayClaim;
}

/** Short, stable namespace for an external issuer's session ids (URL-safe: the admin API takes sids in paths). */
export function sidPrefixFor(issuer: string): string {
  return `x-${createHash('sha256').update(issuer).digest('base64url').slice(0, 10)}`;
}

/**
 * Who an external issuer's user is here: `x-<issuer hash>|<sub>`, for a trusted issuer's JWT and an upstream login
 * alike, so the same person is one account by either route, and never a demo user or another issuer's user.
 *
 * @example accountIdFor('https://idp.example', 'alice') // 'x-<10 characters>|alice'
 */
export const accountIdFor = (issuer: string, sub: string) => `${sidPrefixFor(issuer)}|${sub}`;

export function trustedIssuersFrom(configs: TrustedIssuerConfig[]): Map<string, TrustedIssuer> {
  return new Map(
    configs.map((config) => [
      config.issuer,
      {
        config,
        keys: createRemoteJWKSet(new URL(config.jwksUri), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5_000 }),
        sidPrefix: sidPrefixFor(config.issuer),
      },
    ]),
  );
}
