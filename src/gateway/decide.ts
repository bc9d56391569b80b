// The per-message decision: tools/call and tools/list by the verify SDK (its decision function, its refusals, its
// tools/list filter), every other method by the route's rules, deny by default. The one place the gateway decides.
import type { ServerResponse } from 'node:http';
import { expressToolAuthorization, type DecisionEvent as ToolDecisionEvent, type VerifiedToken } from 'delegation-token-verify';
import type { GatewayRoute } from './config.js';
import type { Message } from './jsonrpc.js';

/** How one message was decided; `refused` means the response has been written (the SDK writes its own 403s). */
export type Outcome =
  | { allow: true; tool?: string; event?: ToolDecisionEvent }
  | { allow: false; refused: 'sdk'; tool: string; reason: string; event?: ToolDecisionEvent }
  | { allow: false; refused: 'method'; reason: 'method_not_allowed' | 'resource_not_allowed' | 'prompt_not_allowed' };

export interface Decider {
  decide(token: VerifiedToken, message: Message, res: ServerResponse): Outcome;
  /**
   * A GET (an event stream opened or resumed): MCP Streamable HTTP, "Resumability and Redelivery": with `Last-Event-ID`
   * upstream replays earlier answers, a `tools/list` answer among them, so every tool list on it is filtered by the
   * same decision (the SDK's filter for a body without requests).
   */
  stream(token: VerifiedToken, res: ServerResponse): void;
}

export function createDecider(route: GatewayRoute, options: { resourceMetadataUrl: string; argumentsKey: string; logArguments: boolean; dpopAlgorithms?: readonly string[] }): Decider {
  // The SDK reports each tools/call decision synchronously, inside the middleware call: catch it for this request.
  let current: ToolDecisionEvent | undefined;
  const toolAuthorization = expressToolAuthorization({
    resourceMetadataUrl: options.resourceMetadataUrl,
    argumentsKey: options.argumentsKey,
    logArguments: options.logArguments,
    // RFC 9449 §7.1: a 403 to a DPoP-bound caller names the proof algorithms this route's verifier accepts.
    ...(options.dpopAlgorithms ? { dpopAlgorithms: options.dpopAlgorithms } : {}),
    onDecision: (event) => {
      current = event;
    },
  });
  const methods = new Set(route.methods);
  const prefixes = route.resources;
  const prompts = route.prompts;

  return {
    stream(token, res) {
      toolAuthorization({ method: 'GET', auth: token, body: undefined }, res as unknown as Parameters<typeof toolAuthorization>[1], () => undefined);
    },
    decide(token, message, res) {
      if (message.kind === 'response') return { allow: true };
      const { method } = message;
      // MCP lifecycle: notifications (initialized, cancelled, progress, roots/list_changed) carry no authority.
      if (message.kind === 'notification') return method.startsWith('notifications/') ? { allow: true } : { allow: false, refused: 'method', reason: 'method_not_allowed' };
      if (method === 'tools/call' || method === 'tools/list') {
        current = undefined;
        let passed = false;
        // Synchronous: either refuses on `res` (403, exactly as a tool server using the SDK would) or calls next;
        // for tools/list it wraps `res` so the answer is filtered by the same decision, JSON or event stream.
        toolAuthorization({ method: 'POST', auth: token, body: message }, res as unknown as Parameters<typeof toolAuthorization>[1], () => {
          passed = true;
        });
        const event = current as ToolDecisionEvent | undefined;
        current = undefined;
        const tool = method === 'tools/call' ? String(message.params?.name) : undefined;
        if (passed) return { allow: true, ...(tool ? { tool } : {}), ...(event ? { event } : {}) };
        return { allow: false, refused: 'sdk', tool: tool ?? '', reason: event?.reasons[0] ?? 'refused', ...(event ? { event } : {}) };
      }
      if (method === 'initialize' || method === 'ping') return { allow: true };
      if (method === 'resources/read') {
        const uri = message.params?.uri;
        const ok = typeof uri === 'string' && prefixes.some((p) => p === '*' || uri.startsWith(p));
        return ok ? { allow: true } : { allow: false, refused: 'method', reason: 'resource_not_allowed' };
      }
      if (method === 'prompts/get') {
        const name = message.params?.name;
        const ok = typeof name === 'string' && prompts.some((p) => p === '*' || p === name);
        return ok ? { allow: true } : { allow: false, refused: 'method', reason: 'prompt_not_allowed' };
      }
      // Deny by default: a method the route does not name never reaches upstream.
      return methods.has(method) ? { allow: true } : { allow: false, refused: 'method', reason: 'method_not_allowed' };
    },
  };
}
