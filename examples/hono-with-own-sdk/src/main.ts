/**
 * A service that already runs the OpenTelemetry SDK its own way (here NodeSDK, configured by
 * the standard OTEL_* variables) and takes only the middleware from @tradeobs/telemetry: the
 * middleware reports through the API's global providers, so there is one SDK in the process.
 */
import { serve } from '@hono/node-server';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { httpInstrumentation } from '@tradeobs/telemetry/hono';
import { Hono } from 'hono';

// NodeSDK's own option wins over OTEL_SERVICE_NAME, so the variable is passed on explicitly.
const sdk = new NodeSDK({ serviceName: process.env.OTEL_SERVICE_NAME ?? 'hello-own-sdk' });
sdk.start();

const app = new Hono();
// The API's global providers, which NodeSDK registered; traceresponse lets a client find its trace.
app.use(httpInstrumentation(undefined, { traceResponse: true }));
app.get('/health', (c) => c.json({ status: 'ok' }));
app.get('/hello/:name', (c) => c.json({ message: `Hello, ${c.req.param('name')}!` }));

const port = Number(process.env.PORT ?? 3000);
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port });

process.once('SIGTERM', () => {
  server.close();
  void sdk.shutdown().finally(() => process.exit(0));
});
