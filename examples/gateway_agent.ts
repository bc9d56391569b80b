// The agent in front of an MCP server that has no auth at all (examples/plain_mcp_server.ts), protected only by the
// enforcement gateway (docs/gateway.md): filtered tools/list, an allowed call and the Delegation-Assertion upstream
// received in place of the token, a tool outside the token refused, an argument over the token's limit refused, and a
// session revocation cutting the agent off at the gateway, all decided by the gateway, none by the server.
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { devLogin } from '../tools/dev_login.js';
import { connectTools, RefusedError, type Refusal, type ToolSession } from './lib/mcp_client.js';
import { discoverSts, exchangeToken, revokeSession, type AdminAnswer, type ClientCredentials } from './lib/sts_client.js';

export interface GatewayAgentOptions {
  issuer: string;
  /** The gateway's base URL (its JWKS at /.well-known/jwks.json) and the route's public resource URI (the token's aud). */
  gatewayUrl: string;
  resource: string;
  /** The upstream's URL: the assertion's aud. */
  upstream: string;
  agent: ClientCredentials;
  admin: ClientCredentials;
  /** The last `Delegation-Assertion` upstream received (the example runs the plain server in process). */
  lastAssertion?: () => string | undefined;
  username?: string;
  redirectUri?: string;
  revocationTimeoutMs?: number;
  /** Number of the first step printed (the story goes on from the agent's steps). */
  firstStep?: number;
  log?: (line: string) => void;
}

export interface GatewaySteps {
  exchange: { scope: string; authorizationDetails: unknown; sid: string };
  tools: string[];
  lookup: Record<string, unknown>;
  assertion?: { header: Record<string, unknown>; claims: Record<string, unknown> };
  refund: Record<string, unknown>;
  toolRefused: Refusal;
  argumentRefused: Refusal;
  revocation: AdminAnswer;
  afterRevocation: Refusal & { afterMs: number };
}

export const GATEWAY_SCOPE = 'lookup_customer issue_refund';

