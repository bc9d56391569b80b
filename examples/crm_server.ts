// The CRM tool server. crm.lookup_customer also asks billing for the customer's refunds, for the same user: it
// exchanges the token it received for a billing token (RFC 8693 §2.3) and calls billing with that, never forwarding.
// The agent's token is DPoP-bound to the agent's key, which this server does not hold: it exchanges as the tool server
// of that token's aud with a proof of its own key, so the billing token is bound to the CRM server's key.
// Run alone: ISSUER=http://localhost:3000 node --import tsx examples/crm_server.ts   (see examples/README.md)
import * as oidc from 'openid-client';
import { z } from 'zod';
import { connectTools } from './lib/mcp_client.js';
import { isMain, secretFromEnv, setting } from './lib/env.js';
import { discoverSts, exchangeToken, type ClientCredentials } from './lib/sts_client.js';
import { defineTool, startToolServer, type ToolServer } from './lib/tool_server.js';

const CUSTOMERS: ReadonlyMap<string, Record<string, string>> = new Map([
  ['cus_1001', { id: 'cus_1001', name: 'Ada Lovelace', email: 'ada@example.com', plan: 'enterprise' }],
  ['cus_1002', { id: 'cus_1002', name: 'Grace Hopper', email: 'grace@example.com', plan: 'team' }],
]);

/** The only scope the CRM asks for downstream: least privilege for the hop to billing. */
export const DOWNSTREAM_SCOPE = 'billing.refund_lookup';

export interface CrmServerOptions {
  resource: string;
  issuer: string;
  /** The billing server's resource URI: the `resource` of the exchange and where its MCP endpoint is. */
  billingResource: string;
  /** The crm-server client: reads the revocation feed and authenticates the exchange. */
  credentials: ClientCredentials;
  host?: string;
}

export async function startCrmServer(options: CrmServerOptions): Promise<ToolServer> {
  const sts = await discoverSts(options.issuer, options.credentials);
  // The CRM server's own DPoP key (one per process): every billing token it obtains is bound to it.
  const dpop = oidc.getDPoPHandle(sts, await oidc.randomDPoPKeyPair('ES256'));

  const lookupCustomer = defineTool({
    name: 'crm.lookup_customer',
    description: 'Find a customer by id, with their refunds from billing',
    input: { customerId: z.string() },
    async run({ customerId }, { token }) {
      const customer = CUSTOMERS.get(customerId);
      if (!customer) throw new Error(`no customer ${customerId}`);
      // RFC 8693 §2.3: the received token is only a subject_token here; billing gets a token with its own `aud`.
      const exchanged = await exchangeToken(sts, { subjectToken: token, resource: options.billingResource, scope: DOWNSTREAM_SCOPE }, dpop);
      const billing = await connectTools(options.billingResource, exchanged.access_token, 'crm-server', { sts, handle: dpop });
      try {
        return { customer, billing: await billing.callTool('billing.refund_lookup', { customerId }) };
      } finally {
        await billing.close();
      }
    },
  });

  const exportCustomers = defineTool({
    name: 'crm.export_customers',
    description: 'Export every customer',
    input: {},
    async run() {
      return { customers: [...CUSTOMERS.values()] };
    },
  });

  return startToolServer({
    name: 'crm',
    resource: options.resource,
    issuer: options.issuer,
    clientId: options.credentials.clientId,
    clientSecret: options.credentials.clientSecret,
    tools: [lookupCustomer, exportCustomers],
    forwardScopes: [DOWNSTREAM_SCOPE],
    ...(options.host ? { host: options.host } : {}),
  });
}

if (isMain(import.meta.url)) {
  const resource = setting('CRM_RESOURCE', 'http://localhost:4001/mcp');
  const server = await startCrmServer({
    resource,
    issuer: setting('ISSUER', 'http://localhost:3000'),
    billingResource: setting('BILLING_RESOURCE', 'http://localhost:4002/mcp'),
    credentials: { clientId: 'crm-server', clientSecret: secretFromEnv('CRM_SERVER_SECRET', 'keys/secrets/crm-server') },
    host: setting('HOST', '127.0.0.1'),
  });
  console.log(`crm tool server listening: ${resource}`);
  process.once('SIGTERM', () => void server.close());
  process.once('SIGINT', () => void server.close());
}
