// `npm run example`: the whole delegation story on one machine. Starts the STS (in process, demo policy on free
// ports), the CRM and billing MCP tool servers, runs the agent, then stops everything. Exit code 0 only if every
// step came out as the policy promises. Env: REDIS_URL (default redis://127.0.0.1:6379), EXAMPLE_STORE=memory.
import { randomBytes } from 'node:crypto';
import type { DecisionEvent } from 'delegation-token-verify';
import { runAgent, type AgentSteps } from './agent.js';
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
  /** Every tool call decision the billing server reported through the verify SDK's hook, in order. */
  billingDecisions: DecisionEvent[];
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
  stop(): Promise<void>;
}

/** `onDecision` receives every billing tool call decision (the verify SDK's hook; a random HMAC key per run). */
export async function startExampleServers(store: string, onDecision: (event: DecisionEvent) => void = () => {}): Promise<ExampleServers> {
  const [stsPort, crmPort, billingPort] = [await freePort(), await freePort(), await freePort()];
  const crmResource = `http://127.0.0.1:${crmPort}/mcp`;
  const billingResource = `http://127.0.0.1:${billingPort}/mcp`;

  const sts = await startLocalSts({ port: stsPort, store, resources: { 'crm-server': crmResource, 'billing-server': billingResource } });
  const servers: ToolServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.close()));
    await sts.stop();
  };
  try {
    const credentials = (clientId: string) => ({ clientId, clientSecret: sts.secrets[clientId]! });
    const decisions = { onDecision, argumentsKey: randomBytes(32) };
    servers.push(await startBillingServer({ resource: billingResource, issuer: sts.issuer, credentials: credentials('billing-server'), decisions }));
    servers.push(
      await startCrmServer({ resource: crmResource, issuer: sts.issuer, billingResource, credentials: credentials('crm-server') }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { issuer: sts.issuer, crmResource, billingResource, keyPrefix: sts.keyPrefix, secrets: sts.secrets, stop };
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
  const { issuer, crmResource, billingResource, keyPrefix, secrets, stop } = await startExampleServers(store, onDecision);
  try {
    const credentials = (clientId: string) => ({ clientId, clientSecret: secrets[clientId]! });
    log(`STS ${issuer} (store: ${store === 'memory' ? 'memory' : 'redis'})`);
    log(`CRM tool server ${crmResource}, billing tool server ${billingResource} (revocation feed connected)`);

    const steps = await runAgent({
      issuer,
      crmResource,
      billingResource,
      agent: credentials('demo-agent'),
      admin: credentials('admin-cli'),
      ...(options.username ? { username: options.username } : {}),
      log,
    });
    return { issuer, crmResource, billingResource, keyPrefix, steps, billingDecisions };
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
    const { issuer, crmResource, billingResource, keyPrefix } = running;
    console.log(JSON.stringify({ issuer, crmResource, billingResource, keyPrefix }));
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
