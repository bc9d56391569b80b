// `node --import tsx scripts/cimd_doc_server.ts <redirect URI> [client name]`: serves one Client ID Metadata Document
// over HTTPS (tools/https_docs.ts: a throw-away certificate for 127.0.0.1) for a public client with that redirect URI,
// prints `{"clientId", "host", "caFile"}` as one JSON line, and serves until stopped. For scripts/mcp_inspector_check.sh.
import { startDocServer } from '../tools/https_docs.js';

const [redirectUri, clientName = 'MCP client (CIMD)'] = process.argv.slice(2);
if (!redirectUri) {
  process.stderr.write('usage: cimd_doc_server.ts <redirect URI> [client name]\n');
  process.exit(2);
}
const docs = await startDocServer();
const clientId = `${docs.origin}/client.json`;
docs.set('/client.json', {
  client_id: clientId,
  client_name: clientName,
  redirect_uris: [redirectUri],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
});
process.stdout.write(`${JSON.stringify({ clientId, host: docs.host, caFile: docs.caFile })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void docs.close().then(() => process.exit(0)));
