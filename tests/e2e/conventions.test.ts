/**
 * The semantic conventions on live data: spans read back from Jaeger, series from Prometheus and
 * log records from VictoriaLogs, made by the platform's real services through the real
 * collector, checked rule by rule: HTTP server spans and metrics, NATS messaging spans and
 * metrics, runtime metrics, and logs that lead to their traces. Every
 * attribute and metric name comes from @opentelemetry/semantic-conventions (the stable entry
 * point, or the incubating one for what is not stable yet), not from strings typed here, so a
 * name that drifts from the conventions fails this test.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { SeverityNumber } from '@opentelemetry/api';
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
import {
  ATTR_MESSAGING_CLIENT_ID,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPLATE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES,
  METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
  METRIC_MESSAGING_CLIENT_SENT_MESSAGES,
  METRIC_MESSAGING_PROCESS_DURATION,
  ATTR_CPU_MODE,
  ATTR_NODEJS_EVENTLOOP_STATE,
  ATTR_V8JS_HEAP_SPACE_NAME,
  CPU_MODE_VALUE_SYSTEM,
  CPU_MODE_VALUE_USER,
  METRIC_NODEJS_EVENTLOOP_DELAY_P99,
  METRIC_NODEJS_EVENTLOOP_TIME,
  METRIC_PROCESS_CPU_TIME,
  METRIC_PROCESS_MEMORY_USAGE,
  METRIC_V8JS_GC_DURATION,
  METRIC_V8JS_MEMORY_HEAP_USED,
  NODEJS_EVENTLOOP_STATE_VALUE_ACTIVE,
  NODEJS_EVENTLOOP_STATE_VALUE_IDLE,
  V8JS_HEAP_SPACE_NAME_VALUE_NEW_SPACE,
  V8JS_HEAP_SPACE_NAME_VALUE_OLD_SPACE,
} from '@opentelemetry/semantic-conventions/incubating';
import { type ComponentName, infrastructure } from '../../infra/runner/components.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { logFile, startStack, stopStack } from '../../infra/runner/stack.ts';
import { countLogsBySpan, fetchTraceLogs, queryLogs } from '../../infra/runner/logs.ts';
import {
  buildSpanTree,
  fetchTrace,
  findTraces,
  type OtlpTraceData,
  type SpanNode,
} from '../../infra/runner/trace.ts';
import { eventually } from '../support/poll.ts';
import { query } from '../support/prometheus.ts';
import { useTemporaryStackState } from '../support/stack.ts';

const services: ComponentName[] = ['api', 'worker', 'signal-generator', 'trigger-dispatcher'];

/** `messaging.system`: deprecated in the package for a name that no release of the conventions defines yet. */
// eslint-disable-next-line @typescript-eslint/no-deprecated
const ATTR_MESSAGING_SYSTEM_KEY = ATTR_MESSAGING_SYSTEM;

interface Execution {
  traceId: string;
  pipelineId: string;
  executionId: string;
}
let execution: Promise<Execution> | undefined;

/** One manual execution (api → work queue → worker), made once and shared by the tests that read it. */
function manualExecution(): Promise<Execution> {
  execution ??= (async () => {
    const created = await fetch(`${api}/pipelines`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'conventions', strategy: 'momentum', symbols: ['BTCUSD'] }),
    });
    const { id } = (await created.json()) as { id: string };
    const triggered = await fetch(`${api}/pipelines/${id}/executions`, { method: 'POST' });
    assert.equal(triggered.status, 202);
    const { id: executionId } = (await triggered.json()) as { id: string };
    const traceId = triggered.headers.get('traceresponse')?.split('-')[1] ?? '';
    return { traceId, pipelineId: id, executionId };
  })();
  return execution;
}
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

const spanKinds = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
/** Jaeger's OTLP JSON writes the kind as a number or as its enum name. */
const isKind = (span: ReadSpan, kind: number) =>
  span.kind === kind || span.kind === `SPAN_KIND_${spanKinds[kind] ?? ''}`;
