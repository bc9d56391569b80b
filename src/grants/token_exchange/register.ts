// Registers the RFC 8693 grant on oidc-provider: its parameters, and the two that may repeat (resource, audience); and
// the audit event of the exchange requests oidc-provider refuses before the handler runs.
import type Provider from 'oidc-provider';
import { createExchangeHandler, type ExchangeDeps } from './handler.js';
import { PARAMETERS, REPEATABLE, TOKEN_EXCHANGE_GRANT } from './params.js';
import { auditEarlyRefusals } from './early_refusals.js';

export function registerTokenExchange(provider: Provider, deps: ExchangeDeps): void {
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, createExchangeHandler(deps), PARAMETERS, REPEATABLE);
  auditEarlyRefusals(provider, deps.events);
}
