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
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { infrastructure } from '../../infra/runner/components.ts';
import { repoRoot, sourceCondition, statePaths } from '../../infra/runner/paths.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { readSettings } from '../../infra/runner/settings.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { fetchTrace, findTraces } from '../../infra/runner/trace.ts';
import { eventually } from '../support/poll.ts';
import { query, scrapedValue } from '../support/prometheus.ts';
import {
  collectorPorts,
  startCollector,
  startProcess,
  stopProcesses,
  type TestProcess,
} from '../support/processes.ts';
import { useTemporaryStackState } from '../support/stack.ts';
import { gatewaysOf } from '../support/traces.ts';

const services = ['api', 'worker', 'signal-generator', 'trigger-dispatcher'] as const;
const sinkPorts = collectorPorts(28000);
const sinkName = 'vendor-sink';

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

describe('portability on real processes', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    Object.assign(process.env, { OTEL_METRIC_EXPORT_INTERVAL: '2000', OTEL_BSP_SCHEDULE_DELAY: '200' });
    await startStack(undefined, [...infrastructure, ...services]);
    await startCollector(sinkName, 'gateway', sinkPorts, { GATEWAY_NAME: sinkName });
  });

  after(async () => {
    await stopProcesses();
    await stopStack();
  });

  it('the running services keep sending while the collector switches to another profile; data reaches the new destination', async () => {
    const before = await pids();
    await stopStack(undefined, ['collector']);
    process.env.OTLP_VENDOR_ENDPOINT = `http://${LOOPBACK}:${sinkPorts.http}`;
    process.env.OTLP_VENDOR_HEADERS = '{x-scope: platform}';
    await startStack({ ...readSettings(), collectorProfile: 'otlp-vendor' }, ['collector']);

    const triggered = await eventually('a pipeline and a manual execution', async () => {
      const created = await fetch(`http://${LOOPBACK}:${ports.api}/pipelines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'switch', strategy: 'momentum', symbols: ['BTCUSD'] }),
      });
      const { id } = (await created.json()) as { id: string };
      const response = await fetch(`http://${LOOPBACK}:${ports.api}/pipelines/${id}/executions`, {
        method: 'POST',
      });
      return response.status === 202 ? response : undefined;
    });
    const traceId = triggered.headers.get('traceresponse')?.split('-')[1] ?? '';
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
    const switchedAt = Date.now() / 1000;
    await eventually('fresh api metrics in Prometheus after the switch', async () => {
      const [sample] = await query('timestamp(process_uptime_seconds{job="api"})');
      return sample && Number(sample.value[1]) > switchedAt ? true : undefined;
    });
    assert.deepEqual(await pids(), before, 'the services were not restarted');

    await stopStack(undefined, ['collector']);
    await startStack(readSettings(), ['collector']);
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
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${LOOPBACK}:${sinkPorts.grpc}`,
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
