/**
 * libs/telemetry end to end: a Hono service instrumented with one call sends through the real
 * collector; its HTTP metrics (by route template), runtime metrics and catalog metrics are
 * queryable in Prometheus under the seeds' names, and its traces are in Jaeger by the id of
 * the traceresponse header. Then the library as people install it: packed, installed from its
 * tarball into projects outside the workspace (the examples/), run on plain Node.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { SpanStatusCode } from '@opentelemetry/api';
import { Hono } from 'hono';
import { httpInstrumentation } from '../../libs/telemetry/src/hono.ts';
import { counter, gauge, histogram } from '../../libs/telemetry/src/catalog/index.ts';
import { initTelemetry, type Telemetry } from '../../libs/telemetry/src/telemetry.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { infrastructure } from '../../infra/runner/components.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { buildSpanTree, fetchTrace } from '../../infra/runner/trace.ts';
import { repoRoot } from '../../infra/runner/paths.ts';
import { eventually } from '../support/poll.ts';
import { startProcess, stopProcesses } from '../support/processes.ts';
import { query } from '../support/prometheus.ts';
import { useTemporaryStackState } from '../support/stack.ts';

const service = `e2e-lib-${randomUUID().slice(0, 8)}`;
/** A catalog as a user's service declares one. */
const catalog = {
  ordersPlaced: counter({
    name: 'shop.orders.placed',
    unit: '{order}',
    description: 'Orders placed by channel',
    attributes: ['channel'],
  }),
  cartSize: gauge({ name: 'shop.cart.size', unit: '{item}', description: 'Items in open carts' }),
  checkoutDuration: histogram(
    { name: 'shop.checkout.duration', unit: 's', description: 'Time to check out', attributes: ['channel'] },
    [0.1, 1, 10],
  ),
};
let telemetry: Telemetry<typeof catalog>;
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
      catalog,
      strict: true,
      serviceVersion: '1.0.0',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://${LOOPBACK}:${ports.collectorOtlpGrpc}`,
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
      registerGlobal: false,
      logWrite: () => undefined,
    });
    const app = new Hono();
    app.use(httpInstrumentation(telemetry, { traceResponse: true }));
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
    telemetry.metrics.ordersPlaced.add(2, { channel: 'web' });
    telemetry.metrics.cartSize.record(3);
    telemetry.metrics.checkoutDuration.record(0.2, { channel: 'web' });
    await telemetry.forceFlush();
  });

  after(async () => {
    await stopProcesses();
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

  it("exports runtime metrics and the service's own catalog under Prometheus names", async () => {
    assert.ok(Number(await value(`process_uptime_seconds{job="${service}"}`)) > 0);
    // Per heap space and per event-loop state, as the conventions break them down.
    const oldSpaceUsed = `v8js_memory_heap_used_bytes{job="${service}", v8js_heap_space_name="old_space"}`;
    const idleTime = `nodejs_eventloop_time_seconds_total{job="${service}", nodejs_eventloop_state="idle"}`;
    assert.ok(Number(await value(oldSpaceUsed)) > 0);
    assert.ok(Number(await value(idleTime)) > 0);
    assert.equal(await value(`shop_orders_placed_total{job="${service}", channel="web"}`), '2');
    assert.equal(await value(`shop_cart_size{job="${service}"}`), '3');
    assert.equal(await value(`shop_checkout_duration_seconds_count{job="${service}", channel="web"}`), '1');
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

  describe('packed and installed into a project of its own', () => {
    let tarball = '';

    /** Installs an example against the packed library and runs it as a service of its own name. */
    async function runExample(example: string, prefix: string, port: number, env: Record<string, string>) {
      const dir = await installExample(example, tarball);
      const name = `${prefix}-${randomUUID().slice(0, 8)}`;
      await startProcess({
        name,
        command: process.execPath,
        args: [join(dir, 'src/main.ts')],
        env: {
          ...outsideTheWorkspace,
          PORT: String(port),
          OTEL_SERVICE_NAME: name,
          OTEL_METRIC_EXPORT_INTERVAL: '1000',
          OTEL_BSP_SCHEDULE_DELAY: '100',
          ...env,
        },
        healthUrl: `http://${LOOPBACK}:${port}/health`,
      });
      return { dir, name, port };
    }
    before(async () => {
      const destination = await mkdtemp(join(tmpdir(), 'pack-'));
      const [packed] = JSON.parse(
        await command('npm', ['pack', '--json', '--pack-destination', destination], {
          cwd: join(repoRoot, 'libs/telemetry'),
        }),
      ) as [{ filename: string; files: { path: string }[] }];
      tarball = join(destination, packed.filename);
      const files = packed.files.map((f) => f.path);
      assert.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts'), 'JavaScript and types');
      assert.ok(files.includes('LICENSE'), 'a license');
      assert.ok(
        !files.some((f) => f.startsWith('src/') || f.startsWith('test/')),
        `only dist: ${files.join(' ')}`,
      );
    });

    it('runs the example on plain Node: its metrics reach Prometheus and its trace Jaeger through the collector', async () => {
      const { dir, name, port } = await runExample('hono-service', 'consumer', 29110, {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://${LOOPBACK}:${ports.collectorOtlpGrpc}`,
      });
      const traceId = await hello(port);
      for (let i = 0; i < 2; i += 1) await hello(port);

      const [root, ...others] = buildSpanTree(
        await eventually('its trace in Jaeger', () => fetchTrace(traceId)),
      );
      assert.deepEqual(
        [root?.service, root?.kind, root?.name, others.length],
        [name, 'SERVER', 'GET /hello/:name', 0],
      );
      assert.equal(await value(`greetings_sent_total{job="${name}", language="en"}`), '3');
      assert.ok(
        Number(
          await value(`http_server_request_duration_seconds_count{job="${name}", http_route="/hello/:name"}`),
        ) >= 3,
      );
      // require() of the ESM build works on Node 24 (require(esm)), for CommonJS callers.
      const required = await command(
        process.execPath,
        [
          '--input-type=commonjs',
          '-e',
          "process.stdout.write(typeof require('@tradeobs/telemetry').initTelemetry)",
        ],
        { cwd: dir },
      );
      assert.equal(required, 'function');
    });

    it('gives a service with its own SDK only the middleware: one server span per request, one SDK, one API', async () => {
      const { dir, name, port } = await runExample('hono-with-own-sdk', 'own-sdk', 29111, {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://${LOOPBACK}:${ports.collectorOtlpHttp}`,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_LOGS_EXPORTER: 'none',
      });
      const traceIds = [await hello(port), await hello(port)];
      for (const traceId of traceIds) {
        const data = await eventually('its trace in Jaeger', () => fetchTrace(traceId));
        const spans = buildSpanTree(data);
        assert.deepEqual(
          spans.map((span) => [span.service, span.kind, span.name]),
          [[name, 'SERVER', 'GET /hello/:name']],
          'exactly one span: the middleware made no SDK of its own',
        );
        const sdkName = data.resourceSpans?.[0]?.resource?.attributes?.find(
          (a) => a.key === 'telemetry.sdk.name',
        );
        assert.equal(sdkName?.value.stringValue, 'opentelemetry', "the NodeSDK's resource");
      }
      assert.ok(
        Number(
          await value(`http_server_request_duration_seconds_count{job="${name}", http_route="/hello/:name"}`),
        ) >= 2,
        "the HTTP metrics through the NodeSDK's meter provider",
      );
      const apiCopies = (
        await command('npm', ['ls', '@opentelemetry/api', '--all', '--parseable'], { cwd: dir })
      )
        .split('\n')
        .filter((line) => line.endsWith('node_modules/@opentelemetry/api'));
      assert.equal(new Set(apiCopies).size, 1, `one copy of the API: ${apiCopies.join(', ')}`);
    });
  });
});

/**
 * The environment of a project that is not this workspace: none of the enclosing `npm test`'s
 * npm_* settings, and no export condition that would select the library's TypeScript source.
 */
const outsideTheWorkspace: Record<string, string> = {
  NODE_OPTIONS: '',
  ...Object.fromEntries(
    Object.keys(process.env)
      .filter((key) => key.startsWith('npm_'))
      .map((key) => [key, '']),
  ),
};

async function command(file: string, args: string[], options: { cwd: string }): Promise<string> {
  const env = Object.fromEntries(
    Object.entries({ ...process.env, ...outsideTheWorkspace }).filter(([, value]) => value !== ''),
  );
  const { stdout } = await promisify(execFile)(file, args, { ...options, env, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** A copy of examples/<name> in a temporary directory, with its dependencies and the packed library installed. */
async function installExample(name: string, tarball: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  await cp(join(repoRoot, 'examples', name), dir, { recursive: true });
  await command('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: dir });
  return dir;
}

/** GET /hello/… on an example; returns the trace id of its traceresponse header. */
async function hello(port: number): Promise<string> {
  const response = await fetch(`http://${LOOPBACK}:${port}/hello/ada`);
  assert.equal(response.status, 200);
  const traceId = response.headers.get('traceresponse')?.split('-')[1] ?? '';
  assert.match(traceId, /^[0-9a-f]{32}$/);
  return traceId;
}
