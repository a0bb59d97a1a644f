/**
 * TLS from the telemetry library to the real collector, with certificates this test makes. A
 * service sends to a collector it cannot reach in plaintext once the collector sits behind a
 * load balancer, in another cluster or at a vendor: then OTEL_EXPORTER_OTLP_CERTIFICATE,
 * _CLIENT_CERTIFICATE and _CLIENT_KEY, an https:// (or scheme-less) endpoint and
 * OTEL_EXPORTER_OTLP_INSECURE are the whole contract, and only a real TLS server proves that the
 * library reads them, hands them to the transports and fails safely when they are wrong.
 *
 * The test makes its own CA, a server certificate for 127.0.0.1 (an IP SAN, as a client checks
 * it for an IP endpoint) and a client certificate, with the openssl CLI, and runs a second real
 * collector (the distribution the runner built) whose OTLP receiver requires mutual TLS on gRPC
 * and HTTP. That collector marks what it receives (`collector.tls=mutual`) and forwards it in
 * plaintext to the stack's collector, so a span in Jaeger and a metric in Prometheus with the
 * mark prove that they came through the TLS hop, and not by the plaintext default endpoint.
 * Its own receiver counters show what it accepted: nothing, when the client's TLS is wrong.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { counter } from '../../libs/telemetry/src/catalog/index.ts';
import { initTelemetry } from '../../libs/telemetry/src/telemetry.ts';
import { infrastructure } from '../../infra/runner/components.ts';
import { ensureInstalled } from '../../infra/runner/install.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../infra/runner/stack.ts';
import { fetchTrace, type OtlpTraceData } from '../../infra/runner/trace.ts';
import { eventually } from '../support/poll.ts';
import { startProcess, stopProcesses } from '../support/processes.ts';
import { query, scrapedValue } from '../support/prometheus.ts';
import { type Certificates, makeCertificates } from '../support/certificates.ts';
import { useTemporaryStackState } from '../support/stack.ts';

const exec = promisify(execFile);
const runId = randomUUID().slice(0, 8);
/** What the TLS collector adds to every span and data point it receives. */
const mark = { key: 'collector.tls', value: 'mutual' } as const;
const catalog = {
  probes: counter({ name: 'tls.probes.sent', unit: '{probe}', description: 'Probes sent over TLS' }),
};
/** Short waits: a positive case is delivered within seconds, a negative one fails at once. */
const arrival = { timeoutMs: 30_000, intervalMs: 500 };

/** Distinct loopback ports that were free a moment ago (all held open together, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer().listen(0, LOOPBACK));
  await Promise.all(servers.map((server) => once(server, 'listening')));
  const found = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return found;
}

interface TlsCollectorPorts {
  grpc: number;
  http: number;
  health: number;
  metrics: number;
}

/**
 * The second collector: OTLP over gRPC and HTTP with mutual TLS (`client_ca_file` makes a
 * client certificate signed by our CA mandatory), the mark, and an insecure `otlp_grpc` hop to
 * the stack's collector. Its own metrics on a port of its own, never the stack's 8888.
 */
function tlsCollectorConfig(certs: Certificates, port: TlsCollectorPorts): string {
  const q = (value: string) => JSON.stringify(value);
  const tls = `
        tls:
          cert_file: ${q(certs.serverCert)}
          key_file: ${q(certs.serverKey)}
          client_ca_file: ${q(certs.ca)}`;
  return `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${LOOPBACK}:${port.grpc}${tls}
      http:
        endpoint: ${LOOPBACK}:${port.http}${tls}

processors:
  attributes/mark:
    actions:
      - key: ${mark.key}
        value: ${mark.value}
        action: upsert
  batch:
    timeout: 100ms

exporters:
  otlp_grpc/stack:
    endpoint: ${LOOPBACK}:${ports.collectorOtlpGrpc}
    tls:
      insecure: true

extensions:
  health_check:
    endpoint: ${LOOPBACK}:${port.health}

service:
  extensions: [health_check]
  telemetry:
    logs:
      level: info
      encoding: json
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: ${LOOPBACK}
                port: ${port.metrics}
                without_scope_info: true
  pipelines:
    traces:
      receivers: [otlp]
      processors: [attributes/mark, batch]
      exporters: [otlp_grpc/stack]
    metrics:
      receivers: [otlp]
      processors: [attributes/mark, batch]
      exporters: [otlp_grpc/stack]
`;
}

