// An MCP tool server that accepts only delegation tokens: Bearer or DPoP-bound (the verify SDK's mcpAuth, revocation feed), every
// tools/call decided (scope and argument limits) and tools/list filtered by the verify SDK before the MCP transport,
// RFC 9728 metadata. CRM and billing use it.
import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { z } from 'zod';
import {
  createVerifier,
  expressToolAuthorization,
  mcpAuth,
  protectedResourceMetadata,
  resourceMetadataPath,
  resourceMetadataUrl,
  type Actor,
  type DecisionEvent,
  type McpAuthExtra,
} from 'delegation-token-verify';

/** Who called a tool, as the verified token says; every tool result carries it. */
export interface Caller {
  /** The user the agent acts for. */
  sub: string;
  sid: string;
  /** The client that presented the token (the current actor). */
  clientId: string;
  /** RFC 8693 §4.1 `act` chain, current actor first. */
  actors: readonly Actor[];
  /** RFC 9449: the key thumbprint a DPoP-bound token is bound to (its proof was checked on this request). */
  jkt?: string;
}

export interface ToolCall {
  caller: Caller;
  /** The token this server received: only ever a `subject_token` at the STS, never forwarded (RFC 8693 §2.3). */
  token: string;
}

/** A tool; its name is also the scope that grants it. */
export interface ToolDefinition {
  name: string;
  description: string;
  input: z.ZodRawShape;
  run(args: Record<string, unknown>, call: ToolCall): Promise<Record<string, unknown>>;
}

/** Types a tool's arguments from its input shape (the MCP SDK validates them before `run`). */
export function defineTool<S extends z.ZodRawShape>(tool: {
  name: string;
  description: string;
  input: S;
  run(args: z.infer<z.ZodObject<S>>, call: ToolCall): Promise<Record<string, unknown>>;
}): ToolDefinition {
  return tool as unknown as ToolDefinition;
}

export interface ToolServerOptions {
  name: string;
  /** Canonical resource URI: the `aud` of tokens for this server; its port and path are where it listens. */
  resource: string;
  issuer: string;
  /** This server's client at the STS: reads the revocation feed (and, for CRM, re-exchanges tokens). */
  clientId: string;
  clientSecret: string;
  tools: readonly ToolDefinition[];
  /** Scopes accepted here only to be passed on downstream (advertised in the metadata, no tool of their own). */
  forwardScopes?: readonly string[];
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Every tool call decision, allowed or denied (the verify SDK's hook), with `argumentsKey` for its arguments HMAC. */
  decisions?: { onDecision: (event: DecisionEvent) => void; argumentsKey: string | Uint8Array };
}

export interface ToolServer {
  resource: string;
  close(): Promise<void>;
}

/** Starts the server once its verifier holds the first revocation snapshot (until then it would refuse everything). */
export async function startToolServer(options: ToolServerOptions): Promise<ToolServer> {
  const url = new URL(options.resource);
  const metadataUrl = resourceMetadataUrl(options.resource);
  const verifier = createVerifier({
    issuer: options.issuer,
    audience: options.resource,
    revocation: { mode: 'feed', clientId: options.clientId, clientSecret: options.clientSecret },
  });
  await verifier.ready();

  const metadata = protectedResourceMetadata({
    resource: options.resource,
    authorizationServers: [options.issuer],
    scopesSupported: [...options.tools.map((t) => t.name), ...(options.forwardScopes ?? [])],
    resourceName: options.name,
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());
  app.get(resourceMetadataPath(options.resource), (_req, res) => {
    res.json(metadata);
  });
  app.post(
    url.pathname,
    // The MCP SDK's requireBearerAuth speaks Bearer only; mcpAuth accepts Bearer and DPoP (a fresh proof on every
    // request, jti replay cache in memory: one process) and fills req.auth the same way.
    mcpAuth(verifier, { resourceMetadataUrl: metadataUrl }),
    expressToolAuthorization({ resourceMetadataUrl: metadataUrl, dpopAlgorithms: verifier.dpopAlgorithms, ...options.decisions }),
    mcpHandler(options.name, options.tools),
  );
  // Stateless server: no SSE stream to GET and no session to DELETE (the client takes 405 as "not offered").
  app.all(url.pathname, (_req, res) => {
    res.set('Allow', 'POST').status(405).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null });
  });

  const server = await listen(app, Number(url.port || 80), options.host ?? '127.0.0.1').catch((err: unknown) => {
    verifier.close();
    throw err;
  });
  return {
    resource: options.resource,
    async close() {
      verifier.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * One McpServer per request (stateless) holding every tool: expressToolAuthorization has already refused any call the
 * token does not allow (403) and filters the tools/list answer with the same decision.
 */
function mcpHandler(name: string, tools: readonly ToolDefinition[]) {
  return async (req: Request, res: Response): Promise<void> => {
    const server = new McpServer({ name, version: '1.0.0' });
    for (const tool of tools) {
      server.registerTool(tool.name, { description: tool.description, inputSchema: tool.input }, async (args, extra) => {
        const auth = extra.authInfo!;
        const { sub, sid, actors, jkt } = auth.extra as unknown as McpAuthExtra;
        const caller: Caller = { sub, sid, clientId: auth.clientId, actors, ...(jkt ? { jkt } : {}) };
        const result = await tool.run(args, { caller, token: auth.token });
        return { content: [{ type: 'text', text: JSON.stringify({ tool: tool.name, caller, ...result }) }] };
      });
    }
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  };
}

function listen(app: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
  });
}
