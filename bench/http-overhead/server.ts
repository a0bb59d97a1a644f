/**
 * One variant of the hello-world service for the HTTP overhead benchmark (run.ts starts it).
 * BENCH_VARIANT picks the instrumentation; the OTEL_* environment does the rest.
 */
import { serve } from '@hono/node-server';
import { httpInstrumentationMiddleware } from '@hono/otel';
import { prometheus } from '@hono/prometheus';
import { TraceFlags } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { Hono, type MiddlewareHandler } from 'hono';
import { httpInstrumentation } from '../../libs/telemetry/src/hono.ts';
import { initTelemetry } from '../../libs/telemetry/src/telemetry.ts';
import { standalone, type Variant, variantEnv } from './variants.ts';

const variant = process.env.BENCH_VARIANT as Variant;
const app = new Hono();

if (variant === 'noop-middleware') {
  // Any Hono middleware makes the request asynchronous: the floor under every instrumentation.
  app.use(async (_c, next) => {
    await next();
  });
}

if (variant === 'hono-prometheus') {
  // Set up as @hono/prometheus's README shows a typical service: prometheus() with its defaults,
  // registerMetrics on every route and printMetrics on GET /metrics, which run.ts scrapes. Those
  // defaults leave prom-client's default metrics (process, heap, GC, event-loop lag) off: the
  // README calls them recommended but opt-in (`collectDefaultMetrics: true`), and its usage
  // example does not opt in. (This library's variants always collect their runtime metrics.)
  const { printMetrics, registerMetrics } = prometheus();
  app.use('*', registerMetrics);
  app.get('/metrics', printMetrics);
}

if (!standalone.includes(variant)) {
  // Counts the sampled spans that ended, for run.ts to compare with what the collector accepted.
  let endedSpans = 0;
  const counter: SpanProcessor = {
    onStart: () => undefined,
    onEnd: (span) => {
      if (span.spanContext().traceFlags & TraceFlags.SAMPLED) endedSpans += 1;
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const telemetry = initTelemetry({
    serviceName: `bench-${variant}`,
    serviceVersion: '0.0.0',
    // Only where spans are wanted: any span processor turns tracing on.
    spanProcessors: variantEnv[variant].OTEL_TRACES_EXPORTER === 'none' ? [] : [counter],
  });
  // @hono/otel reports through the global providers that initTelemetry registered.
  const middleware: MiddlewareHandler = variant.startsWith('hono-otel')
    ? httpInstrumentationMiddleware()
    : httpInstrumentation(telemetry, { traceResponse: true });
  app.use(middleware);
  process.once('SIGTERM', () => {
    void telemetry.shutdown().then(() => {
      process.stdout.write(`${JSON.stringify({ endedSpans })}\n`);
      process.exit(0);
    });
  });
} else {
  process.once('SIGTERM', () => {
    process.stdout.write(`${JSON.stringify({ endedSpans: 0 })}\n`);
    process.exit(0);
  });
}

app.get('/hello/:name', (c) => c.text(`hello ${c.req.param('name')}`));

const server = serve(
  { fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.BENCH_PORT) },
  () => {
    process.stdout.write('ready\n');
  },
);
server.on('error', (error: Error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
