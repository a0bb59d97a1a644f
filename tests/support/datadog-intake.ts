/**
 * A stand-in for Datadog's OTLP intake (otlp.<site>/v1/{metrics,traces,logs}), so the end-to-end
 * test of the datadog collector profile can run without an account or the network and still fail
 * for the reasons the real intake would refuse or misfile our data: a wrong API key, a body that
 * is not OTLP protobuf, monotonic sums or histograms that are not delta (Datadog's metrics intake
 * takes only delta for those), and resources without the unified service tags (service.name,
 * deployment.environment.name, service.version), which Datadog needs to attribute data to a
 * service, env and version. It also keeps the points it received, so a test can check what the
 * collector's cumulativetodelta conversion actually produced.
 *
 * The OTLP messages are parsed from a minimal inline .proto (field numbers as in
 * opentelemetry-proto): the SDK's otlp-transformer only encodes requests and decodes responses,
 * and no installed package ships the .proto files.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import protobuf from 'protobufjs';
import { MAX_BODY_BYTES, readBody } from './request-body.ts';

export interface DatadogIntake {
  /** http://127.0.0.1:<port>, the base the profile's endpoints append /v1/... to (DD_OTLP_URL). */
  readonly url: string;
  /** Requests answered 200, per signal. */
  readonly requests: { metrics: number; traces: number; logs: number };
  /** Requests answered 403 because dd-api-key was missing or wrong. */
  readonly refused: number;
  /** Distinct problems, each naming the signal, the resource's service.name, the metric and what is wrong. */
  readonly violations: string[];
  /** Every point of a monotonic sum or a histogram, as received (whatever its temporality). */
  readonly points: DeltaPoint[];
  /** The string attributes of every resource seen, of all signals. */
  readonly resources: Array<Record<string, string>>;
  close(): Promise<void>;
}

export interface DeltaPoint {
  metric: string;
  kind: 'sum' | 'histogram';
  temporality: 'delta' | 'cumulative' | 'unspecified';
  /** The resource's service.name. */
  service: string;
  /** The resource's service.instance.id ('' if absent). */
  instance: string;
  /** The point's attributes, values stringified. */
  attributes: Record<string, string>;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  /** The sum's value (as_double or as_int), or the histogram's count. */
  value: number;
  /** The histogram's sum, when it has one. */
  sum?: number;
}

// Only what the checks read; protobufjs skips the fields left out, so the real messages decode.
const OTLP_PROTO = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue {
  string key = 1;
  AnyValue value = 2;
}
message Resource { repeated KeyValue attributes = 1; }

message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics {
  Resource resource = 1;
  repeated ScopeMetrics scope_metrics = 2;
}
message ScopeMetrics { repeated Metric metrics = 2; }
message Metric {
  string name = 1;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
    Histogram histogram = 9;
    ExponentialHistogram exponential_histogram = 10;
    Summary summary = 11;
  }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum {
  repeated NumberDataPoint data_points = 1;
  int32 aggregation_temporality = 2;
  bool is_monotonic = 3;
}
message Histogram {
  repeated HistogramDataPoint data_points = 1;
  int32 aggregation_temporality = 2;
}
message ExponentialHistogram { int32 aggregation_temporality = 2; }
message Summary {}
message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value {
    double as_double = 4;
    sfixed64 as_int = 6;
  }
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
}

