/**
 * docs/telemetry-reference.md, generated from the code: everything the library and the platform
 * emit. The library's own metrics and span attributes are not listed by hand: HTTP requests, a
 * NATS publish and a NATS delivery go through the real instrumentation with in-memory exporters,
 * and what comes out is what the page shows. The platform's metrics come from its catalog, with
 * the places in the code that record each. What the conventions require of each span attribute,
 * and what we do where we leave one out, is the table `conventions` below.
 *
 *   npm run reference            (tests/config/reference.test.ts fails when the page is stale)
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { PubAck } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { catalog } from '@tradeobs/platform';
import { httpInstrumentation } from '@tradeobs/telemetry/hono';
import { NatsInstrumentation } from '@tradeobs/telemetry/nats';
import { testTelemetry } from '@tradeobs/telemetry/testing';
import { Hono } from 'hono';

const repoRoot = join(import.meta.dirname, '../..');

type Level = 'required' | 'conditionally required' | 'recommended' | 'opt-in';
type SpanGroup = 'HTTP server' | 'messaging producer' | 'messaging consumer';

/** What producer and consumer spans share in the messaging conventions (v1.44). */
/** An attribute's level in the conventions; `leftOut` where we do not set it, the note says why. */
interface Convention {
  level: Level;
  note?: string;
  leftOut?: true;
}

const messagingSpans: Record<string, Convention> = {
  'messaging.system': {
    level: 'required',
    note: '`nats`, a value of our own: the conventions list none for NATS. Still `messaging.system`: no release defines the `messaging.system.name` that @opentelemetry/semantic-conventions 1.45 points to',
  },
  'messaging.operation.name': { level: 'required', note: '`publish`, `request` or `process`' },
  'messaging.destination.name': { level: 'conditionally required', note: 'the concrete subject' },
  'messaging.destination.template': {
    level: 'conditionally required',
    note: 'the subject template that matched (also the span name’s destination)',
  },
  'messaging.destination.temporary': {
    level: 'conditionally required',
    note: '`true` for `_INBOX.` replies',
  },
  'messaging.destination.anonymous': {
    level: 'conditionally required',
    note: '`true` for `_INBOX.` replies',
  },
  'messaging.message.id': { level: 'recommended', note: 'the `Nats-Msg-Id` header (JetStream’s `msgID`)' },
  'messaging.client.id': { level: 'recommended', note: 'the client id the server assigned' },
  'server.address': { level: 'recommended', note: 'the server the connection is on' },
  'server.port': { level: 'recommended' },
  'messaging.message.body.size': { level: 'opt-in', note: 'only with `messageBodySize: true`' },
  'network.peer.address': {
    level: 'recommended',
    leftOut: true,
    note: 'nats.js tells the configured server, not the socket’s peer',
  },
};

/**
 * The conventions' requirement level of each attribute of our spans (semantic conventions
 * v1.44: HTTP spans, messaging spans), and what we do where it is not simply "set".
 */
