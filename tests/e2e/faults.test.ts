/**
 * Faults survived with nothing lost, on the real stack with the platform's services. Each test
 * reports what was produced, what arrived and what was lost (the target: nothing).
 * - The collector killed for 30 s under load: every request is answered without error, and the
 *   spans of the requests made meanwhile reach Jaeger once it is back (the SDK keeps and retries
 *   them).
 * - Jaeger and VictoriaLogs down for 60 s under load, then the collector killed with SIGKILL
 *   while its queues hold the spans and log records: after all return, every span and every
 *   log record arrives (the file-backed sending queues).
 * - Prometheus down for 60 s: the remote-write WAL delivers the samples of the outage, so the
 *   counters have no gap.
 * - An overload from telemetrygen beyond what the machine can carry: the memory limiter keeps
 *   the collector's heap within its limit by refusing data, the collector lives, the api answers
 *   every request and its refused spans arrive later (the SDK retries them).
 * - NATS restarted under load: every service reconnects by itself, every signal generated is
 *   published and consumed, and no execution is done twice.
 * - A flood of bad input: only 4xx answers, the api stays up, and the number of HTTP series in
 *   Prometheus stays bounded whatever the paths and ids.
 * - A flood of huge log records from a service: it keeps answering, its memory stays bounded,
 *   and what is stored is cut to the body and attribute limits.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { infrastructure } from '../../infra/runner/components.ts';
import { ensureTelemetrygen } from '../../infra/runner/install.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { readSettings } from '../../infra/runner/settings.ts';
import { logFile, stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { queryLogs } from '../../infra/runner/logs.ts';
import { fetchTrace } from '../../infra/runner/trace.ts';
import { initTelemetry, type Telemetry } from '../../libs/telemetry/src/telemetry.ts';
import { eventually } from '../support/poll.ts';
import { query, scrapedValue } from '../support/prometheus.ts';
import { QUICK_EXPORT, QUICK_SIGNALS, useTemporaryStackState } from '../support/stack.ts';

const services = ['api', 'worker', 'signal-generator', 'trigger-dispatcher'] as const;
const api = `http://${LOOPBACK}:${ports.api}`;

interface ApiLoad {
  /** Trace ids of the answered requests, from their traceresponse headers. */
  traceIds: string[];
  failures: string[];
  slowestMillis: number;
}

/** Reads from the api for `millis`, one request at a time, 20 a second at most. */
async function loadApi(millis: number): Promise<ApiLoad> {
  const until = Date.now() + millis;
  const result: ApiLoad = { traceIds: [], failures: [], slowestMillis: 0 };
  while (Date.now() < until) {
    const startedAt = performance.now();
    const response = await fetch(`${api}/portfolio`).catch((error: unknown) => error);
    result.slowestMillis = Math.max(result.slowestMillis, performance.now() - startedAt);
    if (!(response instanceof Response) || response.status !== 200) {
      result.failures.push(response instanceof Response ? String(response.status) : String(response));
      continue;
    }
    await response.body?.cancel();
    const traceId = response.headers.get('traceresponse')?.split('-')[1];
    if (traceId) result.traceIds.push(traceId);
    await sleep(50);
  }
  return result;
}

/**
 * How many of the traces are in Jaeger, once all are or after two minutes: a test reports what
 * was lost before it fails on it.
 */
async function tracesArrived(traceIds: readonly string[]): Promise<number> {
  const missing = new Set(traceIds);
  const deadline = Date.now() + 120_000;
  while (missing.size > 0 && Date.now() < deadline) {
    for (const traceId of missing)
      if (await fetchTrace(traceId).catch(() => undefined)) missing.delete(traceId);
    if (missing.size > 0) await sleep(5_000);
  }
  return traceIds.length - missing.size;
}

/**
 * A service of the test's own, sending logs through the library to the stack's collector the way
 * the platform's services do, so that every record it writes can be counted in VictoriaLogs.
 */
