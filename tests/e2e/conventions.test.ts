/**
 * The semantic conventions on live data: spans read back from Jaeger and series from Prometheus,
 * made by the platform's real services through the real collector, checked rule by rule. Every
 * attribute and metric name comes from @opentelemetry/semantic-conventions (the stable entry
 * point, or the incubating one for what is not stable yet), not from strings typed here, so a
 * name that drifts from the conventions fails this test.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
} from '@opentelemetry/semantic-conventions';
import { type ComponentName, infrastructure } from '../../infra/runner/components.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { logFile, startStack, stopStack } from '../../infra/runner/stack.ts';
import { fetchTrace, type OtlpTraceData } from '../../infra/runner/trace.ts';
import { eventually } from '../support/poll.ts';
import { query } from '../support/prometheus.ts';
import { useTemporaryStackState } from '../support/stack.ts';

const services: ComponentName[] = ['api', 'worker', 'signal-generator', 'trigger-dispatcher'];
const api = `http://${LOOPBACK}:${ports.api}`;

/** A span as Jaeger's OTLP answer holds it, with its attributes as a plain record. */
interface ReadSpan {
  service: string;
  name: string;
  kind: number | string | undefined;
  attributes: Record<string, string | number | boolean | undefined>;
  events: string[];
  statusCode: number | string | undefined;
}

function spansOf(data: OtlpTraceData): ReadSpan[] {
  const spans: ReadSpan[] = [];
  for (const resourceSpans of data.resourceSpans ?? []) {
    const service = resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name')?.value
      .stringValue;
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        const attributes: ReadSpan['attributes'] = {};
        for (const { key, value } of span.attributes ?? []) {
          attributes[key] =
            value.stringValue ??
            (value.intValue === undefined ? undefined : Number(value.intValue)) ??
            value.boolValue;
        }
        spans.push({
          service: service ?? 'unknown',
          name: span.name,
          kind: span.kind,
          attributes,
          events: (span.events ?? []).map((e) => e.name),
          statusCode: span.status?.code,
        });
      }
    }
  }
  return spans;
}

const isServer = (span: ReadSpan) => span.kind === 2 || span.kind === 'SPAN_KIND_SERVER';
const isError = (span: ReadSpan) => span.statusCode === 2 || span.statusCode === 'STATUS_CODE_ERROR';

/**
 * The Prometheus name of an OpenTelemetry metric, as the collector's remote write makes it:
 * dots to underscores, the unit's suffix, `_total` for counters.
 */
function prometheusName(metric: string, suffix: '_seconds' | '_bytes' | '' = '', total = false): string {
  return `${metric.replaceAll('.', '_')}${suffix}${total ? '_total' : ''}`;
}
const label = (attribute: string) => attribute.replaceAll('.', '_');

/** A request to the api and the server span it made, read back from Jaeger. */
async function serverSpanOf(
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; span: ReadSpan }> {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'user-agent': 'conventions-test/1.0' },
    ...(body === undefined ? {} : { body }),
  });
  await response.body?.cancel();
  const traceId = response.headers.get('traceresponse')?.split('-')[1] ?? '';
  assert.match(traceId, /^[0-9a-f]{32}$/, `${method} ${path} answered with a traceresponse`);
  const span = await eventually(`the server span of ${method} ${path}`, async () => {
    const data = await fetchTrace(traceId);
    return data ? spansOf(data).find((s) => s.service === 'api' && isServer(s)) : undefined;
  });
  return { status: response.status, span };
}

