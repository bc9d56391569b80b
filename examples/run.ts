// `npm run example`: the whole delegation story on one machine. Starts the STS (in process, demo policy on free
// ports), the CRM and billing MCP tool servers, the plain (no-auth) MCP server behind the enforcement gateway, runs the
// agent against all of them, then an MCP SDK client that onboards itself by Client ID Metadata Document (served over
// HTTPS here) and calls CRM, then stops everything. Exit code 0 only if every
// step came out as the policy promises. Env: REDIS_URL (default redis://127.0.0.1:6379), EXAMPLE_STORE=memory.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { DecisionEvent } from 'delegation-token-verify';
import { runAgent, type AgentSteps } from './agent.js';
import { runGatewayAgent, type GatewaySteps } from './gateway_agent.js';
import { runMcpClient, type McpClientSteps } from './mcp_client.js';
import { startDocServer, type DocServer } from '../tools/https_docs.js';
import { createGateway } from '../src/gateway/gateway.js';
import { parseGatewayConfig } from '../src/gateway/load.js';
import { startPlainMcpServer } from '../tools/plain_mcp_server.js';
import { startBillingServer } from './billing_server.js';
import { startCrmServer } from './crm_server.js';
import { isMain } from './lib/env.js';
import { freePort, startLocalSts } from '../tools/local_sts.js';
import type { ToolServer } from './lib/tool_server.js';

export interface ExampleOptions {
  log?: (line: string) => void;
  /** Redis URL, or `memory`. Default: EXAMPLE_STORE=memory, else REDIS_URL, else redis://127.0.0.1:6379. */
  store?: string;
  username?: string;
}

export interface ExampleRun {
  issuer: string;
  crmResource: string;
  billingResource: string;
  /** The Redis key prefix the STS used (deleted by the time `runExample` returns). */
  keyPrefix: string;
  steps: AgentSteps;
  /** The plain MCP server's route at the gateway (the token's aud), and the agent's steps through it. */
  gatewayResource: string;
  gatewaySteps: GatewaySteps;
  gatewayUpstream: UpstreamSeen;
  /** Every tool call decision the billing server reported through the verify SDK's hook, in order. */
  billingDecisions: DecisionEvent[];
  /** The MCP SDK client that onboarded itself by Client ID Metadata Document, and what the CRM tool saw. */
  mcpClient: McpClientSteps;
}

export interface UpstreamSeen {
  toolCalls: Array<{ name: unknown; arguments: unknown }>;
  withAuthorization: number;
}

/** The STS and both tool servers, running until `stop`. */
export interface ExampleServers {
  issuer: string;
  crmResource: string;
  billingResource: string;
  /** The Redis key prefix the STS uses (deleted by `stop`). */
  keyPrefix: string;
  /** Client secret by client_id, generated for this run. */
  secrets: Readonly<Record<string, string>>;
  /** The enforcement gateway, its route for the plain MCP server (the token's aud) and that server's own URL. */
  gatewayUrl: string;
  gatewayResource: string;
  plainUpstream: string;
  /** The last `Delegation-Assertion` header the plain server received. */
  lastAssertion(): string | undefined;
  /** What reached the plain server: each tools/call (name, arguments) and how many requests carried `Authorization`. */
  upstreamSeen(): UpstreamSeen;
  /** The HTTPS server (throwaway certificate) where MCP clients publish their Client ID Metadata Documents. */
  clientDocs: DocServer;
  stop(): Promise<void>;
}