let workDir = '';
let certs: Certificates;
let tlsPorts: TlsCollectorPorts;

interface Counts {
  spans: number;
  points: number;
}

/** Spans and metric points the TLS collector accepted so far, over both transports. */
async function accepted(): Promise<Counts> {
  const url = `http://${LOOPBACK}:${tlsPorts.metrics}/metrics`;
  return {
    spans: await scrapedValue(url, 'otelcol_receiver_accepted_spans'),
    points: await scrapedValue(url, 'otelcol_receiver_accepted_metric_points'),
  };
}

interface Sent {
  service: string;
  traceId: string;
  /** Spans the SDK's exporter counted as exported (`otel.sdk.exporter.span.exported`), by outcome. */
  exported: { ok: number; failed: number };
  stats: { bufferedSpans: number; droppedSpans: number; retriedSpans: number };
  warnings: Record<string, unknown>[];
  url: string;
}

/**
 * One service instance with `env`: a span and a catalog counter, flushed, the exporter's own
 * metrics read through an in-memory reader, shut down. It must never throw, whatever the TLS
 * settings: telemetry that cannot be delivered must not take the service down.
 */
async function send(label: string, env: Record<string, string>): Promise<Sent> {
  const service = `e2e-tls-${label}-${runId}`;
  const selfMetrics = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const logs: Record<string, unknown>[] = [];
  const telemetry = initTelemetry({
    serviceName: service,
    serviceVersion: '1.0.0',
    catalog,
    // A typo in a variable, or a certificate file that cannot be read, fails here, not silently.
    strict: true,
    registerGlobal: false,
    metricReaders: [selfMetrics],
    shutdownTimeoutMillis: 3_000,
    logWrite: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
    env: {
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
      ...env,
    },
  });
  const span = telemetry.tracer.startSpan('tls probe');
  span.end();
  telemetry.metrics.probes.add(1);
  await assert.doesNotReject(telemetry.forceFlush());

  const { resourceMetrics } = await selfMetrics.collect();
  const exported = { ok: 0, failed: 0 };
  for (const metric of resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)) {
    if (metric.descriptor.name !== 'otel.sdk.exporter.span.exported') continue;
    for (const point of metric.dataPoints) {
      const outcome = point.attributes['error.type'] === undefined ? 'ok' : 'failed';
      exported[outcome] += point.value as number;
    }
  }
  const stats = telemetry.spanExportStats();
  const url = telemetry.config.otlpTraces.url;
  await assert.doesNotReject(telemetry.shutdown());
  return {
    service,
    traceId: span.spanContext().traceId,
    exported,
    stats,
    warnings: logs.filter((line) => line.level === 'warn'),
    url,
  };
}

function markedSpans(data: OtlpTraceData): number {
  const spans = (data.resourceSpans ?? []).flatMap((r) => (r.scopeSpans ?? []).flatMap((s) => s.spans ?? []));
  return spans.filter((s) =>
    s.attributes?.some((a) => a.key === mark.key && a.value.stringValue === mark.value),
  ).length;
}

const metricOf = (service: string) =>
  `tls_probes_sent_total{job="${service}", ${mark.key.replace('.', '_')}="${mark.value}"}`;

