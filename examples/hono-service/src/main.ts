/**
 * A Hono service with metrics, traces and logs, from one call and one middleware. Where it sends
 * is the OpenTelemetry environment: by default OTLP/gRPC to a collector on 127.0.0.1:4317.
 *
 *   npm install && npm start
 *   OTEL_SERVICE_NAME=greeter OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317 npm start
 */
import { serve } from '@hono/node-server';
import { initTelemetry } from '@tradeobs/telemetry';
import { counter } from '@tradeobs/telemetry/catalog';
import { httpInstrumentation } from '@tradeobs/telemetry/hono';
import { Hono } from 'hono';

// The service's own metrics, declared once: name, unit, description and the only attributes allowed.
const catalog = {
  greetings: counter({
    name: 'greetings.sent',
    unit: '{greeting}',
    description: 'Greetings sent, by language',
    attributes: ['language'],
  }),
};

// Registers the providers with the OpenTelemetry API (other instrumentation reports through them
// too) and flushes on SIGTERM and SIGINT before the process exits.
const telemetry = initTelemetry({
  serviceName: 'hello-service',
  serviceVersion: '1.0.0',
  catalog,
  handleSignals: true,
});

const app = new Hono();
// A SERVER span per request named after the route ("GET /hello/:name"), http.server.* metrics.
// traceResponse tells each client the trace id of its request (off by default: every client sees it).
app.use(httpInstrumentation(telemetry, { traceResponse: true }));
app.get('/health', (c) => c.json({ status: 'ok' }));
app.get('/hello/:name', (c) => {
  const name = c.req.param('name');
  telemetry.metrics.greetings.add(1, { language: 'en' });
  // A JSON line with the trace_id and span_id of this request.
  telemetry.logger.info('greeted', { name });
  return c.json({ message: `Hello, ${name}!` });
});

const port = Number(process.env.PORT ?? 3000);
serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, (info) => {
  telemetry.logger.info('listening', { url: `http://127.0.0.1:${info.port}` });
});