/** `onDecision` receives every billing tool call decision (the verify SDK's hook; a random HMAC key per run). */
export async function startExampleServers(store: string, onDecision: (event: DecisionEvent) => void = () => {}): Promise<ExampleServers> {
  const [stsPort, crmPort, billingPort, gatewayPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const crmResource = `http://127.0.0.1:${crmPort}/mcp`;
  const billingResource = `http://127.0.0.1:${billingPort}/mcp`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const gatewayResource = `${gatewayUrl}/plain/mcp`;

  // MCP clients' metadata documents, over HTTPS: the STS fetches them from this host only (loopback is allowed because
  // it is listed) and trusts its throwaway certificate; such clients get the CRM server's lookup (and the scope it
  // forwards to billing), nothing else.
  const clientDocs = await startDocServer();
  const sts = await startLocalSts({
    port: stsPort,
    store,
    resources: { 'crm-server': crmResource, 'billing-server': billingResource, 'mcp-gateway': gatewayResource },
    overrides: {
      onboarding: { clientIdMetadataDocument: { enabled: true, allowedHosts: [clientDocs.host], onlyAllowedHosts: true, caFile: clientDocs.caFile } },
      onboardedClients: [{ clientIdHosts: [clientDocs.host], toolServers: [{ resource: crmResource, scopes: ['crm.lookup_customer', 'billing.refund_lookup'] }] }],
    },
  }).catch(async (err: unknown) => {
    await clientDocs.close();
    throw err;
  });
  const servers: ToolServer[] = [];
  const gatewayDir = mkdtempSync(join(tmpdir(), 'dts-example-gateway-'));
  const plain = await startPlainMcpServer();
  let gateway: Awaited<ReturnType<typeof createGateway>> | undefined;
  const stop = async () => {
    await Promise.all(servers.map((s) => s.close()));
    await gateway?.close();
    await plain.stop();
    await sts.stop();
    await clientDocs.close();
    rmSync(gatewayDir, { recursive: true, force: true });
  };
  try {
    const credentials = (clientId: string) => ({ clientId, clientSecret: sts.secrets[clientId]! });
    const decisions = { onDecision, argumentsKey: randomBytes(32) };
    servers.push(await startBillingServer({ resource: billingResource, issuer: sts.issuer, credentials: credentials('billing-server'), decisions }));
    servers.push(
      await startCrmServer({ resource: crmResource, issuer: sts.issuer, billingResource, credentials: credentials('crm-server') }),
    );
    // The gateway (config as in config/gateway.yaml, moved to this run's ports), sharing the STS's Redis key prefix so
    // its decisions land in the same audit stream; in memory with EXAMPLE_STORE=memory (one replica, as here).
    const config = parseGatewayConfig({
      port: gatewayPort,
      publicUrl: gatewayUrl,
      issuer: sts.issuer,
      client: { clientId: 'mcp-gateway', clientSecret: { env: 'EXAMPLE_GATEWAY_SECRET' } },
      redis: store === 'memory' ? { keyPrefix: sts.keyPrefix } : { url: store, keyPrefix: sts.keyPrefix },
      keys: { file: join(gatewayDir, 'gateway-jwks.json') },
      audit: { argumentsKey: { file: join(gatewayDir, 'arguments.key'), generate: true } },
      routes: [{ resource: gatewayResource, upstream: plain.url, scopesSupported: ['lookup_customer', 'issue_refund', 'export_customers'] }],
    });
    gateway = await createGateway(config, { logger: pino({ level: 'error' }, pino.destination(2)), env: { EXAMPLE_GATEWAY_SECRET: sts.secrets['mcp-gateway']! } });
    await gateway.listen(gatewayPort, '127.0.0.1');
    await gateway.ready();
  } catch (err) {
    await stop();
    throw err;
  }
  const lastAssertion = () => {
    const header = plain.received.findLast((r) => r.headers['delegation-assertion'] !== undefined)?.headers['delegation-assertion'];
    return typeof header === 'string' ? header : undefined;
  };
  const upstreamSeen = (): UpstreamSeen => ({
    toolCalls: plain.received
      .map((r) => r.body as { method?: string; params?: { name?: unknown; arguments?: unknown } } | undefined)
      .filter((b) => b?.method === 'tools/call')
      .map((b) => ({ name: b!.params?.name, arguments: b!.params?.arguments })),
    withAuthorization: plain.received.filter((r) => r.headers.authorization !== undefined).length,
  });
  return {
    issuer: sts.issuer, crmResource, billingResource, keyPrefix: sts.keyPrefix, secrets: sts.secrets,
    gatewayUrl, gatewayResource, plainUpstream: plain.url, lastAssertion, upstreamSeen, clientDocs, stop,
  };
}

const defaultStore = () => (process.env.EXAMPLE_STORE === 'memory' ? 'memory' : process.env.REDIS_URL || 'redis://127.0.0.1:6379');

export async function runExample(options: ExampleOptions = {}): Promise<ExampleRun> {
  const log = options.log ?? console.log;
  const store = options.store ?? defaultStore();
  const billingDecisions: DecisionEvent[] = [];
  // The billing server's decision lines, shown where they happen in the story.
  const onDecision = (event: DecisionEvent) => {
    billingDecisions.push(event);
    log(`   billing decision line: ${JSON.stringify(event)}`);
  };
  const servers = await startExampleServers(store, onDecision);
  const { issuer, crmResource, billingResource, keyPrefix, secrets, stop } = servers;
  try {
    const credentials = (clientId: string) => ({ clientId, clientSecret: secrets[clientId]! });
    log(`STS ${issuer} (store: ${store === 'memory' ? 'memory' : 'redis'})`);
    log(`CRM tool server ${crmResource}, billing tool server ${billingResource} (revocation feed connected)`);
    log(`plain MCP server (no auth) ${servers.plainUpstream}, behind the gateway as ${servers.gatewayResource}`);

    const steps = await runAgent({
      issuer,
      crmResource,
      billingResource,
      agent: credentials('demo-agent'),
      admin: credentials('admin-cli'),
      ...(options.username ? { username: options.username } : {}),
      log,
    });
    const gatewaySteps = await runGatewayAgent({
      issuer,
      gatewayUrl: servers.gatewayUrl,
      resource: servers.gatewayResource,
      upstream: servers.plainUpstream,
      agent: credentials('demo-agent'),
      admin: credentials('admin-cli'),
      lastAssertion: servers.lastAssertion,
      ...(options.username ? { username: options.username } : {}),
      firstStep: 12,
      log,
    });
    const gatewayUpstream = servers.upstreamSeen();
    const mcpClient = await runMcpClient({ issuer, crmResource, docs: servers.clientDocs, ...(options.username ? { username: options.username } : {}), firstStep: 18, log });
    return { issuer, crmResource, billingResource, keyPrefix, steps, gatewayResource: servers.gatewayResource, gatewaySteps, gatewayUpstream, billingDecisions, mcpClient };
  } finally {
    await stop();
  }
}

// `--json`: the narration goes to stderr and the run (every step's outcome) to stdout as one JSON document.
// `--serve`: start the STS and both tool servers, print where they listen as one JSON line, run until SIGTERM/SIGINT.
if (isMain(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--serve')) {
    const running = await startExampleServers(defaultStore(), (event) => console.error(JSON.stringify(event)));
    const { issuer, crmResource, billingResource, keyPrefix, gatewayUrl, gatewayResource, plainUpstream } = running;
    console.log(JSON.stringify({ issuer, crmResource, billingResource, keyPrefix, gatewayUrl, gatewayResource, plainUpstream }));
    const stop = () => void running.stop().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } else {
    const json = args.includes('--json');
    try {
      const run = await runExample(json ? { log: (line) => console.error(line) } : {});
      if (json) console.log(JSON.stringify(run));
      else console.log('\nOK: every step came out as expected');
    } catch (err) {
      console.error(`\nFAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  }
}