/** Both signals in the backends, with the TLS collector's mark; and the collector counted them. */
async function assertArrived(sent: Sent, baseline: Counts): Promise<void> {
  assert.deepEqual(sent.exported, { ok: 1, failed: 0 }, 'the exporter counted one span delivered');
  assert.deepEqual(sent.stats, { bufferedSpans: 0, droppedSpans: 0, retriedSpans: 0 });
  assert.deepEqual(sent.warnings, []);
  const trace = await eventually('the span in Jaeger', () => fetchTrace(sent.traceId), arrival);
  assert.equal(markedSpans(trace), 1, 'the span came through the TLS collector');
  const [sample] = await eventually(
    'the counter in Prometheus',
    async () => {
      const result = await query(metricOf(sent.service));
      return result.length > 0 ? result : undefined;
    },
    arrival,
  );
  assert.equal(sample?.value[1], '1');
  const now = await accepted();
  assert.ok(now.spans > baseline.spans && now.points > baseline.points, 'the TLS collector accepted both');
}

/**
 * Nothing of the service anywhere: the TLS collector accepted nothing (its counters, exact and
 * at once), and after a short wait neither Jaeger nor Prometheus has it. The library counted
 * the failed export, kept or dropped the span (by the transport's answer), delivered nothing
 * and warned once with the TLS error that `reason` matches.
 */
async function assertRefused(sent: Sent, baseline: Counts, reason: RegExp): Promise<void> {
  assert.deepEqual(await accepted(), baseline, 'the TLS collector accepted nothing');
  assert.equal(sent.exported.ok, 0, 'no span exported');
  assert.ok(sent.exported.failed >= 1, 'the failed export is counted with error.type');
  assert.ok(sent.stats.bufferedSpans + sent.stats.droppedSpans >= 1, 'the span is kept or dropped, counted');
  assert.equal(sent.stats.retriedSpans, 0, 'and never delivered');
  const warning = sent.warnings.find((w) => String(w.msg).startsWith('span export'));
  assert.ok(warning, `a warning about the export: ${JSON.stringify(sent.warnings)}`);
  assert.match(String(warning.error), reason);
  await sleep(2_000);
  assert.equal(await fetchTrace(sent.traceId), undefined, 'the span is not in Jaeger');
  assert.deepEqual(await query(metricOf(sent.service)), [], 'the counter is not in Prometheus');
  assert.deepEqual(await query(`tls_probes_sent_total{job="${sent.service}"}`), []);
}

