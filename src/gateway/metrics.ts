// The gateway's Prometheus metrics: decisions by route/tool/result, upstream latency, and the latency it adds.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  decisions: Counter<'route' | 'method' | 'tool' | 'result' | 'reason'>;
  upstream: Histogram<'route' | 'status'>;
  added: Histogram<'route'>;
  auditDropped: Counter;
}

/** JSON-RPC methods of the MCP revisions we proxy: metric labels only ever take these, so a caller cannot mint series. */
const MCP_METHODS: ReadonlySet<string> = new Set([
  'initialize', 'ping', 'tools/list', 'tools/call', 'resources/list', 'resources/read', 'resources/templates/list',
  'resources/subscribe', 'resources/unsubscribe', 'prompts/list', 'prompts/get', 'completion/complete', 'logging/setLevel',
  'notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/roots/list_changed',
  'sampling/createMessage', 'elicitation/create', 'roots/list',
]);
/** The `method` label of a JSON-RPC method: itself when MCP defines it, else `(other)`. */
export const methodLabel = (method: string) => (MCP_METHODS.has(method) ? method : '(other)');

const FINE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.1];

export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    decisions: new Counter({
      name: 'dts_gateway_decisions_total',
      help: 'Gateway decisions by route (resource URI), JSON-RPC method, tool, result (allow/deny) and reason. A tool outside the token\'s scopes, and a JSON-RPC method MCP does not define, are labelled (other): they are the caller\'s input.',
      labelNames: ['route', 'method', 'tool', 'result', 'reason'],
      registers: [registry],
    }),
    upstream: new Histogram({
      name: 'dts_gateway_upstream_duration_seconds',
      help: 'Time from sending a request upstream to its response headers, by route and upstream status (502/504 for unreachable or timed out).',
      labelNames: ['route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
      registers: [registry],
    }),
    added: new Histogram({
      name: 'dts_gateway_added_latency_seconds',
      help: 'Time the gateway spends on a request before it goes upstream: body, authentication, decision, session check, assertion signing.',
      labelNames: ['route'],
      buckets: FINE_BUCKETS,
      registers: [registry],
    }),
    auditDropped: new Counter({ name: 'dts_gateway_audit_events_dropped_total', help: 'Gateway decision events that could not be stored.', registers: [registry] }),
  };
}
