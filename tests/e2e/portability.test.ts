/**
 * Portability on real processes. A new backend is a collector profile: the running services
 * keep sending, unchanged, while the collector restarts with another profile, and their data
 * arrives at the new destination (here an OTLP endpoint that is a second collector, which marks
 * what passes through it). A new destination is an environment variable: a service scraped
 * directly by Prometheus with OTEL_METRICS_EXPORTER=prometheus, one sending to another
 * collector by OTEL_EXPORTER_OTLP_ENDPOINT, and ones with OTEL_TRACES_EXPORTER=none or
 * OTEL_SDK_DISABLED=true that keep working and send nothing (or no traces).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { infrastructure } from '../../infra/runner/components.ts';
import { repoRoot, sourceCondition, statePaths } from '../../infra/runner/paths.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { readSettings } from '../../infra/runner/settings.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { fetchTraceLogs } from '../../infra/runner/logs.ts';
import { fetchTrace, findTraces } from '../../infra/runner/trace.ts';
import { startAwsEndpoint } from '../support/aws-endpoint.ts';
import { type DeltaPoint, startDatadogIntake } from '../support/datadog-intake.ts';
import { type GatewayCredentials, makeGatewayCredentials } from '../support/certificates.ts';
import { eventually } from '../support/poll.ts';
import { query, queryRange, scrapedValue } from '../support/prometheus.ts';
import {
  collectorPorts,
  startCollector,
  startProcess,
  stopProcesses,
  type TestProcess,
} from '../support/processes.ts';
import { QUICK_EXPORT, useTemporaryStackState } from '../support/stack.ts';
import { gatewaysOf } from '../support/traces.ts';

const services = ['api', 'worker', 'signal-generator', 'trigger-dispatcher'] as const;
const sinkPorts = collectorPorts(28000);
const sinkName = 'vendor-sink';
let workDir: string;
let sink: GatewayCredentials;

/** The gateway that marked the spans of a trace, if any did. */
async function markedBy(traceId: string): Promise<string[] | undefined> {
  const data = await fetchTrace(traceId);
  return data ? gatewaysOf(data) : undefined;
}

async function pids(): Promise<Record<string, number | undefined>> {
  const statuses = await stackStatus();
  return Object.fromEntries(
    statuses.filter((s) => (services as readonly string[]).includes(s.name)).map((s) => [s.name, s.pid]),
  );
}

/** A notifier instance (it needs no NATS) with its own port and telemetry environment. */
function notifier(name: string, port: number, env: Record<string, string>): Promise<TestProcess> {
  return startProcess({
    name,
    command: process.execPath,
    args: [sourceCondition, join(repoRoot, 'apps/notifier/src/main.ts')],
    env: {
      PORT: String(port),
      OTEL_SERVICE_NAME: name,
      NOTIFIER_LOG_FILE: join(statePaths.data(name), 'notifications.jsonl'),
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...env,
    },
    healthUrl: `http://${LOOPBACK}:${port}/health`,
  });
}

/** A request that makes a span: an (empty) Alertmanager notification. Returns its trace id. */
async function notify(port: number): Promise<string> {
  const response = await fetch(`http://${LOOPBACK}:${port}/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: '4', status: 'firing', receiver: 'test', alerts: [] }),
  });
  assert.equal(response.status, 200, 'the service works');
  return response.headers.get('traceresponse')?.split('-')[1] ?? '';
}

/** The stack's collector restarted with another profile and these variables; services untouched. */
async function switchCollector(collectorProfile: string, env: Record<string, string> = {}): Promise<void> {
  await stopStack(undefined, ['collector']);
  Object.assign(process.env, env);
  await startStack({ ...readSettings(), collectorProfile }, ['collector']);
}

/** A pipeline and a manual execution of it through the api: a trace across the services. */
async function manualExecution(name: string): Promise<string> {
  const triggered = await eventually('a pipeline and a manual execution', async () => {
    const created = await fetch(`http://${LOOPBACK}:${ports.api}/pipelines`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, strategy: 'momentum', symbols: ['BTCUSD'] }),
    });
    const { id } = (await created.json()) as { id: string };
    const response = await fetch(`http://${LOOPBACK}:${ports.api}/pipelines/${id}/executions`, {
      method: 'POST',
    });
    return response.status === 202 ? response : undefined;
  });
  return triggered.headers.get('traceresponse')?.split('-')[1] ?? '';
}

