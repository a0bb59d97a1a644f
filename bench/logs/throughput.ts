/**
 * Logs throughput: how many log records per second one local collector accepts and VictoriaLogs
 * stores with none refused or lost, stepping the offered rate up until it no longer keeps up
 * (the knee), with the CPU of every process per step to name what bounds it.
 *   node --conditions=@tradeobs/source bench/logs/throughput.ts [--seconds 15]
 *     [--rates 25000,50000,...] [--load-rates 100000,150000,...]
 * Two load sources, each record shaped like the api's "execution requested" (its three
 * attributes, a trace and span id): the collector project's load generator, telemetrygen (logs
 * mode, OTLP/gRPC, built from its Go module at the collector's version), at --rates; then,
 * past what telemetrygen can offer on two cores, log-load.ts (why: see that file) at
 * --load-rates. Each step sends as its own service, so the records VictoriaLogs answers for are
 * counted per step by LogsQL.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { ComponentName } from '../../infra/runner/components.ts';
import { ensureTelemetrygen } from '../../infra/runner/install.ts';
import { LOOPBACK, ports } from '../../infra/runner/ports.ts';
import { stackStatus, startStack, stopStack } from '../../infra/runner/stack.ts';
import { cpuOf, cpuSeconds, pidsOf } from '../measure.ts';
import { replaceSection } from '../report.ts';
import {
  collectorCounter,
  coresBetween,
  logsExporter,
  rowsIngested,
  storedRecords,
  victoriaLogsCounter,
} from './common.ts';
import type { LoadResult } from '../otlp-load.ts';
import { prepareLogLoad } from './log-load.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    rates: { type: 'string', default: '25000,50000,75000,100000,125000' },
    'load-rates': { type: 'string', default: '100000,150000,200000,250000' },
  },
});
const seconds = Number(values.seconds);
const rates = values.rates.split(',').map(Number);
const loadRates = values['load-rates'].split(',').map(Number);
/** A step keeps up if its backlog is stored within this long after the load stops. */
const drainAllowanceSeconds = 5;
/**
 * telemetrygen paces each worker with a token bucket of one and exports its batches in the same
 * goroutine, so a worker is given no more than this many: asked for 125,000 records/s (250
 * workers) it still offered 92,000, short of CPU for itself rather than of workers.
 */
const recordsPerWorker = 500;
/** As the SDK's batch log record processor sends them (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE). */
const batchSize = 512;
const pipeline: ComponentName[] = ['prometheus', 'jaeger', 'victorialogs', 'collector'];

interface Step {
  askedPerSecond: number;
  offeredPerSecond: number;
  accepted: number;
  refused: number;
  /** Records the exporter gave up on or could not queue. */
  failed: number;
  /** Records VictoriaLogs itself dropped (vl_rows_dropped_total). */
  droppedByBackend: number;
  /** Records of the step that LogsQL counts after the drain. */
  stored: number;
  storedPerSecond: number;
  drainSeconds: number;
  /** The most batches that waited in the exporter's queue, sampled every 500 ms. */
  peakQueue: number;
  cpu: Record<string, number>;
  keptUp: boolean;
}

/** What a load source sent in one step, and the CPU seconds it used doing so. */
interface Load {
  generated: number;
  /** Records the source saw refused (its own count; the collector's is checked too). */
  refused: number;
  /** The source fell behind its schedule. */
  late: boolean;
  cpu: Record<string, number>;
}

/**
 * Polls `count` until it reaches `target` or stops growing for 15 s; returns the count and when
 * it got there.
 */
async function drain(
  count: () => Promise<number>,
  target: number,
  pollMillis: number,
): Promise<{ count: number; seconds: number }> {
  const started = Date.now();
  let now = await count();
  let unchangedSince = Date.now();
  while (now < target && Date.now() - unchangedSince < 15_000) {
    await sleep(pollMillis);
    const next = await count();
    if (next !== now) unchangedSince = Date.now();
    now = next;
  }
  return { count: now, seconds: (Date.now() - started) / 1000 };
}

