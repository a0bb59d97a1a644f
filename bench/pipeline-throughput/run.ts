/**
 * Pipeline throughput: how many spans and metric data points per second one local collector
 * accepts and delivers to Jaeger and Prometheus with none refused or lost, stepping the offered
 * rate up until it no longer keeps up (the knee), with the CPU of every process per step to name
 * the bottleneck.
 *   node bench/pipeline-throughput/run.ts [--seconds 20] [--span-rates 5000,10000,...] [--point-rates ...]
 * Spans come from the collector project's load generator, telemetrygen (built from its Go module
 * at the collector's version); data points from metric-load.ts (why: see that file).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { ComponentName } from '../../infra/runner/components.ts';
import { ensureTelemetrygen } from '../../infra/runner/install.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { readSettings } from '../../infra/runner/settings.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { query as promQuery, scrapedValue as counterValue } from '../../tests/support/prometheus.ts';
import { cpuOf, cpuSeconds, pidsOf } from '../measure.ts';
import { replaceSection } from '../report.ts';
import { sendMetricLoad } from './metric-load.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    'span-rates': { type: 'string', default: '20000,40000,60000,80000,100000,140000' },
    'point-rates': { type: 'string', default: '50000,100000,150000,200000' },
    'platform-rate': { type: 'string', default: '100' },
  },
});
const seconds = Number(values.seconds);
const spanRates = values['span-rates'].split(',').map(Number);
const pointRates = values['point-rates'].split(',').map(Number);
const platformRate = Number(values['platform-rate']);
/** A step keeps up if its backlog is delivered within this long after the load stops. */
const drainAllowanceSeconds = 5;
const spansPerTrace = 10;
/**
 * telemetrygen paces each worker with a token bucket of one, so one worker manages about a
 * thousand spans a second whatever it is asked: the load is spread over enough workers.
 */
const spansPerWorker = 1_000;
const pipeline: ComponentName[] = ['prometheus', 'jaeger', 'collector'];
const collectorMetrics = `http://${LOOPBACK}:${ports.collectorMetrics}/metrics`;
const jaegerMetrics = `http://${LOOPBACK}:${ports.jaegerMetrics}/metrics`;

interface Step {
  /** What the load generator was asked for. */
  askedPerSecond: number;
  /** What it managed to send. */
  offeredPerSecond: number;
  accepted: number;
  refused: number;
  delivered: number;
  deliveredPerSecond: number;
  drainSeconds: number;
  /** CPU used during the step, in cores, per process. */
  cpu: Record<string, number>;
  keptUp: boolean;
}

/** Polls `delivered` until it reaches `target` or stops growing; returns the count and when it got there. */
async function drain(
  delivered: () => Promise<number>,
  target: number,
  pollMillis: number,
): Promise<{ count: number; seconds: number }> {
  const started = Date.now();
  let count = await delivered();
  let unchangedSince = Date.now();
  while (count < target && Date.now() - unchangedSince < 15_000) {
    await sleep(pollMillis);
    const now = await delivered();
    if (now !== count) unchangedSince = Date.now();
    count = now;
  }
  return { count, seconds: (Date.now() - started) / 1000 };
}