describe('semantic conventions on live data', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    process.env.OTEL_METRIC_EXPORT_INTERVAL = '2000';
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    process.env.TICK_INTERVAL_MS = '200';
    process.env.SIGNAL_COOLDOWN_MS = '1000';
    await startStack(undefined, [...infrastructure, ...services]);
  });

  after(async () => {
    await stopStack();
  });

  describe('HTTP server spans and metrics', () => {
    it('a 2xx: span named by method and route, with the required and recommended attributes', async () => {
      const { status, span } = await serverSpanOf('GET', '/pipelines');
      assert.equal(status, 200);
      assert.equal(span.name, 'GET /pipelines');
      assert.equal(span.attributes[ATTR_HTTP_REQUEST_METHOD], 'GET');
      assert.equal(span.attributes[ATTR_HTTP_ROUTE], '/pipelines');
      assert.equal(span.attributes[ATTR_URL_PATH], '/pipelines');
      assert.equal(span.attributes[ATTR_URL_SCHEME], 'http');
      assert.equal(span.attributes[ATTR_HTTP_RESPONSE_STATUS_CODE], 200);
      assert.equal(span.attributes[ATTR_SERVER_ADDRESS], LOOPBACK);
      assert.equal(span.attributes[ATTR_SERVER_PORT], ports.api);
      assert.equal(span.attributes[ATTR_NETWORK_PROTOCOL_VERSION], '1.1');
      assert.equal(span.attributes[ATTR_CLIENT_ADDRESS], LOOPBACK);
      assert.equal(span.attributes[ATTR_USER_AGENT_ORIGINAL], 'conventions-test/1.0');
      assert.ok(!isError(span));
    });

    it('a 404 and a 400 that the api answers by throwing: status unset, no error.type, no exception event', async () => {
      for (const [method, path, body, expected] of [
        ['GET', '/pipelines/no-such-pipeline', undefined, 404],
        ['POST', '/pipelines', '{"name": 42}', 400],
      ] as const) {
        const { status, span } = await serverSpanOf(method, path, body);
        assert.equal(status, expected);
        assert.ok(!isError(span), `${method} ${path}: a client error is not the server's`);
        assert.equal(span.attributes[ATTR_ERROR_TYPE], undefined, `${method} ${path}: no error.type`);
        assert.deepEqual(span.events, [], `${method} ${path}: no exception event`);
        assert.equal(span.attributes[ATTR_HTTP_RESPONSE_STATUS_CODE], expected);
      }
    });

    it('the duration metric: route templates, the conventions’ labels, no error_type on a 4xx', async () => {
      const duration = prometheusName(METRIC_HTTP_SERVER_REQUEST_DURATION, '_seconds');
      const samples = await eventually('the api’s 404 series', async () => {
        const found = await query(
          `${duration}_count{job="api", ${label(ATTR_HTTP_RESPONSE_STATUS_CODE)}="404"}`,
        );
        return found.length > 0 ? found : undefined;
      });
      for (const { metric } of samples) {
        assert.equal(metric[label(ATTR_ERROR_TYPE)], undefined, JSON.stringify(metric));
        assert.ok(metric[label(ATTR_HTTP_REQUEST_METHOD)]);
        assert.ok(metric[label(ATTR_URL_SCHEME)]);
        assert.equal(metric[label(ATTR_NETWORK_PROTOCOL_VERSION)], '1.1');
        assert.equal(metric[label(ATTR_URL_PATH)], undefined, 'no raw path on a metric');
        const route = metric[label(ATTR_HTTP_ROUTE)];
        assert.ok(route === undefined || !/no-such/.test(route), `a template, not a path: ${route}`);
      }
    });
  });

  describe('logs', () => {
    it('carry trace_id, span_id and trace_flags, so a line tells whether its trace was kept', async () => {
      const created = await fetch(`${api}/pipelines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'conventions', strategy: 'momentum', symbols: ['BTCUSD'] }),
      });
      const { id } = (await created.json()) as { id: string };
      const triggered = await fetch(`${api}/pipelines/${id}/executions`, { method: 'POST' });
      const traceId = triggered.headers.get('traceresponse')?.split('-')[1] ?? '';
      const line = await eventually("the worker's line of that execution", async () => {
        const lines = (await readFile(logFile('worker'), 'utf8'))
          .split('\n')
          .filter((text) => text.includes(traceId))
          .map((text) => JSON.parse(text) as Record<string, unknown>);
        return lines.find((l) => l.msg === 'execution finished');
      });
      assert.equal(line.trace_id, traceId);
      assert.match(String(line.span_id), /^[0-9a-f]{16}$/);
      assert.equal(line.trace_flags, '01', 'sampled: the trace is in Jaeger');
    });
  });
});
