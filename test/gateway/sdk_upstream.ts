// An upstream built the way the MCP TypeScript SDK documents it: `createMcpExpressApp()` (Express with `express.json()`,
// which honours a `charset`) and `StreamableHTTPServerTransport` given `req.body`, an `McpServer` looking resources up
// by `new URL(uri).toString()`. The gateway's differential tests need its parser and lookups, not a stand-in's.
// Stateless (one server per request, JSON answers) by default; `stateful`: one transport per session, SSE answers,
// answers routed by JSON-RPC id, with a `tools/list` that takes `listDelayMs` to answer.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Server as LowLevelServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { CallToolRequestSchema, isInitializeRequest, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { TOOLS } from './fixture.js';

/** What upstream acted on: a tool run with the arguments it parsed, a resource or prompt read. */
export interface Executed {
  tool: string;
  args: unknown;
}

export interface SdkUpstream {
  url: string;
  executed: Executed[];
  /** Every request as Express saw it: headers, and the body `express.json()` parsed. */
  received: Array<{ method: string; headers: Record<string, unknown>; body: unknown }>;
  stop(): Promise<void>;
}

/** Resources upstream serves: one public, the others what a traversal would reach. */
export const RESOURCES = ['docs://kb/public/terms', 'docs://kb/private/salaries', 'file:///srv/docs/readme', 'file:///srv/secrets/key', 'file:///srv/docsecret'];

function statelessServer(executed: Executed[]): McpServer {
  const mcp = new McpServer({ name: 'sdk-upstream', version: '1.0.0' });
  for (const name of TOOLS) {
    mcp.registerTool(name, { description: name, inputSchema: { customerId: z.string().optional(), amount: z.number().optional() } }, async (args) => {
      executed.push({ tool: name, args });
      return { content: [{ type: 'text', text: `${name} ${JSON.stringify(args)}` }] };
    });
  }
  for (const uri of RESOURCES) {
    mcp.registerResource(uri, uri, { mimeType: 'text/plain' }, async (read) => {
      executed.push({ tool: 'resources/read', args: read.href });
      return { contents: [{ uri: read.href, text: `content of ${read.href}` }] };
    });
  }
  for (const name of ['greeting', 'internal']) {
    mcp.registerPrompt(name, { description: name }, async () => {
      executed.push({ tool: 'prompts/get', args: name });
      return { messages: [{ role: 'user', content: { type: 'text', text: name } }] };
    });
  }
  return mcp;
}

function statefulServer(executed: Executed[], listDelayMs: number): LowLevelServer {
  const server = new LowLevelServer({ name: 'sdk-upstream', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    // A server that builds its list from a registry or a backend: the answer comes later.
    await new Promise((resolve) => setTimeout(resolve, listDelayMs));
    return { tools: TOOLS.map((name) => ({ name, description: name, inputSchema: { type: 'object' as const } })) };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const { name, arguments: args } = request.params;
    executed.push({ tool: name, args });
    const ms = Number((args as { ms?: unknown } | undefined)?.ms) || 0;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { content: [{ type: 'text', text: `${name} done` }] };
  });
  return server;
}

export async function startSdkUpstream(options: { stateful?: boolean; listDelayMs?: number } = {}): Promise<SdkUpstream> {
  const executed: Executed[] = [];
  const received: SdkUpstream['received'] = [];
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const app = createMcpExpressApp();
  app.all('/mcp', async (req, res) => {
    received.push({ method: req.method, headers: { ...req.headers }, body: req.body });
    if (!options.stateful) {
      const mcp = statelessServer(executed);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res, req.body);
      return;
    }
    // The SDK's documented stateful pattern: one transport per session, found by its Mcp-Session-Id.
    const session = req.headers['mcp-session-id'];
    let transport = typeof session === 'string' ? transports.get(session) : undefined;
    if (!transport && req.method === 'POST' && isInitializeRequest(req.body)) {
      const created = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (id) => void transports.set(id, created) });
      transport = created;
      await statefulServer(executed, options.listDelayMs ?? 0).connect(transport);
    }
    if (!transport) {
      res.status(400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'no session' }, id: null });
      return;
    }
    await transport.handleRequest(req, res, req.body);
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    executed,
    received,
    async stop() {
      for (const transport of transports.values()) await transport.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}
