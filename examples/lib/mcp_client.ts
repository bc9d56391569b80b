// A small MCP client over Streamable HTTP with a bearer or DPoP-bound token, that turns the tool server's HTTP refusals
// (401 invalid_token / invalid_dpop_proof, 403 insufficient_scope) into errors carrying the status, challenge and body.
import * as oidc from 'openid-client';
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

/** A DPoP-bound token's key: openid-client's DPoP handle (`getDPoPHandle`) and the STS configuration it was made for. */
export interface DpopSender {
  sts: oidc.Configuration;
  handle: oidc.DPoPHandle;
}

/**
 * Connects to an MCP server with `Authorization: Bearer <token>`, or, with `dpop`, `Authorization: DPoP <token>` and a
 * fresh `DPoP` proof on every request (openid-client's fetchProtectedResource: htm, htu, ath, nonce retries). Calls are
 * meant to be made one at a time: the refusal reported is the one of the last failed HTTP response.
 */
export async function connectTools(url: string, token: string, name = 'example-client', dpop?: DpopSender): Promise<ToolSession> {
  let lastRefusal: Refusal | undefined;
  // The SDK reports only the status; the challenge and body are read here, from a copy of the response.
  const recordingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = dpop ? await dpopFetch(dpop, token, input, init) : await fetch(input, init);
    if (response.status === 401 || response.status === 403) {
      const text = await response.clone().text();
      lastRefusal = { status: response.status, challenge: response.headers.get('www-authenticate'), body: parseJson(text) };
    }
    return response;
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: dpop ? {} : { headers: { Authorization: `Bearer ${token}` } },
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

/** One request with a DPoP proof of the handle's key; a challenge answer (401/403) is handed back as the response. */
async function dpopFetch(dpop: DpopSender, token: string, input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : input);
  const headers = new Headers(init.headers);
  headers.delete('authorization');
  try {
    return await oidc.fetchProtectedResource(dpop.sts, token, url, init.method ?? 'GET', init.body as oidc.FetchBody, headers, { DPoP: dpop.handle });
  } catch (err) {
    if (err instanceof oidc.WWWAuthenticateChallengeError) return err.response;
    throw err;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