const conventions: Record<SpanGroup, Record<string, Convention>> = {
  'HTTP server': {
    'http.request.method': { level: 'required', note: 'an unknown method is `_OTHER`' },
    'http.request.method_original': { level: 'conditionally required', note: 'when the method was unknown' },
    'url.scheme': { level: 'required', note: "a proxy's X-Forwarded-Proto (http or https) wins" },
    'url.path': { level: 'required' },
    'url.query': {
      level: 'conditionally required',
      note: 'when there is one; signed-URL credentials redacted',
    },
    'http.route': {
      level: 'conditionally required',
      note: 'the matched template; absent when no route matched',
    },
    'http.response.status_code': { level: 'conditionally required' },
    'error.type': { level: 'conditionally required', note: 'on a 5xx only: a 4xx is the client’s error' },
    'server.address': { level: 'recommended', note: 'X-Forwarded-Host, else Host' },
    'server.port': { level: 'conditionally required', note: 'when the Host header names a port' },
    'network.protocol.version': { level: 'recommended' },
    'client.address': { level: 'recommended', note: 'the first X-Forwarded-For entry, else the peer' },
    'user_agent.original': { level: 'recommended' },
  },
  'messaging producer': {
    ...messagingSpans,
    'messaging.operation.type': { level: 'conditionally required', note: '`send`' },
    'error.type': {
      level: 'conditionally required',
      note: 'when the send failed (`TimeoutError`, `NoRespondersError`, …), with status ERROR',
    },
  },
  'messaging consumer': {
    ...messagingSpans,
    'messaging.operation.type': { level: 'conditionally required', note: '`process`' },
    'messaging.consumer.group.name': {
      level: 'recommended',
      note: 'the durable consumer or queue group, when known (a registry attribute since v1.44, set as the Kafka and RabbitMQ refinements do)',
    },
    'error.type': {
      level: 'conditionally required',
      note: 'when the handler failed, with status ERROR and an exception event',
    },
  },
};

/** The Prometheus name that the collector's remote write gives an OpenTelemetry metric. */
export function prometheusName(name: string, unit: string, kind: string): string {
  const suffix =
    unit === 's' ? 'seconds' : unit === 'By' ? 'bytes' : unit === '1' && kind === 'gauge' ? 'ratio' : '';
  let base = name.replaceAll('.', '_');
  if (suffix && !base.endsWith(`_${suffix}`)) base = `${base}_${suffix}`;
  return kind === 'counter' ? `${base}_total` : base;
}

function kindOf(metric: MetricData): string {
  if (metric.dataPointType === DataPointType.HISTOGRAM) return 'histogram';
  if (metric.dataPointType === DataPointType.SUM) return metric.isMonotonic ? 'counter' : 'updowncounter';
  return 'gauge';
}

/**
 * The runtime metrics that report only once something happened: a garbage collection (forced
 * here, so the page does not depend on whether one ran) and event-loop delay samples.
 */
async function runtimeObservations(): Promise<void> {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  await sleep(100);
}

interface MetricRow {
  name: string;
  kind: string;
  unit: string;
  attributes: Set<string>;
  buckets: readonly number[] | undefined;
}

/** Runs the library's instrumentation once for every kind of operation and reads what it recorded. */
interface LibraryTelemetry {
  metrics: MetricRow[];
  spans: Map<SpanGroup, Set<string>>;
  /** One log record as the logger makes it, inside a span, with a field and an error. */
  logRecord: ReadableLogRecord | undefined;
}

