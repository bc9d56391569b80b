// The per-message decision: tools/call by the verify SDK (its decision function, its refusals), tool lists in every
// answer by its filter, every other method by the route's rules, deny by default. The one place the gateway decides.
import type { ServerResponse } from 'node:http';
import { expressToolAuthorization, type DecisionEvent as ToolDecisionEvent, type FilterRefusal, type VerifiedToken } from 'delegation-token-verify';
import type { GatewayRoute } from './config.js';
import type { Message } from './jsonrpc.js';
import { underPrefix, uriProblem } from './resource_uri.js';

/** How one message was decided; `refused` means the response has been written (the SDK writes its own 403s). */
export type Outcome =
  | { allow: true; tool?: string; event?: ToolDecisionEvent }
  | { allow: false; refused: 'sdk'; tool: string; reason: string; event?: ToolDecisionEvent }
  | { allow: false; refused: 'method'; reason: 'method_not_allowed' | 'resource_not_allowed' | 'prompt_not_allowed' };

export interface Decider {
  decide(token: VerifiedToken, message: Message, res: ServerResponse): Outcome;
  /**
   * Wraps `res` so every tool list it carries is filtered by the same decision as `tools/call`, whatever its id (the
   * SDK's filter for a body without requests): on every answer relayed, POST (JSON or event stream), GET and DELETE.
   * An upstream may put an answer on another request's response: the MCP SDK's transport routes answers by JSON-RPC
   * id, so a second POST reusing an id gets the first one's answer; and a GET with `Last-Event-ID` replays earlier
   * answers (MCP Streamable HTTP, "Resumability and Redelivery"). Which request a response belongs to says nothing
   * about what it carries.
   * An answer the filter cannot read (over `maxBufferedBytes`, or not JSON) is never relayed unfiltered: it is cut,
   * and `onRefused` is told why.
   */
  filter(token: VerifiedToken, res: ServerResponse, onRefused?: (reason: FilterRefusal) => void): void;
}

export function createDecider(
  route: GatewayRoute,
  options: { resourceMetadataUrl: string; argumentsKey: string; logArguments: boolean; dpopAlgorithms?: readonly string[]; maxBufferedBytes?: number },
): Decider {
  // The SDK reports each tools/call decision synchronously, inside the middleware call: catch it for this request.
  let current: ToolDecisionEvent | undefined;
  // The SDK tells which response a refused answer was on; each request's handler listens for its own.
  const refusals = new WeakMap<object, (reason: FilterRefusal) => void>();
  const toolAuthorization = expressToolAuthorization({
    resourceMetadataUrl: options.resourceMetadataUrl,
    argumentsKey: options.argumentsKey,
    logArguments: options.logArguments,
    // RFC 9449 §7.1: a 403 to a DPoP-bound caller names the proof algorithms this route's verifier accepts.
    ...(options.dpopAlgorithms ? { dpopAlgorithms: options.dpopAlgorithms } : {}),
    ...(options.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.maxBufferedBytes } : {}),
    onAnswerRefused: (res, reason) => refusals.get(res)?.(reason),
    onDecision: (event) => {
      current = event;
    },
  });
  const methods = new Set(route.methods);
  const prefixes = route.resources;
  const anyResource = prefixes.includes('*');
  const prompts = route.prompts;

  return {
    filter(token, res, onRefused) {
      if (onRefused) refusals.set(res, onRefused);
      toolAuthorization({ method: 'GET', auth: token, body: undefined }, res as unknown as Parameters<typeof toolAuthorization>[1], () => undefined);
    },
    decide(token, message, res) {
      if (message.kind === 'response') return { allow: true };
      const { method } = message;
      // MCP lifecycle: notifications (initialized, cancelled, progress, roots/list_changed) carry no authority.
      if (message.kind === 'notification') return method.startsWith('notifications/') ? { allow: true } : { allow: false, refused: 'method', reason: 'method_not_allowed' };
      if (method === 'tools/call') {
        current = undefined;
        let passed = false;
        // Synchronous: either refuses on `res` (403, exactly as a tool server using the SDK would) or calls next.
        toolAuthorization({ method: 'POST', auth: token, body: message }, res as unknown as Parameters<typeof toolAuthorization>[1], () => {
          passed = true;
        });
        const event = current as ToolDecisionEvent | undefined;
        current = undefined;
        const tool = String(message.params?.name);
        if (passed) return { allow: true, tool, ...(event ? { event } : {}) };
        return { allow: false, refused: 'sdk', tool, reason: event?.reasons[0] ?? 'refused', ...(event ? { event } : {}) };
      }
      // tools/list passes; its answer, like every answer relayed, is filtered by the same decision (`filter`).
      if (method === 'initialize' || method === 'ping' || method === 'tools/list') return { allow: true };
      if (method === 'resources/read') {
        // The URI is compared as upstream will look it up: only one in its own WHATWG normal form, without userinfo
        // (resource_uri.ts), and a prefix only where a path segment ends. `*` allows any.
        const uri = message.params?.uri;
        const ok = typeof uri === 'string' && (anyResource || (uriProblem(uri) === undefined && prefixes.some((p) => underPrefix(uri, p))));
        return ok ? { allow: true } : { allow: false, refused: 'method', reason: 'resource_not_allowed' };
      }
      if (method === 'prompts/get') {
        // Compared exactly: the MCP SDKs look a prompt up by its exact name (no normalisation to differ from).
        const name = message.params?.name;
        const ok = typeof name === 'string' && prompts.some((p) => p === '*' || p === name);
        return ok ? { allow: true } : { allow: false, refused: 'method', reason: 'prompt_not_allowed' };
      }
      // Deny by default: a method the route does not name never reaches upstream.
      return methods.has(method) ? { allow: true } : { allow: false, refused: 'method', reason: 'method_not_allowed' };
    },
  };
}
