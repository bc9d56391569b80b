// `node --import tsx examples/plain_mcp_server.ts [port]`: the MCP server with no authentication (tools/plain_mcp_server.ts,
// plain JSON-RPC over HTTP, no MCP SDK) that `npm run example` and docker-compose put behind the gateway. Any
// language would do: the gateway only speaks HTTP and JSON-RPC to it. Never expose it except through the gateway.
import { startPlainMcpServer } from '../tools/plain_mcp_server.js';

const port = Number(process.argv[2] ?? process.env.PORT ?? 4200);
const server = await startPlainMcpServer({ port, host: process.env.HOST ?? '127.0.0.1' });
process.stdout.write(`plain MCP server (no auth) on ${server.url}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void server.stop().then(() => process.exit(0)));