export async function runGatewayAgent(options: GatewayAgentOptions): Promise<GatewaySteps> {
  const log = options.log ?? console.log;
  const username = options.username ?? 'bob';
  const redirectUri = options.redirectUri ?? 'http://127.0.0.1:8976/callback';
  let n = (options.firstStep ?? 1) - 1;
  const step = (title: string) => log(`\n== ${++n}. ${title}`);
  const show = (text: string) => log(`   ${text}`);
  const sts = await discoverSts(options.issuer, options.agent);

  step(`${username} logs in again; ${options.agent.clientId} exchanges the token for the plain MCP server behind the gateway (${options.resource})`);
  const pkce = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authUrl = oidc.buildAuthorizationUrl(sts, {
    redirect_uri: redirectUri,
    scope: `openid ${GATEWAY_SCOPE}`,
    code_challenge: await oidc.calculatePKCECodeChallenge(pkce),
    code_challenge_method: 'S256',
    state,
  });
  const user = await oidc.authorizationCodeGrant(sts, await devLogin(authUrl, redirectUri, username), { pkceCodeVerifier: pkce, expectedState: state });
  const issued = await exchangeToken(sts, { subjectToken: user.access_token, resource: options.resource, scope: GATEWAY_SCOPE });
  const sid = String(decodeJwt(issued.access_token).sid);
  const exchange = { scope: issued.scope ?? '', authorizationDetails: issued.authorization_details, sid };
  show(`scope "${exchange.scope}", authorization_details: ${JSON.stringify(exchange.authorizationDetails)}`);

  const plain = await connectTools(options.resource, issued.access_token, options.agent.clientId);
  try {
    step('tools/list through the gateway: upstream lists 5 tools, the agent sees only those its token may call');
    const tools = (await plain.listTools()).sort();
    show(`tools: ${tools.join(', ')}`);
    expect(tools.join(' ') === 'issue_refund lookup_customer', `tools/list showed ${tools.join(', ')}`);

    step('tools/call lookup_customer through the gateway: upstream gets a Delegation-Assertion, never the token');
    const lookup = await plain.callTool('lookup_customer', { customerId: 'cus_1001' });
    show(`result: ${JSON.stringify(lookup)}`);
    let assertion: GatewaySteps['assertion'];
    const jwt = options.lastAssertion?.();
    if (jwt) {
      // What upstream would do: verify it against the gateway's JWKS, for its own URL (docs/gateway.md).
      const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(`${options.gatewayUrl}/.well-known/jwks.json`)), {
        issuer: options.gatewayUrl, audience: options.upstream, typ: 'delegation-assertion+jwt', algorithms: ['ES256'], maxTokenAge: 60,
      });
      assertion = { header: decodeProtectedHeader(jwt) as Record<string, unknown>, claims: payload as Record<string, unknown> };
      show(`Delegation-Assertion header: ${JSON.stringify(assertion.header)}`);
      show(`Delegation-Assertion claims (verified against ${options.gatewayUrl}/.well-known/jwks.json): ${JSON.stringify(assertion.claims)}`);
      expect(payload.sub === `user-${username}` && payload.tool === 'lookup_customer' && payload.sid === sid, 'the assertion does not name the user, session and tool');
    }

    step('tools/call issue_refund {"amount":3000} is within the token\'s limit; {"amount":50000} is refused by the gateway');
    const refund = await plain.callTool('issue_refund', { customerId: 'cus_1001', amount: 3000 });
    show(`3000: ${JSON.stringify(refund)}`);
    const argumentRefused = await refusal(() => plain.callTool('issue_refund', { customerId: 'cus_1001', amount: 50000 }));
    show(`50000: HTTP ${argumentRefused.status}  WWW-Authenticate: ${argumentRefused.challenge}`);
    show(`body: ${JSON.stringify(argumentRefused.body)}`);
    expect(argumentRefused.status === 403 && /insufficient_authorization_details/.test(argumentRefused.challenge ?? ''), 'the 50000 refund was not refused with 403 insufficient_authorization_details');

    step('tools/call export_customers: not in the token, refused by the gateway; upstream never sees it');
    const toolRefused = await refusal(() => plain.callTool('export_customers'));
    show(`HTTP ${toolRefused.status}  WWW-Authenticate: ${toolRefused.challenge}`);
    show(`body: ${JSON.stringify(toolRefused.body)}`);
    expect(toolRefused.status === 403 && /insufficient_scope/.test(toolRefused.challenge ?? ''), 'export_customers was not refused with 403 insufficient_scope');

    step(`${options.admin.clientId} revokes the session ${sid}: the gateway learns it from the revocation feed`);
    const revocation = await revokeSession(options.issuer, options.admin, sid, 'example: session revoked at the gateway');
    show(`POST /admin/sessions/${sid}/revoke -> HTTP ${revocation.status}`);
    expect(revocation.status >= 200 && revocation.status < 300, `the admin API answered ${revocation.status}`);
    const afterMs = await untilRefused(plain, options.revocationTimeoutMs ?? 5000);
    const after = await refusal(() => plain.callTool('lookup_customer', { customerId: 'cus_1001' }));
    show(`the gateway refused the session ${afterMs} ms after the revocation`);
    show(`HTTP ${after.status}  WWW-Authenticate: ${after.challenge}`);
    expect(after.status === 401 && /invalid_token/.test(after.challenge ?? ''), 'the call after revocation was not refused with 401 invalid_token');
    return { exchange, tools, lookup, ...(assertion ? { assertion } : {}), refund, toolRefused, argumentRefused, revocation, afterRevocation: { ...after, afterMs } };
  } finally {
    await plain.close().catch(() => {});
  }
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`unexpected: ${message}`);
}

async function refusal(call: () => Promise<unknown>): Promise<Refusal> {
  try {
    const result = await call();
    throw new Error(`unexpected: expected a refusal, got ${JSON.stringify(result)}`);
  } catch (err) {
    if (err instanceof RefusedError) return err.refusal;
    throw err;
  }
}

async function untilRefused(session: ToolSession, timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await session.listTools();
    } catch (err) {
      if (err instanceof RefusedError && err.refusal.status === 401) return Date.now() - start;
      throw err;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`unexpected: the token still worked ${timeoutMs} ms after the revocation`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
