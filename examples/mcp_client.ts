// An MCP client that is not in the STS's configuration onboards itself by Client ID Metadata Document, the way Claude
// Code and VS Code do: the unmodified MCP TypeScript SDK `auth()` (tool server 401 → RFC 9728 metadata → the STS's
// metadata → client_id = the https URL of its document), the user logs in and allows on the consent page, and the
// client gets a delegation token for the CRM server: sub = the user, act = the client. It then calls a CRM tool.
// No browser here: tools/mcp_oauth_client.ts follows the pages over HTTP as the user would.
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { decodeJwt } from 'jose';
import type { DocServer } from '../tools/https_docs.js';
import { approveAuthorization, MemoryOAuthClientProvider, type ConsentShown } from '../tools/mcp_oauth_client.js';

/** Where the client's document is served (the STS's onboarding allow-list names the document server's host:port). */
export const CLIENT_DOCUMENT_PATH = '/example-mcp-client.json';

export interface McpClientOptions {
  issuer: string;
  crmResource: string;
  /** The HTTPS server the client's metadata document is published on. */
  docs: DocServer;
  username?: string;
  redirectUri?: string;
  customerId?: string;
  /** Number of the first step printed. */
  firstStep?: number;
  log?: (line: string) => void;
}

export interface McpClientSteps {
  /** The client's `client_id`: the URL of its metadata document. */
  clientId: string;
  /** What the consent page showed the user (without its HTML). */
  consent: Omit<ConsentShown, 'html'>;
  /** The authorization response carried `iss` (RFC 9207), as the SDK requires. */
  iss: string | null;
  token: { scope: string; hasRefreshToken: boolean; claims: Record<string, unknown> };
  tools: string[];
  /** Who the CRM tool, and billing behind it, saw. */
  crmSaw: Record<string, unknown>;
  billingSaw: Record<string, unknown>;
}

export async function runMcpClient(options: McpClientOptions): Promise<McpClientSteps> {
  const log = options.log ?? console.log;
  const username = options.username ?? 'bob';
  const redirectUri = options.redirectUri ?? 'http://127.0.0.1:8977/callback';
  let n = (options.firstStep ?? 1) - 1;
  const step = (title: string) => log(`\n== ${++n}. ${title}`);
  const show = (text: string) => log(`   ${text}`);

  // The document a client publishes about itself (draft-ietf-oauth-client-id-metadata-document): its client_id is its URL.
  const clientId = `${options.docs.origin}${CLIENT_DOCUMENT_PATH}`;
  const clientMetadata = {
    client_name: 'Example MCP client',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    application_type: 'native',
  } as OAuthClientMetadata;
  options.docs.set(CLIENT_DOCUMENT_PATH, { client_id: clientId, ...clientMetadata });
  const provider = new MemoryOAuthClientProvider({ redirectUrl: redirectUri, clientMetadata, clientMetadataUrl: clientId });

  step(`an MCP client onboards itself by Client ID Metadata Document (MCP SDK auth(), ${username} logs in and allows on the consent page)`);
  show(`client_id = its document URL: ${clientId}`);
  // No scope given: the SDK asks for the tool server's scopes_supported (RFC 9728); the policy grants what it allows.
  const first = await auth(provider, { serverUrl: options.crmResource });
  expect(first === 'REDIRECT' && provider.authorizationUrl !== undefined, `auth() answered ${first}`);
  expect(provider.info?.client_id === clientId, 'the SDK did not use its document URL as client_id');
  const { callback, consent } = await approveAuthorization(provider.authorizationUrl, { redirectUri, username });
  expect(consent !== undefined, 'the user was not shown the consent page');
  const { html: _html, ...shown } = consent;
  show(`consent page: "${shown.clientName}" from ${shown.clientIdHost}, redirects to ${shown.redirectHost}, tools: ${shown.tools.join(', ')}${shown.localhostWarning ? ' (warned: localhost-only redirects)' : ''}`);
  const code = callback.searchParams.get('code');
  expect(code !== null, `no code: ${callback.search}`);
  const second = await auth(provider, { serverUrl: options.crmResource, authorizationCode: code });
  expect(second === 'AUTHORIZED' && provider.saved !== undefined, `auth() with the code answered ${second}`);
  const tokens = provider.saved;
  // Decoded only to show it: a client never needs to read its access tokens.
  const { sub, aud, scope, act, sid, client_id } = decodeJwt(tokens.access_token);
  const token = { scope: tokens.scope ?? '', hasRefreshToken: Boolean(tokens.refresh_token), claims: { sub, aud, scope, act, sid, client_id } };
  show(`delegation token for the CRM server: ${JSON.stringify(token.claims)}${token.hasRefreshToken ? ' (and a refresh token)' : ''}`);
  expect(JSON.stringify(act) === JSON.stringify({ sub: clientId }), 'the client is not the actor of its token');

  step('the MCP client calls crm.lookup_customer with that token: the tool sees the user, and the client as actor');
  // The SDK's transport takes the token from the same OAuthClientProvider.
  const client = new Client({ name: 'example-mcp-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(options.crmResource), { authProvider: provider }));
  try {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    show(`tools: ${tools.join(', ')}`);
    const result = await client.callTool({ name: 'crm.lookup_customer', arguments: { customerId: options.customerId ?? 'cus_1001' } });
    expect(!result.isError, `the tool failed: ${JSON.stringify(result.content)}`);
    const body = JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as { caller: Record<string, unknown>; billing: { caller: Record<string, unknown> } };
    const chain = (caller: Record<string, unknown>) => (caller.actors as Array<{ sub: string }>).map((a) => a.sub).join(' → ');
    show(`CRM saw      sub=${String(body.caller.sub)} act: ${chain(body.caller)}`);
    show(`billing saw  sub=${String(body.billing.caller.sub)} act: ${chain(body.billing.caller)}`);
    expect(body.caller.sub === sub && chain(body.caller) === clientId, `CRM saw ${JSON.stringify(body.caller)}`);
    return { clientId, consent: shown, iss: callback.searchParams.get('iss'), token, tools, crmSaw: body.caller, billingSaw: body.billing.caller };
  } finally {
    await client.close();
  }
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`unexpected: ${message}`);
}