const isServer = (span: ReadSpan) => isKind(span, 2);
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

  describe('messaging spans and metrics', () => {
    it('a JetStream publish and its delivery: spans named by operation and template, every attribute the conventions ask', async () => {
      const { traceId, executionId } = await manualExecution();
      const spans = await eventually('the producer and consumer spans of the execution', async () => {
        const data = await fetchTrace(traceId);
        const all = data ? spansOf(data) : [];
        const producer = all.find((span) => span.service === 'api' && isKind(span, 4));
        const consumer = all.find((span) => span.service === 'worker' && isKind(span, 5));
        return producer && consumer ? { producer, consumer } : undefined;
      });
      for (const [span, operation, type] of [
        [spans.producer, 'publish', MESSAGING_OPERATION_TYPE_VALUE_SEND],
        [spans.consumer, 'process', MESSAGING_OPERATION_TYPE_VALUE_PROCESS],
      ] as const) {
        assert.equal(span.name, `${operation} executions.requests`);
        assert.equal(span.attributes[ATTR_MESSAGING_SYSTEM_KEY], 'nats');
        assert.equal(span.attributes[ATTR_MESSAGING_OPERATION_NAME], operation);
        assert.equal(span.attributes[ATTR_MESSAGING_OPERATION_TYPE], type);
        assert.equal(span.attributes[ATTR_MESSAGING_DESTINATION_NAME], 'executions.requests');
        assert.equal(span.attributes[ATTR_MESSAGING_DESTINATION_TEMPLATE], 'executions.requests');
        assert.equal(span.attributes[ATTR_MESSAGING_MESSAGE_ID], executionId, 'the Nats-Msg-Id');
        assert.ok(span.attributes[ATTR_MESSAGING_CLIENT_ID], 'the client id');
        assert.equal(span.attributes[ATTR_SERVER_ADDRESS], LOOPBACK);
        assert.equal(span.attributes[ATTR_SERVER_PORT], ports.natsClient);
        assert.equal(span.attributes['messaging.nats.subject'], undefined, 'no attribute of our own');
      }
      assert.equal(spans.consumer.attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME], 'worker');
    });

    it('a signal: the concrete subject as the destination, the template in the span name', async () => {
      const span = await eventually('a signal delivered to the trigger-dispatcher', async () => {
        for (const summary of await findTraces('trigger-dispatcher', 10, 5)) {
          const data = await fetchTrace(summary.traceId);
          const found = data
            ? spansOf(data).find((s) => s.service === 'trigger-dispatcher' && isKind(s, 5))
            : undefined;
          if (found?.name === 'process signals.*.*') return found;
        }
        return undefined;
      });
      assert.match(String(span.attributes[ATTR_MESSAGING_DESTINATION_NAME]), /^signals\.(buy|sell)\.[A-Z]+$/);
      assert.equal(span.attributes[ATTR_MESSAGING_DESTINATION_TEMPLATE], 'signals.*.*');
      assert.equal(span.attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME], 'trigger-dispatcher');
    });

    it('the four metrics: required labels, templates never subjects, the advised buckets', async () => {
      const sent = await eventually('the api’s sent messages', async () => {
        const found = await query(
          `${prometheusName(METRIC_MESSAGING_CLIENT_SENT_MESSAGES, '', true)}{job="api"}`,
        );
        return found.length > 0 ? found : undefined;
      });
      for (const { metric } of sent) {
        assert.equal(metric[label(ATTR_MESSAGING_SYSTEM_KEY)], 'nats');
        assert.equal(metric[label(ATTR_MESSAGING_OPERATION_NAME)], 'publish');
        assert.equal(metric[label(ATTR_MESSAGING_DESTINATION_TEMPLATE)], 'executions.requests');
        assert.equal(metric[label(ATTR_SERVER_ADDRESS)], LOOPBACK);
      }
      const consumed = await query(
        `${prometheusName(METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES, '', true)}{job="worker"}`,
      );
      assert.ok(consumed.length > 0, 'the worker counts what it consumes');
      for (const { metric } of consumed) {
        assert.equal(metric[label(ATTR_MESSAGING_OPERATION_NAME)], 'process');
        assert.equal(metric[label(ATTR_MESSAGING_CONSUMER_GROUP_NAME)], 'worker');
        assert.equal(metric[label(ATTR_ERROR_TYPE)], undefined, 'a delivery does not fail');
      }
      const buckets = await query(
        `count by (le) (${prometheusName(METRIC_MESSAGING_PROCESS_DURATION, '_seconds')}_bucket{job="worker"})`,
      );
      assert.deepEqual(
        buckets
          .map(({ metric }) => (metric.le === '+Inf' ? Infinity : Number(metric.le)))
          .sort((a, b) => a - b),
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, Infinity],
      );
      const operation = await query(
        `${prometheusName(METRIC_MESSAGING_CLIENT_OPERATION_DURATION, '_seconds')}_count{job="api"}`,
      );
      assert.ok(operation.length > 0, 'publishes are timed');
      const bySubject = await query(
        '{__name__=~"messaging_.+|traces_span_metrics_.+", messaging_destination_name!=""}',
      );
      assert.deepEqual(bySubject, [], 'no series by concrete subject');
    });
  });

  describe('runtime metrics', () => {
    it('heap by space, the event loop by state, CPU by mode, GC pauses in the advised buckets', async () => {
      const labelValues = async (metric: string, attribute: string) => {
        const found = await eventually(`${metric} of the api`, async () => {
          const samples = await query(`${metric}{job="api"}`);
          return samples.length > 0 ? samples : undefined;
        });
        return new Set(found.map(({ metric: labels }) => labels[label(attribute)]));
      };
      const spaces = await labelValues(
        prometheusName(METRIC_V8JS_MEMORY_HEAP_USED, '_bytes'),
        ATTR_V8JS_HEAP_SPACE_NAME,
      );
      for (const space of [V8JS_HEAP_SPACE_NAME_VALUE_NEW_SPACE, V8JS_HEAP_SPACE_NAME_VALUE_OLD_SPACE])
        assert.ok(spaces.has(space), `${space} among ${[...spaces].join(', ')}`);
      assert.deepEqual(
        [
          ...(await labelValues(
            prometheusName(METRIC_NODEJS_EVENTLOOP_TIME, '_seconds', true),
            ATTR_NODEJS_EVENTLOOP_STATE,
          )),
        ].sort(),
        [NODEJS_EVENTLOOP_STATE_VALUE_ACTIVE, NODEJS_EVENTLOOP_STATE_VALUE_IDLE],
      );
      assert.deepEqual(
        [
          ...(await labelValues(prometheusName(METRIC_PROCESS_CPU_TIME, '_seconds', true), ATTR_CPU_MODE)),
        ].sort(),
        [CPU_MODE_VALUE_SYSTEM, CPU_MODE_VALUE_USER],
      );
      assert.ok(
        (await query(`${prometheusName(METRIC_NODEJS_EVENTLOOP_DELAY_P99, '_seconds')}{job="api"}`)).length >
          0,
      );
      assert.ok(
        (await query(`${prometheusName(METRIC_PROCESS_MEMORY_USAGE, '_bytes')}{job="api"}`)).length > 0,
      );
      const gcBuckets = await eventually('a garbage collection of the api', async () => {
        const found = await query(
          `count by (le) (${prometheusName(METRIC_V8JS_GC_DURATION, '_seconds')}_bucket{job="api"})`,
        );
        return found.length > 0 ? found : undefined;
      });
      assert.deepEqual(
        gcBuckets
          .map(({ metric }) => (metric.le === '+Inf' ? Infinity : Number(metric.le)))
          .sort((a, b) => a - b),
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, Infinity],
      );
      assert.deepEqual(
        await query('{__name__=~"v8js_memory_heap_limit.*"}'),
        [],
        'no heap limit: the conventions have none',
      );
    });
  });

  describe('logs', () => {
    it('carry trace_id, span_id and trace_flags, so a line tells whether its trace was kept', async () => {
      const { traceId } = await manualExecution();
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

    it('reach VictoriaLogs as OTLP records: every service of a trace, in its spans, severity and attributes intact', async () => {
      const { traceId, pipelineId } = await manualExecution();
      const wanted = ['api:execution requested', 'worker:execution finished'];
      const records = await eventually('the records of the execution’s trace', async () => {
        const found = await fetchTraceLogs(traceId);
        const seen = found.map((r) => `${r['service.name']}:${r._msg}`);
        return wanted.every((w) => seen.includes(w)) ? found : undefined;
      });
      const spans = await eventually('the trace in Jaeger', async () => {
        const data = await fetchTrace(traceId);
        return data ? buildSpanTree(data) : undefined;
      });
      const spanIds = new Map<string, string>();
      const collect = (nodes: SpanNode[]) => {
        for (const node of nodes) {
          spanIds.set(node.spanId, node.service);
          collect(node.children);
        }
      };
      collect(spans);
      for (const [service, message] of wanted.map((w) => w.split(':') as [string, string])) {
        const record = records.find((r) => r['service.name'] === service && r._msg === message);
        assert.ok(record, `${service}: ${message}`);
        assert.equal(record.severity_text, 'info');
        assert.equal(record.severity_number, String(SeverityNumber.INFO));
        assert.equal(record.pipelineId, pipelineId, 'attributes are fields of their own');
        assert.equal(record.trace_id, traceId);
        assert.equal(
          spanIds.get(record.span_id ?? ''),
          service,
          `${service}'s record is in one of its own spans`,
        );
        assert.equal(record['deployment.environment.name'], 'local', 'the resource came along');
      }
      const requested = records.find((r) => r._msg === 'execution requested');
      assert.equal(requested?.triggerMode, 'manual');
      // The CLI shows the same records in time order, and counts them on the span tree.
      const counts = await countLogsBySpan(traceId);
      assert.ok([...counts.values()].reduce((sum, n) => sum + n, 0) >= wanted.length);
    });

    it('a record written outside any span arrives too, without trace ids', async () => {
      const [ready] = await eventually('the api’s start-up record', async () => {
        const found = await queryLogs('_stream:{service.name="api"} _msg:="ready"', 1);
        return found.length > 0 ? found : undefined;
      });
      assert.equal(ready?.severity_text, 'info');
      assert.equal(ready?.trace_id, undefined);
      assert.equal(ready?.span_id, undefined);
    });
  });
});