async function libraryTelemetry(): Promise<LibraryTelemetry> {
  const { telemetry, spans, metrics, logRecords } = testTelemetry();
  const app = new Hono();
  app.use(httpInstrumentation(telemetry));
  app.get('/items/:id', (c) => c.json({ id: c.req.param('id') }));
  app.get('/fail', () => {
    throw new Error('boom');
  });
  app.onError((_error, c) => c.json({ error: 'internal' }, 500));
  // What @hono/node-server hands the middleware: Node's request, with its parsed headers.
  const node = {
    incoming: {
      httpVersion: '1.1',
      socket: { remoteAddress: '127.0.0.1' },
      headers: { host: 'service:8000', 'user-agent': 'reference/1.0', 'content-length': '2' },
    },
  };
  await app.fetch(new Request('http://service:8000/items/1?view=full'), node);
  await app.fetch(new Request('http://service:8000/fail'), node);
  await app.fetch(new Request('http://service:8000/items/1', { method: 'BREW' }), node);

  // What a connection tells of itself: the server it is on and the id it was given there.
  const connection = { getServer: () => 'nats:4222', info: { client_id: 7 } } as unknown as Pick<
    NatsConnection,
    'getServer' | 'info'
  >;
  const messaging = new NatsInstrumentation(telemetry, { subjectTemplates: ['orders.*'], connection });
  // A stream that acknowledges at once: what is measured is the instrumentation, not NATS.
  const stream = { publish: () => Promise.resolve({ stream: 'ORDERS', seq: 1, duplicate: false } as PubAck) };
  await messaging.jetstreamPublish(stream, 'orders.new', new Uint8Array(2), {
    msgID: 'order-1',
  });
  const delivered = natsHeaders();
  delivered.set('Nats-Msg-Id', 'order-1');
  await messaging.process(
    { subject: 'orders.new', data: new Uint8Array(2), headers: delivered },
    () => undefined,
    { consumerGroup: 'fulfilment' },
  );
  await runtimeObservations();
  telemetry.tracer.startActiveSpan('logged', (span) => {
    telemetry.logger.warn('order rejected', { orderId: 'o-1', error: new RangeError('over the limit') });
    span.end();
  });

  const rows = new Map<string, MetricRow>();
  for (const metric of await metrics()) {
    const row = rows.get(metric.descriptor.name) ?? {
      name: metric.descriptor.name,
      kind: kindOf(metric),
      unit: metric.descriptor.unit,
      attributes: new Set<string>(),
      buckets: undefined,
    };
    for (const point of metric.dataPoints) {
      for (const key of Object.keys(point.attributes)) row.attributes.add(key);
      const value = point.value as { buckets?: { boundaries: number[] } };
      if (value.buckets) row.buckets = value.buckets.boundaries;
    }
    rows.set(row.name, row);
  }
  const spanAttributes = new Map<SpanGroup, Set<string>>();
  for (const span of spans.getFinishedSpans()) {
    const group: SpanGroup =
      span.kind === SpanKind.SERVER
        ? 'HTTP server'
        : span.kind === SpanKind.CONSUMER
          ? 'messaging consumer'
          : 'messaging producer';
    const keys = spanAttributes.get(group) ?? new Set<string>();
    for (const key of Object.keys(span.attributes)) keys.add(key);
    spanAttributes.set(group, keys);
  }
  // Before shutdown, which empties the in-memory exporters.
  const [logRecord] = logRecords();
  await telemetry.shutdown();
  return {
    metrics: [...rows.values()].sort((a, b) => a.name.localeCompare(b.name)),
    spans: spanAttributes,
    logRecord,
  };
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.parentPath.includes('node_modules'))
    .filter((e) => !e.parentPath.split('/').includes('test'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Where each catalog metric is recorded: every `metrics.<key>` (or `metrics: { <key> }`) use outside the catalog. */
async function recordedAt(keys: readonly string[]): Promise<Map<string, string[]>> {
  const places = new Map<string, string[]>(keys.map((key) => [key, []]));
  const files = [
    ...(await sourceFiles(join(repoRoot, 'apps'))),
    ...(await sourceFiles(join(repoRoot, 'libs/platform/src'))),
  ];
  for (const file of files) {
    if (file.endsWith('metrics.ts') && file.includes('libs/platform')) continue;
    const lines = (await readFile(file, 'utf8')).split('\n');
    for (const key of keys) {
      const pattern = new RegExp(`\\bmetrics\\.${key}\\b|\\b${key}\\.(add|record)\\(`);
      // Files, not lines: the page should not go stale with every edit above a recording.
      if (lines.some((line) => pattern.test(line))) places.get(key)?.push(relative(repoRoot, file));
    }
  }
  return places;
}

const code = (text: string) => `\`${text}\``;
const list = (items: Iterable<string>) => [...items].sort().map(code).join(', ') || '—';

export async function renderReference(): Promise<string> {
  const library = await libraryTelemetry();
  const lines = [
    '# Telemetry reference',
    '',
    'Generated by `npm run reference` from the code (docs/reference/reference.ts); `npm test` fails when it is stale.',
    'Prometheus names are those the collector’s remote write gives: dots become underscores, the unit adds a',
    'suffix (`s` → `_seconds`, `By` → `_bytes`), counters end in `_total`; attributes become labels the same way.',
    '',
    '## Metrics of the library (`@tradeobs/telemetry`)',
    '',
    'Recorded by the instrumentation itself, as an HTTP request, a NATS publish and a NATS delivery made them.',
    '',
    '| metric | Prometheus | kind | unit | attributes | buckets |',
    '|---|---|---|---|---|---|',
    ...library.metrics.map(
      (m) =>
        `| ${code(m.name)} | ${code(prometheusName(m.name, m.unit, m.kind))} | ${m.kind} | ${code(m.unit)} | ${list(m.attributes)} | ${m.buckets ? m.buckets.join(', ') : '—'} |`,
    ),
    '',
    '## Span attributes',
    '',
  ];
  for (const [group, expected] of Object.entries(conventions) as [
    SpanGroup,
    (typeof conventions)[SpanGroup],
  ][]) {
    const emitted = library.spans.get(group) ?? new Set<string>();
    lines.push(`### ${group} spans`, '', '| attribute | conventions | we | note |', '|---|---|---|---|');
    for (const [attribute, { level, note, leftOut }] of Object.entries(expected)) {
      const state = emitted.has(attribute)
        ? 'set'
        : leftOut
          ? 'left out'
          : level === 'opt-in'
            ? 'opt-in, off'
            : 'when it applies';
      lines.push(`| ${code(attribute)} | ${level} | ${state} | ${note ?? ''} |`);
    }
    const extra = [...emitted].filter((attribute) => !(attribute in expected)).sort();
    if (extra.length > 0) lines.push('', `Also set, outside the conventions' list: ${list(extra)}.`);
    lines.push('');
  }
  const record = library.logRecord;
  lines.push(
    '## Log records',
    '',
    'Each call of the library’s logger is a JSON line on standard output and an OpenTelemetry log record, as this one:',
    "`logger.warn('order rejected', { orderId: 'o-1', error: new RangeError(…) })` inside a span.",
    '',
    '| field | value |',
    '|---|---|',
    `| severity | ${code(String(record?.severityNumber))} (\`${record?.severityText ?? ''}\`) |`,
    `| body | ${code(String(record?.body))} |`,
    `| attributes | ${list(Object.keys(record?.attributes ?? {}))} |`,
    `| trace context | ${record?.spanContext ? '`trace_id`, `span_id`, `trace_flags` of the active span' : '—'} |`,
    `| resource | ${list(Object.keys(record?.resource.attributes ?? {}).filter((key) => !key.startsWith('process.') && !key.startsWith('host.')))} |`,
    '',
    'The first Error among the fields becomes the `exception.*` attributes, further ones are fields in the JSON',
    'line’s form; a body is cut to `TELEMETRY_LOG_BODY_LENGTH_LIMIT` characters and attributes to the record limits.',
    '',
  );
  const places = await recordedAt(Object.keys(catalog));
  lines.push(
    '## Metrics of the platform (its catalog, `libs/platform/src/metrics.ts`)',
    '',
    'A series limit marked "forgettable": the service drops the series of a pipeline or bot when it is deleted.',
    '',
    '| metric | Prometheus | kind | unit | attributes | buckets | series limit | recorded in |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const [key, definition] of Object.entries(catalog)) {
    const kind = definition.kind === 'upDownCounter' ? 'updowncounter' : definition.kind;
    const where = places.get(key) ?? [];
    lines.push(
      `| ${code(definition.name)} | ${code(prometheusName(definition.name, definition.unit, kind))} | ${kind} | ${code(definition.unit)} | ${list(definition.attributes)} | ${definition.buckets?.join(', ') ?? '—'} | ${definition.cardinalityLimit}${definition.forgettable ? ', forgettable' : ''} | ${where.map(code).join('<br>') || '—'} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
