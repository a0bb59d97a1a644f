/**
 * libs/telemetry end to end: a Hono service instrumented with one call sends through the real
 * collector; its HTTP metrics (by route template), runtime metrics and catalog metrics are
 * queryable in Prometheus under the seeds' names, and its traces are in Jaeger by the id of
 * the traceresponse header.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serve, type ServerType } from '@hono/node-server';
import { SpanStatusCode } from '@opentelemetry/api';
import { Hono } from 'hono';
import { httpInstrumentation } from '../../libs/telemetry/src/hono.ts';
import { initTelemetry, type Telemetry } from '../../libs/telemetry/src/telemetry.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { infrastructure } from '../../infra/runner/components.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { buildSpanTree, fetchTrace } from '../../infra/runner/trace.ts';
import { eventually } from '../support/poll.ts';
import { query } from '../support/prometheus.ts';
import { useTemporaryStackState } from '../support/stack.ts';

const service = `e2e-lib-${randomUUID().slice(0, 8)}`;
let telemetry: Telemetry;
let server: ServerType;
let baseUrl = '';
let tracedId = '';

async function value(promql: string): Promise<string> {
  const [sample] = await eventually(promql, async () => {
    const result = await query(promql);
    return result.length > 0 ? result : undefined;
  });
  return sample?.value[1] ?? '';
}

describe('the telemetry library through the real pipeline', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    await startStack(undefined, infrastructure);
    telemetry = initTelemetry({
      serviceName: service,
      serviceVersion: '1.0.0',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://${LOOPBACK}:${ports.collectorOtlpGrpc}`,
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
      registerGlobal: false,
      handleSignals: false,
      logWrite: () => undefined,
    });
    const app = new Hono();
    app.use(httpInstrumentation(telemetry));
    app.get('/pipelines/:id', (c) => c.json({ id: c.req.param('id') }));
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.onError((_error, c) => c.json({ error: 'internal' }, 500));
    server = serve({ fetch: app.fetch, hostname: LOOPBACK, port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`;

    for (const id of ['p-1', 'p-2', 'p-3']) {
      const response = await fetch(`${baseUrl}/pipelines/${id}`);
      tracedId = response.headers.get('traceresponse')?.split('-')[1] ?? '';
    }
    await fetch(`${baseUrl}/no/such/path`);
    await fetch(`${baseUrl}/boom`);
    telemetry.metrics.signalsGenerated.add(2, { signal_type: 'buy', source: 'sma_crossover' });
    telemetry.metrics.tradingBotsActive.record(3, { status: 'running' });
    telemetry.metrics.portfolioTotalValue.record(100_000);
    telemetry.metrics.marketDataLag.record(0.2, { symbol: 'BTCUSD', source: 'synthetic' });
    await telemetry.forceFlush();
  });

  after(async () => {
    await telemetry.shutdown();
    await new Promise((resolve) => server.close(resolve));
    await stopStack();
  });

  it('records HTTP durations by route template, never by raw path', async () => {
    const selector = `job="${service}", http_route="/pipelines/:id", http_response_status_code="200"`;
    assert.equal(await value(`http_server_request_duration_seconds_count{${selector}}`), '3');
    const routes = await query(
      `count by (http_route) (http_server_request_duration_seconds_count{job="${service}"})`,
    );
    assert.deepEqual(routes.map((r) => r.metric.http_route ?? '(none)').sort(), [
      '(none)',
      '/boom',
      '/pipelines/:id',
    ]);
    assert.equal(
      await value(
        `http_server_request_duration_seconds_count{job="${service}", http_route="/boom", error_type="Error"}`,
      ),
      '1',
    );
  });

  it("exports runtime metrics and the catalog's metrics under the seeds' names", async () => {
    assert.ok(Number(await value(`process_uptime_seconds{job="${service}"}`)) > 0);
    assert.ok(Number(await value(`v8js_memory_heap_used_bytes{job="${service}"}`)) > 0);
    assert.equal(
      await value(`signals_generated_total{job="${service}", signal_type="buy", source="sma_crossover"}`),
      '2',
    );
    assert.equal(await value(`trading_bots_active_total{job="${service}", status="running"}`), '3');
    assert.equal(await value(`portfolio_total_value_usd{job="${service}"}`), '100000');
    assert.equal(await value(`market_data_lag_seconds_count{job="${service}", symbol="BTCUSD"}`), '1');
  });

  it('puts the trace named by the traceresponse header in Jaeger', async () => {
    assert.match(tracedId, /^[0-9a-f]{32}$/);
    const data = await eventually('the request trace in Jaeger', () => fetchTrace(tracedId));
    const [root] = buildSpanTree(data);
    assert.equal(root?.service, service);
    assert.equal(root?.name, 'GET /pipelines/:id');
    assert.equal(root?.kind, 'SERVER');
  });

  it('sends spans over http/protobuf too, every attribute type and the times decoded intact by the collector', async () => {
    const overHttp = initTelemetry({
      serviceName: `${service}-http`,
      serviceVersion: '1.0.0',
      env: {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://${LOOPBACK}:${ports.collectorOtlpHttp}`,
        OTEL_METRICS_EXPORTER: 'none',
      },
      registerGlobal: false,
      handleSignals: false,
      logWrite: () => undefined,
    });
    const startedMs = Date.now();
    const span = overHttp.tracer.startSpan('price check');
    span.setAttributes({
      'instrument.name': 'Société Générale €',
      'order.quantity': 1_500,
      'order.delta': -42,
      'order.price': 101.25,
      'order.urgent': true,
      'order.tags': ['limit', 'day'],
    });
    span.addEvent('quote received', { 'quote.source': 'synthetic' });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'price out of band' });
    span.end();
    const traceId = span.spanContext().traceId;
    await overHttp.shutdown();

    const data = await eventually('the http/protobuf span in Jaeger', () => fetchTrace(traceId));
    const resourceSpans = data.resourceSpans?.[0];
    const received = resourceSpans?.scopeSpans?.[0]?.spans?.[0];
    assert.ok(received, 'span arrived');
    assert.equal(received.name, 'price check');
    const attributes = new Map((received.attributes ?? []).map((a) => [a.key, a.value]));
    assert.equal(attributes.get('instrument.name')?.stringValue, 'Société Générale €');
    assert.equal(String(attributes.get('order.quantity')?.intValue), '1500');
    assert.equal(String(attributes.get('order.delta')?.intValue), '-42');
    assert.equal(attributes.get('order.price')?.doubleValue, 101.25);
    assert.equal(attributes.get('order.urgent')?.boolValue, true);
    assert.deepEqual(
      attributes.get('order.tags')?.arrayValue?.values?.map((v) => v.stringValue),
      ['limit', 'day'],
    );
    assert.deepEqual(
      received.events?.map((e) => e.name),
      ['quote received'],
    );
    assert.equal(received.status?.message, 'price out of band');
    const startMs = Number(BigInt(received.startTimeUnixNano) / 1_000_000n);
    assert.ok(Math.abs(startMs - startedMs) < 5_000, `start time ${startMs} near ${startedMs}`);
    assert.ok(BigInt(received.endTimeUnixNano) >= BigInt(received.startTimeUnixNano));
  });
});
