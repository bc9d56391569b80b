// The billing tool server: reached by the CRM server on a user's behalf, so its callers show a two-actor chain.
// Run alone: ISSUER=http://localhost:3000 node --import tsx examples/billing_server.ts   (see examples/README.md)
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { jsonLinesDecisionSink, type DecisionEvent } from 'delegation-token-verify';
import { isMain, secretFromEnv, setting } from './lib/env.js';
import type { ClientCredentials } from './lib/sts_client.js';
import { defineTool, startToolServer, type ToolServer } from './lib/tool_server.js';

const REFUNDS: ReadonlyMap<string, Record<string, unknown>[]> = new Map([
  ['cus_1001', [{ id: 're_5001', amount: 4900, currency: 'EUR', status: 'succeeded' }]],
  ['cus_1002', []],
]);

export interface BillingServerOptions {
  resource: string;
  issuer: string;
  /** The billing-server client: reads the revocation feed. */
  credentials: ClientCredentials;
  host?: string;
  /** Where every tool call decision goes, and the key of its arguments HMAC. */
  decisions?: { onDecision: (event: DecisionEvent) => void; argumentsKey: string | Uint8Array };
}

export function startBillingServer(options: BillingServerOptions): Promise<ToolServer> {
  const refundLookup = defineTool({
    name: 'billing.refund_lookup',
    description: "List a customer's refunds",
    input: { customerId: z.string() },
    async run({ customerId }) {
      return { customerId, refunds: REFUNDS.get(customerId) ?? [] };
    },
  });

  const issueRefund = defineTool({
    name: 'billing.issue_refund',
    // The agent's token limits the amount (RFC 9396 authorization_details, amount: { maximum: 5000 } for finance users);
    // the verify SDK refuses a larger one before this runs.
    description: 'Refund an amount (in cents) to a customer',
    input: { customerId: z.string(), amount: z.number().int().positive() },
    async run({ customerId, amount }) {
      return { refund: { id: 're_5002', customerId, amount, currency: 'EUR', status: 'pending' } };
    },
  });

  return startToolServer({
    name: 'billing',
    resource: options.resource,
    issuer: options.issuer,
    clientId: options.credentials.clientId,
    clientSecret: options.credentials.clientSecret,
    tools: [refundLookup, issueRefund],
    ...(options.host ? { host: options.host } : {}),
    ...(options.decisions ? { decisions: options.decisions } : {}),
  });
}

if (isMain(import.meta.url)) {
  const resource = setting('BILLING_RESOURCE', 'http://localhost:4002/mcp');
  const server = await startBillingServer({
    resource,
    issuer: setting('ISSUER', 'http://localhost:3000'),
    credentials: { clientId: 'billing-server', clientSecret: secretFromEnv('BILLING_SERVER_SECRET', 'keys/secrets/billing-server') },
    host: setting('HOST', '127.0.0.1'),
    // One JSON line per tool call decision on stdout. The HMAC key is per deployment (DECISION_LOG_KEY, >= 32 bytes);
    // without one, a random key for this process (digests then match only within this run).
    decisions: { onDecision: jsonLinesDecisionSink(console), argumentsKey: process.env.DECISION_LOG_KEY || randomBytes(32) },
  });
  console.log(`billing tool server listening: ${resource}`);
  process.once('SIGTERM', () => void server.close());
  process.once('SIGINT', () => void server.close());
}