async function spanStep(telemetrygen: string, rate: number): Promise<Step> {
  const pids = await pidsOf(pipeline);
  const acceptedBefore = await counterValue(collectorMetrics, 'otelcol_receiver_accepted_spans');
  const refusedBefore = await counterValue(collectorMetrics, 'otelcol_receiver_refused_spans');
  const storedBefore = await counterValue(jaegerMetrics, 'otelcol_exporter_sent_spans');
  const cpuBefore = await cpuOf(pids);
  const generator = spawn(
    telemetrygen,
    [
      'traces',
      '--otlp-insecure',
      `--otlp-endpoint=${LOOPBACK}:${ports.collectorOtlpGrpc}`,
      `--workers=${Math.ceil(rate / spansPerWorker)}`,
      `--rate=${rate / Math.ceil(rate / spansPerWorker)}`,
      // The rate is per worker and counts spans, children included.
      `--child-spans=${spansPerTrace - 1}`,
      '--batch-size=1000',
      `--duration=${seconds}s`,
      '--service=bench-telemetrygen',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  generator.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  // Its /proc entry is gone once it exits: read its CPU time while it runs.
  let generatorCpu = 0;
  const cpuTimer = setInterval(() => {
    if (generator.pid)
      void cpuSeconds(generator.pid).then(
        (s) => (generatorCpu = s),
        () => undefined,
      );
  }, 250);
  await once(generator, 'exit');
  clearInterval(cpuTimer);
  const cpuAfter = await cpuOf(pids);
  const generated = [...log.matchAll(/"traces generated".*?"traces":\s*(\d+)/g)].reduce(
    (sum, match) => sum + Number(match[1]) * spansPerTrace,
    0,
  );
  const accepted = (await counterValue(collectorMetrics, 'otelcol_receiver_accepted_spans')) - acceptedBefore;
  const refused = (await counterValue(collectorMetrics, 'otelcol_receiver_refused_spans')) - refusedBefore;
  const stored = await drain(
    async () => (await counterValue(jaegerMetrics, 'otelcol_exporter_sent_spans')) - storedBefore,
    accepted,
    250,
  );
  const cpu = Object.fromEntries(
    Object.entries(cpuAfter).map(([name, s]) => [name, (s - (cpuBefore[name] ?? 0)) / seconds]),
  );
  cpu.telemetrygen = generatorCpu / seconds;
  return {
    askedPerSecond: rate,
    offeredPerSecond: (generated || accepted + refused) / seconds,
    accepted,
    refused,
    delivered: stored.count,
    deliveredPerSecond: stored.count / (seconds + stored.seconds),
    drainSeconds: stored.seconds,
    cpu,
    keptUp:
      refused === 0 &&
      stored.count >= accepted &&
      stored.seconds <= drainAllowanceSeconds &&
      accepted >= generated,
  };
}

async function pointStep(rate: number, step: number): Promise<Step> {
  const pids = await pidsOf(pipeline);
  const metricName = `bench_load_${step}`;
  const refusedBefore = await counterValue(collectorMetrics, 'otelcol_receiver_refused_metric_points');
  const cpuBefore = await cpuOf(pids);
  const driverBefore = process.cpuUsage();
  const startedAt = Date.now() / 1000;
  const load = await sendMetricLoad({
    endpoint: `http://${LOOPBACK}:${ports.collectorOtlpHttp}/v1/metrics`,
    service: 'bench-metric-load',
    metricName,
    series: rate,
    seconds,
  });
  const driverCpu = process.cpuUsage(driverBefore);
  const cpuAfter = await cpuOf(pids);
  const refused =
    (await counterValue(collectorMetrics, 'otelcol_receiver_refused_metric_points')) - refusedBefore;
  // Samples that Prometheus holds for this step's metric: what was delivered, end to end.
  const window = Math.ceil(Date.now() / 1000 - startedAt) + 120;
  const stored = await drain(
    async () => {
      const [sample] = await promQuery(`sum(count_over_time(${metricName}[${window}s]))`);
      return Number(sample?.value[1] ?? 0);
      // Counting millions of samples is work for Prometheus too: not too often.
    },
    load.sent,
    1_000,
  );
  const cpu = Object.fromEntries(
    Object.entries(cpuAfter).map(([name, s]) => [name, (s - (cpuBefore[name] ?? 0)) / seconds]),
  );
  cpu.driver = (driverCpu.user + driverCpu.system) / 1e6 / seconds;
  return {
    askedPerSecond: rate,
    offeredPerSecond: (load.sent + load.refused) / seconds,
    accepted: load.sent,
    refused: Math.max(refused, load.refused),
    delivered: stored.count,
    deliveredPerSecond: stored.count / (seconds + stored.seconds),
    drainSeconds: stored.seconds,
    cpu,
    keptUp:
      load.refused === 0 &&
      load.lateSeconds === 0 &&
      stored.count >= load.sent &&
      stored.seconds <= drainAllowanceSeconds,
  };
}

interface PlatformLoad {
  spansPerSecond: number;
  pointsPerSecond: number;
  refused: number;
  /** Spans accepted but not written by Jaeger after the drain. */
  undelivered: number;
  cpu: Record<string, number>;
}

/** The platform's own services under the load generator at `rate` scenarios/s: what they send. */
async function platformStep(rate: number): Promise<PlatformLoad> {
  await startStack({ ...readSettings(), loadgenRate: rate });
  await sleep(15_000);
  const pids = await pidsOf();
  const read = async () => ({
    spans: await counterValue(collectorMetrics, 'otelcol_receiver_accepted_spans'),
    points: await counterValue(collectorMetrics, 'otelcol_receiver_accepted_metric_points'),
    refused:
      (await counterValue(collectorMetrics, 'otelcol_receiver_refused_spans')) +
      (await counterValue(collectorMetrics, 'otelcol_receiver_refused_metric_points')),
    stored: await counterValue(jaegerMetrics, 'otelcol_exporter_sent_spans'),
  });
  const before = await read();
  const cpuBefore = await cpuOf(pids);
  await sleep(seconds * 1000);
  const after = await read();
  const cpuAfter = await cpuOf(pids);
  await stopStack(undefined, ['loadgen', 'api', 'worker', 'signal-generator', 'trigger-dispatcher']);
  await sleep(3_000);
  const accepted = (await counterValue(collectorMetrics, 'otelcol_receiver_accepted_spans')) - before.spans;
  const stored = await drain(
    async () => (await counterValue(jaegerMetrics, 'otelcol_exporter_sent_spans')) - before.stored,
    accepted,
    250,
  );
  await stopStack();
  return {
    spansPerSecond: (after.spans - before.spans) / seconds,
    pointsPerSecond: (after.points - before.points) / seconds,
    refused: after.refused - before.refused,
    // Jaeger also writes what was still queued from before the window: more written is none lost.
    undelivered: Math.max(0, accepted - stored.count),
    cpu: Object.fromEntries(
      Object.entries(cpuAfter).map(([name, s]) => [name, (s - (cpuBefore[name] ?? 0)) / seconds]),
    ),
  };
}

function table(unit: string, steps: Step[]): string {
  const names = [...new Set(steps.flatMap((s) => Object.keys(s.cpu)))];
  return [
    `| asked ${unit}/s | offered ${unit}/s | accepted | refused | delivered | delivered ${unit}/s | drained after | ${names.map((n) => `CPU ${n}`).join(' | ')} | kept up |`,
    `|---:|---:|---:|---:|---:|---:|---:|${names.map(() => '---:').join('|')}|---|`,
    ...steps.map(
      (s) =>
        `| ${s.askedPerSecond} | ${s.offeredPerSecond.toFixed(0)} | ${s.accepted} | ${s.refused} | ${s.delivered} | ${s.deliveredPerSecond.toFixed(0)} | ` +
        `${s.drainSeconds.toFixed(1)} s | ${names.map((n) => `${((s.cpu[n] ?? 0) * 100).toFixed(0)}%`).join(' | ')} | ${s.keptUp ? 'yes' : 'no'} |`,
    ),
  ].join('\n');
}

/** The highest offered rate that kept up, and what it delivered counting its drain. */
function knee(steps: Step[], unit: string): string {
  const best = steps.filter((s) => s.keptUp).at(-1);
  if (!best) return 'below the lowest step';
  return (
    `**${best.offeredPerSecond.toFixed(0)} ${unit}/s** offered and all delivered ` +
    `(${best.deliveredPerSecond.toFixed(0)} ${unit}/s counting the ${best.drainSeconds.toFixed(1)} s drain)`
  );
}

if ((await stackStatus()).some((s) => !pipeline.includes(s.group) && s.pid !== undefined)) {
  process.stderr.write(
    'Other components are running and would disturb the measurement: npm run stack -- stop\n',
  );
  process.exit(1);
}
const telemetrygen = await ensureTelemetrygen();
await stopStack();
process.env.STACK_STATE_DIR = await mkdtemp(join(tmpdir(), 'bench-throughput-'));
await startStack(undefined, pipeline);

const spanSteps: Step[] = [];
for (const rate of spanRates) {
  const step = await spanStep(telemetrygen, rate);
  spanSteps.push(step);
  process.stderr.write(`spans ${rate}/s: ${JSON.stringify(step)}\n`);
  await sleep(5_000);
}
const pointSteps: Step[] = [];
for (const [i, rate] of pointRates.entries()) {
  const step = await pointStep(rate, i);
  pointSteps.push(step);
  process.stderr.write(`points ${rate}/s: ${JSON.stringify(step)}\n`);
  await sleep(5_000);
}
await stopStack();
const platform = await platformStep(platformRate);
process.stderr.write(`platform at ${platformRate} scenarios/s: ${JSON.stringify(platform)}\n`);
const busiest = Object.entries(platform.cpu)
  .sort(([, a], [, b]) => b - a)
  .slice(0, 6);

replaceSection(
  '## Pipeline throughput',
  `## Pipeline throughput

One local collector (profile \`local\`, memory limit 512 MiB) with Jaeger (in memory) and Prometheus on the same
${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${seconds} s per step. A step **keeps up** when nothing is refused and
everything accepted is delivered (spans written by Jaeger, samples queryable in Prometheus) within ${drainAllowanceSeconds} s of the load
stopping; delivered/s counts the load time plus that drain, so a backlog that grows shows as a lower rate. CPU is in cores (100% = one core) over the step.

Reproduce: \`node bench/pipeline-throughput/run.ts --seconds ${seconds} --span-rates ${spanRates.join(',')} --point-rates ${pointRates.join(',')}\`
(stops a running stack first)

### Spans: telemetrygen (OTLP/gRPC, ${spansPerTrace} spans a trace, a worker per ${spansPerWorker} spans/s) → collector → Jaeger

Delivered = spans Jaeger's storage exporter wrote.

${table('spans', spanSteps)}

Knee: ${knee(spanSteps, 'spans')}.

### Data points: metric-load.ts (OTLP/HTTP protobuf, one point per series per second) → collector → Prometheus (remote write)

Delivered = samples of the step's metric that Prometheus answers for (\`sum(count_over_time(...))\`).

${table('points', pointSteps)}

Knee: ${knee(pointSteps, 'points')}.

### Our services

The whole platform under the load generator at ${platformRate} scenarios/s (each a few api requests; the signal
pipeline runs too), ${seconds} s after a 15 s warm-up: what the collector accepted from the services.

| spans/s | data points/s | refused | accepted spans not in Jaeger after the drain | busiest processes (CPU) |
|---:|---:|---:|---:|---|
| ${platform.spansPerSecond.toFixed(0)} | ${platform.pointsPerSecond.toFixed(0)} | ${platform.refused} | ${platform.undelivered} | ${busiest.map(([name, cores]) => `${name} ${(cores * 100).toFixed(0)}%`).join(', ')} |
`,
);
