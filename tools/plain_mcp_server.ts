// An MCP server with no authentication at all, written without the MCP SDK: plain JSON-RPC 2.0 over HTTP (MCP
// Streamable HTTP, 2025-06-18 .. 2026-07-28), the kind of server nobody will change, put behind the gateway. It trusts
// whoever reaches it, so only the gateway may. Shared by examples/ (runnable), the tests and the benchmark.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface PlainTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  run(args: Record<string, unknown>): Promise<unknown> | unknown;
}

/** What one request looked like on arrival: the tests check what the gateway let through, and how. */
export interface ReceivedRequest {
  httpMethod: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface PlainMcpServerOptions {
  port?: number;
  host?: string;
  /** `sse`: answer requests as a text/event-stream (one event per message); `json`: one JSON body. Default json. */
  responseMode?: 'json' | 'sse';
  /** Tools per tools/list page (pagination with `nextCursor`). Default: all on one page. */
  pageSize?: number;
  /** Extra tools beside the defaults. */
  tools?: PlainTool[];
}

export interface PlainMcpServer {
  url: string;
  server: Server;
  received: ReceivedRequest[];
  stop(): Promise<void>;
}

const PROTOCOL_VERSIONS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26'];

export const DEFAULT_TOOLS: PlainTool[] = [
  {
    name: 'lookup_customer',
    description: 'Look a customer up by id.',
    inputSchema: { type: 'object', properties: { customerId: { type: 'string' } }, required: ['customerId'] },
    run: (args) => ({ customerId: args.customerId, name: 'Ada Lovelace', plan: 'enterprise' }),
  },
  {
    name: 'issue_refund',
    description: 'Refund a customer (amount in cents).',
    inputSchema: { type: 'object', properties: { customerId: { type: 'string' }, amount: { type: 'number' } }, required: ['customerId', 'amount'] },
    run: (args) => ({ refunded: args.amount, customerId: args.customerId }),
  },
  {
    name: 'export_customers',
    description: 'Export every customer.',
    inputSchema: { type: 'object', properties: {} },
    run: () => ({ exported: 2, rows: ['cus_1001', 'cus_1002'] }),
  },
  {
    name: 'echo',
    description: 'Answer at once (benchmarks).',
    inputSchema: { type: 'object', properties: {} },
    run: () => ({ ok: true }),
  },
  {
    name: 'slow',
    description: 'Answer after `ms` milliseconds.',
    inputSchema: { type: 'object', properties: { ms: { type: 'number' } } },
    run: (args) => new Promise((resolve) => setTimeout(() => resolve({ waited: args.ms }), Number(args.ms) || 0)),
  },
];

export async function startPlainMcpServer(options: PlainMcpServerOptions = {}): Promise<PlainMcpServer> {
  const tools = [...DEFAULT_TOOLS, ...(options.tools ?? [])];
  const pageSize = options.pageSize ?? tools.length;
  const received: ReceivedRequest[] = [];
  const sessions = new Set<string>();

  const send = (res: ServerResponse, status: number, message: unknown, headers: Record<string, string> = {}) => {
    if (options.responseMode === 'sse' && status === 200) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
      // Two writes, so a reader sees an event arrive in pieces, as on a real network.
      const data = JSON.stringify(message);
      res.write(`event: message\ndata: ${data.slice(0, 10)}`);
      res.end(`${data.slice(10)}\n\n`);
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(message));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, text: string) => {
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    received.push({ httpMethod: req.method ?? '', headers: { ...req.headers }, body });
    const sessionId = req.headers['mcp-session-id'];
    if (req.method === 'GET') {
      // No server-initiated messages here: MCP allows answering 405 to the GET stream.
      res.writeHead(405, { allow: 'POST, DELETE' }).end();
      return;
    }
    if (req.method === 'DELETE') {
      const known = typeof sessionId === 'string' && sessions.delete(sessionId);
      res.writeHead(known ? 200 : 404).end();
      return;
    }
    const m = body as { id?: string | number; method?: string; params?: Record<string, unknown> };
    if (m.method === undefined || m.id === undefined) {
      // A notification or a response to us: accepted, nothing to answer (MCP: 202 Accepted).
      res.writeHead(202).end();
      return;
    }
    const reply = (result: unknown, headers: Record<string, string> = {}) => send(res, 200, { jsonrpc: '2.0', id: m.id, result }, headers);
    switch (m.method) {
      case 'initialize': {
        const asked = String(m.params?.protocolVersion ?? '');
        const id = randomUUID();
        sessions.add(id);
        reply(
          { protocolVersion: PROTOCOL_VERSIONS.includes(asked) ? asked : PROTOCOL_VERSIONS[0], capabilities: { tools: { listChanged: false } }, serverInfo: { name: 'plain-mcp-server', version: '1.0.0' } },
          { 'mcp-session-id': id },
        );
        return;
      }
      case 'ping':
        reply({});
        return;
      case 'tools/list': {
        const start = Number(m.params?.cursor ?? 0) || 0;
        const page = tools.slice(start, start + pageSize).map(({ name, description, inputSchema }) => ({ name, description, inputSchema }));
        reply({ tools: page, ...(start + pageSize < tools.length ? { nextCursor: String(start + pageSize) } : {}) });
        return;
      }
      case 'tools/call': {
        const tool = tools.find((t) => t.name === m.params?.name);
        if (!tool) {
          send(res, 200, { jsonrpc: '2.0', id: m.id, error: { code: -32602, message: 'unknown tool' } });
          return;
        }
        const out = await tool.run((m.params?.arguments as Record<string, unknown>) ?? {});
        reply({ content: [{ type: 'text', text: JSON.stringify(out) }] });
        return;
      }
      case 'resources/read':
        reply({ contents: [{ uri: m.params?.uri, mimeType: 'text/plain', text: 'terms of service' }] });
        return;
      case 'prompts/get':
        reply({ messages: [{ role: 'user', content: { type: 'text', text: `prompt ${String(m.params?.name)}` } }] });
        return;
      default:
        send(res, 200, { jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'method not found' } });
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://${host}:${port}/mcp`,
    server,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