message ExportTraceServiceRequest { repeated ResourceOnly resource_spans = 1; }
message ExportLogsServiceRequest { repeated ResourceOnly resource_logs = 1; }
message ResourceOnly { Resource resource = 1; }
`;

// The shapes toObject produces with the options below: 64-bit integers as decimal strings
// (nanosecond times exceed 2^53), bytes as base64, absent scalars left out.
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values: AnyValue[] };
  kvlistValue?: { values: KeyValue[] };
  bytesValue?: string;
}
interface KeyValue {
  key?: string;
  value?: AnyValue;
}
interface Resource {
  attributes: KeyValue[];
}
interface NumberDataPoint {
  attributes: KeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  asDouble?: number;
  asInt?: string;
}
interface HistogramDataPoint {
  attributes: KeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  count?: string;
  sum?: number;
}
interface Metric {
  name?: string;
  gauge?: object;
  sum?: { dataPoints: NumberDataPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  histogram?: { dataPoints: HistogramDataPoint[]; aggregationTemporality?: number };
  exponentialHistogram?: { aggregationTemporality?: number };
  summary?: object;
}
interface MetricsRequest {
  resourceMetrics: { resource?: Resource; scopeMetrics: { metrics: Metric[] }[] }[];
}
interface TracesRequest {
  resourceSpans: { resource?: Resource }[];
}
interface LogsRequest {
  resourceLogs: { resource?: Resource }[];
}

type Signal = 'metrics' | 'traces' | 'logs';

const root = protobuf.parse(OTLP_PROTO).root;
const requestTypes: Record<Signal, protobuf.Type> = {
  metrics: root.lookupType('otlp.ExportMetricsServiceRequest'),
  traces: root.lookupType('otlp.ExportTraceServiceRequest'),
  logs: root.lookupType('otlp.ExportLogsServiceRequest'),
};
const toObjectOptions: protobuf.IConversionOptions = { longs: String, bytes: String, arrays: true };

const UNIFIED_SERVICE_TAGS = ['service.name', 'deployment.environment.name', 'service.version'];
const TEMPORALITY = { 1: 'delta', 2: 'cumulative' } as const;
const gunzipAsync = promisify(gunzip);

export async function startDatadogIntake(options: { apiKey: string; port?: number }): Promise<DatadogIntake> {
  const requests = { metrics: 0, traces: 0, logs: 0 };
  let refused = 0;
  // A collector resends the same series every interval; one line per distinct problem stays readable.
  const violations = new Set<string>();
  const violationList: string[] = [];
  const points: DeltaPoint[] = [];
  const resources: Array<Record<string, string>> = [];

  function violation(text: string): void {
    if (violations.has(text)) return;
    violations.add(text);
    violationList.push(text);
  }

  function checkResource(signal: Signal, resource: Resource | undefined): Record<string, string> {
    const attributes: Record<string, string> = {};
    for (const { key, value } of resource?.attributes ?? []) {
      if (key !== undefined && value?.stringValue !== undefined) attributes[key] = value.stringValue;
    }
    resources.push(attributes);
    for (const tag of UNIFIED_SERVICE_TAGS) {
      if (!attributes[tag]) {
        violation(`${signal} service=${serviceOf(attributes)}: resource lacks the string attribute ${tag}`);
      }
    }
    return attributes;
  }

  function checkMetrics(request: MetricsRequest): void {
    for (const { resource, scopeMetrics } of request.resourceMetrics) {
      const attributes = checkResource('metrics', resource);
      const service = serviceOf(attributes);
      const instance = attributes['service.instance.id'] ?? '';
      for (const metric of scopeMetrics.flatMap((scope) => scope.metrics)) {
        const name = metric.name ?? '';
        const notDelta = (kind: string, temporality: number | undefined): void => {
          if (temporality === 1) return;
          violation(
            `metrics service=${service} metric=${name}: ${kind} has ${temporalityOf(temporality)} temporality, ` +
              'the intake takes only delta',
          );
        };
        // Which series and interval a point is, whatever its kind.
        const where = (point: NumberDataPoint | HistogramDataPoint) => ({
          metric: name,
          service,
          instance,
          attributes: stringifyAttributes(point.attributes),
          startTimeUnixNano: BigInt(point.startTimeUnixNano ?? 0),
          timeUnixNano: BigInt(point.timeUnixNano ?? 0),
        });
        if (metric.sum?.isMonotonic) {
          const temporality = temporalityOf(metric.sum.aggregationTemporality);
          notDelta('monotonic sum', metric.sum.aggregationTemporality);
          for (const point of metric.sum.dataPoints) {
            points.push({
              ...where(point),
              kind: 'sum',
              temporality,
              value: point.asDouble ?? Number(point.asInt ?? 0),
            });
          }
        } else if (metric.histogram) {
          const temporality = temporalityOf(metric.histogram.aggregationTemporality);
          notDelta('histogram', metric.histogram.aggregationTemporality);
          for (const point of metric.histogram.dataPoints) {
            points.push({
              ...where(point),
              kind: 'histogram',
              temporality,
              value: Number(point.count ?? 0),
              ...(point.sum === undefined ? {} : { sum: point.sum }),
            });
          }
        } else if (metric.exponentialHistogram) {
          notDelta('exponential histogram', metric.exponentialHistogram.aggregationTemporality);
        }
        // Gauges, summaries and non-monotonic sums of any temporality are accepted (as gauges).
      }
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const signal = signalOf(req);
    if (!signal) return answer(res, 404, 'text/plain', 'not found');
    if (req.headers['dd-api-key'] !== options.apiKey) {
      refused += 1;
      return answer(res, 403, 'application/json', JSON.stringify({ errors: ['Forbidden'] }));
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/x-protobuf') {
      violation(
        `${signal}: content-type ${contentType || '(none)'}, the intake takes application/x-protobuf`,
      );
      return answer(res, 415, 'text/plain', 'unsupported media type');
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'gzip' && encoding !== 'identity') {
      violation(`${signal}: content-encoding ${encoding}, expected gzip or none`);
      return answer(res, 415, 'text/plain', 'unsupported content encoding');
    }

    let body = await readBody(req);
    if (!body) return answer(res, 413, 'text/plain', 'payload too large', true);
    if (encoding === 'gzip') {
      try {
        body = await gunzipAsync(body, { maxOutputLength: MAX_BODY_BYTES });
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
          return answer(res, 413, 'text/plain', 'payload too large');
        }
        violation(`${signal}: body is not valid gzip (${String(error)})`);
        return answer(res, 400, 'text/plain', 'invalid gzip');
      }
    }

    let decoded: unknown;
    try {
      const type = requestTypes[signal];
      decoded = type.toObject(type.decode(body), toObjectOptions);
    } catch (error) {
      violation(`${signal}: body is not an OTLP export request (${String(error)})`);
      return answer(res, 400, 'text/plain', 'invalid protobuf');
    }
    if (signal === 'metrics') checkMetrics(decoded as MetricsRequest);
    else if (signal === 'traces')
      for (const r of (decoded as TracesRequest).resourceSpans) checkResource(signal, r.resource);
    else for (const r of (decoded as LogsRequest).resourceLogs) checkResource(signal, r.resource);

    requests[signal] += 1;
    // An empty body is a valid Export*ServiceResponse: no partial_success, everything accepted.
    answer(res, 200, 'application/x-protobuf', '');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      violation(`intake failed on ${req.method ?? ''} ${req.url ?? ''}: ${String(error)}`);
      if (!res.headersSent) answer(res, 500, 'text/plain', 'internal error');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get refused() {
      return refused;
    },
    violations: violationList,
    points,
    resources,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // The exporter keeps its connection alive; without this close() would wait for it to idle out.
        server.closeAllConnections();
      }),
  };
}

function signalOf(req: IncomingMessage): Signal | undefined {
  if (req.method !== 'POST') return undefined;
  const path = new URL(req.url ?? '/', 'http://intake').pathname;
  if (path === '/v1/metrics') return 'metrics';
  if (path === '/v1/traces') return 'traces';
  if (path === '/v1/logs') return 'logs';
  return undefined;
}

function answer(res: ServerResponse, status: number, contentType: string, body: string, close = false): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

function serviceOf(attributes: Record<string, string>): string {
  return attributes['service.name'] || '(no service.name)';
}

function temporalityOf(value: number | undefined): DeltaPoint['temporality'] {
  return value === 1 || value === 2 ? TEMPORALITY[value] : 'unspecified';
}

function stringifyAttributes(attributes: KeyValue[]): Record<string, string> {
  return Object.fromEntries(attributes.map(({ key, value }) => [key ?? '', stringify(value)]));
}

function stringify(value: AnyValue | undefined): string {
  if (!value) return '';
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return String(value.boolValue);
  if (value.intValue !== undefined) return value.intValue;
  if (value.doubleValue !== undefined) return String(value.doubleValue);
  if (value.arrayValue) return JSON.stringify(value.arrayValue.values.map(stringify));
  if (value.kvlistValue) return JSON.stringify(stringifyAttributes(value.kvlistValue.values));
  return value.bytesValue ?? '';
}