/** Waits for api metrics in Prometheus stamped after `since` (seconds). */
async function freshApiMetrics(since: number): Promise<void> {
  await eventually('fresh api metrics in Prometheus', async () => {
    const [sample] = await query('timestamp(process_uptime_seconds{job="api"})');
    return sample && Number(sample.value[1]) > since ? true : undefined;
  });
}

describe('portability on real processes', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    Object.assign(process.env, QUICK_EXPORT);
    await startStack(undefined, [...infrastructure, ...services]);
    workDir = await mkdtemp(join(tmpdir(), 'portability-'));
    sink = await makeGatewayCredentials(workDir);
    // A gateway as the vendor: TLS and a bearer token, as a vendor's intake has, and everything
    // kept, so that each trace sent is there to find.
    await startCollector(sinkName, 'gateway', sinkPorts, {
      GATEWAY_NAME: sinkName,
      ...sink.gateway,
      TAIL_SAMPLING_PERCENTAGE: '100',
      TAIL_SAMPLING_DECISION_WAIT: '1s',
    });
  });

  after(async () => {
    await stopProcesses();
    await stopStack();
    await rm(workDir, { recursive: true, force: true });
  });

  it('the running services keep sending while the collector switches to another profile; data reaches the new destination', async () => {
    const before = await pids();
    await switchCollector('otlp-vendor', {
      OTLP_VENDOR_ENDPOINT: `https://${LOOPBACK}:${sinkPorts.http}`,
      OTLP_VENDOR_HEADERS: `{authorization: "Bearer ${sink.token}", x-scope: platform}`,
      // The vendor's certificate is signed by the test's own CA; Go's TLS reads SSL_CERT_FILE
      // for its roots.
      SSL_CERT_FILE: sink.certificates.ca,
    });
    const traceId = await manualExecution('switch');
    const marks = await eventually('the trace, through the new destination', async () => {
      const found = await markedBy(traceId);
      return found && found.length > 1 && found.includes(sinkName) ? found : undefined;
    });
    assert.ok(
      marks.every((mark) => mark === sinkName),
      'every span went through the new destination',
    );

    await eventually('metric points accepted by the new destination', async () => {
      const url = `http://${LOOPBACK}:${sinkPorts.metrics}/metrics`;
      return (await scrapedValue(url, 'otelcol_receiver_accepted_metric_points')) > 0 ? true : undefined;
    });
    await freshApiMetrics(Date.now() / 1000);
    assert.deepEqual(await pids(), before, 'the services were not restarted');
    await switchCollector('local');
  });

  it('aws: the unchanged services reach Prometheus, Jaeger and the logs backend through an endpoint that checks every SigV4 signature; a wrong secret is refused, counted and pages', async () => {
    const region = 'eu-west-1';
    const credentials = {
      accessKeyId: 'AKIATRADEOBSTEST0001',
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(24).toString('base64'),
    };
    const aws = await startAwsEndpoint({
      region,
      credentials,
      forward: {
        remoteWrite: `http://${LOOPBACK}:${ports.prometheus}/api/v1/write`,
        traces: `http://${LOOPBACK}:${ports.jaegerOtlpHttp}/v1/traces`,
        logs: `http://${LOOPBACK}:${ports.victoriaLogs}/insert/opentelemetry/v1/logs`,
      },
    });
    try {
      const profileEnv = (secretAccessKey: string) => ({
        // The standard variables the AWS SDK's credential chain reads.
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: secretAccessKey,
        AWS_SESSION_TOKEN: credentials.sessionToken,
        AMP_REMOTE_WRITE_URL: `${aws.url}/workspaces/ws-test/api/v1/remote_write`,
        XRAY_TRACES_URL: `${aws.url}/v1/traces`,
        CLOUDWATCH_LOGS_URL: `${aws.url}/v1/logs`,
        CLOUDWATCH_LOG_GROUP: '/trading-platform/services',
        CLOUDWATCH_LOG_STREAM: 'otel',
      });
      const before = await pids();
      await switchCollector('aws', profileEnv(credentials.secretAccessKey));
      const switchedAt = Date.now() / 1000;
      const traceId = await manualExecution('aws');
      await eventually('the trace in Jaeger, through the verifying endpoint', async () =>
        (await fetchTrace(traceId)) ? true : undefined,
      );
      await eventually('its log records in VictoriaLogs', async () =>
        (await fetchTraceLogs(traceId)).length > 0 ? true : undefined,
      );
      await freshApiMetrics(switchedAt);
      assert.deepEqual(aws.refusals, [], 'every request carried a valid signature');
      for (const service of ['aps', 'xray', 'logs'] as const)
        assert.ok(aws.accepted[service] > 0, `signed requests for ${service} accepted`);
      process.stdout.write(`# aws: accepted ${JSON.stringify(aws.accepted)}\n`);
      assert.deepEqual(await pids(), before, 'the services were not restarted');

      // A wrong secret: AWS refuses every request, and the operator sees it where they look.
      await switchCollector('aws', profileEnv(randomBytes(30).toString('base64')));
      await eventually('refused signatures for metrics and traces', () => {
        const refused = new Set(
          aws.refusals.filter((r) => r.errorType === 'InvalidSignatureException').map((r) => r.service),
        );
        return Promise.resolve(refused.has('aps') && refused.has('xray') ? true : undefined);
      });
      // The spans' exporter counts what it dropped; the remote-write WAL does not count refused
      // batches, so the alert reads the collector's HTTP client metrics (rules/pipeline.yml).
      await eventually('dropped spans counted by the collector', async () =>
        (await scrapedValue(
          `http://${LOOPBACK}:${ports.collectorMetrics}/metrics`,
          'otelcol_exporter_send_failed_spans',
        )) > 0
          ? true
          : undefined,
      );
      const [firing] = await eventually(
        'TelemetryBackendRefusesCredentials firing',
        async () => {
          const alerts = await query(
            'ALERTS{alertname="TelemetryBackendRefusesCredentials", alertstate="firing"}',
          );
          return alerts.length > 0 ? alerts : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 5_000 },
      );
      assert.equal(firing?.metric.server_address, LOOPBACK, 'it names the endpoint that refuses');
    } finally {
      await switchCollector('local');
      await aws.close();
    }
  });

  it('datadog: API key, delta temporality and unified service tags on every request; every delta equals the difference of the cumulative counter in Prometheus, across a collector restart', async () => {
    const apiKey = randomBytes(16).toString('hex');
    const intake = await startDatadogIntake({ apiKey });
    // The test's second destination for the same points, cumulative, to compare with.
    const compare = join(workDir, 'compare-in-prometheus.yaml');
    await writeFile(
      compare,
      [
        'exporters:',
        '  prometheus_remote_write/compare:',
        `    endpoint: http://${LOOPBACK}:${ports.prometheus}/api/v1/write`,
        '    resource_to_telemetry_conversion: {enabled: false}',
        '    target_info: {enabled: false}',
        'service:',
        '  pipelines:',
        '    metrics/compare:',
        '      receivers: [otlp]',
        '      processors: [memory_limiter, batch]',
        '      exporters: [prometheus_remote_write/compare]',
        '',
      ].join('\n'),
    );
    const stackCollector = {
      grpc: ports.collectorOtlpGrpc,
      http: ports.collectorOtlpHttp,
      health: ports.collectorHealth,
      metrics: ports.collectorMetrics,
    };
    // Requests to the api while the collector sends to the intake, so the deltas count something.
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        await fetch(`http://${LOOPBACK}:${ports.api}/pipelines?limit=5`).then((r) => r.body?.cancel());
        await sleep(50);
      }
    })();
    await stopStack(undefined, ['collector']);
    try {
      const datadog = await startCollector(
        'collector-datadog',
        'datadog',
        stackCollector,
        { DD_API_KEY: apiKey, DD_OTLP_URL: intake.url },
        [compare],
      );
      await eventually('metrics, traces and logs at the intake', () =>
        Promise.resolve(
          intake.requests.metrics > 3 && intake.requests.traces > 0 && intake.requests.logs > 0
            ? true
            : undefined,
        ),
      );
      // A restart loses cumulativetodelta's state: the first point of each series after it is
      // dropped (it cannot know what came before), never counted twice.
      await datadog.stop();
      await datadog.start();
      const restartedAt = BigInt(Date.now()) * 1_000_000n;
      await eventually('points after the restart', () =>
        Promise.resolve(
          intake.points.some((p) => p.timeUnixNano > restartedAt + 10_000_000_000n) ? true : undefined,
        ),
      );
      await datadog.stop();
    } finally {
      sending = false;
      await traffic;
      await startStack(readSettings(), ['collector']);
    }

    assert.equal(intake.refused, 0);
    assert.deepEqual(intake.violations, [], 'key, temporality and service tags on every request');
    const services = new Set(intake.resources.map((r) => r['service.name']));
    for (const service of ['api', 'worker', 'signal-generator', 'trigger-dispatcher'])
      assert.ok(services.has(service), `${service} reached the intake`);

    // Every delta point of the api's request-duration histograms against the cumulative
    // samples Prometheus got for the same series at the same instants.
    const deltas = intake.points.filter(
      (p) => p.service === 'api' && p.metric === 'http.server.request.duration',
    );
    assert.ok(deltas.length > 0, 'delta histogram points of the api');
    const bySeries = Map.groupBy(deltas, (p) => JSON.stringify([p.instance, p.attributes]));
    let compared = 0;
    let summed = 0;
    for (const points of bySeries.values()) {
      const { instance, attributes } = points[0] as DeltaPoint;
      const labels = Object.entries(attributes)
        .map(([key, value]) => `${key.replaceAll(/[^a-zA-Z0-9_]/g, '_')}=${JSON.stringify(value)}`)
        .join(',');
      const [series] = await queryRange(
        `http_server_request_duration_seconds_count{job="api",instance="${instance}",${labels}}[30m]`,
      );
      const cumulative = new Map(series?.values.map(([at, value]) => [Math.round(at * 1000), Number(value)]));
      points.sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
      for (const [i, point] of points.entries()) {
        const previous = points[i - 1];
        if (previous)
          assert.ok(point.startTimeUnixNano >= previous.timeUnixNano, 'delta intervals never overlap');
        const end = cumulative.get(Number(point.timeUnixNano / 1_000_000n));
        const start = cumulative.get(Number(point.startTimeUnixNano / 1_000_000n));
        assert.ok(
          end !== undefined && start !== undefined,
          `Prometheus has the samples of ${labels} at both ends`,
        );
        assert.equal(point.value, end - start, `delta of ${labels} ending ${point.timeUnixNano}`);
        compared += 1;
        summed += point.value;
      }
    }
    process.stdout.write(
      `# datadog: ${compared} delta points in ${bySeries.size} series compared, ${summed} requests\n`,
    );
    await intake.close();
  });

  it('OTEL_METRICS_EXPORTER=prometheus: Prometheus scrapes the service itself, no collector involved', async () => {
    const metricsPort = 29464;
    await notifier('notifier-direct', 29006, {
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_TRACES_EXPORTER: 'none',
    });
    const targets = join(statePaths.config(), 'scrape-targets');
    await mkdir(targets, { recursive: true });
    await writeFile(
      join(targets, 'notifier-direct.json'),
      JSON.stringify([{ targets: [`${LOOPBACK}:${metricsPort}`] }]),
    );
    await eventually(
      'the directly scraped service in Prometheus',
      async () => {
        const [sample] = await query('target_info{job="services-direct", service_name="notifier-direct"}');
        return sample ? true : undefined;
      },
      { timeoutMs: 90_000 },
    );
  });

  it('OTEL_EXPORTER_OTLP_ENDPOINT: the same service sends to another collector with no code change', async () => {
    await notifier('notifier-elsewhere', 29007, {
      OTEL_EXPORTER_OTLP_ENDPOINT: `https://${LOOPBACK}:${sinkPorts.grpc}`,
      OTEL_EXPORTER_OTLP_CERTIFICATE: sink.certificates.ca,
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${sink.token}`,
    });
    const traceId = await notify(29007);
    const marks = await eventually('its trace, through the other collector', () => markedBy(traceId));
    assert.deepEqual([...new Set(marks)], [sinkName]);
  });

  it('OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED=true: the service works and sends no traces (no telemetry at all)', async () => {
    await notifier('notifier-no-traces', 29008, { OTEL_TRACES_EXPORTER: 'none' });
    await notifier('notifier-disabled', 29009, { OTEL_SDK_DISABLED: 'true' });
    for (let i = 0; i < 5; i += 1) {
      await notify(29008);
      await notify(29009);
    }
    await eventually('metrics of the service without traces', async () => {
      const [sample] = await query('process_uptime_seconds{job="notifier-no-traces"}');
      return sample ? true : undefined;
    });
    // Both have exported at least four times by now, if they were going to.
    await sleep(5_000);
    assert.deepEqual(await findTraces('notifier-no-traces', 10), []);
    assert.deepEqual(await findTraces('notifier-disabled', 10), []);
    assert.deepEqual(await query('{job="notifier-disabled"}'), []);
  });
});
