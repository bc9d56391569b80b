// A small MCP client over Streamable HTTP with a bearer token, that turns the tool server's HTTP refusals
// (401 invalid_token, 403 insufficient_scope) into errors carrying the status, the challenge and the body.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** An HTTP-level refusal as the agent saw it. */
export interface Refusal {
  status: number;
  /** The `WWW-Authenticate` header (RFC 6750 §3). */
  challenge: string | null;
  body: unknown;
}

export class RefusedError extends Error {
  override name = 'RefusedError';
  constructor(readonly refusal: Refusal) {
    super(`refused with HTTP ${refusal.status}: ${refusal.challenge ?? ''}`);
  }
}

/** The tool answered with `isError: true`. */
export class ToolError extends Error {
  override name = 'ToolError';
}

export interface ToolSession {
  listTools(): Promise<string[]>;
  /** The tool's JSON result (our tool servers answer with one JSON text item). */
  callTool(name: string, args?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Connects to an MCP server with `Authorization: Bearer <token>`. Calls are meant to be made one at a time: the
 * refusal reported is the one of the last failed HTTP response.
 */
export async function connectTools(url: string, token: string, name = 'example-client'): Promise<ToolSession> {
  let lastRefusal: Refusal | undefined;
  // The SDK reports only the status; the challenge and body are read here, from a copy of the response.
  const recordingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = await fetch(input, init);
    if (response.status === 401 || response.status === 403) {
      const text = await response.clone().text();
      lastRefusal = { status: response.status, challenge: response.headers.get('www-authenticate'), body: parseJson(text) };
    }
    return response;
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: recordingFetch,
  });
  const client = new Client({ name, version: '1.0.0' });
  const refused = <T>(call: () => Promise<T>): Promise<T> =>
    call().catch((err: unknown) => {
      if (err instanceof StreamableHTTPError && lastRefusal && err.code === lastRefusal.status) throw new RefusedError(lastRefusal);
      throw err;
    });

  await refused(() => client.connect(transport));
  return {
    async listTools() {
      const { tools } = await refused(() => client.listTools());
      return tools.map((t) => t.name);
    },
    async callTool(tool, args = {}) {
      const result = await refused(() => client.callTool({ name: tool, arguments: args }));
      const text = (result.content as { type: string; text?: string }[]).find((c) => c.type === 'text')?.text ?? '';
      if (result.isError) throw new ToolError(`${tool} failed: ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    },
    close: () => client.close(),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
