// OpenTelemetry trace export, switched on by the standard OTEL_* environment variables. Without them nothing is loaded
// here and the code's @opentelemetry/api calls stay no-ops. Spans come from our own code (the HTTP server span with
// the route template, the exchange steps, and Redis commands through ioredis' diagnostics channels), so no module is
// patched and the order in which modules load does not matter.
import { VERSION } from './version.js';

export type TraceExporterName = 'otlp' | 'console';

export interface Tracing {
  exporters: TraceExporterName[];
  /** Exports what is buffered and stops; call on shutdown. */
  shutdown(): Promise<void>;
}

/** Which exporters the environment asks for: `OTEL_TRACES_EXPORTER` (otlp, console, none), else otlp when an OTLP endpoint is set. */
export function traceExporters(env: NodeJS.ProcessEnv): TraceExporterName[] {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return [];
  const listed = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (!listed.length) return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? ['otlp'] : [];
  if (listed.includes('none')) return [];
  const unknown = listed.filter((e) => e !== 'otlp' && e !== 'console');
  if (unknown.length) throw new TypeError(`OTEL_TRACES_EXPORTER: unsupported exporter ${unknown.join(', ')} (use otlp, console or none)`);
  return [...new Set(listed)] as TraceExporterName[];
}

/**
 * Starts the trace SDK when the environment configures an exporter; resolves undefined (and loads nothing) otherwise.
 * Honours OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), the OTEL_EXPORTER_OTLP_* variables
 * (read by the OTLP exporter) and OTEL_BSP_* batch settings. Propagation is W3C `traceparent`/`tracestate` and baggage.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  const exporters = traceExporters(env);
  if (!exporters.length) return undefined;
  const [api, core, hooks, resources, sdk, { traceRedisCommands }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('./stores/redis/tracing.js'),
  ]);
  const processors = await Promise.all(
    exporters.map(async (name) => {
      if (name === 'console') return new sdk.SimpleSpanProcessor({ exporter: new sdk.ConsoleSpanExporter() });
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      return new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batchOptions(env) });
    }),
  );
  const provider = new sdk.TracerProvider({
    resource: resources
      .resourceFromAttributes({ 'service.name': 'delegation-token-service', 'service.version': VERSION })
      .merge(resources.detectResources({ detectors: [resources.envDetector] })),
    sampler: sampler(sdk, env),
    spanProcessors: processors,
  });
  api.context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new core.CompositePropagator({ propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()] }));
  api.trace.setGlobalTracerProvider(provider);
  const stopRedis = traceRedisCommands();
  return {
    exporters,
    async shutdown() {
      stopRedis();
      await provider.shutdown();
    },
  };
}

function batchOptions(env: NodeJS.ProcessEnv) {
  const n = (name: string) => (env[name] && Number.isFinite(Number(env[name])) ? Number(env[name]) : undefined);
  const options = { maxQueueSize: n('OTEL_BSP_MAX_QUEUE_SIZE'), maxExportBatchSize: n('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'), scheduledDelayMillis: n('OTEL_BSP_SCHEDULE_DELAY'), exportTimeoutMillis: n('OTEL_BSP_EXPORT_TIMEOUT') };
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

/** The OTel specification's OTEL_TRACES_SAMPLER values; default parentbased_always_on. */
function sampler(sdk: typeof import('@opentelemetry/sdk-trace'), env: NodeJS.ProcessEnv) {
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  const fraction = Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1;
  const name = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  switch (name) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return new sdk.TraceIdRatioBasedSampler(fraction);
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(fraction) });
    default:
      throw new TypeError(`OTEL_TRACES_SAMPLER: unsupported sampler ${name}`);
  }
}