function logProbe(name: string, env: Record<string, string> = {}): Telemetry {
  return initTelemetry({
    serviceName: name,
    serviceVersion: '0.0.0',
    registerGlobal: false,
    // Records only: the JSON lines would be the test's own output.
    logStdout: false,
    logWrite: () => undefined,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${LOOPBACK}:${ports.collectorOtlpGrpc}`,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_BLRP_SCHEDULE_DELAY: '200',
      ...env,
    },
  });
}

/** How many records of a service VictoriaLogs holds, once it holds `expected` or after two minutes. */
async function logRecordsStored(service: string, expected: number): Promise<number> {
  const count = async () => {
    const [row] = await queryLogs(`_stream:{service.name="${service}"} | count() records`, 1);
    return Number(row?.records ?? 0);
  };
  const deadline = Date.now() + 120_000;
  let stored = await count().catch(() => 0);
  while (stored < expected && Date.now() < deadline) {
    await sleep(2_000);
    stored = await count().catch(() => stored);
  }
  return stored;
}

describe('faults on the real stack', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    Object.assign(process.env, QUICK_EXPORT, QUICK_SIGNALS);
    await startStack(undefined, [...infrastructure, ...services]);
  });

  after(async () => {
    await stopStack();
  });

  it('the collector killed for 30 s under load: every request answered, every span delivered afterwards', async () => {
    const apiPid = (await stackStatus()).find((s) => s.name === 'api')?.pid;
    await stopStack(undefined, ['collector']);
    const { traceIds, failures, slowestMillis } = await loadApi(30_000);
    await startStack(undefined, ['collector']);
    const produced = traceIds.length;
    const arrived = await tracesArrived(traceIds);
    process.stdout.write(
      `# collector outage: ${produced} requests traced, ${arrived} traces arrived, ${produced - arrived} lost; ` +
        `${failures.length} failed requests; slowest answer ${slowestMillis.toFixed(0)} ms\n`,
    );
    assert.deepEqual(failures, [], 'every request answered without error');
    // Exports never sit on a request's path: a spike would mean one waited for the collector.
    assert.ok(slowestMillis < 1_000, `slowest answer ${slowestMillis.toFixed(0)} ms during the outage`);
    assert.ok(produced > 100, 'the load ran');
    assert.equal(arrived, produced, 'no trace lost');
    assert.equal((await stackStatus()).find((s) => s.name === 'api')?.pid, apiPid, 'the api did not restart');
  });

  it('Jaeger and VictoriaLogs down for 60 s under load, and the collector SIGKILLed with spans and logs in its queues: every span and record arrives', async () => {
    await stopStack(undefined, ['jaeger', 'victorialogs']);
    const probe = logProbe('e2e-log-outage');
    let written = 0;
    const writing = setInterval(() => {
      written += 1;
      probe.logger.info('outage probe', { sequence: written });
    }, 20);
    const { traceIds, failures } = await loadApi(60_000).finally(() => clearInterval(writing));
    await probe.shutdown();
    // Time for the services to export and for the collector to accept into its queue.
    await sleep(3_000);
    const collector = (await stackStatus()).find((s) => s.name === 'collector')?.pid;
    assert.ok(collector, 'the collector runs');
    process.kill(-collector, 'SIGKILL');
    await eventually('the collector gone', async () =>
      (await stackStatus()).find((s) => s.name === 'collector')?.pid ? undefined : true,
    );
    await startStack(undefined, ['jaeger', 'victorialogs', 'collector']);
    const arrived = await tracesArrived(traceIds);
    const stored = await logRecordsStored('e2e-log-outage', written);
    const sequences = await queryLogs(
      '_stream:{service.name="e2e-log-outage"} | uniq by (sequence)',
      100_000,
    );
    process.stdout.write(
      `# Jaeger and VictoriaLogs down 60 s, collector SIGKILLed with full queues: ${traceIds.length} traces ` +
        `produced, ${arrived} arrived, ${traceIds.length - arrived} lost; ${written} log records written, ` +
        `${stored} stored (${sequences.length} distinct)\n`,
    );
    assert.deepEqual(failures, [], 'every request answered without error');
    assert.ok(traceIds.length > 100, 'the load ran');
    assert.equal(arrived, traceIds.length, 'no trace lost');
    assert.ok(written > 1_000, 'the log probe ran');
    assert.equal(sequences.length, written, 'no log record lost');
    // A record the collector re-sends after the SIGKILL may be stored twice (at least once is
    // what a queue that survives a kill can promise); more than a batch's worth would be a leak.
    assert.ok(stored - written < 1_000, `${stored - written} records stored twice`);
  });

  it('Prometheus down for 60 s: the WAL delivers the samples of the outage, counters have no gap', async () => {
    await stopStack(undefined, ['prometheus']);
    const downFrom = Date.now() / 1000;
    await sleep(60_000);
    const downTo = Date.now() / 1000;
    await startStack(undefined, ['prometheus']);
    // Samples of the api's uptime, exported every 2 s, over the outage: about 30 if none is lost.
    const expected = Math.floor((downTo - downFrom) / 2);
    const delivered = await eventually(
      'the samples of the outage in Prometheus',
      async () => {
        const [sample] = await query(
          `count_over_time(process_uptime_seconds{job="api"}[${Math.floor(downTo - downFrom)}s] @ ${downTo.toFixed(0)})`,
        );
        const count = Number(sample?.value[1] ?? 0);
        return count >= expected - 2 ? count : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 5_000 },
    );
    process.stdout.write(
      `# Prometheus outage of ${(downTo - downFrom).toFixed(0)} s: ${delivered} samples of one series delivered, ${expected} exported\n`,
    );
  });

  it('an overload: the memory limiter keeps the collector within its limit, refusing data, and the services keep working', async () => {
    try {
      const limitMib = 96;
      const metricsUrl = `http://${LOOPBACK}:${ports.collectorMetrics}/metrics`;
      await stopStack(undefined, ['collector']);
      await startStack({ ...readSettings(), collectorMemoryLimitMib: limitMib }, ['collector']);
      const collectorPid = (await stackStatus()).find((s) => s.name === 'collector')?.pid;
      assert.ok(collectorPid, 'the collector runs');
      const refusedBefore = await scrapedValue(metricsUrl, 'otelcol_receiver_refused_spans');
      let heapPeak = 0;
      const heapWatch = setInterval(() => {
        void scrapedValue(metricsUrl, 'otelcol_process_runtime_heap_alloc_bytes').then(
          (bytes) => (heapPeak = Math.max(heapPeak, bytes)),
          () => undefined,
        );
      }, 200);
      // More than these two cores can carry: 100 workers asking for 1,000 spans/s each, every span
      // with a kilobyte of attributes.
      const flood = spawn(
        await ensureTelemetrygen(),
        [
          'traces',
          '--otlp-insecure',
          `--otlp-endpoint=${LOOPBACK}:${ports.collectorOtlpGrpc}`,
          '--workers=100',
          '--rate=1000',
          // Long traces: Jaeger's in-memory store keeps the newest 100,000 traces, and the api's
          // must not be pushed out by the flood's.
          '--child-spans=99',
          '--batch-size=1000',
          '--duration=30s',
          '--allow-export-failures',
          `--telemetry-attributes=payload="${'x'.repeat(1024)}"`,
          '--service=overload',
        ],
        { stdio: 'ignore' },
      );
      const [{ traceIds, failures, slowestMillis }] = await Promise.all([
        loadApi(30_000),
        once(flood, 'exit'),
      ]);
      clearInterval(heapWatch);
      const refused = (await scrapedValue(metricsUrl, 'otelcol_receiver_refused_spans')) - refusedBefore;
      const alive = (await stackStatus()).find((s) => s.name === 'collector');
      // Every span of the api's requests arrives: the SDK kept and retried what was refused.
      const arrived = await tracesArrived(traceIds);
      process.stdout.write(
        `# overload: ${refused} spans refused, collector heap peak ${(heapPeak / 2 ** 20).toFixed(1)} MiB ` +
          `(limit ${limitMib} MiB); api: ${traceIds.length} requests, ${failures.length} failed, slowest ` +
          `${slowestMillis.toFixed(0)} ms, ${arrived} traces arrived\n`,
      );
      assert.equal(alive?.pid, collectorPid, 'the collector did not die');
      assert.ok(refused > 0, 'the collector was overloaded and refused data');
      assert.ok(heapPeak <= limitMib * 2 ** 20, `heap peak ${heapPeak} bytes over the ${limitMib} MiB limit`);
      assert.deepEqual(failures, [], 'every api request answered without error');
      assert.ok(slowestMillis < 1_000, `slowest answer ${slowestMillis.toFixed(0)} ms during the overload`);
      assert.equal(arrived, traceIds.length, 'no trace of the api lost');
    } finally {
      await stopStack(undefined, ['collector']);
      await startStack(readSettings(), ['collector']);
    }
  });

  it('NATS restarted under load: services reconnect, no signal lost, no execution done twice', async () => {
    const total = async (promql: string) => Number((await query(promql))[0]?.value[1] ?? 0);
    // Pipelines for every strategy, so that signals turn into executions.
    for (const strategy of ['sma_crossover', 'momentum', 'ml_direction']) {
      const created = await fetch(`${api}/pipelines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `restart ${strategy}`,
          strategy,
          symbols: ['BTCUSD', 'ETHUSD', 'SOLUSD', 'AAPL', 'MSFT'],
          signalFilter: { minConfidence: 0 },
        }),
      });
      assert.equal(created.status, 201);
    }
    await eventually('signals turning into executions', async () =>
      (await total('sum(pipeline_executions_total{job="worker", trigger_mode="signal"})')) > 0
        ? true
        : undefined,
    );
    await stopStack(undefined, ['nats']);
    // The generator's market data comes over NATS too, so while NATS is away it makes no new
    // signals: what is at risk are the messages in flight and the unacknowledged ones.
    await sleep(8_000);
    await startStack(undefined, ['nats']);
    await eventually('every service ready again', async () => {
      const ready = await Promise.all(
        (['api', 'worker', 'signalGenerator', 'triggerDispatcher'] as const).map(async (name) => {
          const response = await fetch(`http://${LOOPBACK}:${ports[name]}/ready`).catch(() => undefined);
          await response?.body?.cancel();
          return response?.status === 200;
        }),
      );
      return ready.every(Boolean) ? true : undefined;
    });
    const counts = await eventually(
      'every generated signal published and consumed',
      async () => {
        const generated = await total('sum(signals_generated_total{job="signal-generator"})');
        const published = await total('sum(nats_publish_success_total{job="signal-generator"})');
        const consumed = await total('sum(signals_consumed_total{job="trigger-dispatcher"})');
        const pending = await total('sum(jetstream_consumer_pending{consumer="trigger-dispatcher"})');
        return generated > 0 && generated === published && pending === 0 && consumed >= published
          ? { generated, published, consumed }
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 3_000 },
    );
    const failedAttempts = await total('sum(nats_publish_failure_total{job="signal-generator"})');
    const finished = (await readFile(logFile('worker'), 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; executionId?: string })
      .filter((entry) => entry.msg === 'execution finished')
      .map((entry) => entry.executionId);
    const twice = finished.filter((id, i) => finished.indexOf(id) !== i);
    process.stdout.write(
      `# NATS restart: ${counts.generated} signals generated, ${counts.published} published ` +
        `(${failedAttempts} failed attempts retried), ${counts.consumed} deliveries consumed (redeliveries included); ` +
        `${finished.length} executions finished, ${twice.length} twice\n`,
    );
    assert.ok(finished.length > 0, 'executions ran');
    assert.deepEqual(twice, [], 'no execution done twice');
  });

  it('a flood of bad input gets only 4xx, the api stays up, and the series stay bounded', async () => {
    const seriesQuery = 'count(http_server_request_duration_seconds_count{job="api"})';
    const before = Number((await query(seriesQuery))[0]?.value[1] ?? 0);
    const statuses = new Map<number, number>();
    const random = () => Math.random().toString(36).slice(2, 10);
    // Bodies over the 64 KiB limit; far larger ones may see the connection closed after the 413
    // before they are fully sent, which is the server protecting itself, not an answer.
    const requests: (() => Promise<Response>)[] = [
      () =>
        fetch(`${api}/pipelines`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"name": ',
        }),
      () =>
        fetch(`${api}/pipelines`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 7, strategy: [], symbols: {} }),
        }),
      () =>
        fetch(`${api}/pipelines`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: 'x'.repeat(100_000),
        }),
      () =>
        fetch(`${api}/pipelines`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<a/>' }),
      () => fetch(`${api}/${random()}/${random()}`),
      () => fetch(`${api}/pipelines/${random()}`),
      () => fetch(`${api}/executions/${random()}`),
      () => fetch(`${api}/bots/${random()}/start`, { method: 'POST' }),
      () => fetch(`${api}/portfolio`, { method: 'DELETE' }),
      () =>
        fetch(`${api}/pipelines/${random()}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: '[]',
        }),
      () => fetch(`${api}/executions?limit=-1&status=${random()}`),
    ];
    for (let round = 0; round < 150; round += 1) {
      const answers = await Promise.all(requests.map((send) => send()));
      for (const answer of answers) {
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        await answer.body?.cancel();
      }
    }
    const total = [...statuses.values()].reduce((sum, count) => sum + count, 0);
    process.stdout.write(
      `# bad input: ${total} requests, answers ${JSON.stringify(Object.fromEntries(statuses))}\n`,
    );
    assert.deepEqual(
      [...statuses.keys()].filter((status) => status < 400 || status >= 500),
      [],
      'only 4xx answers',
    );
    assert.equal((await fetch(`${api}/health`)).status, 200);
    const after = await eventually('the flood in Prometheus', async () => {
      // The counters themselves, not increase(): the flood's series are new, and a new series'
      // first sample already holds most of it.
      const [sample] = await query(
        'sum(http_server_request_duration_seconds_count{job="api", http_response_status_code=~"4.."})',
      );
      return sample && Number(sample.value[1]) >= total
        ? Number((await query(seriesQuery))[0]?.value[1] ?? 0)
        : undefined;
    });
    process.stdout.write(
      `# api HTTP series: ${before} before, ${after} after ${total} requests with random paths and ids\n`,
    );
    assert.ok(after - before <= 30, `series grew by ${after - before}: raw paths or ids as labels?`);
  });

  it('a flood of huge log records: the service keeps answering, its memory stays bounded, the records are cut to the limits', async () => {
    const probe = logProbe('e2e-log-flood');
    const body = 'b'.repeat(1_000_000);
    const attribute = 'a'.repeat(100_000);
    // Each request logs a 1 MB message with a 100 kB attribute: what a service that logs request
    // bodies would do under a flood of large requests.
    const server = createServer((_request, response) => {
      probe.logger.warn(body, { payload: attribute });
      response.end('ok');
    });
    server.listen(0, LOOPBACK);
    await once(server, 'listening');
    const url = `http://${LOOPBACK}:${(server.address() as AddressInfo).port}/`;
    const rssBefore = process.memoryUsage.rss();
    let slowest = 0;
    let answered = 0;
    try {
      for (let round = 0; round < 100; round += 1) {
        await Promise.all(
          Array.from({ length: 20 }, async () => {
            const startedAt = performance.now();
            const response = await fetch(url);
            assert.equal(await response.text(), 'ok');
            slowest = Math.max(slowest, performance.now() - startedAt);
            answered += 1;
          }),
        );
      }
    } finally {
      server.close();
    }
    const rssGrowth = (process.memoryUsage.rss() - rssBefore) / 2 ** 20;
    await probe.shutdown();
    const stored = await logRecordsStored('e2e-log-flood', 1);
    const [longest] = await queryLogs(
      '_stream:{service.name="e2e-log-flood"} | len(_msg) as body_length | len(payload) as payload_length' +
        ' | stats max(body_length) body, max(payload_length) payload',
      1,
    );
    process.stdout.write(
      `# log flood: ${answered} requests each logging 1 MB, slowest answer ${slowest.toFixed(0)} ms, ` +
        `RSS grew ${rssGrowth.toFixed(0)} MiB; ${stored} records stored, longest body ${longest?.body} ` +
        `characters, longest attribute ${longest?.payload}\n`,
    );
    assert.equal(answered, 2_000, 'every request answered');
    assert.ok(slowest < 2_000, `slowest answer ${slowest.toFixed(0)} ms`);
    // The retry buffer holds at most 32 MiB and the processor's queue 2,048 cut records (16 KiB
    // bodies, 4 KiB attributes): far below the 2 GB that 2,000 records as written would take.
    assert.ok(rssGrowth < 300, `RSS grew ${rssGrowth.toFixed(0)} MiB`);
    assert.ok(stored > 0, 'records arrived');
    assert.ok(Number(longest?.body) <= 16_384, `a stored body of ${longest?.body} characters`);
    assert.ok(Number(longest?.payload) <= 4_096, `a stored attribute of ${longest?.payload} characters`);
  });
});