describe('the telemetry library over TLS to a real collector', { timeout: 10 * 60_000 }, () => {
  /** The CA and the client's certificate: everything mutual TLS needs. */
  let trusted: Record<string, string> = {};

  before(async () => {
    try {
      await exec('openssl', ['version']);
    } catch {
      throw new Error('the openssl CLI is needed to make the certificates of this test; install openssl');
    }
    await useTemporaryStackState();
    await startStack(undefined, infrastructure);
    workDir = await mkdtemp(join(tmpdir(), 'telemetry-tls-'));
    certs = await makeCertificates(workDir);
    const [grpc, http, health, metrics] = (await freePorts(4)) as [number, number, number, number];
    tlsPorts = { grpc, http, health, metrics };
    const configFile = join(workDir, 'collector.yaml');
    await writeFile(configFile, tlsCollectorConfig(certs, tlsPorts));
    const { otelcol } = await ensureInstalled();
    // A config the collector does not understand fails here with its own message.
    await exec(otelcol, ['validate', '--config', configFile]);
    await startProcess({
      name: 'tls-collector',
      command: otelcol,
      args: ['--config', configFile],
      env: {},
      healthUrl: `http://${LOOPBACK}:${tlsPorts.health}/`,
    });
    trusted = {
      OTEL_EXPORTER_OTLP_CERTIFICATE: certs.ca,
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: certs.clientCert,
      OTEL_EXPORTER_OTLP_CLIENT_KEY: certs.clientKey,
    };
  });

  after(async () => {
    await stopProcesses();
    await stopStack();
    if (workDir !== '') await rm(workDir, { recursive: true, force: true });
  });

  // The documented way: an https:// endpoint with the CA and the client's certificate. Proves
  // that both signals' gRPC exporters get the CA (or the handshake fails), the client's
  // certificate and key (or the collector refuses), and verify 127.0.0.1 against the IP SAN.
  it('delivers spans and metrics over gRPC with mutual TLS to an https:// endpoint', async () => {
    const baseline = await accepted();
    const sent = await send('https', {
      ...trusted,
      OTEL_EXPORTER_OTLP_ENDPOINT: `https://${LOOPBACK}:${tlsPorts.grpc}`,
    });
    await assertArrived(sent, baseline);
  });

  // The specification lets a gRPC endpoint come without a scheme (what many platforms inject),
  // and then TLS is the default: a library that took it for plaintext would send telemetry
  // unencrypted to a collector that expects TLS, and lose it.
  it('uses TLS by default for a gRPC endpoint without a scheme', async () => {
    const baseline = await accepted();
    const sent = await send('bare', {
      ...trusted,
      OTEL_EXPORTER_OTLP_ENDPOINT: `${LOOPBACK}:${tlsPorts.grpc}`,
    });
    assert.equal(sent.url, `https://${LOOPBACK}:${tlsPorts.grpc}`);
    await assertArrived(sent, baseline);
  });

  // The other transport takes its TLS material another way (the HTTP agent's options, not gRPC
  // credentials): the same variables must reach it too.
  it('delivers spans and metrics over http/protobuf with mutual TLS', async () => {
    const baseline = await accepted();
    const sent = await send('http', {
      ...trusted,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: `https://${LOOPBACK}:${tlsPorts.http}`,
    });
    await assertArrived(sent, baseline);
  });

  // Mutual TLS is only worth something if the collector refuses a client without a certificate,
  // and a service whose certificate is missing (an unmounted secret) must keep running: the
  // failure is counted and warned about, never thrown. TLS 1.3 reports the refusal as the
  // server's "certificate required" alert, over both transports.
  it('is refused by the collector without a client certificate, and counts the failure', async () => {
    const grpcBefore = await accepted();
    const overGrpc = await send('noclient-grpc', {
      OTEL_EXPORTER_OTLP_CERTIFICATE: certs.ca,
      OTEL_EXPORTER_OTLP_ENDPOINT: `https://${LOOPBACK}:${tlsPorts.grpc}`,
    });
    await assertRefused(overGrpc, grpcBefore, /certificate required/i);

    const httpBefore = await accepted();
    const overHttp = await send('noclient-http', {
      OTEL_EXPORTER_OTLP_CERTIFICATE: certs.ca,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: `https://${LOOPBACK}:${tlsPorts.http}`,
    });
    await assertRefused(overHttp, httpBefore, /certificate required/i);
  });

  // Without OTEL_EXPORTER_OTLP_CERTIFICATE the client trusts the system's CAs only, so a server
  // certificate from a private CA must be rejected by the client: TLS that trusted any
  // certificate would protect nothing. The client certificate is given, so the CA is the one cause.
  it("does not trust the collector's certificate when the CA is not given", async () => {
    const baseline = await accepted();
    const sent = await send('noca', {
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: certs.clientCert,
      OTEL_EXPORTER_OTLP_CLIENT_KEY: certs.clientKey,
      OTEL_EXPORTER_OTLP_ENDPOINT: `https://${LOOPBACK}:${tlsPorts.grpc}`,
    });
    await assertRefused(sent, baseline, /unable to verify the first certificate/i);
  });

  // OTEL_EXPORTER_OTLP_INSECURE=true turns a scheme-less endpoint into plaintext: proven by the
  // TLS receiver refusing it, with every certificate given (they are not used in plaintext).
  it('sends plaintext to a scheme-less endpoint with OTEL_EXPORTER_OTLP_INSECURE=true', async () => {
    const baseline = await accepted();
    const sent = await send('insecure', {
      ...trusted,
      OTEL_EXPORTER_OTLP_INSECURE: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: `${LOOPBACK}:${tlsPorts.grpc}`,
    });
    assert.equal(sent.url, `http://${LOOPBACK}:${tlsPorts.grpc}`);
    await assertRefused(sent, baseline, /UNAVAILABLE/);
  });
});