/** telemetrygen's logs mode at `rate` records/s as `service`. */
async function telemetrygenLoad(telemetrygen: string, rate: number, service: string): Promise<Load> {
  const workers = Math.ceil(rate / recordsPerWorker);
  const generator = spawn(
    telemetrygen,
    [
      'logs',
      '--otlp-insecure',
      `--otlp-endpoint=${LOOPBACK}:${ports.collectorOtlpGrpc}`,
      `--workers=${workers}`,
      // The rate is per worker.
      `--rate=${rate / workers}`,
      `--batch-size=${batchSize}`,
      `--duration=${seconds}s`,
      `--service=${service}`,
      '--body=execution requested',
      '--severity-text=info',
      '--trace-id=4bf92f3577b34da6a3ce929d0e0e4736',
      '--span-id=00f067aa0ba902b7',
      '--telemetry-attributes=executionId="8d0c2b0e-5f7a-4c55-9a51-2f9e0f6d41aa"',
      '--telemetry-attributes=pipelineId="pl-momentum-btcusd"',
      '--telemetry-attributes=triggerMode="manual"',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  generator.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  // Its /proc entry is gone once it exits: read its CPU time while it runs.
  let generatorCpu = 0;
  const timer = setInterval(() => {
    if (generator.pid)
      void cpuSeconds(generator.pid).then(
        (s) => (generatorCpu = s),
        () => undefined,
      );
  }, 250);
  const [code] = (await once(generator, 'exit')) as [number | null];
  clearInterval(timer);
  if (code !== 0) throw new Error(`telemetrygen exited with ${code}:\n${log.slice(-2000)}`);
  const generated = [...log.matchAll(/"logs generated".*?"logs":\s*(\d+)/g)].reduce(
    (sum, match) => sum + Number(match[1]),
    0,
  );
  return { generated, refused: 0, late: false, cpu: { telemetrygen: generatorCpu } };
}

/** log-load.ts from this process, as prepared by prepareLogLoad. */
async function preEncodedLoad(send: () => Promise<LoadResult>): Promise<Load> {
  const before = process.cpuUsage();
  const load = await send();
  const used = process.cpuUsage(before);
  return {
    generated: load.sent + load.refused,
    refused: load.refused,
    late: load.lateSeconds > 0,
    cpu: { driver: (used.user + used.system) / 1e6 },
  };
}

async function step(rate: number, service: string, generate: () => Promise<Load>): Promise<Step> {
  const pids = await pidsOf(pipeline);
  const read = async () => ({
    accepted: await collectorCounter('otelcol_receiver_accepted_log_records'),
    refused: await collectorCounter('otelcol_receiver_refused_log_records'),
    failed:
      (await collectorCounter('otelcol_exporter_send_failed_log_records', logsExporter)) +
      (await collectorCounter('otelcol_exporter_enqueue_failed_log_records', logsExporter)),
    dropped: await victoriaLogsCounter('vl_rows_dropped_total'),
    ingested: await rowsIngested(),
  });
  const before = await read();
  const cpuBefore = await cpuOf(pids);
  let peakQueue = 0;
  const timer = setInterval(() => {
    void collectorCounter('otelcol_exporter_queue_size', logsExporter).then(
      (size) => (peakQueue = Math.max(peakQueue, size)),
      () => undefined,
    );
  }, 500);
  const startedAt = Date.now();
  const load = await generate().finally(() => clearInterval(timer));
  // A source that falls behind runs longer than asked: rates and cores are over the time it took.
  const elapsed = (Date.now() - startedAt) / 1000;
  const cpuAfter = await cpuOf(pids);
  const after = await read();
  const accepted = after.accepted - before.accepted;
  // Ingested is cheap to poll; searchable (the LogsQL count) follows it within a second or so.
  const ingested = await drain(async () => (await rowsIngested()) - before.ingested, accepted, 250);
  const stored = await drain(() => storedRecords(service), accepted, 500);
  const drainSeconds = ingested.seconds + stored.seconds;
  const final = await read();
  const cpu = coresBetween(cpuBefore, cpuAfter, elapsed);
  for (const [name, used] of Object.entries(load.cpu)) cpu[name] = used / elapsed;
  const refused = Math.max(after.refused - before.refused, load.refused);
  const failed = final.failed - before.failed;
  return {
    askedPerSecond: rate,
    offeredPerSecond: (load.generated || accepted + refused) / elapsed,
    accepted,
    refused,
    failed,
    droppedByBackend: final.dropped - before.dropped,
    stored: stored.count,
    storedPerSecond: stored.count / (elapsed + drainSeconds),
    drainSeconds,
    peakQueue,
    cpu,
    keptUp:
      refused === 0 &&
      failed === 0 &&
      !load.late &&
      stored.count >= accepted &&
      drainSeconds <= drainAllowanceSeconds &&
      accepted >= load.generated,
  };
}

function table(steps: Step[]): string {
  const names = [...new Set(steps.flatMap((s) => Object.keys(s.cpu)))];
  return [
    `| asked records/s | offered records/s | accepted | refused | failed | dropped by VictoriaLogs | stored | stored records/s | drained after | peak queue (batches) | ${names.map((n) => `CPU ${n}`).join(' | ')} | kept up |`,
    `|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|${names.map(() => '---:').join('|')}|---|`,
    ...steps.map(
      (s) =>
        `| ${s.askedPerSecond} | ${s.offeredPerSecond.toFixed(0)} | ${s.accepted} | ${s.refused} | ${s.failed} | ${s.droppedByBackend} | ${s.stored} | ` +
        `${s.storedPerSecond.toFixed(0)} | ${s.drainSeconds.toFixed(1)} s | ${s.peakQueue} | ` +
        `${names.map((n) => `${((s.cpu[n] ?? 0) * 100).toFixed(0)}%`).join(' | ')} | ${s.keptUp ? 'yes' : 'no'} |`,
    ),
  ].join('\n');
}

/** The highest offered rate that kept up, and what it stored counting its drain. */
function knee(steps: Step[]): string {
  const best = steps.filter((s) => s.keptUp).at(-1);
  if (!best) return 'below the lowest step';
  return (
    `**${best.offeredPerSecond.toFixed(0)} records/s** offered and all stored ` +
    `(${best.storedPerSecond.toFixed(0)} records/s counting the ${best.drainSeconds.toFixed(1)} s drain)`
  );
}

/** CPU µs per record in each process, at the highest step that kept up. */
function costPerRecord(steps: Step[]): string {
  const best = steps.filter((s) => s.keptUp).at(-1);
  if (!best) return '—';
  return Object.entries(best.cpu)
    .filter(([, cores]) => cores >= 0.01)
    .map(([name, cores]) => `${name} ${((cores * 1e6) / best.offeredPerSecond).toFixed(1)} µs`)
    .join(', ');
}

const telemetrygen = await ensureTelemetrygen();
const stateDir = await mkdtemp(join(tmpdir(), 'bench-logs-throughput-'));
process.env.STACK_STATE_DIR = stateDir;
const generatorSteps: Step[] = [];
const loadSteps: Step[] = [];
try {
  await startStack(undefined, pipeline);
  if (!(await stackStatus()).filter((s) => pipeline.includes(s.group)).every((s) => s.healthy))
    throw new Error('the pipeline is not healthy');
  for (const [i, rate] of rates.entries()) {
    const service = `bench-telemetrygen-${i}`;
    const result = await step(rate, service, () => telemetrygenLoad(telemetrygen, rate, service));
    generatorSteps.push(result);
    process.stderr.write(`telemetrygen ${rate}/s: ${JSON.stringify(result)}\n`);
    await sleep(5_000);
  }
  for (const [i, rate] of loadRates.entries()) {
    const service = `bench-log-load-${i}`;
    const send = prepareLogLoad({
      endpoint: `http://${LOOPBACK}:${ports.collectorOtlpHttp}/v1/logs`,
      service,
      rate,
      seconds,
    });
    const result = await step(rate, service, () => preEncodedLoad(send));
    loadSteps.push(result);
    process.stderr.write(`log-load ${rate}/s: ${JSON.stringify(result)}\n`);
    await sleep(5_000);
  }
} finally {
  await stopStack();
  await rm(stateDir, { recursive: true, force: true });
}

replaceSection(
  '## Logs: throughput',
  `## Logs: throughput

One local collector (profile \`local\`: memory limiter, batch processor, then the \`otlp_http/victorialogs\` exporter
with its file-backed sending queue, 4 consumers) and VictoriaLogs (data on disk) with Jaeger and Prometheus idle beside
them, on the same ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${seconds} s per step. Every record is shaped like the api's
"execution requested": its body, severity, three attributes, a trace and span id. A step **keeps up** when nothing is
refused or failed, the load source kept its schedule, and every accepted record is counted by LogsQL
(\`_stream:{service.name="…"} | count()\`, each step its own service) within ${drainAllowanceSeconds} s of the load stopping; stored/s counts
the load time plus that drain, so a backlog that grows shows as a lower rate. CPU is in cores (100% = one core) over
the load; the peak queue is the exporter's \`otelcol_exporter_queue_size\` (batches waiting), sampled every 500 ms.

Reproduce: \`flock /tmp/stack.lock node --conditions=@tradeobs/source bench/logs/throughput.ts --seconds ${seconds} --rates ${rates.join(',')} --load-rates ${loadRates.join(',')}\`
(its own state directory; the stack's ports must be free)

### telemetrygen (logs mode, OTLP/gRPC, batches of ${batchSize}, a worker per ${recordsPerWorker} records/s) → collector → VictoriaLogs

${table(generatorSteps)}

Knee: ${knee(generatorSteps)}. CPU a record there: ${costPerRecord(generatorSteps)}.

### log-load.ts (OTLP/HTTP protobuf, pre-encoded requests of 512 records, 8 in flight) → collector → VictoriaLogs

${table(loadSteps)}

Knee: ${knee(loadSteps)}. CPU a record there: ${costPerRecord(loadSteps)}.
`,
);
