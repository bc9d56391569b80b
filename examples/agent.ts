// The agent: logs a user in, exchanges the user's token for a narrow CRM token (RFC 8693), calls CRM tools through the
// MCP client SDK, is refused a tool it holds no scope for, gets a billing token whose refunds are limited to 5000 cents
// (RFC 9396 authorization_details) and is refused a larger refund, and is cut off when an admin revokes the session.
// Every token is DPoP-bound (RFC 9449, openid-client's getDPoPHandle): the login, each exchange and each tool call carry
// a proof of the agent's key, and a copy of the token without that key is refused.
// Run alone against running servers (docker compose, see examples/README.md): node --import tsx examples/agent.ts
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { devLogin } from '../tools/dev_login.js';
import { isMain, secretFromEnv, setting } from './lib/env.js';
import { connectTools, RefusedError, type DpopSender, type Refusal, type ToolSession } from './lib/mcp_client.js';
import { discoverSts, exchangeToken, revokeSession, type AdminAnswer, type ClientCredentials } from './lib/sts_client.js';

export interface AgentOptions {
  issuer: string;
  crmResource: string;
  /** The billing tool server, for the refund steps (the user must be in `finance`). */
  billingResource: string;
  /** The agent's client (demo-agent). */
  agent: ClientCredentials;
  /** The admin tool's client (admin-cli), for the revocation step. */
  admin: ClientCredentials;
  username?: string;
  redirectUri?: string;
  customerId?: string;
  /** How long the revocation may take to reach the CRM server through its feed. Default 5000. */
  revocationTimeoutMs?: number;
  log?: (line: string) => void;
}

/** What each step produced; `runAgent` has already checked each against what the policy promises. */
export interface AgentSteps {
  login: { username: string; scope: string };
  exchange: { scope: string; issuedTokenType: string; tokenType: string; expiresIn: number; claims: Record<string, unknown> };
  /** RFC 7638 thumbprint of the agent's DPoP key: the `cnf.jkt` of its tokens. */
  agentJkt: string;
  tools: string[];
  lookup: Record<string, unknown>;
  /** The CRM token replayed by someone who copied it but has no key: as Bearer, and with a DPoP proof of another key. */
  stolen: { asBearer: Refusal; withOtherKey: Refusal };
  exportRefused: Refusal;
  refund: {
    /** The billing token as the exchange answered it (RFC 9396 §7: the granted authorization_details). */
    exchange: { scope: string; authorizationDetails: unknown; claims: Record<string, unknown> };
    allowed: Record<string, unknown>;
    refused: Refusal;
  };
  revocation: AdminAnswer & { sid: string };
  afterRevocation: Refusal & { afterMs: number };
}

/** The user consents to everything the agent may ever need; each exchange then asks for only what one task needs. */
const USER_SCOPE = 'openid crm.lookup_customer crm.export_customers billing.refund_lookup billing.issue_refund';
/** crm.lookup_customer for the tool itself, billing.refund_lookup for the CRM server's hop to billing. */
export const AGENT_SCOPE = 'crm.lookup_customer billing.refund_lookup';

export class UnexpectedOutcome extends Error {
  override name = 'UnexpectedOutcome';
}

