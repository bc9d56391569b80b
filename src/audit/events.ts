// Decision events: the grant emits them, subscribers (log, audit stream, metrics) are attached in one place (main).
import { EventEmitter } from 'node:events';
import type { ActClaim } from '../token_types/types.js';

export interface ExchangeDecisionEvent {
  type: 'exchange';
  time: number;
  decision: 'allow' | 'deny';
  /** RFC error code when denied. */
  error?: string;
  reasons: string[];
  requestId?: string;
  clientId: string;
  sub?: string;
  sid?: string;
  /** The full actor chain of the issued (or would-be) token, current actor first. */
  act?: ActClaim;
  subjectTokenType?: string;
  /** Set when the delegation token came from the authorization code flow (MCP clients) rather than token exchange:
   * `authorization_code` or `refresh_token`. */
  grantType?: 'authorization_code' | 'refresh_token';
  toolServer?: string;
  requestedScopes?: string[];
  grantedScopes?: string[];
  jti?: string;
  exp?: number;
  /** When the subject was one of our delegation tokens (multi-hop): its jti, the parent in the delegation tree. */
  subjectJti?: string;
  /** RFC 9449: the thumbprint of the DPoP key the issued token is bound to (its `cnf.jkt`); absent for a bearer token. */
  jkt?: string;
  /** Latency of the decision in milliseconds. */
  durationMs: number;
}

/** An admin (or logout) revocation, a token's descendants revoked (`token_digest`), or a consent revoked. */
export interface RevocationDecisionEvent {
  type: 'revocation';
  time: number;
  decision: 'allow';
  reasons: string[];
  requestId?: string;
  /** Who revoked: the admin client, or `logout`, `revocation_endpoint`, `grant_end`. */
  clientId: string;
  kind: 'sid' | 'sub' | 'client' | 'jti' | 'token_digest' | 'consent';
  /** What was revoked: the sid, sub, client_id or jti; a token's digest; for `consent`, the client_id it was given to. */
  value: string;
  sid?: string;
  /** For `sub`, the subject; for `consent`, the user who gave it. */
  sub?: string;
  /** `consent` only: the tool server (RFC 8707 resource indicator) the consent was for. */
  resource?: string;
  reason?: string;
  /** False when the target was already revoked (idempotent repeat). */
  created: boolean;
}

/** One admin API call, allowed or refused. */
export interface AdminDecisionEvent {
  type: 'admin';
  time: number;
  decision: 'allow' | 'deny';
  reasons: string[];
  requestId?: string;
  clientId?: string;
  method: string;
  path: string;
  status: number;
}

/** One message at the MCP enforcement gateway (src/gateway/), allowed or refused. */
export interface GatewayDecisionEvent {
  type: 'gateway';
  time: number;
  decision: 'allow' | 'deny';
  /** Empty when allowed; e.g. `insufficient_scope`, `insufficient_authorization_details`, `method_not_allowed`, `invalid_token`. */
  reasons: string[];
  requestId?: string;
  /** The delegation token's client; absent when no token could be verified. */
  clientId?: string;
  sub?: string;
  sid?: string;
  /** The full actor chain of the delegation token, current actor first. */
  act?: ActClaim;
  jti?: string;
  /** RFC 9449 §6.1: the key thumbprint (`cnf.jkt`) a DPoP-bound token is bound to, whose proof came with the request. */
  jkt?: string;
  /** The route's public resource URI (the token's `aud`). */
  toolServer: string;
  /** HTTP method, and the JSON-RPC method of a POST. */
  httpMethod: string;
  method?: string;
  tool?: string;
  /** The `uri` a `resources/read` asked for, as sent (allowed or refused). */
  uri?: string;
  /** The prompt `name` a `prompts/get` asked for (allowed or refused). */
  prompt?: string;
  /** base64url HMAC-SHA256 of the canonical arguments of a `tools/call` (verify SDK `DecisionEvent.arguments_hmac`). */
  argumentsHmac?: string;
  /** The HTTP status the gateway answered (or forwarded). */
  status: number;
  durationMs: number;
}

export type DecisionEvent = ExchangeDecisionEvent | RevocationDecisionEvent | AdminDecisionEvent | GatewayDecisionEvent;

export interface DecisionEvents {
  emit(event: DecisionEvent): void;
  on(listener: (event: DecisionEvent) => void): void;
}

/** Listeners run synchronously after the response is decided; a listener that throws is isolated and never fails a request. */
export function createDecisionEvents(onListenerError: (err: unknown) => void): DecisionEvents {
  const emitter = new EventEmitter();
  return {
    emit(event) {
      for (const listener of emitter.listeners('decision')) {
        try {
          (listener as (e: DecisionEvent) => void)(event);
        } catch (err) {
          onListenerError(err);
        }
      }
    },
    on(listener) {
      emitter.on('decision', listener);
    },
  };
}