export async function runAgent(options: AgentOptions): Promise<AgentSteps> {
  const log = options.log ?? console.log;
  const username = options.username ?? 'bob';
  const redirectUri = options.redirectUri ?? 'http://127.0.0.1:8976/callback';
  const customerId = options.customerId ?? 'cus_1001';
  let n = 0;
  const step = (title: string) => log(`\n== ${++n}. ${title}`);
  const show = (text: string) => log(`   ${text}`);

  const sts = await discoverSts(options.issuer, options.agent);
  // RFC 9449: one key pair for this agent; openid-client adds a proof of it to every request made with the handle.
  const dpop = oidc.getDPoPHandle(sts, await oidc.randomDPoPKeyPair('ES256'));
  const agentJkt = await dpop.calculateThumbprint();
  const sender: DpopSender = { sts, handle: dpop };

  step(`${username} logs in at the STS (authorization code + PKCE, development login page; DPoP proof of the agent's key)`);
  const pkce = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authUrl = oidc.buildAuthorizationUrl(sts, {
    redirect_uri: redirectUri,
    scope: USER_SCOPE,
    code_challenge: await oidc.calculatePKCECodeChallenge(pkce),
    code_challenge_method: 'S256',
    state,
  });
  const callback = await devLogin(authUrl, redirectUri, username);
  const user = await oidc.authorizationCodeGrant(sts, callback, { pkceCodeVerifier: pkce, expectedState: state }, undefined, { DPoP: dpop });
  const login = { username, scope: user.scope ?? '' };
  show(`user access token (opaque to the agent, ${user.token_type} bound to key ${agentJkt}): ${user.access_token.slice(0, 8)}…  scope: ${login.scope}`);

  step(`${options.agent.clientId} exchanges it for the CRM server, asking only for "${AGENT_SCOPE}" (RFC 8693, DPoP-bound)`);
  const exchanged = await exchangeToken(sts, { subjectToken: user.access_token, resource: options.crmResource, scope: AGENT_SCOPE }, dpop);
  // Decoded only to show it: a client never needs to read its access tokens.
  const { sub, aud, scope, act, sid, cnf } = decodeJwt(exchanged.access_token);
  const exchange = {
    scope: exchanged.scope ?? '',
    issuedTokenType: String(exchanged.issued_token_type),
    tokenType: exchanged.token_type,
    expiresIn: exchanged.expires_in ?? 0,
    claims: { sub, aud, scope, act, sid, cnf },
  };
  show(`issued ${exchange.issuedTokenType} (token_type ${exchange.tokenType}), expires in ${exchange.expiresIn} s, scope "${exchange.scope}"`);
  show(`claims: ${JSON.stringify(exchange.claims)}`);

  expect(JSON.stringify(cnf) === JSON.stringify({ jkt: agentJkt }), 'the CRM token is not bound to the agent key');
  const crm = await connectTools(options.crmResource, exchanged.access_token, options.agent.clientId, sender);
  try {
    step('tools/list on CRM: only the tools the token grants are listed');
    const tools = await crm.listTools();
    show(`tools: ${tools.join(', ')}`);
    expect(same(tools, ['crm.lookup_customer']), `tools/list showed ${tools.join(', ')}`);

    step(`tools/call crm.lookup_customer {"customerId":"${customerId}"} (CRM calls billing with a token of its own)`);
    const lookup = await crm.callTool('crm.lookup_customer', { customerId });
    const crmCaller = lookup.caller as Caller;
    const billingCaller = (lookup.billing as { caller: Caller }).caller;
    show(`CRM saw      sub=${crmCaller.sub} sid=${crmCaller.sid} act: ${chain(crmCaller)}`);
    show(`billing saw  sub=${billingCaller.sub} sid=${billingCaller.sid} act: ${chain(billingCaller)}`);
    show(`result: ${JSON.stringify(lookup)}`);
    expect(crmCaller.sub === sub && billingCaller.sub === sub, 'billing did not see the user as subject');
    expect(chain(billingCaller) === `crm-server → ${options.agent.clientId}`, `billing saw act ${chain(billingCaller)}`);

    expect(typeof billingCaller.jkt === 'string' && billingCaller.jkt !== agentJkt, 'the billing token is not bound to the CRM server key');
    show(`billing's token is bound to the CRM server's own key ${billingCaller.jkt}, not the agent's`);

    step('someone who copied the CRM token (a log, a prompt-injected tool) replays it without the agent key: refused');
    const asBearer = await refusal(async () => {
      const thief = await connectTools(options.crmResource, exchanged.access_token, 'thief');
      await thief.close();
    });
    show(`as Bearer:               HTTP ${asBearer.status}  WWW-Authenticate: ${asBearer.challenge}`);
    const thiefKey = oidc.getDPoPHandle(sts, await oidc.randomDPoPKeyPair('ES256'));
    const withOtherKey = await refusal(async () => {
      const thief = await connectTools(options.crmResource, exchanged.access_token, 'thief', { sts, handle: thiefKey });
      await thief.close();
    });
    show(`as DPoP with its own key: HTTP ${withOtherKey.status}  WWW-Authenticate: ${withOtherKey.challenge}`);
    expect(asBearer.status === 401 && /^DPoP error="invalid_token"/.test(asBearer.challenge ?? ''), 'the stolen token was accepted as Bearer');
    expect(withOtherKey.status === 401 && /^DPoP error="invalid_dpop_proof"/.test(withOtherKey.challenge ?? ''), 'the stolen token was accepted with another key');
    const stolen = { asBearer, withOtherKey };

    step('tools/call crm.export_customers: not in the token, refused before the tool runs');
    const exportRefused = await refusal(() => crm.callTool('crm.export_customers'));
    show(`HTTP ${exportRefused.status}  WWW-Authenticate: ${exportRefused.challenge}`);
    show(`body: ${JSON.stringify(exportRefused.body)}`);
    expect(exportRefused.status === 403 && /error="insufficient_scope"/.test(exportRefused.challenge ?? ''), 'export was not refused with 403 insufficient_scope');

    const refund = await refundSteps(sender, user.access_token, options, customerId, step, show);

    step(`${options.admin.clientId} revokes the session ${String(sid)} (admin API)`);
    const answer = await revokeSession(options.issuer, options.admin, String(sid), 'example: session revoked by an admin');
    const revocation = { sid: String(sid), ...answer };
    show(`POST /admin/sessions/${revocation.sid}/revoke -> HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    expect(answer.status >= 200 && answer.status < 300, `the admin API answered ${answer.status}`);

    step('the same token is refused now: the CRM server learnt of the revocation from its feed, no restart');
    const afterMs = await untilRefused(crm, options.revocationTimeoutMs ?? 5000);
    const after = await refusal(() => crm.callTool('crm.lookup_customer', { customerId }));
    show(`feed delivered the revocation within ${afterMs} ms`);
    show(`HTTP ${after.status}  WWW-Authenticate: ${after.challenge}`);
    show(`body: ${JSON.stringify(after.body)}`);
    expect(after.status === 401 && /error="invalid_token"/.test(after.challenge ?? ''), 'the call after revocation was not refused with 401 invalid_token');

    return { login, exchange, agentJkt, tools, lookup, stolen, exportRefused, refund, revocation, afterRevocation: { ...after, afterMs } };
  } finally {
    await crm.close();
  }
}

/**
 * A billing token for billing.issue_refund: the policy gives finance users refunds of at most 5000 cents, carried in
 * the token as an `mcp_tool` authorization details entry; the billing server's verify SDK decides every call with it.
 */
async function refundSteps(
  sender: DpopSender,
  userToken: string,
  options: AgentOptions,
  customerId: string,
  step: (title: string) => void,
  show: (text: string) => void,
): Promise<AgentSteps['refund']> {
  step(`${options.agent.clientId} exchanges the user's token for the billing server, asking for "billing.issue_refund"`);
  const issued = await exchangeToken(sender.sts, { subjectToken: userToken, resource: options.billingResource, scope: 'billing.issue_refund' }, sender.handle);
  const { aud, scope, authorization_details } = decodeJwt(issued.access_token);
  const exchange = { scope: issued.scope ?? '', authorizationDetails: issued.authorization_details, claims: { aud, scope, authorization_details } };
  show(`scope "${exchange.scope}", authorization_details (the policy's limit, RFC 9396): ${JSON.stringify(exchange.authorizationDetails)}`);
  expect(JSON.stringify(authorization_details) === JSON.stringify(issued.authorization_details), 'the token and the response carry different authorization_details');

  const billing = await connectTools(options.billingResource, issued.access_token, options.agent.clientId, sender);
  try {
    step(`tools/call billing.issue_refund {"customerId":"${customerId}","amount":3000}: within the limit`);
    const allowed = await billing.callTool('billing.issue_refund', { customerId, amount: 3000 });
    show(`result: ${JSON.stringify(allowed.refund)}`);
    expect((allowed.refund as { amount?: unknown } | undefined)?.amount === 3000, 'the 3000 refund did not run');

    step(`tools/call billing.issue_refund {"customerId":"${customerId}","amount":50000}: over the limit, refused before the tool runs`);
    const refused = await refusal(() => billing.callTool('billing.issue_refund', { customerId, amount: 50000 }));
    show(`HTTP ${refused.status}  WWW-Authenticate: ${refused.challenge}`);
    show(`body: ${JSON.stringify(refused.body)}`);
    expect(refused.status === 403 && /error="insufficient_authorization_details"/.test(refused.challenge ?? ''), 'the 50000 refund was not refused with 403 insufficient_authorization_details');
    return { exchange, allowed, refused };
  } finally {
    await billing.close();
  }
}

interface Caller {
  sub: string;
  sid: string;
  actors: { sub: string }[];
  jkt?: string;
}

const chain = (caller: Caller) => caller.actors.map((a) => a.sub).join(' → ');
const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new UnexpectedOutcome(message);
}

async function refusal(call: () => Promise<unknown>): Promise<Refusal> {
  try {
    const result = await call();
    throw new UnexpectedOutcome(`expected a refusal, got ${JSON.stringify(result)}`);
  } catch (err) {
    if (err instanceof RefusedError) return err.refusal;
    throw err;
  }
}

/**
 * Revocation reaches the tool server asynchronously (one SSE event after the admin call returns). Polls with the
 * side-effect free tools/list so the tool call that follows is the one that shows the refusal.
 */
async function untilRefused(crm: ToolSession, timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await crm.listTools();
    } catch (err) {
      if (err instanceof RefusedError && err.refusal.status === 401) return Date.now() - start;
      throw err;
    }
    if (Date.now() - start > timeoutMs) throw new UnexpectedOutcome(`the token still worked ${timeoutMs} ms after the revocation`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

if (isMain(import.meta.url)) {
  await runAgent({
    issuer: setting('ISSUER', 'http://localhost:3000'),
    crmResource: setting('CRM_RESOURCE', 'http://localhost:4001/mcp'),
    billingResource: setting('BILLING_RESOURCE', 'http://localhost:4002/mcp'),
    agent: { clientId: 'demo-agent', clientSecret: secretFromEnv('DEMO_AGENT_SECRET', 'keys/secrets/demo-agent') },
    admin: { clientId: 'admin-cli', clientSecret: secretFromEnv('ADMIN_CLI_SECRET', 'keys/secrets/admin-cli') },
    username: setting('DEMO_USER', 'bob'),
  }).catch((err: unknown) => {
    console.error(`\nFAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
